//! Runs the real `threads-conform` binary: against the bundled reference adapter (everything
//! passes), against adapters that misbehave (the run goes on, the right cases fail), and with
//! inputs the harness must refuse (exit status 2).

// Helpers outside `#[test]` functions unwrap too: clippy.toml only covers test functions.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};
use threads_harness::runner::scenario::SCENARIOS;

const CONFORM: &str = env!("CARGO_BIN_EXE_threads-conform");
const REFERENCE_ADAPTER: &str = env!("CARGO_BIN_EXE_threads-reference-adapter");

/// The scenario's name and its number of checks.
const SCENARIO: (&str, usize) = ("writer-follower-reader", 10);

/// How many checks all live scenarios make.
fn scenario_checks() -> usize {
    SCENARIOS.iter().map(|s| s.checks.len()).sum()
}

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../vectors")
}

/// Runs `threads-conform run ARGS`.
fn conform(args: &[&str]) -> Output {
    // The liveness group [HP-93] needs threads-sim, which this package does not build: the
    // simulator's own tests (simulator/tests/liveness.rs) run it.
    Command::new(CONFORM)
        .args(["run", "--no-liveness"])
        .args(args)
        .output()
        .expect("threads-conform starts")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn exit_code(output: &Output) -> i32 {
    output
        .status
        .code()
        .expect("threads-conform exits normally")
}

/// Every suite's `numberOfTests`, by name.
fn suite_sizes() -> BTreeMap<String, usize> {
    threads_vectors::generate::SUITES
        .iter()
        .map(|suite| {
            let path = vectors_dir().join("suites").join(format!("{suite}.json"));
            let file = threads_vectors::lint::load(&path).expect("suite file loads");
            (suite.to_string(), file.number_of_tests)
        })
        .collect()
}

/// The (passed, failed, skipped) row of `group` (e.g. `suite tid`) in the summary table.
fn row(summary: &str, group: &str) -> Option<(usize, usize, usize)> {
    summary.lines().find_map(|line| {
        let rest = line.strip_prefix(group)?;
        let numbers: Vec<usize> = rest
            .split_whitespace()
            .map(|n| n.parse().ok())
            .collect::<Option<_>>()?;
        match numbers[..] {
            [passed, failed, skipped] => Some((passed, failed, skipped)),
            _ => None,
        }
    })
}

/// An `--impl` value running a Python script with arguments.
fn python_impl(script: &Path, args: &[&str]) -> String {
    let mut words = vec!["python3".to_string(), script.display().to_string()];
    words.extend(args.iter().map(|a| a.to_string()));
    shell_words::join(words)
}

#[test]
fn the_reference_adapter_passes_every_case() {
    let dir = tempfile::tempdir().unwrap();
    let (json_path, junit_path) = (dir.path().join("report.json"), dir.path().join("junit.xml"));
    // No --impl: the bundled adapter beside the binary.
    let output = conform(&[
        "--json",
        json_path.to_str().unwrap(),
        "--junit",
        junit_path.to_str().unwrap(),
    ]);
    let summary = stdout(&output);
    assert_eq!(exit_code(&output), 0, "{summary}\n{}", stderr(&output));
    let sizes = suite_sizes();
    for (suite, size) in &sizes {
        assert_eq!(
            row(&summary, &format!("suite {suite}")),
            Some((*size, 0, 0)),
            "{summary}"
        );
    }
    for scenario in SCENARIOS {
        let checks = scenario.checks.len();
        let name = format!("scenario {}", scenario.name);
        assert_eq!(row(&summary, &name), Some((checks, 0, 0)), "{summary}");
    }
    let total = sizes.values().sum::<usize>() + scenario_checks();
    assert!(
        summary.ends_with(&format!("\n{total} passed, 0 failed, 0 skipped\n")),
        "{summary}"
    );
    assert!(!summary.contains("FAIL"), "{summary}");

    let report: Value = serde_json::from_str(&fs::read_to_string(&json_path).unwrap()).unwrap();
    assert_schema_valid(&report);
    assert_eq!(report["schemaVersion"], 1);
    assert_eq!(report["vectors"]["source"], "embedded");
    assert_eq!(report["vectors"]["signingKey"]["pinned"], true);
    assert_eq!(
        report["vectors"]["manifestSha256"],
        threads_vectors::manifest::VectorSet::embedded_manifest_sha256()
    );
    assert_eq!(report["implementation"], "threads-reference");
    assert_eq!(report["passed"], true);
    assert_eq!(
        report["counts"],
        json!({"passed": total, "failed": 0, "skipped": 0})
    );
    let groups = report["groups"].as_array().unwrap();
    assert_eq!(groups.len(), sizes.len() + SCENARIOS.len());
    let scenario_cases = groups[sizes.len()]["cases"].as_array().unwrap();
    assert_eq!(scenario_cases[0]["id"], "writer-follower-reader/thread-id");

    let junit = fs::read_to_string(&junit_path).unwrap();
    assert!(junit.starts_with("<?xml"), "{junit}");
    assert_eq!(
        junit.matches("<testsuite ").count(),
        sizes.len() + SCENARIOS.len()
    );
    assert_eq!(junit.matches("<testcase ").count(), total);
    assert!(!junit.contains("<failure"));
    // The spec tag is the class name: one test case per vector and per live check.
    assert!(
        junit.contains("<testcase classname=\"TID-6\" name=\"tid tcId 1: "),
        "{junit}"
    );
    assert!(
        junit.contains("name=\"writer-follower-reader/writer-appends: "),
        "{junit}"
    );
}

/// Checks a report written by the real binary against the published schema.
fn assert_schema_valid(report: &Value) {
    let schema: Value =
        serde_json::from_str(threads_harness::runner::results::REPORT_SCHEMA).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(report)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn an_adapter_with_no_capabilities_has_everything_skipped() {
    let script = r#"
import json, sys
for line in sys.stdin:
    request = json.loads(line)
    result = {"protocol": 1, "implementation": "nothing", "version": "0",
              "capabilities": {"operations": [], "scenarios": []}}
    print(json.dumps({"id": request["id"], "result": result if request["method"] == "hello" else {}}), flush=True)
"#;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nothing.py");
    fs::write(&path, script).unwrap();
    let output = conform(&["--impl", &python_impl(&path, &[])]);
    let summary = stdout(&output);
    // Nothing ran: status 3, not 0, which a CI job would read as green [HP-84].
    assert_eq!(exit_code(&output), 3, "{summary}\n{}", stderr(&output));
    let sizes = suite_sizes();
    assert_eq!(
        row(&summary, "suite tid"),
        Some((0, 0, sizes["tid"])),
        "{summary}"
    );
    assert!(
        summary.contains(&format!("SKIPPED suite tid (all {} cases):", sizes["tid"])),
        "{summary}"
    );
    assert!(
        summary.contains(": the adapter does not list the operation tid.decode\n"),
        "{summary}"
    );
    assert!(summary.contains("the adapter does not list the scenario feature \"nodes\""));
    let total = sizes.values().sum::<usize>() + scenario_checks();
    assert!(
        summary.contains(&format!("\n0 passed, 0 failed, {total} skipped\n")),
        "{summary}"
    );
    assert!(
        summary.ends_with(&format!(
            "NOT RUN (exit status 3): no case ran: all {total} selected case(s) were skipped\n"
        )),
        "{summary}"
    );
}

#[test]
fn wrong_answers_fail_with_exit_status_1() {
    // Lists the tid operations and fails every vector with a code that is not in the registry.
    let script = r#"
import json, sys
for line in sys.stdin:
    request = json.loads(line)
    if request["method"] == "hello":
        ops = ["tid.decode", "tid.decodeBytes", "tid.encode"]
        reply = {"result": {"protocol": 1, "implementation": "wrong", "version": "0",
                            "capabilities": {"operations": ops, "scenarios": []}}}
    elif request["method"] == "vector":
        print("answering " + request["params"]["operation"], file=sys.stderr, flush=True)
        reply = {"error": {"code": "NOT_A_CODE", "message": "no idea"}}
    else:
        reply = {"result": {}}
    reply["id"] = request["id"]
    print(json.dumps(reply), flush=True)
"#;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wrong.py");
    fs::write(&path, script).unwrap();
    let json_path = dir.path().join("report.json");
    let output = conform(&[
        "--impl",
        &python_impl(&path, &[]),
        "--filter",
        "SHORT_RANDOM",
        "--json",
        json_path.to_str().unwrap(),
    ]);
    let summary = stdout(&output);
    assert_eq!(exit_code(&output), 1, "{summary}\n{}", stderr(&output));
    let (passed, failed, skipped) = row(&summary, "suite tid").expect("a tid row");
    assert!(failed > 0 && passed == 0 && skipped == 0, "{summary}");
    assert!(
        row(&summary, "suite keys").is_none(),
        "only tid cases match: {summary}"
    );
    let first = first_case_flagged("tid", "SHORT_RANDOM");
    let head = format!("FAIL suite tid tcId {first} [TID-4] flags [SHORT_RANDOM]");
    assert!(summary.contains(&head), "{head:?} missing from:\n{summary}");
    assert!(
        summary.contains("  expected: TID_SHORT_RANDOM"),
        "{summary}"
    );
    assert!(
        summary.contains("unknown error code NOT_A_CODE"),
        "{summary}"
    );
    // The adapter's stderr is read on another thread, so for a live adapter whether its last
    // lines arrive before the failure is reported depends on scheduling: not asserted here (the
    // crash tests check it for a dead adapter, whose stderr is complete).
    let report: Value = serde_json::from_str(&fs::read_to_string(&json_path).unwrap()).unwrap();
    assert_schema_valid(&report);
    assert_eq!(report["passed"], false);
    assert_eq!(report["counts"]["failed"], failed);
}

