//! Deliberately broken peers are caught: each by the invariant it breaks, naming the step, the
//! peer and the seed.

mod common;

use threads_simulator::check::Invariant;
use threads_simulator::nodes::local::LocalCluster;
use threads_simulator::plan::Broken;
use threads_simulator::{Failure, RunSpec, Verdict, sim};

fn broken(spec: &mut RunSpec, node: &str, kind: Broken) {
    spec.broken.push((node.to_string(), kind));
}

fn violation(verdict: &Verdict) -> &threads_simulator::check::Violation {
    match verdict {
        Verdict::Fail(Failure::Invariant(v)) => v,
        other => panic!("expected an invariant failure, got {other:?}"),
    }
}

#[test]
fn a_peer_that_forgets_its_writes_is_caught_when_its_heads_go_back() {
    for node in ["follower", "reader", "writer"] {
        let mut spec = common::small("crash-restart", 5);
        broken(&mut spec, node, Broken::ForgetsWrites);
        let outcome = spec.run(false).expect("run");
        let v = violation(&outcome.verdict);
        assert_eq!(v.invariant, Invariant::Forward, "{v}");
        assert_eq!((v.node.as_str(), v.seed), (node, 5));
        assert!(v.step > 0);
        let text = v.to_string();
        assert!(
            text.contains(&format!("step {}", v.step)) && text.contains("seed 5"),
            "{text}"
        );
        assert!(
            spec.command().contains("--broken"),
            "the replay names the broken peer"
        );
    }
}

/// A tampering network (20% of messages), so that every peer meets forged records.
fn tampering(spec: &RunSpec) -> threads_simulator::plan::Plan {
    let mut plan = spec.plan().expect("plan");
    plan.link.tamper_ppm = 200_000;
    plan
}

#[test]
fn honest_peers_reject_tampered_records_and_still_converge() {
    let spec = common::small("partition-heal", 2);
    let outcome = sim::run(&tampering(&spec), 2, &mut LocalCluster::default(), false);
    assert_eq!(outcome.verdict, Verdict::Pass, "{}", outcome.stats);
    assert!(outcome.stats.rejected > 0, "{}", outcome.stats);
}

#[test]
fn a_peer_that_skips_verification_is_caught_storing_a_forged_record() {
    // Whether a tampered record reaches r2 at all depends on the seed's schedule: the first seed
    // under which it does must fail, on r2, for that reason.
    let failing = (1..=20u64).find_map(|seed| {
        let mut spec = common::small("partition-heal", seed);
        broken(&mut spec, "r2", Broken::SkipsVerification);
        let outcome = sim::run(&tampering(&spec), seed, &mut LocalCluster::default(), false);
        (outcome.verdict != Verdict::Pass).then_some(outcome.verdict)
    });
    let verdict = failing.expect("a tampered record reaches r2 under one of 20 seeds");
    let v = violation(&verdict);
    assert_eq!(v.invariant, Invariant::Verified, "{v}");
    assert_eq!(v.node, "r2");
    assert!(v.detail.contains("fails verification"), "{v}");
}

#[test]
fn a_peer_that_ignores_head_exchange_fails_liveness_after_a_partition() {
    let mut spec = common::small("partition-heal", 1);
    broken(&mut spec, "r2", Broken::IgnoresHeads);
    let outcome = spec.run(false).expect("run");
    let Verdict::Fail(Failure::Liveness { lagging, seed, .. }) = &outcome.verdict else {
        panic!("expected a liveness failure, got {:?}", outcome.verdict);
    };
    assert_eq!(*seed, 1);
    assert!(
        lagging.iter().all(|l| l.starts_with("r2 lags on log")),
        "{lagging:?}"
    );
}

#[test]
fn broken_peers_are_refused_with_subprocess_nodes() {
    let mut spec = common::small("partition-heal", 1);
    broken(&mut spec, "r2", Broken::IgnoresHeads);
    spec.implementation = Some(vec!["true".into()]);
    assert!(spec.run(false).is_err());
}

