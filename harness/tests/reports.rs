//! Snapshots of the report formats people and CI tools read (spec/harness-protocol.md, [HP-46],
//! [HP-85]): the JSON report (`--json`), the JUnit XML report (`--junit`), the text summary, the
//! web page (`--html`) and the side-by-side matrix, for one run that has every kind of outcome.
//! The harness's and the vectors' versions are masked, so that a release changes no snapshot.

use serde_json::{Value, json};
use threads_harness::runner::results::{
    CaseFailure, CaseResult, GroupKind, GroupResult, HARNESS, KIT_VERSION, REPORT_SCHEMA,
    RunReport, Status, VectorsInfo, Verdict,
};
use threads_harness::runner::{html, junit, matrix, summary};
use threads_vectors::manifest::Verified;

/// What stands for the harness's name and version in the snapshots.
const MASKED: &str = "threads-conform [version]";

fn case(id: &str, spec: &str, flags: &[&str], status: Status) -> CaseResult {
    CaseResult {
        id: id.into(),
        comment: format!("case {id} <&>"),
        spec_section: spec.into(),
        flags: flags.iter().map(|f| f.to_string()).collect(),
        status,
    }
}

fn failed(expected: &str, actual: &str, note: Option<&str>, stderr: &[&str]) -> Status {
    Status::Failed(CaseFailure {
        expected: expected.into(),
        actual: actual.into(),
        note: note.map(String::from),
        stderr: stderr.iter().map(|l| l.to_string()).collect(),
        inputs: None,
        diff: Vec::new(),
    })
}

/// A failure with the case's inputs and, from the values, the diff [HP-85].
fn failed_with(inputs: Value, expected: (&str, Value), actual: (&str, Value)) -> Status {
    Status::Failed(CaseFailure {
        expected: expected.0.into(),
        actual: actual.0.into(),
        note: None,
        stderr: Vec::new(),
        inputs: Some(inputs),
        diff: threads_harness::runner::diff::diff(&expected.1, &actual.1),
    })
}

