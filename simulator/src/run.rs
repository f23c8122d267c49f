//! One run as the command line names it: scenario, seed, sizes, reductions, broken peers and the
//! nodes to use. [`RunSpec::command`] prints the exact command that replays it.

use crate::error::{Result, SimError};
use crate::nodes::Cluster;
use crate::nodes::local::LocalCluster;
use crate::nodes::subprocess::ImplCluster;
use crate::plan::{Broken, Noise, Plan};
use crate::scenarios::{self, Scenario};
use crate::shrink::{self, Reduction, Shrunk};
use crate::sim::{self, Failure, Outcome, Verdict};

/// The most events a run may append: the simulator keeps every record of every peer in memory,
/// so an unbounded `--events` would grow until the machine runs out (issue 18). A million is ten
/// times the largest scenario's default.
pub const MAX_EVENTS: u64 = 1_000_000;

/// Everything that decides a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSpec {
    /// The scenario's name.
    pub scenario: String,
    /// The seed.
    pub seed: u64,
    /// `--peers`, if given.
    pub peers: Option<usize>,
    /// `--events`, if given.
    pub events: Option<u64>,
    /// `--faults`: the indices of the scenario's faults to keep; all when `None`.
    pub faults: Option<Vec<usize>>,
    /// `--quiet`: noise switched off.
    pub quiet: Vec<Noise>,
    /// `--broken NODE=KIND`: peers made to misbehave (in-process nodes only).
    pub broken: Vec<(String, Broken)>,
    /// `--impl`: the adapter's command line, split into words; in-process peers when `None`.
    pub implementation: Option<Vec<String>>,
}

impl RunSpec {
    /// A run of the named scenario with its defaults.
    pub fn new(scenario: &str, seed: u64) -> Result<RunSpec> {
        Self::scenario_named(scenario)?;
        Ok(RunSpec {
            scenario: scenario.to_string(),
            seed,
            peers: None,
            events: None,
            faults: None,
            quiet: Vec::new(),
            broken: Vec::new(),
            implementation: None,
        })
    }

