//! The stranger scenario: what a peer that knows a thread's IDs but holds none of its keys gets
//! from the members (spec/sync.md 7.12): answers to its challenges, nothing else.

mod common;

use threads_simulator::Verdict;

#[test]
fn a_stranger_gets_only_auth_answers_while_the_members_converge() {
    let mut forged = 0;
    let mut answers = 0;
    for seed in 1..=3 {
        let spec = common::small("stranger", seed);
        let outcome = spec.run(true).expect("run");
        assert_eq!(outcome.verdict, Verdict::Pass, "{}", outcome.stats);
        let stranger = spec
            .plan()
            .expect("plan")
            .node("stranger")
            .expect("a stranger");
        let to_stranger: Vec<&str> = outcome
            .arrows
            .iter()
            .filter(|a| a.to == stranger)
            .map(|a| a.label.as_str())
            .collect();
        // The members did answer: the attacks reached them, and they challenged back.
        assert!(!to_stranger.is_empty(), "seed {seed}: nobody answered");
        assert!(
            to_stranger.iter().all(|label| label.starts_with("auth ")),
            "seed {seed}: {to_stranger:?}"
        );
        forged += outcome.stats.attacks;
        answers += to_stranger.len();
    }
    assert!(forged >= 3 * 14, "{forged} forged messages");
    eprintln!("{forged} forged messages, {answers} answers to the stranger, all auth");
}