/// A run with a passed, a failed (wrong code), a crashed and a skipped vector case, a scenario
/// with a failed check and a note, and a whole scenario skipped.
fn report() -> RunReport {
    let long_hex = "ab".repeat(100);
    RunReport {
        command: vec!["./adapter".into(), "--flag".into(), "two words".into()],
        implementation: "example".into(),
        version: "1.2.3".into(),
        restarts: 1,
        notes: vec!["the adapter exited at shutdown (exit status: 3)".into()],
        // A set trusted with --trust-key, so that the warning shows; fixed values, so that a
        // new vector set changes no snapshot.
        vectors: VectorsInfo {
            source: "path/to/vectors".into(),
            verified: Verified {
                files: 16,
                manifest_sha256: "11".repeat(32),
                key: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a".into(),
                fingerprint: format!("SHA256:{}", "22".repeat(32)),
                key_id: "0a0b0c0d".into(),
                pinned: false,
            },
        },
        named: vec!["tid".into(), "acl-revocation".into()],
        rerun: vec![
            "threads-conform".into(),
            "run".into(),
            "--impl".into(),
            "./adapter --flag 'two words'".into(),
        ],
        groups: vec![
            GroupResult {
                name: "tid".into(),
                kind: GroupKind::Suite,
                skipped: None,
                notes: vec![],
                cases: vec![
                    case("1", "TID-1", &[], Status::Passed),
                    case(
                        "2",
                        "TID-4",
                        &["SHORT_RANDOM"],
                        failed_with(
                            json!({"text": "bafkqobyha4dqobyha4dqobyha4dq"}),
                            ("TID_SHORT_RANDOM", json!({"error": "TID_SHORT_RANDOM"})),
                            ("valid: {\"variant\":\"raw\"}", json!({"result": {"variant": "raw"}})),
                        ),
                    ),
                    case(
                        "3",
                        "TID-6",
                        &[],
                        failed(
                            &format!("valid: {{\"bytes\":\"{long_hex}\"}}"),
                            "CRASH: vector: the adapter closed its stdout before replying",
                            Some("CRASH"),
                            &["panicked at src/lib.rs:1", "note: run with RUST_BACKTRACE=1"],
                        ),
                    ),
                    case("4", "TID-2", &[], Status::Skipped("needs tid.encode".into())),
                ],
            },
            GroupResult {
                name: "logs".into(),
                kind: GroupKind::Suite,
                skipped: None,
                notes: vec![],
                cases: vec![
                    case(
                        "12",
                        "LOG-4",
                        &["GAP"],
                        failed_with(
                            json!({"log": "12D3KooW", "deliveries": [long_hex, "a464"]}),
                            (
                                "LOG_GAP with state {\"counter\":1,\"head\":\"b1\",\"outcomes\":[\"appended\",\"LOG_GAP\"]}",
                                json!({"error": "LOG_GAP", "state": {"counter": 1, "head": "b1", "outcomes": ["appended", "LOG_GAP"]}}),
                            ),
                            (
                                "LOG_GAP: gap with state {\"counter\":2,\"head\":\"b2\",\"outcomes\":[\"appended\",\"appended\"]}",
                                json!({"error": "LOG_GAP", "state": {"counter": 2, "head": "b2", "outcomes": ["appended", "appended"]}}),
                            ),
                        ),
                    ),
                    case("13", "LOG-4", &[], Status::Skipped("the adapter does not list the operation log.replay".into())),
                    case("14", "LOG-5", &[], Status::Skipped("the adapter does not list the operation log.replay".into())),
                    case("20", "LOG-5", &[], Status::Skipped("the adapter does not list the operation log.other".into())),
                ],
            },
            GroupResult {
                name: "writer-follower-reader".into(),
                kind: GroupKind::Scenario,
                skipped: None,
                notes: vec!["node writer addressed 1 message(s) to \"x\", which names no other node: dropped".into()],
                cases: vec![
                    case("writer-follower-reader/writer-appends", "LOG-1", &[], Status::Passed),
                    case(
                        "writer-follower-reader/follower-heads",
                        "LOG-3",
                        &[],
                        Status::Failed(CaseFailure {
                            expected: "{\"counter\":5,\"head\":\"c5\"}".into(),
                            actual: "{\"counter\":3,\"head\":\"c3\"} (pump: 1 round(s))".into(),
                            diff: threads_harness::runner::diff::from_texts(
                                "{\"counter\":5,\"head\":\"c5\"}",
                                "{\"counter\":3,\"head\":\"c3\"} (pump: 1 round(s))",
                            ),
                            ..CaseFailure::default()
                        }),
                    ),
                ],
            },
            GroupResult {
                name: "acl-revocation".into(),
                kind: GroupKind::Scenario,
                skipped: Some("the adapter does not list the scenario feature \"acl\"".into()),
                notes: vec![],
                cases: vec![case(
                    "acl-revocation/acl-converges",
                    "ACL-6",
                    &[],
                    Status::Skipped("the adapter does not list the scenario feature \"acl\"".into()),
                )],
            },
        ],
    }
}

#[test]
fn the_json_report_keeps_its_format() {
    let mut json: Value = report().to_json();
    assert_eq!(json["harness"], json!(HARNESS));
    assert_eq!(json["kitVersion"], json!(KIT_VERSION));
    json["harness"] = json!(MASKED);
    json["kitVersion"] = json!("[kit version]");
    json["specVersion"] = json!("[spec version]");
    json["suitesVersion"] = json!("[suites version]");
    let json: Value = serde_json::from_str(&mask_versions(&json.to_string())).unwrap();
    insta::assert_json_snapshot!("report_json", json);
}