/// The tcId of the first case of `suite` carrying `flag`.
fn first_case_flagged(suite: &str, flag: &str) -> u64 {
    let path = vectors_dir().join("suites").join(format!("{suite}.json"));
    let file = threads_vectors::lint::load(&path).unwrap();
    file.cases()
        .find(|(_, case)| case.flags.iter().any(|f| f == flag))
        .map(|(_, case)| case.tc_id)
        .expect("a flagged case")
}

/// A proxy in front of the reference adapter that crashes, writes garbage or hangs on the
/// `vector` requests whose `text` input is listed, or crashes on a listed method.
const PROXY: &str = r#"
import json, subprocess, sys, time
adapter, rules = sys.argv[1], json.loads(sys.argv[2])
child = subprocess.Popen([adapter], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
hit = lambda rule, value: rule in rules and rules[rule] == value
for line in sys.stdin:
    request = json.loads(line)
    text = request.get("params", {}).get("inputs", {}).get("text")
    if hit("crash", text) or hit("crash_method", request["method"]):
        print("proxy: crashing on purpose", file=sys.stderr, flush=True)
        sys.exit(3)
    if hit("garbage", text):
        print("this is not JSON", flush=True)
        continue
    if hit("hang", text):
        time.sleep(3600)
    child.stdin.write(line)
    child.stdin.flush()
    sys.stdout.write(child.stdout.readline())
    sys.stdout.flush()
"#;

/// Three `tid` cases with a `text` input no other case shares: (tcId, text).
fn three_unique_tid_texts() -> Vec<(u64, String)> {
    let file = threads_vectors::lint::load(&vectors_dir().join("suites/tid.json")).unwrap();
    let texts: Vec<(u64, String)> = file
        .cases()
        .filter_map(|(group, case)| {
            let inputs = threads_vectors::run::merged_inputs(group, case);
            Some((case.tc_id, inputs.get("text")?.as_str()?.to_string()))
        })
        .collect();
    let unique: Vec<(u64, String)> = texts
        .iter()
        .filter(|(_, t)| texts.iter().filter(|(_, u)| u == t).count() == 1)
        .take(3)
        .cloned()
        .collect();
    assert_eq!(unique.len(), 3);
    unique
}

#[test]
fn crash_garbage_and_hang_fail_their_case_and_the_run_goes_on() {
    let cases = three_unique_tid_texts();
    let rules = json!({"crash": cases[0].1, "garbage": cases[1].1, "hang": cases[2].1});
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("proxy.py");
    fs::write(&path, PROXY).unwrap();
    let implementation = python_impl(&path, &[REFERENCE_ADAPTER, &rules.to_string()]);
    let output = conform(&[
        "--impl",
        &implementation,
        "--suite",
        "tid",
        "--timeout",
        "4",
    ]);
    let summary = stdout(&output);
    assert_eq!(exit_code(&output), 1, "{summary}\n{}", stderr(&output));
    let size = suite_sizes()["tid"];
    assert_eq!(
        row(&summary, "suite tid"),
        Some((size - 3, 3, 0)),
        "{summary}"
    );
    // The crash restarts twice: the crashing request is sent once more to a restarted adapter,
    // which it crashes too, so it is that case's crash and not the case's before [HP-82].
    assert!(summary.contains("restarted 4 time(s)"), "{summary}");
    for ((tc_id, _), note) in cases.iter().zip(["CRASH", "PROTOCOL_VIOLATION", "TIMEOUT"]) {
        let head = format!("FAIL {note} suite tid tcId {tc_id} ");
        assert!(summary.contains(&head), "{head:?} missing from:\n{summary}");
    }
    assert!(
        summary.contains("    | proxy: crashing on purpose"),
        "{summary}"
    );
    assert!(summary.contains("not JSON"), "{summary}");
}

#[test]
fn a_scenario_whose_adapter_dies_fails_its_remaining_checks() {
    let rules = json!({"crash_method": "node.collect"});
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("proxy.py");
    fs::write(&path, PROXY).unwrap();
    let implementation = python_impl(&path, &[REFERENCE_ADAPTER, &rules.to_string()]);
    let output = conform(&["--impl", &implementation, "--suite", SCENARIO.0]);
    let summary = stdout(&output);
    assert_eq!(exit_code(&output), 1, "{summary}\n{}", stderr(&output));
    // thread-id, log-id, writer-appends, writer-heads and follower-role come before the first
    // pump.
    let scenario = format!("scenario {}", SCENARIO.0);
    assert_eq!(
        row(&summary, &scenario),
        Some((5, SCENARIO.1 - 5, 0)),
        "{summary}"
    );
    assert!(
        summary.contains("FAIL CRASH scenario writer-follower-reader check writer-follower-reader/follower-heads [LOG-3]"),
        "{summary}"
    );
    assert!(
        summary.contains("not checked: step node.collect on writer failed: CRASH"),
        "{summary}"
    );
}

#[test]
fn the_harness_refuses_to_run_with_exit_status_2() {
    let missing = conform(&["--impl", "threads-conform-test-no-such-adapter --flag"]);
    assert_eq!(exit_code(&missing), 2);
    assert!(
        stderr(&missing).contains("cannot start"),
        "{}",
        stderr(&missing)
    );

    let refused = r#"sh -c 'read l; echo "{\"id\":1,\"error\":{\"code\":\"BAD_REQUEST\",\"message\":\"I speak protocol 2\"}}"'"#;
    let output = conform(&["--impl", refused]);
    assert_eq!(exit_code(&output), 2);
    assert!(
        stderr(&output).contains("I speak protocol 2"),
        "{}",
        stderr(&output)
    );

    let silent = conform(&["--impl", "sh -c 'echo dead on arrival >&2; exit 0'"]);
    assert_eq!(exit_code(&silent), 2);
    assert!(
        stderr(&silent).contains("dead on arrival"),
        "{}",
        stderr(&silent)
    );

    for args in [
        &["--suite", "no-such-suite"][..],
        &["--filter", "no case has this text"],
        &["--timeout", "0"],
        &["--impl", "unbalanced 'quote"],
        &["--no-such-option"],
    ] {
        let output = conform(args);
        assert_eq!(exit_code(&output), 2, "{args:?}: {}", stderr(&output));
    }
}

#[test]
fn tampered_vectors_are_refused_with_exit_status_2() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(
        &vectors_dir(),
        dir.path(),
        &[
            "MANIFEST",
            "README.md",
            "vector-signing.pub",
            "schemas",
            "suites",
        ],
    );
    let copy = dir.path().to_str().unwrap();
    let untouched = conform(&["--vectors", copy, "--suite", "tid", "--filter", "TID-4"]);
    assert_eq!(exit_code(&untouched), 0, "{}", stderr(&untouched));

    let suite = dir.path().join("suites/tid.json");
    let text = fs::read_to_string(&suite).unwrap();
    fs::write(
        &suite,
        text.replacen("TID_SHORT_RANDOM", "TID_LONG_RANDOM", 1),
    )
    .unwrap();
    let output = conform(&["--vectors", copy]);
    assert_eq!(exit_code(&output), 2);
    let message = stderr(&output);
    assert!(
        message.contains("do not match their signed MANIFEST"),
        "{message}"
    );
    assert!(message.contains("suites/tid.json"), "{message}");
}

