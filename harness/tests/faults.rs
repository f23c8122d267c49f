//! The harness catches bugs: it runs against deliberately faulty implementations
//! (`examples/faulty_adapter.rs`, built with the tests) and must fail each, naming the cases and
//! flags that caught it, while the run goes on.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn faulty_adapter() -> PathBuf {
    let conform = PathBuf::from(env!("CARGO_BIN_EXE_threads-conform"));
    conform.with_file_name("examples").join("faulty_adapter")
}

/// Runs the harness against the adapter with `fault`; returns the exit code and the JSON report.
fn run_with_fault(fault: &str, extra: &[&str]) -> (i32, Value) {
    let report =
        std::env::temp_dir().join(format!("threads-fault-{fault}-{}.json", std::process::id()));
    let implementation = format!("'{}' --fault {fault}", faulty_adapter().display());
    let output = Command::new(env!("CARGO_BIN_EXE_threads-conform"))
        .args(["run", "--no-liveness", "--impl", &implementation, "--json"])
        .arg(&report)
        .args(extra)
        .output()
        .expect("threads-conform starts");
    let text = std::fs::read_to_string(&report).unwrap_or_else(|e| {
        panic!(
            "no report ({e}); stderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    let _ = std::fs::remove_file(&report);
    (
        output.status.code().unwrap_or(-1),
        serde_json::from_str(&text).expect("the report is JSON"),
    )
}

/// Every failed case as (group, specSection, flags).
fn failures(report: &Value) -> Vec<(String, String, Vec<String>)> {
    let mut out = Vec::new();
    for group in report["groups"].as_array().into_iter().flatten() {
        for case in group["cases"].as_array().into_iter().flatten() {
            if case["status"] == "failed" {
                let flags = case["flags"].as_array().into_iter().flatten();
                out.push((
                    group["name"].as_str().unwrap_or_default().to_string(),
                    case["specSection"].as_str().unwrap_or_default().to_string(),
                    flags.filter_map(|f| f.as_str().map(String::from)).collect(),
                ));
            }
        }
    }
    out
}

/// Asserts the run failed (exit 1) and some failed case carries `flag`.
fn caught_by_flag(fault: &str, flag: &str, extra: &[&str]) -> Value {
    let (code, report) = run_with_fault(fault, extra);
    assert_eq!(code, 1, "fault {fault} must fail the run");
    let failed = failures(&report);
    assert!(
        failed
            .iter()
            .any(|(_, _, flags)| flags.iter().any(|f| f == flag)),
        "fault {fault}: no failed case carries {flag}; failures: {failed:?}"
    );
    report
}

/// How many tid cases are valid and how many invalid, from the committed file.
fn tid_verdicts() -> (usize, usize) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors/suites/tid.json");
    let suite: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("tid.json")).expect("JSON");
    let results: Vec<&Value> = suite["testGroups"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|g| g["tests"].as_array().into_iter().flatten())
        .map(|t| &t["result"])
        .collect();
    let valid = results.iter().filter(|r| **r == "valid").count();
    (valid, results.len() - valid)
}

fn group_counts<'a>(report: &'a Value, name: &str) -> &'a Value {
    let groups = report["groups"].as_array().expect("groups");
    &groups
        .iter()
        .find(|g| g["name"] == name)
        .expect("group present")["counts"]
}

#[test]
fn accepting_forged_signatures_is_caught() {
    caught_by_flag(
        "forged-signatures",
        "FORGED_SIGNATURE",
        &["--suite", "records", "--suite", "logs"],
    );
}

#[test]
fn ignoring_associated_data_is_caught() {
    caught_by_flag(
        "ignore-associated-data",
        "PUBLISHED",
        &["--suite", "records"],
    );
}

#[test]
fn accepting_short_random_parts_is_caught() {
    caught_by_flag("short-random", "SHORT_RANDOM", &["--suite", "tid"]);
}

#[test]
fn skipping_the_link_check_is_caught() {
    caught_by_flag("skip-link-check", "BROKEN_LINK", &["--suite", "logs"]);
}

