//! The bug catalogue [HP-86] through the real `threads-conform catalogue`: a sample of faults,
//! one of each class, is caught, naming the cases that caught it; the control (no bug) is
//! reported missed, and the command then fails. CI runs the whole catalogue in release
//! (`.ci/run`); a debug run of all of it takes minutes.

use std::process::Command;

use serde_json::Value;

/// Runs `threads-conform catalogue` on `faults`; the exit code and the JSON outcome.
fn catalogue(faults: &[&str]) -> (i32, Value) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let json = dir.path().join("catalogue.json");
    let mut command = Command::new(env!("CARGO_BIN_EXE_threads-conform"));
    command.arg("catalogue").arg("--json").arg(&json);
    for fault in faults {
        command.args(["--fault", fault]);
    }
    let output = command.output().expect("threads-conform starts");
    let text = std::fs::read_to_string(&json).unwrap_or_else(|e| {
        panic!(
            "no outcome ({e}); stdout: {}; stderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (
        output.status.code().unwrap_or(-1),
        serde_json::from_str(&text).expect("JSON"),
    )
}

fn outcome<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["outcomes"]
        .as_array()
        .expect("outcomes")
        .iter()
        .find(|o| o["name"] == name)
        .unwrap_or_else(|| panic!("no outcome for {name}"))
}

/// [HP-86]: each class of bug is caught, by the cases of its rule.
#[test]
fn one_fault_of_each_class_is_caught_by_the_cases_that_check_its_rule() {
    let (code, report) = catalogue(&[
        "logid-small-order-identity-only",
        "duplicate-as-fork",
        "tid-variant-as-version",
        "thread-create-trailing-bits",
        "serve-pull-descending",
        "hello-acl-without-nodes",
    ]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["caught"], 6);
    let evidence = |name: &str| -> Vec<String> {
        outcome(&report, name)["evidence"]
            .as_array()
            .expect("evidence")
            .iter()
            .map(|e| e.as_str().expect("text").to_string())
            .collect()
    };
    // The seven small-order points beyond the identity, each in both forms.
    assert_eq!(evidence("logid-small-order-identity-only").len(), 14);
    assert!(
        evidence("duplicate-as-fork")
            .iter()
            .all(|c| c.starts_with("logs:"))
    );
    assert!(
        evidence("tid-variant-as-version")
            .iter()
            .all(|c| c.starts_with("tid:"))
    );
    // A creator-side rule: no vector can see it, only live checks that decode what thread.create
    // gave (the stranger, nonce-scope and writer-records scenarios also decode the Thread ID, to
    // write the messages the harness speaks or to open records, and so does the simulator of the liveness runs [HP-93], when threads-sim is built; and the
    // ACL document's `_id`, the canonical text, is not the text the node gave for the thread).
    let created = evidence("thread-create-trailing-bits");
    assert!(
        created.contains(&"writer-follower-reader:thread-id".to_string()),
        "{created:?}"
    );
    assert!(
        created.iter().all(|c| [
            "writer-follower-reader:",
            "acl-revocation:acl-document",
            "stranger:",
            "nonce-scope:",
            "writer-records:",
            "liveness:"
        ]
        .iter()
        .any(|p| c.starts_with(p))),
        "{created:?}"
    );
    assert!(
        evidence("serve-pull-descending")
            .iter()
            .all(|c| c.starts_with("sync:"))
    );
    let refusal = &outcome(&report, "hello-acl-without-nodes");
    assert_eq!(refusal["exitStatus"], 2);
    assert!(evidence("hello-acl-without-nodes")[0].contains("HP-14"));
}

/// [HP-86]: the catalogue fails when the suite passes with a fault.
#[test]
fn a_fault_the_suite_misses_fails_the_catalogue() {
    let (code, report) = catalogue(&["no-fault", "tid-trailing-bits"]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(outcome(&report, "no-fault")["caught"], false);
    assert_eq!(outcome(&report, "no-fault")["exitStatus"], 0);
    assert_eq!(outcome(&report, "tid-trailing-bits")["caught"], true);
}

#[test]
fn an_unknown_fault_is_refused() {
    let output = Command::new(env!("CARGO_BIN_EXE_threads-conform"))
        .args(["catalogue", "--fault", "no-such-bug"])
        .output()
        .expect("threads-conform starts");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no-such-bug"));
}

/// A fault whose catch proves a rule on the harness counts as caught only when the run shows
/// that rule at work: the stray stdout line fails its case as a protocol violation [HP-10], the
/// exit after a reply fails that case and no other [HP-82], an adapter whose `hello` lists
/// nothing the harness knows ends the run with status 3 [HP-84].
#[test]
fn a_fault_that_proves_a_harness_rule_is_caught_the_way_the_rule_says() {
    let (code, report) = catalogue(&[
        "log-on-stdout",
        "exit-after-reply",
        "hello-operations-misnamed",
    ]);
    assert_eq!(code, 0, "{report:#}");
    for (name, rule, status) in [
        ("log-on-stdout", "HP-10", 1),
        ("exit-after-reply", "HP-82", 1),
        ("hello-operations-misnamed", "HP-84", 3),
    ] {
        let o = outcome(&report, name);
        assert_eq!(o["exitStatus"], status, "{o:#}");
        assert_eq!(o["caught"], true, "{o:#}");
        let by = &o["caughtBy"][0];
        assert_eq!(
            (&by["rule"], &by["confirmed"]),
            (&rule.into(), &true.into())
        );
    }
    let charged = &outcome(&report, "exit-after-reply")["evidence"];
    assert_eq!(charged, &serde_json::json!(["keys:88", "keys:89"]));
}

/// The driver faults are part of the catalogue's list, as their own kind, each with the tag it
/// breaks below the harness protocol [HP-86].
#[test]
fn the_list_includes_the_driver_faults_as_their_own_kind() {
    let output = Command::new(env!("CARGO_BIN_EXE_threads-conform"))
        .args(["catalogue", "--list"])
        .output()
        .expect("threads-conform starts");
    assert_eq!(output.status.code(), Some(0));
    let text = String::from_utf8_lossy(&output.stdout);
    for fault in threads_harness::catalogue::driver::DRIVER_FAULTS {
        let line = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(fault.name))
            .unwrap_or_else(|| panic!("{} is not listed", fault.name));
        assert!(line.contains(&format!("[{}] driver", fault.tag)), "{line}");
    }
}