/// The attack of issue 18 (item 4): change a suite, replace `vector-signing.pub` with a fresh key
/// and re-sign with it. Refused (exit 2, naming --trust-key); run only when that key is trusted
/// explicitly, and then the summary and the JSON report say so.
#[test]
fn a_set_re_signed_by_another_key_is_refused_unless_that_key_is_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let set = dir.path().join("vectors");
    let out = Command::new(CONFORM)
        .args(["vectors", "export", set.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    let suite = set.join("suites/tid.json");
    let text = fs::read_to_string(&suite).unwrap();
    fs::write(
        &suite,
        text.replacen("TID_SHORT_RANDOM", "TID_LONG_RANDOM", 1),
    )
    .unwrap();
    // A fresh key: RFC 8032 TEST 2's seed, which is not the published one.
    let seed = "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb";
    let public = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";
    fs::write(set.join("vector-signing.pub"), format!("{public}\n")).unwrap();
    let key = dir.path().join("attacker.key");
    fs::write(&key, seed).unwrap();
    assert_eq!(threads_vectors::manifest::sign(&set, &key).unwrap(), public);

    let set_arg = set.to_str().unwrap();
    let refused = conform(&["--vectors", set_arg, "--suite", "tid"]);
    assert_eq!(exit_code(&refused), 2, "{}", stdout(&refused));
    let message = stderr(&refused);
    assert!(message.contains("not signed by a trusted key"), "{message}");
    assert!(message.contains("VECTORS_UNTRUSTED_KEY"), "{message}");
    assert!(message.contains("--trust-key"), "{message}");
    assert!(
        message.contains(public),
        "names the key it found: {message}"
    );
    assert!(
        stdout(&refused).is_empty(),
        "no case ran: {}",
        stdout(&refused)
    );

    let json_path = dir.path().join("report.json");
    let trusted = conform(&[
        "--vectors",
        set_arg,
        "--suite",
        "tid",
        "--trust-key",
        public,
        "--json",
        json_path.to_str().unwrap(),
    ]);
    let summary = stdout(&trusted);
    // It runs, and the changed case now fails against the reference.
    assert_eq!(exit_code(&trusted), 1, "{summary}\n{}", stderr(&trusted));
    let fingerprint = threads_vectors::manifest::fingerprint_hex(public).unwrap();
    assert!(
        summary.contains(&format!("WARNING: vectors signed by key {fingerprint}")),
        "{summary}"
    );
    assert!(summary.contains("NOT the published key"), "{summary}");
    let report: Value = serde_json::from_str(&fs::read_to_string(&json_path).unwrap()).unwrap();
    assert_schema_valid(&report);
    assert_eq!(report["vectors"]["signingKey"]["pinned"], false);
    assert_eq!(report["vectors"]["signingKey"]["key"], public);
    assert_eq!(report["vectors"]["source"], set_arg);
}

#[test]
fn version_names_the_kit_spec_protocol_manifest_and_key() {
    let out = Command::new(CONFORM).arg("--version").output().unwrap();
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    let manifest = threads_vectors::manifest::VectorSet::embedded_manifest_sha256();
    for line in [
        format!("kit {}", env!("CARGO_PKG_VERSION")),
        format!("spec {}", threads_vectors::format::SPEC_VERSION),
        format!("suites {}", threads_vectors::format::SUITES_VERSION),
        format!("harness protocol {}", threads_harness::protocol::PROTOCOL),
        format!("vectors MANIFEST sha256 {manifest}"),
        format!(
            "vectors signing key {} (key ID fb0fa43c, pinned)",
            threads_vectors::manifest::pinned_fingerprint()
        ),
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "{line:?} missing from:\n{text}"
        );
    }
}