/// Runs the live scenario `scenario` against `fault`; a check citing `section` must fail.
fn caught_by_scenario(fault: &str, scenario: &str, section: &str) {
    let (code, report) = run_with_fault(fault, &["--suite", scenario]);
    assert_eq!(code, 1);
    let failed = failures(&report);
    assert!(
        failed
            .iter()
            .any(|(group, s, _)| group == scenario && s == section),
        "{failed:?}"
    );
}

#[test]
fn leaking_plaintext_to_a_follower_is_caught_by_the_live_scenario() {
    caught_by_scenario("leak-plaintext", "writer-follower-reader", "KEY-7");
}

#[test]
fn ignoring_revocations_is_caught_by_the_acl_scenario() {
    caught_by_scenario("ignore-revocation", "acl-revocation", "ACL-7");
}

#[test]
fn serving_a_stranger_is_caught_by_the_stranger_scenario() {
    caught_by_scenario("serves-strangers", "stranger", "SYNC-21");
}

#[test]
fn a_fold_in_arrival_order_is_caught() {
    caught_by_flag("arrival-order-fold", "ARRIVAL_ORDER", &["--suite", "db"]);
}

#[test]
fn a_patch_that_replaces_the_document_is_caught() {
    caught_by_flag("patch-replaces", "PATCH", &["--suite", "db"]);
}

#[test]
fn a_query_without_the_id_tie_break_is_caught() {
    caught_by_flag("unstable-query-order", "STABLE_ORDER", &["--suite", "db"]);
}

#[test]
fn an_unauthorised_delete_applied_is_caught_by_the_db_access_scenario() {
    caught_by_scenario("unauthorised-delete", "db-access", "DB-13");
}

/// The checks of `scenario` that failed by comparing values, not because a step stopped it.
fn checks_failed_on_values(report: &Value, scenario: &str) -> Vec<String> {
    let groups = report["groups"].as_array().into_iter().flatten();
    groups
        .filter(|g| g["name"] == scenario)
        .flat_map(|g| g["cases"].as_array().into_iter().flatten())
        .filter(|c| c["status"] == "failed")
        .filter(|c| {
            let actual = c["actual"].as_str().unwrap_or_default();
            !actual.starts_with("not checked")
        })
        .filter_map(|c| c["id"].as_str().map(String::from))
        .collect()
}

#[test]
fn a_node_that_folds_only_its_own_events_is_caught_by_the_partition_scenario() {
    let scenario = "db-partitioned-edits";
    let (code, report) = run_with_fault("skips-remote-reducers", &["--suite", scenario]);
    assert_eq!(code, 1);
    // The readers write nothing, so their views stay empty: the first comparison fails.
    let failed = checks_failed_on_values(&report, scenario);
    assert_eq!(failed, [format!("{scenario}/base-replicated")], "{report}");
}

#[test]
fn a_fold_in_arrival_order_is_caught_by_the_partition_scenario() {
    let scenario = "db-partitioned-edits";
    let (code, report) = run_with_fault("arrival-order", &["--suite", scenario]);
    assert_eq!(code, 1);
    // The harness's own fold catches what the peers' agreement with each other does not.
    let failed = checks_failed_on_values(&report, scenario);
    assert!(
        failed.contains(&format!("{scenario}/queries-match-fold")),
        "{failed:?}"
    );
}

#[test]
fn wrong_error_codes_are_caught() {
    let (code, report) = run_with_fault("wrong-error-codes", &["--suite", "tid"]);
    assert_eq!(code, 1);
    // Every invalid tid case expects a code other than BLOCK_MALFORMED, and valid ones still pass.
    let (valid, invalid) = tid_verdicts();
    assert_eq!(group_counts(&report, "tid")["failed"], invalid);
    assert_eq!(group_counts(&report, "tid")["passed"], valid);
}

/// How many cases of a group passed.
fn passed(report: &Value, group: &str) -> u64 {
    group_counts(report, group)["passed"].as_u64().unwrap_or(0)
}

#[test]
fn a_crash_fails_its_case_and_the_run_goes_on() {
    let report = caught_by_flag("crash", "CRASH", &[]);
    assert!(report["restarts"].as_u64().unwrap_or(0) >= 1);
    // The suites after the crash still ran and passed.
    assert_eq!(group_counts(&report, "logs")["failed"], 0);
    assert!(passed(&report, "logs") > 0);
}

