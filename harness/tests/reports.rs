//! Snapshots of the report formats people and CI tools read (spec/harness-protocol.md, [HP-46]):
//! the JSON report (`--json`), the JUnit XML report (`--junit`) and the text summary, for one run
//! that has every kind of outcome. The harness's and the vectors' versions are masked, so that a
//! release changes no snapshot.

use serde_json::{Value, json};
use threads_harness::runner::results::{
    CaseFailure, CaseResult, GroupKind, GroupResult, HARNESS, KIT_VERSION, REPORT_SCHEMA,
    RunReport, Status, VectorsInfo,
};
use threads_harness::runner::{junit, summary};
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
                        failed("TID_SHORT_RANDOM", "valid: {\"variant\":\"raw\"}", None, &[]),
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
                        failed("{\"counter\":5}", "null (pump: 1 round(s))", None, &[]),
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
    insta::assert_json_snapshot!("report_json", json);
}

#[test]
fn the_junit_report_keeps_its_format() {
    let xml = junit::render(&report());
    assert!(xml.contains(HARNESS));
    insta::assert_snapshot!("report_junit", xml.replace(HARNESS, MASKED));
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
