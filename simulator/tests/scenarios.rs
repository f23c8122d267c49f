//! Every scenario of the catalogue passes, on several seeds and at larger peer counts.

mod common;

use threads_simulator::Verdict;

fn assert_passes(spec: &threads_simulator::RunSpec) {
    let outcome = spec.run(false).expect("the run starts");
    assert_eq!(
        outcome.verdict,
        Verdict::Pass,
        "{}\nreplay: {}",
        outcome.stats,
        spec.command()
    );
    assert!(outcome.stats.messages > 0);
    assert!(outcome.stats.to_converge().is_some());
}

#[test]
fn every_scenario_passes_on_several_seeds() {
    for name in common::names() {
        for seed in 1..=4 {
            assert_passes(&common::small(name, seed));
        }
    }
}

#[test]
fn scenarios_scale_with_the_number_of_peers() {
    for (name, peers) in [
        ("partition-heal", 7),
        ("writer-offline", 5),
        ("late-joiner", 4),
        ("flapping-links", 6),
        ("many-logs", 8),
        ("acl-revocation-partition", 6),
        ("crash-restart", 5),
        ("stranger", 6),
        ("revoked-member", 6),
    ] {
        let mut spec = common::small(name, 11);
        spec.peers = Some(peers);
        assert_passes(&spec);
    }
}

#[test]
fn too_few_peers_is_a_usage_error() {
    let mut spec = common::small("acl-revocation-partition", 1);
    spec.peers = Some(3);
    assert!(spec.run(false).is_err());
}

#[test]
fn each_scenario_needs_its_faults_to_end_before_its_bound() {
    for scenario in threads_simulator::scenarios::SCENARIOS {
        let plan = scenario.plan(1, None, Some(10)).expect("plan");
        assert!(plan.bound_ms >= 30_000, "{}", scenario.name);
        assert!(!plan.faults.is_empty(), "{} has faults", scenario.name);
        assert!(plan.script.windows(2).all(|w| w[0].at <= w[1].at));
    }
}

/// writer-offline: a seed on which 2% loss ate every pull the follower made before 7 s. With the
/// writer taken offline at a fixed 7 s no peer held the records and the readers could never
/// catch up (a failure of the scenario, not of the protocol); offline once the follower holds
/// the log, they pass.
#[test]
fn writer_offline_waits_for_the_followers_copy() {
    use threads_simulator::nodes::local::LocalCluster;
    use threads_simulator::plan::Fault;
    use threads_simulator::scenarios::SCENARIOS;
    let scenario = SCENARIOS
        .iter()
        .find(|s| s.name == "writer-offline")
        .expect("in the catalogue");
    for seed in [1533] {
        let plan = scenario.plan(seed, None, None).expect("plan");
        let outcome = threads_simulator::sim::run(&plan, seed, &mut LocalCluster::default(), false);
        assert_eq!(outcome.verdict, Verdict::Pass, "seed {seed}\n{plan}");
        let mut fixed = plan.clone();
        for fault in &mut fixed.faults {
            if let Fault::Offline { copied_by, .. } = fault {
                *copied_by = None;
            }
        }
        let outcome =
            threads_simulator::sim::run(&fixed, seed, &mut LocalCluster::default(), false);
        assert_ne!(
            outcome.verdict,
            Verdict::Pass,
            "seed {seed}: without waiting for the copy the readers cannot catch up"
        );
    }
}