#[test]
fn a_hang_times_out_and_the_run_goes_on() {
    let report = caught_by_flag("hang", "TIMEOUT", &["--suite", "keys", "--timeout", "2"]);
    assert!(passed(&report, "keys") > 20);
}

#[test]
fn garbage_on_stdout_is_a_protocol_violation() {
    let report = caught_by_flag("garbage", "PROTOCOL_VIOLATION", &["--suite", "keys"]);
    assert!(passed(&report, "keys") > 20);
}

/// A reply line that never ends, and one of 1 GiB, fail their case with PROTOCOL_VIOLATION and
/// the run goes on: the harness reads 16 MiB of each and no more (it held them whole, gigabytes,
/// issue 18) [HP-53].
#[test]
fn over_long_reply_lines_are_protocol_violations() {
    for fault in ["endless-reply", "huge-reply"] {
        let report = caught_by_flag(fault, "PROTOCOL_VIOLATION", &["--suite", "keys"]);
        assert!(passed(&report, "keys") > 20, "{fault}");
        assert!(report["restarts"].as_u64().unwrap_or(0) >= 1, "{fault}");
    }
}

/// 1 GiB of stderr in one line is drained and cut: the failed case shows a bounded tail (the
/// harness held the whole line, issue 18) [HP-4].
#[test]
fn a_stderr_flood_is_drained_and_cut() {
    let report = caught_by_flag("stderr-flood", "PROTOCOL_VIOLATION", &["--suite", "keys"]);
    assert!(passed(&report, "keys") > 20);
    let stderr: Vec<&str> = report["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|g| g["cases"].as_array().into_iter().flatten())
        .flat_map(|c| c["stderr"].as_array().into_iter().flatten())
        .filter_map(Value::as_str)
        .collect();
    assert!(stderr.contains(&"flood over"), "{stderr:?}");
    assert!(stderr.iter().all(|l| l.len() <= 2_000), "the flood was cut");
    assert!(stderr.iter().any(|l| l.starts_with("eeee")), "{stderr:?}");
}

#[test]
fn the_same_adapter_without_a_fault_passes() {
    let (code, report) = run_with_fault("none", &[]);
    assert_eq!(code, 0, "{:?}", failures(&report));
    assert_eq!(report["counts"]["failed"], 0);
}

/// The first check of `scenario`, in the order made, that failed.
fn first_failed(report: &Value, scenario: &str) -> Option<String> {
    let groups = report["groups"].as_array().into_iter().flatten();
    groups
        .filter(|g| g["name"] == scenario)
        .flat_map(|g| g["cases"].as_array().into_iter().flatten())
        .find(|c| c["status"] == "failed")
        .and_then(|c| c["id"].as_str().map(String::from))
}

#[test]
fn each_nonce_a_verifier_must_refuse_is_caught_by_its_own_check() {
    let scenario = "nonce-scope";
    for (fault, check) in [
        ("nonce-same-for-every-peer", "nonces-distinct"),
        ("proof-other-peers-nonce", "other-peers-nonce-refused"),
        ("proof-other-threads-nonce", "other-threads-nonce-refused"),
        ("proof-stale-nonce", "stale-nonce-refused"),
    ] {
        let (code, report) = run_with_fault(fault, &["--suite", scenario]);
        assert_eq!(code, 1, "{fault}: {report}");
        assert_eq!(
            first_failed(&report, scenario),
            Some(format!("{scenario}/{check}")),
            "{fault}: {report}"
        );
    }
}

#[test]
fn a_writer_that_reuses_its_randomness_is_caught_only_by_the_records_check() {
    let scenario = "writer-records";
    let (code, report) = run_with_fault("append-replays-randomness", &["--suite", scenario]);
    assert_eq!(code, 1, "{report}");
    let failed = checks_failed_on_values(&report, scenario);
    assert_eq!(
        failed,
        [format!("{scenario}/fresh-keys-and-nonces")],
        "{report}"
    );
}