#[test]
fn a_reader_that_ignores_a_revocation_is_caught_showing_records_beyond_the_cut() {
    let mut spec = common::small("acl-revocation-partition", 3);
    broken(&mut spec, "reader", Broken::IgnoresAcl);
    let outcome = spec.run(false).expect("run");
    let v = violation(&outcome.verdict);
    assert_eq!(
        (v.invariant, v.node.as_str(), v.seed),
        (Invariant::Acl, "reader", 3),
        "{v}"
    );
    assert!(v.detail.contains("revoked with cut"), "{v}");
}

#[test]
fn a_peer_that_serves_strangers_is_caught_as_it_sends_the_first_record() {
    for node in ["writer", "reader", "follower"] {
        // A stranger pulls early in every seed's schedule; the first seed whose pull reaches
        // `node` once it holds records must fail, on `node`, for that reason.
        let failing = (1..=10u64).find_map(|seed| {
            let mut spec = common::small("stranger", seed);
            broken(&mut spec, node, Broken::ServesStrangers);
            let outcome = spec.run(false).expect("run");
            (outcome.verdict != Verdict::Pass).then_some(outcome.verdict)
        });
        let verdict = failing.expect("a stranger's pull reaches the peer under one of 10 seeds");
        let v = violation(&verdict);
        assert_eq!(v.invariant, Invariant::Membership, "{v}");
        assert_eq!(v.node, node);
        assert!(
            v.detail.contains("sent records") && v.detail.contains("does not hold the thread"),
            "{v}"
        );
    }
}

/// A peer that keeps serving a member after the ACL set it to no-access is caught as it sends
/// the revoked member its first record [SYNC-22]; the honest run of the same seeds passes.
#[test]
fn a_peer_that_ignores_a_revocation_is_caught_serving_the_revoked_member() {
    for node in ["writer", "reader"] {
        // The revoked member pulls every log from the start after its revocation; the first
        // seed whose pull reaches `node` once it applied the revocation must fail on `node`.
        let failing = (1..=10u64).find_map(|seed| {
            let honest = common::small("revoked-member", seed)
                .run(false)
                .expect("run");
            assert_eq!(honest.verdict, Verdict::Pass, "seed {seed}");
            let mut spec = common::small("revoked-member", seed);
            broken(&mut spec, node, Broken::IgnoresRevocation);
            let outcome = spec.run(false).expect("run");
            (outcome.verdict != Verdict::Pass).then_some(outcome.verdict)
        });
        let verdict =
            failing.expect("a revoked member's pull reaches the peer under one of 10 seeds");
        let v = violation(&verdict);
        assert_eq!(v.invariant, Invariant::Membership, "{v}");
        assert_eq!(v.node, node);
        assert!(
            v.detail.contains("sent records") && v.detail.contains("a member it revoked"),
            "{v}"
        );
    }
}

/// A reader whose database view applies events log by log, not in the order of [DB-9], shows
/// another view CID than the honest readers once all converged: the views invariant, checked at
/// the end of the run, names it.
#[test]
fn a_reader_that_folds_in_log_order_is_caught_by_the_views_invariant() {
    let mut caught = 0;
    for seed in 1..=3 {
        let mut spec = common::small("db-concurrent-edits", seed);
        broken(&mut spec, "r4", Broken::FoldsInLogOrder);
        let outcome = spec.run(false).expect("run");
        if let Verdict::Fail(Failure::Invariant(v)) = &outcome.verdict {
            assert_eq!(v.invariant, Invariant::Views, "{v}");
            caught += 1;
        }
        // The same seeds pass with every reader honest.
        let honest = common::small("db-concurrent-edits", seed)
            .run(false)
            .expect("run");
        assert_eq!(
            honest.verdict,
            Verdict::Pass,
            "seed {seed}: {}",
            honest.stats
        );
    }
    assert_eq!(
        caught, 3,
        "concurrent edits make log order and clock order differ"
    );
}
