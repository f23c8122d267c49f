//! Liveness as conformance [HP-93], end to end: `threads-conform run`'s `liveness` group starts
//! this package's `threads-sim` against an adapter, and the group passes for the reference and
//! fails for the catalogue's not-live faults (a node that never resends a pull, one that never
//! repeats its heads), naming the scenario, the seed and the command that replays the run.

use std::path::PathBuf;

use threads_harness::runner::liveness::{GROUP, Liveness};
use threads_harness::runner::results::{GroupResult, Status};
use threads_harness::runner::{self, DEFAULT_TIMEOUT, Options};

fn sim() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_threads-sim"))
}

/// The `liveness` group of a run against `threads-sim reference-adapter` with `extra` arguments.
fn liveness(extra: &[&str], seeds: std::ops::RangeInclusive<u64>) -> GroupResult {
    let mut command = vec![sim().display().to_string(), "reference-adapter".into()];
    command.extend(extra.iter().map(|s| s.to_string()));
    let options = Options {
        command,
        groups: vec![GROUP.to_string()],
        filter: None,
        cases: Vec::new(),
        rerun: Vec::new(),
        vectors: None,
        trusted_keys: Vec::new(),
        timeout: DEFAULT_TIMEOUT,
        progress: false,
        liveness: Liveness {
            sim: Some(sim()),
            seeds,
            enabled: true,
        },
    };
    let report = runner::run(&options).expect("the run starts");
    let [group] = &report.groups[..] else {
        panic!("one group: {:?}", report.groups);
    };
    group.clone()
}

fn failed(group: &GroupResult) -> Vec<&str> {
    group
        .cases
        .iter()
        .filter(|c| matches!(c.status, Status::Failed(_)))
        .map(|c| c.id.as_str())
        .collect()
}

#[test]
fn the_reference_passes_every_scenario_its_features_allow() {
    let group = liveness(&[], 1..=1);
    let counts = group.counts();
    assert_eq!(failed(&group), Vec::<&str>::new(), "{group:#?}");
    assert!(counts.passed >= 6, "{counts:?}");
    assert_eq!(counts.skipped, 0, "{group:#?}");
    // What the harness protocol cannot play is named in a note, not passed or skipped.
    assert!(
        group.notes.iter().any(|n| n.contains("crash-restart")),
        "{:?}",
        group.notes
    );
    assert!(
        !group
            .cases
            .iter()
            .any(|c| c.id.starts_with("crash-restart/"))
    );
}

#[test]
fn a_node_that_never_resends_a_pull_fails_liveness_with_its_replay_command() {
    let group = liveness(&["--fault", "never-retries"], 1..=1);
    let failures = failed(&group);
    assert!(failures.contains(&"partition-heal/seed-1"), "{failures:?}");
    let case = group
        .cases
        .iter()
        .find(|c| c.id == "partition-heal/seed-1")
        .expect("the case");
    let Status::Failed(failure) = &case.status else {
        unreachable!()
    };
    assert!(
        failure.actual.contains("not converged"),
        "{}",
        failure.actual
    );
    let replay = failure.inputs.as_ref().expect("inputs")["replay"]
        .as_str()
        .expect("replay")
        .to_string();
    assert!(
        replay.contains("--scenario partition-heal --seed 1") && replay.contains("never-retries"),
        "{replay}"
    );
    assert_eq!(case.spec_section, "HP-93");
}

#[test]
fn a_node_that_never_repeats_its_heads_fails_liveness() {
    let group = liveness(&["--fault", "never-repeats-heads"], 1..=1);
    assert!(!failed(&group).is_empty(), "{group:#?}");
}
