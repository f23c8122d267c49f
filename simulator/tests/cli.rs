//! The `threads-sim` command line: list, single runs, sweeps, reports, replay commands, and
//! subprocess nodes driven over the harness protocol.

use std::path::PathBuf;
use std::process::{Command, Output};

fn sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_threads-sim"))
        .args(args)
        .output()
        .expect("threads-sim runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The bundled reference adapter, served by `threads-sim` itself.
fn adapter() -> String {
    format!("{} reference-adapter", env!("CARGO_BIN_EXE_threads-sim"))
}

#[test]
fn list_names_every_scenario_and_its_bound() {
    let out = sim(&["list"]);
    assert!(out.status.success());
    let text = stdout(&out);
    for scenario in threads_simulator::scenarios::SCENARIOS {
        assert!(
            text.contains(scenario.name) && text.contains(scenario.bound),
            "{text}"
        );
    }
}

#[test]
fn a_run_prints_the_verdict_the_trace_hash_and_statistics() {
    let out = sim(&[
        "run",
        "--scenario",
        "writer-offline",
        "--seed",
        "4",
        "--events",
        "20",
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    for expected in [
        "verdict   PASS",
        "trace     sha256:",
        "messages  ",
        "converged ",
    ] {
        assert!(text.contains(expected), "{text}");
    }
    let again = stdout(&sim(&[
        "run",
        "--scenario",
        "writer-offline",
        "--seed",
        "4",
        "--events",
        "20",
    ]));
    assert_eq!(text, again, "the same seed prints the same report");
}

#[test]
fn the_reference_adapter_passes_partition_heal_over_the_harness_protocol() {
    let adapter = adapter();
    let out = sim(&[
        "run",
        "--impl",
        &adapter,
        "--scenario",
        "partition-heal",
        "--seed",
        "1",
    ]);
    let text = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("verdict   PASS") && text.contains("nodes     threads-reference"),
        "{text}"
    );
    let again = sim(&[
        "run",
        "--impl",
        &adapter,
        "--scenario",
        "partition-heal",
        "--seed",
        "1",
    ]);
    assert_eq!(
        text,
        stdout(&again),
        "subprocess nodes replay byte for byte too"
    );
    // The standalone adapter binary, when this build has one, does the same.
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_threads-sim"));
    let standalone = exe.with_file_name("threads-reference-adapter");
    if standalone.exists() {
        let path = standalone.to_string_lossy();
        let out = sim(&[
            "run",
            "--impl",
            &path,
            "--scenario",
            "partition-heal",
            "--seed",
            "1",
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    }
}

#[test]
fn scenarios_that_need_crashes_are_skipped_for_subprocess_nodes() {
    let adapter = adapter();
    assert_skipped(&adapter, "crash-restart", "crash and restart");
}

#[test]
fn a_failing_run_exits_1_with_its_replay_command_and_a_shrunk_schedule() {
    let out = sim(&[
        "run",
        "--scenario",
        "crash-restart",
        "--seed",
        "3",
        "--events",
        "8",
        "--broken",
        "reader=forgets-writes",
        "--shrink-budget",
        "30",
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("verdict   FAIL"), "{text}");
    assert!(
        text.contains("heads only move forward") && text.contains("seed 3"),
        "{text}"
    );
    assert!(
        text.contains("replay    threads-sim run --scenario crash-restart --seed 3 --events 8 --broken 'reader=forgets-writes'"),
        "{text}"
    );
    assert!(text.contains("shrunk    after"), "{text}");
    assert!(text.matches("replay    ").count() == 2, "{text}");
}

#[test]
fn a_sweep_prints_a_table_and_exits_0_when_all_pass() {
    let out = sim(&[
        "run",
        "--scenario",
        "acl-revocation-partition,writer-offline",
        "--seeds",
        "1..3",
        "--max-events",
        "20",
        "--jobs",
        "2",
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("6 of 6 runs passed, 0 skipped"), "{text}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("seed").count(), 6, "progress: {stderr}");
}

#[test]
fn a_report_has_a_text_trace_and_an_svg_sequence_diagram() {
    let dir = std::env::temp_dir().join(format!("threads-sim-report-{}", std::process::id()));
    let dir_text = dir.to_string_lossy().into_owned();
    let out = sim(&[
        "run",
        "--scenario",
        "partition-heal",
        "--seed",
        "2",
        "--events",
        "10",
        "--report",
        &dir_text,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let trace = std::fs::read_to_string(dir.join("trace.txt")).expect("trace.txt");
    assert!(
        trace.contains("verdict   PASS") && trace.contains("fault cut w0,r2 | w1,f3 begins"),
        "{trace}"
    );
    let html = std::fs::read_to_string(dir.join("report.html")).expect("report.html");
    for part in [
        "<svg",
        "cut w0,r2 | w1,f3",
        "converged",
        "stroke-dasharray",
        "offline",
    ] {
        assert!(html.contains(part), "{part}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_arguments_exit_2() {
    assert_eq!(
        sim(&["run", "--scenario", "no-such", "--seed", "1"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        sim(&["run", "--scenario", "partition-heal"]).status.code(),
        Some(2)
    );
    assert_eq!(
        sim(&["run", "--scenario", "partition-heal", "--seeds", "5..1"])
            .status
            .code(),
        Some(2)
    );
    let quiet = sim(&[
        "run",
        "--scenario",
        "partition-heal",
        "--seed",
        "1",
        "--quiet",
        "thunder",
    ]);
    assert_eq!(quiet.status.code(), Some(2));
}

#[test]
fn an_adapter_without_nodes_is_skipped_not_failed() {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../harness/adapters/python/threads_adapter.py");
    let command = format!("python3 {}", script.display());
    assert_skipped(&command, "partition-heal", "\"nodes\"");
}

/// `scenario` run with `--impl adapter` is skipped, not failed (exit 0), for a reason that
/// mentions `why`.
fn assert_skipped(adapter: &str, scenario: &str, why: &str) {
    let out = sim(&[
        "run",
        "--impl",
        adapter,
        "--scenario",
        scenario,
        "--seed",
        "1",
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("verdict   SKIP") && text.contains(why),
        "{text}"
    );
}

/// Arguments that would panic, exhaust memory or prove nothing are refused with exit 2 and a
/// message naming the option, before any run starts (issue 18).
#[test]
fn absurd_sizes_are_refused_with_exit_2() {
    let cases: [(&[&str], &str); 5] = [
        (&["--seeds", "0..18446744073709551615"], "--seeds"),
        (&["--seeds", "0..200000"], "split the sweep"),
        (
            &["--seed", "1", "--events", "18446744073709551615"],
            "--events",
        ),
        (&["--seed", "1", "--events", "0"], "--events 0"),
        (&["--seed", "1", "--max-events", "0"], "--max-events 0"),
    ];
    for (args, expected) in cases {
        let mut all = vec!["run", "--scenario", "partition-heal"];
        all.extend_from_slice(args);
        let out = sim(&all);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!stdout(&out).contains("PASS"), "{args:?} ran something");
    }
}

/// The liveness failure of issue 18: a pull lost while the writer's link to the reader flapped
/// waited out a 32 s backoff while the writer's heads were ignored, and the reader stayed 7
/// records behind past the bound. Heads now resend a waiting pull [SYNC-10].
#[test]
fn flapping_links_seed_2519_converges() {
    let out = sim(&[
        "run",
        "--scenario",
        "flapping-links",
        "--seed",
        "2519",
        "--events",
        "60",
        "--faults",
        "0",
        "--quiet",
        "drift",
        "--no-shrink",
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("verdict   PASS"), "{text}");
}