#[test]
fn the_junit_report_keeps_its_format() {
    let xml = junit::render(&report());
    assert!(xml.contains(HARNESS));
    insta::assert_snapshot!("report_junit", mask_versions(&xml.replace(HARNESS, MASKED)));
}

#[test]
fn the_text_summary_keeps_its_format() {
    let text = summary::render(&report());
    assert!(text.contains(HARNESS));
    insta::assert_snapshot!("report_text", mask_versions(&text.replace(HARNESS, MASKED)));
}

/// The text report names the spec and suites versions and the pinned key's fingerprint (in the
/// warning): masked, so that a release changes no snapshot.
fn mask_versions(text: &str) -> String {
    text.replace(
        &format!(
            "spec {}, suites {}",
            threads_vectors::format::SPEC_VERSION,
            threads_vectors::format::SUITES_VERSION
        ),
        "spec [version], suites [version]",
    )
    .replace(
        &threads_vectors::manifest::pinned_fingerprint(),
        "[pinned fingerprint]",
    )
    .replace(&format!("/blob/v{KIT_VERSION}/"), "/blob/v[kit version]/")
}

#[test]
fn the_json_report_matches_its_published_schema() {
    let schema: Value = serde_json::from_str(REPORT_SCHEMA).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let json = report().to_json();
    let errors: Vec<String> = validator
        .iter_errors(&json)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    // The schema can fail: a report without its schema version, or with an unknown status.
    let mut bad = json.clone();
    bad.as_object_mut().unwrap().remove("schemaVersion");
    assert!(!validator.is_valid(&bad));
    let mut bad = json;
    bad["groups"][0]["cases"][0]["status"] = json!("maybe");
    assert!(!validator.is_valid(&bad));
}

/// The page (`--html`) keeps its format: masked like the text, since it shows the same.
#[test]
fn the_html_page_keeps_its_format() {
    let page = html::render(&[report()]);
    assert!(page.contains(HARNESS));
    insta::assert_snapshot!("report_html", mask_versions(&page.replace(HARNESS, MASKED)));
}

/// The page stands alone: nothing it would load (no script, style sheet, image, font or frame),
/// its elements balanced, every failure expanded with inputs, diff, spec link and rerun command
/// [HP-85].
#[test]
fn the_html_page_is_self_contained_and_shows_each_failure_whole() {
    let reports = [report(), report()];
    for page in [html::render(&reports[..1]), html::render(&reports)] {
        for asset in [
            "<script", "<link", "<img", "<iframe", "@import", "url(", " src=",
        ] {
            assert!(!page.contains(asset), "the page loads {asset}");
        }
        assert_balanced(&page);
        assert!(page.starts_with("<!DOCTYPE html>"));
        let failures = report().counts().failed;
        let shown = page.matches("<details open>").count();
        assert_eq!(shown % failures, 0, "every failure expanded");
        assert!(
            page.contains("<dt>inputs</dt><dd><pre>{\n  &quot;text&quot;"),
            "{page}"
        );
        assert!(page.contains("state.counter: expected 1, got 2"));
        assert!(page.contains("counter: expected 5, got 3"), "scenario diff");
        assert!(page.contains(&format!(
            "<a href=\"{}\">TID-4</a>",
            threads_harness::runner::links::spec_url("TID-4")
        )));
        assert!(page.contains("--case tid:2"), "rerun command");
        assert!(page.contains("--case writer-follower-reader:follower-heads"));
        // Per requirement: one row per tag.
        assert!(page.contains("<h3>Requirements</h3>"));
        assert!(
            page.contains(
                ">LOG-5</a></td><td class=\"n\">0</td><td class=\"n\">0</td><td class=\"n\">2</td>"
            ),
            "{page}"
        );
    }
    // Several implementations: the matrix first, a section per implementation.
    let page = html::render(&reports);
    assert!(page.contains("<h2>Side by side</h2>"));
    assert!(page.contains("example 1.2.3 #1") && page.contains("example 1.2.3 #2"));
    assert_eq!(page.matches("<h2 id=\"run-").count(), 2);
}

