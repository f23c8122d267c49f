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