    fn scenario_named(name: &str) -> Result<&'static Scenario> {
        scenarios::find(name).ok_or_else(|| {
            let names: Vec<&str> = scenarios::SCENARIOS.iter().map(|s| s.name).collect();
            SimError::Usage(format!(
                "no scenario {name}; there are {}",
                names.join(", ")
            ))
        })
    }

    /// The scenario.
    pub fn scenario(&self) -> Result<&'static Scenario> {
        Self::scenario_named(&self.scenario)
    }

    /// The scenario's whole plan, before reductions.
    /// A usage error for `--events 0` (a run in which nothing happens proves nothing) or more
    /// than [`MAX_EVENTS`].
    pub fn full_plan(&self) -> Result<Plan> {
        if let Some(events) = self.events {
            check_events("--events", events)?;
        }
        self.scenario()?.plan(self.seed, self.peers, self.events)
    }

    /// The plan this run plays: reductions applied, broken peers marked.
    pub fn plan(&self) -> Result<Plan> {
        let mut plan = self.full_plan()?;
        if let Some(keep) = &self.faults {
            if let Some(bad) = keep.iter().find(|i| **i >= plan.faults.len()) {
                return Err(SimError::Usage(format!(
                    "--faults {bad}: the scenario has {} faults",
                    plan.faults.len()
                )));
            }
            plan = plan.keeping_faults(keep);
        }
        plan = plan.without_noise(&self.quiet);
        for (name, kind) in &self.broken {
            let ix = plan
                .node(name)
                .ok_or_else(|| SimError::Usage(format!("--broken: no peer named {name}")))?;
            plan.nodes[ix].broken = Some(*kind);
        }
        Ok(plan)
    }

    /// Plays the run; `record` keeps the trace and messages for a report.
    pub fn run(&self, record: bool) -> Result<Outcome> {
        let plan = self.plan()?;
        let mut cluster: Box<dyn Cluster> = match &self.implementation {
            Some(command) if !self.broken.is_empty() => {
                return Err(SimError::Usage(format!(
                    "--broken works with in-process peers only, not with --impl {command:?}"
                )));
            }
            Some(command) => match ImplCluster::start(command) {
                Ok(cluster) => Box::new(cluster),
                Err(SimError::Unsupported(why)) => {
                    return Ok(Outcome::skipped(why, shell_words::join(command)));
                }
                Err(e) => return Err(e),
            },
            None => Box::new(LocalCluster::default()),
        };
        Ok(sim::run(&plan, self.seed, cluster.as_mut(), record))
    }

    /// The command line that replays this run exactly.
    pub fn command(&self) -> String {
        let mut words = vec![
            "threads-sim".to_string(),
            "run".into(),
            "--scenario".into(),
            self.scenario.clone(),
            "--seed".into(),
            self.seed.to_string(),
        ];
        let mut flag = |name: &str, value: String| {
            words.push(name.to_string());
            words.push(value);
        };
        if let Some(peers) = self.peers {
            flag("--peers", peers.to_string());
        }
        if let Some(events) = self.events {
            flag("--events", events.to_string());
        }
        if let Some(keep) = &self.faults {
            flag("--faults", fault_list(keep));
        }
        if !self.quiet.is_empty() {
            let names: Vec<&str> = self.quiet.iter().map(|n| n.name()).collect();
            flag("--quiet", names.join(","));
        }
        for (name, kind) in &self.broken {
            flag("--broken", format!("{name}={}", kind.name()));
        }
        if let Some(command) = &self.implementation {
            flag("--impl", shell_words::join(command));
        }
        shell_words::join(words)
    }

    /// This run reduced.
    pub fn reduced(&self, r: &Reduction) -> RunSpec {
        RunSpec {
            faults: Some(r.keep.clone()),
            quiet: r.quiet.clone(),
            events: Some(r.events),
            ..self.clone()
        }
    }

    /// Shrinks a failing run: the smallest reduction found that fails the same way, within
    /// `budget` runs. `None` if the run did not fail.
    pub fn shrink(&self, outcome: &Outcome, budget: usize) -> Result<Option<(RunSpec, Shrunk)>> {
        let Verdict::Fail(failure) = &outcome.verdict else {
            return Ok(None);
        };
        let want = signature(failure);
        let plan = self.full_plan()?;
        let start = Reduction {
            keep: self
                .faults
                .clone()
                .unwrap_or_else(|| (0..plan.faults.len()).collect()),
            quiet: self.quiet.clone(),
            events: self.events.unwrap_or(self.scenario()?.events),
        };
        let mut fails = |r: &Reduction| {
            let outcome = self.reduced(r).run(false);
            matches!(outcome, Ok(Outcome { verdict: Verdict::Fail(f), .. }) if signature(&f) == want)
        };
        let shrunk = shrink::shrink(start, budget, &mut fails);
        Ok(Some((self.reduced(&shrunk.reduction), shrunk)))
    }
}

/// What must stay the same while shrinking: the invariant broken, or liveness, or a driver
/// error.
fn signature(failure: &Failure) -> String {
    match failure {
        Failure::Invariant(v) => format!("invariant {:?}", v.invariant),
        Failure::Liveness { .. } => "liveness".into(),
        Failure::Driver { .. } => "driver".into(),
    }
}

/// A usage error unless `events` is between 1 and [`MAX_EVENTS`]; `flag` names the option.
pub fn check_events(flag: &str, events: u64) -> Result<()> {
    if events == 0 || events > MAX_EVENTS {
        return Err(SimError::Usage(format!(
            "{flag} {events}: expected 1 to {MAX_EVENTS} events"
        )));
    }
    Ok(())
}

/// `0,2,5`, or `none`.
pub fn fault_list(keep: &[usize]) -> String {
    if keep.is_empty() {
        return "none".into();
    }
    let texts: Vec<String> = keep.iter().map(usize::to_string).collect();
    texts.join(",")
}
