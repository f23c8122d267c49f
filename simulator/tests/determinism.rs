//! The same seed gives the same trace, byte for byte; another seed gives another.

mod common;

#[test]
fn the_same_seed_gives_the_same_trace_hash_in_every_scenario() {
    for name in common::names() {
        let spec = common::small(name, 7);
        let first = spec.run(false).expect("run");
        // Keeping the trace for a report must not change it.
        let second = spec.run(true).expect("run");
        assert_eq!(first.trace_hash, second.trace_hash, "{name}");
        assert_eq!(first.stats, second.stats, "{name}");
        let lines = second.lines.expect("kept");
        assert_eq!(lines.len() as u64, second.stats.lines);
    }
}

#[test]
fn different_seeds_give_different_traces() {
    for name in ["partition-heal", "crash-restart"] {
        let a = common::small(name, 1).run(false).expect("run");
        let b = common::small(name, 2).run(false).expect("run");
        assert_ne!(a.trace_hash, b.trace_hash, "{name}");
    }
}

#[test]
fn a_trace_line_names_its_time_and_step() {
    let outcome = common::small("writer-offline", 3).run(true).expect("run");
    let lines = outcome.lines.expect("kept");
    let last = lines.last().expect("lines");
    assert!(
        last.trim_start()
            .starts_with(&outcome.stats.end.to_string()),
        "{last}"
    );
    assert!(last.ends_with("END PASS"), "{last}");
    assert!(lines.iter().any(|l| l.contains("fault offline writer")));
}
