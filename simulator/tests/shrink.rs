//! Shrinking: a failing run is reduced to the faults, noise and events it needs, and the reduced
//! run replays; and random fault schedules never break the reference peers (proptest, which
//! shrinks a failing schedule itself).

mod common;

use proptest::prelude::*;
use threads::id::Variant;
use threads::invite::InviteRole;
use threads_simulator::check::Invariant;
use threads_simulator::nodes::local::LocalCluster;
use threads_simulator::plan::{Action, Broken, Fault, Noise, Plan, Timed};
use threads_simulator::scenarios::NOISY;
use threads_simulator::{Failure, Verdict, sim};

#[test]
fn a_forgetful_follower_shrinks_to_one_crash_without_noise() {
    let mut spec = common::small("crash-restart", 1);
    spec.broken.push(("follower".into(), Broken::ForgetsWrites));
    let outcome = spec.run(false).expect("run");
    assert!(outcome.verdict.failed());
    let (reduced, shrunk) = spec
        .shrink(&outcome, 100)
        .expect("shrink")
        .expect("it failed");
    let plan = reduced.plan().expect("plan");
    assert_eq!(plan.faults.len(), 1, "{plan}");
    assert!(
        matches!(
            plan.faults[0],
            Fault::Crash {
                node: 2,
                restart: Some(_),
                ..
            }
        ),
        "{plan}"
    );
    assert_eq!(shrunk.reduction.quiet, Noise::ALL.to_vec());
    assert!(shrunk.reduction.events <= 2, "{shrunk:?}");
    assert!(shrunk.runs <= 100);
    // The reduced command replays the same failure.
    let again = reduced.run(false).expect("run");
    let Verdict::Fail(Failure::Invariant(v)) = &again.verdict else {
        panic!("the reduced run fails: {:?}", again.verdict);
    };
    assert_eq!(v.invariant, Invariant::Forward);
    let command = reduced.command();
    assert!(
        command.contains("--faults") && command.contains("--quiet"),
        "{command}"
    );
}

#[test]
fn a_passing_run_has_nothing_to_shrink() {
    let spec = common::small("acl-revocation-partition", 1);
    let outcome = spec.run(false).expect("run");
    assert!(spec.shrink(&outcome, 10).expect("shrink").is_none());
}

/// Writer, reader and follower; 8 events over 1–9 s; the faults proptest draws.
fn plan_with(faults: Vec<Fault>) -> Plan {
    let mut plan =
        threads_simulator::scenarios::crash_restart(&threads_simulator::scenarios::Setup {
            seed: 0,
            peers: 3,
            events: 8,
        });
    plan.script = vec![
        Timed {
            at: 0,
            what: Action::CreateThread {
                node: 0,
                variant: Variant::Raw,
            },
        },
        Timed {
            at: 100,
            what: Action::Invite {
                from: 0,
                to: 1,
                thread: 0,
                role: InviteRole::Reader,
            },
        },
        Timed {
            at: 110,
            what: Action::Invite {
                from: 0,
                to: 2,
                thread: 0,
                role: InviteRole::Follower,
            },
        },
    ];
    plan.script.extend((0..8).map(|k| Timed {
        at: 1_000 + k * 1_000,
        what: Action::Append {
            node: 0,
            thread: 0,
            count: 1,
        },
    }));
    plan.link = NOISY;
    plan.faults = faults;
    plan
}

fn fault() -> impl Strategy<Value = Fault> {
    let node = 0usize..3;
    let time = 0u64..15_000;
    let span = 1u64..8_000;
    prop_oneof![
        (node.clone(), node.clone(), time.clone(), span.clone()).prop_map(|(a, b, from, len)| {
            Fault::Cut {
                label: format!("{a}->{b}"),
                links: vec![(a, b)],
                from,
                until: from + len,
            }
        }),
        (node.clone(), time.clone(), span.clone()).prop_map(|(node, from, len)| Fault::Offline {
            node,
            from,
            until: Some(from + len),
            copied_by: None,
        }),
        (node, time, span).prop_map(|(node, at, len)| Fault::Crash {
            node,
            at,
            restart: Some(at + len),
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        // PROPTEST_CASES=1000 for a deeper search.
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(16),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn reference_peers_survive_random_fault_schedules(
        seed in 0u64..1_000,
        faults in proptest::collection::vec(fault(), 0..5),
    ) {
        let plan = plan_with(faults);
        let outcome = sim::run(&plan, seed, &mut LocalCluster::default(), false);
        prop_assert_eq!(&outcome.verdict, &Verdict::Pass, "seed {}\n{}", seed, plan);
    }
}

/// Overlapping faults the random search once found to stop the simulator itself: a node that
/// comes back online while crashed, and messages a crashed sender sent before it crashed.
#[test]
fn overlapping_faults_on_one_node_are_played_through() {
    let schedules = [
        vec![
            Fault::Crash {
                node: 1,
                at: 11_121,
                restart: Some(14_659),
            },
            Fault::Offline {
                node: 1,
                from: 8_372,
                until: Some(11_124),
                copied_by: None,
            },
        ],
        vec![
            Fault::Offline {
                node: 0,
                from: 0,
                until: Some(44),
                copied_by: None,
            },
            Fault::Crash {
                node: 0,
                at: 1_000,
                restart: Some(1_013),
            },
        ],
    ];
    for (seed, faults) in [0, 4].into_iter().zip(schedules) {
        let plan = plan_with(faults);
        let outcome = sim::run(&plan, seed, &mut LocalCluster::default(), false);
        assert_eq!(outcome.verdict, Verdict::Pass, "{plan}");
    }
}
