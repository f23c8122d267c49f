//! `threads-netsim`: the real-network scenarios. `threads-node` processes in Linux network
//! namespaces under netsim-embed, with delayed links and partitions (feature `netsim`).

use std::process::ExitCode;

use clap::Parser;

#[path = "../netsim/mod.rs"]
mod netsim;

/// The exit status when this machine cannot run the scenarios (automake's "skipped").
const SKIP_EXIT: u8 = 77;

/// Runs `threads-node` processes in their own Linux network namespaces, joined by netsim-embed's
/// in-process router, through partitions and delayed links; prints a verdict per scenario.
///
/// Needs root (network namespaces) and /dev/net/tun. Uses $THREADS_NODE, else the threads-node
/// beside this executable, building it with cargo if it is missing.
///
/// Exit status: 0 when every scenario passed, 1 when one failed, 2 when it could not run, 77 when
/// this machine cannot run them (the reason is printed).
#[derive(Parser)]
#[command(name = "threads-netsim", version)]
struct Cli {
    /// List the scenarios and exit.
    #[arg(long)]
    list: bool,

    /// Run only this scenario (repeatable); all of them by default.
    #[arg(long, value_name = "NAME")]
    scenario: Vec<String>,

    /// Keep each scenario's data directories and node logs, and print where they are.
    #[arg(long)]
    keep: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.list {
        for scenario in netsim::SCENARIOS {
            println!("{:<20} {}", scenario.name, scenario.about);
        }
        return ExitCode::SUCCESS;
    }
    let mut chosen = Vec::new();
    for name in &cli.scenario {
        match netsim::scenario(name) {
            Some(scenario) => chosen.push(scenario),
            None => {
                let names: Vec<&str> = netsim::SCENARIOS.iter().map(|s| s.name).collect();
                eprintln!(
                    "threads-netsim: no scenario {name:?}; there are: {}",
                    names.join(", ")
                );
                return ExitCode::from(2);
            }
        }
    }
    if chosen.is_empty() {
        chosen = netsim::SCENARIOS.iter().collect();
    }
    if let Err(skip) = netsim::preflight() {
        println!("{skip}");
        return ExitCode::from(SKIP_EXIT);
    }
    let node = match netsim::threads_node() {
        Ok(node) => node,
        Err(e) => {
            eprintln!("threads-netsim: {e}");
            return ExitCode::from(2);
        }
    };
    println!("threads-node: {}", node.display());
    let (mut passed, mut failed) = (0, 0);
    for scenario in chosen {
        println!("{}: running ({})", scenario.name, scenario.about);
        let outcome = netsim::run(scenario, &node, cli.keep);
        println!("{}", outcome.verdict());
        if outcome.passed() {
            passed += 1;
        } else {
            failed += 1;
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