#[test]
fn the_exported_set_is_the_committed_one_and_runs_from_anywhere() {
    let dir = tempfile::tempdir().unwrap();
    let set = dir.path().join("exported");
    let out = Command::new(CONFORM)
        .args(["vectors", "export", set.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    for file in [
        "MANIFEST",
        "README.md",
        "vector-signing.pub",
        "suites/tid.json",
    ] {
        assert_eq!(
            fs::read(set.join(file)).unwrap(),
            fs::read(vectors_dir().join(file)).unwrap(),
            "{file}"
        );
    }
    let verified = threads_vectors::manifest::verify_dir(&set, &[]).unwrap();
    assert!(verified.pinned);
    // Run from a directory with nothing in it: the binary needs no source tree.
    let empty = tempfile::tempdir().unwrap();
    let run = Command::new(CONFORM)
        .current_dir(empty.path())
        .args(["run", "--suite", "tid", "--vectors", set.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(exit_code(&run), 0, "{}", stderr(&run));
    assert!(stdout(&run).contains("(key ID fb0fa43c, pinned)"));
}

fn copy_dir(from: &Path, to: &Path, names: &[&str]) {
    for name in names {
        let source = from.join(name);
        if source.is_dir() {
            fs::create_dir_all(to.join(name)).unwrap();
            for entry in fs::read_dir(&source).unwrap() {
                let entry = entry.unwrap();
                fs::copy(entry.path(), to.join(name).join(entry.file_name())).unwrap();
            }
        } else {
            fs::copy(&source, to.join(name)).unwrap();
        }
    }
}
