//! The real-network scenarios (feature `netsim`): `threads-node` processes in Linux network
//! namespaces under netsim-embed. Run with
//! `cargo test -p threads-simulator --features netsim --test netsim`.
//!
//! Where namespaces cannot be made (not root, no /dev/net/tun, a sandbox that forbids them) each
//! test prints why it skips, straight to stderr so that the test harness does not swallow it, and
//! passes without checking anything else. The scenarios run one at a time: each starts three
//! nodes, and the machines are small.

use std::io::Write;
use std::sync::{Mutex, PoisonError};

#[path = "../src/netsim/mod.rs"]
mod netsim;

/// Held by the running scenario.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Prints a line past the test harness's output capture.
fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn run(name: &str) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
    let scenario = netsim::scenario(name).expect("a scenario of the catalogue");
    if let Err(skip) = netsim::preflight() {
        say(&format!("{name}: {skip}"));
        return;
    }
    let node = netsim::threads_node().unwrap_or_else(|e| panic!("{e}"));
    // THREADS_NETSIM_KEEP=1 keeps the data directories and node logs, and says where.
    let keep = std::env::var_os("THREADS_NETSIM_KEEP").is_some_and(|v| v == "1");
    let outcome = netsim::run(scenario, &node, keep);
    say(&outcome.verdict());
    assert!(outcome.passed(), "{}", outcome.verdict());
}

#[test]
fn partition_heal() {
    run("partition-heal");
}

#[test]
fn follower_catch_up() {
    run("follower-catch-up");
}

/// Every scenario of the catalogue has a test above, and says what it checks.
#[test]
fn every_scenario_has_a_test() {
    let names: Vec<&str> = netsim::SCENARIOS.iter().map(|s| s.name).collect();
    assert_eq!(names, ["partition-heal", "follower-catch-up"]);
    assert!(netsim::SCENARIOS.iter().all(|s| !s.about.is_empty()));
}
