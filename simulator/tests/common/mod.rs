//! Helpers shared by the simulator's tests: small sizes so that the suite stays fast in debug.

#![allow(dead_code)]

use threads_simulator::RunSpec;
use threads_simulator::scenarios::SCENARIOS;

/// Events per scenario in tests: enough to exercise batches, small enough for debug builds.
pub fn small_events(scenario: &str) -> Option<u64> {
    match scenario {
        "partition-heal" | "many-logs" | "crash-restart" | "stranger" | "revoked-member" => {
            Some(16)
        }
        "writer-offline" => Some(30),
        "late-joiner" => Some(300),
        "flapping-links" => Some(20),
        _ => None,
    }
}

/// A run of `scenario` with `seed` at test size.
pub fn small(scenario: &str, seed: u64) -> RunSpec {
    let mut spec = RunSpec::new(scenario, seed).expect("a catalogue scenario");
    spec.events = small_events(scenario);
    if scenario == "many-logs" {
        spec.peers = Some(4);
    }
    spec
}

/// Every scenario's name.
pub fn names() -> Vec<&'static str> {
    SCENARIOS.iter().map(|s| s.name).collect()
}