/// Every element opened is closed, in order (void elements aside).
fn assert_balanced(page: &str) {
    let mut open: Vec<String> = Vec::new();
    let mut rest = page;
    while let Some(start) = rest.find('<') {
        let tag_end = rest[start..].find('>').expect("every tag ends") + start;
        let tag = &rest[start + 1..tag_end];
        rest = &rest[tag_end + 1..];
        if tag.starts_with('!') {
            continue;
        }
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        if ["meta", "br", "hr"].contains(&name.as_str()) {
            continue;
        }
        if tag.starts_with('/') {
            assert_eq!(
                open.pop().as_deref(),
                Some(name.as_str()),
                "</{name}> closes another"
            );
        } else {
            open.push(name);
        }
    }
    assert!(open.is_empty(), "never closed: {open:?}");
}

/// Several implementations side by side, as text: one column each, a row per suite or
/// scenario, `-` where a run did not select it.
#[test]
fn the_matrix_keeps_its_format() {
    let mut other = report();
    other.implementation = "other".into();
    other.groups.truncate(1);
    let text = matrix::render_text(&[report(), other]);
    insta::assert_snapshot!("report_matrix", text);
    let xml = junit::render_all(&[report(), report()]);
    assert!(
        xml.contains("<testsuite name=\"example 1.2.3 #2: tid\""),
        "{xml}"
    );
    let json = matrix::to_json(&[report(), report()]);
    assert_eq!(json["kind"], "matrix");
    assert_eq!(json["exitStatus"], 1);
    assert_eq!(json["implementations"].as_array().map(Vec::len), Some(2));
    assert_schema_valid(&json);
}

/// The exit status: 1 over 3 over 0; 3 when nothing ran or a named group was all skipped
/// [HP-84].
#[test]
fn the_verdict_tells_a_run_that_ran_nothing_from_one_that_passed() {
    assert_eq!(report().verdict(), Verdict::Failed);
    let mut passing = report();
    passing.groups.retain(|g| g.name == "tid");
    passing.groups[0]
        .cases
        .retain(|c| c.id == "1" || c.id == "4");
    assert_eq!(
        passing.verdict(),
        Verdict::Passed,
        "the named tid ran a case"
    );
    // A named scenario skipped entirely: status 3, saying which and why.
    let mut named_skipped = report();
    named_skipped
        .groups
        .retain(|g| g.name == "tid" || g.name == "acl-revocation");
    named_skipped.groups[0].cases.retain(|c| c.id == "1");
    let Verdict::NotRun(why) = named_skipped.verdict() else {
        panic!("{:?}", named_skipped.verdict());
    };
    assert_eq!(why.len(), 1, "{why:?}");
    assert!(
        why[0].contains("scenario acl-revocation was named"),
        "{why:?}"
    );
    assert!(why[0].contains("\"acl\""), "{why:?}");
    // Not named: the same skip is no reason.
    named_skipped.named.clear();
    assert_eq!(named_skipped.verdict(), Verdict::Passed);
    // Nothing ran at all.
    let mut nothing = report();
    nothing.named.clear();
    nothing.groups.retain(|g| g.name == "acl-revocation");
    let Verdict::NotRun(why) = nothing.verdict() else {
        panic!("nothing ran");
    };
    assert!(why[0].starts_with("no case ran"), "{why:?}");
    assert_eq!(nothing.to_json()["exitStatus"], 3);
    assert_eq!(
        Verdict::worst([Verdict::Passed, nothing.verdict(), Verdict::Passed]).exit_status(),
        3
    );
    assert_eq!(
        Verdict::worst([nothing.verdict(), Verdict::Failed]).exit_status(),
        1
    );
}

fn assert_schema_valid(json: &Value) {
    let schema: Value = serde_json::from_str(REPORT_SCHEMA).expect("the schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(json)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}
