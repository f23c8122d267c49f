//! `threads-sim`: run the simulator's scenarios, one seed or a sweep, and report.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use clap::{Parser, Subcommand};
use threads_simulator::nodes::subprocess;
use threads_simulator::plan::{Broken, Noise};
use threads_simulator::report::{self, Header};
use threads_simulator::run::check_events;
use threads_simulator::scenarios::SCENARIOS;
use threads_simulator::{Outcome, Result, RunSpec, SimError, Verdict};

/// Seeded network simulator for the Threads protocol (spec/sync.md): virtual time, faults,
/// invariants after every step, liveness bounds, reproducible traces.
///
/// Exit status: 0 when every run passed (or was skipped), 1 when one failed, 2 when the
/// simulator could not run.
#[derive(Parser)]
#[command(name = "threads-sim", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the scenarios, their sizes and liveness bounds.
    List {
        /// One JSON object per line: `{"name", "peers", "minPeers", "events", "bound",
        /// "summary", "overImpl"}`; `overImpl`: whether `--impl` can play it (no crash, no
        /// database).
        #[arg(long)]
        json: bool,
    },
    /// Run a scenario with one seed (--seed) or a sweep (--seeds).
    Run(Box<Run>),
    /// Serve the bundled reference adapter on stdin/stdout (for --impl; same as
    /// threads-reference-adapter, with its `--fault NAME` from the bug catalogue).
    #[command(hide = true)]
    ReferenceAdapter {
        /// Serve the reference with this single fault of the catalogue [HP-86].
        #[arg(long = "fault", value_name = "NAME")]
        fault: Option<String>,
    },
}

#[derive(clap::Args)]
struct Run {
    /// The scenario (see `threads-sim list`), or `all`.
    #[arg(long)]
    scenario: String,
    /// The seed of a single run.
    #[arg(long, conflicts_with = "seeds")]
    seed: Option<u64>,
    /// A sweep: `A..B` runs seeds A to B inclusive (at most 100,000 runs in all).
    #[arg(long)]
    seeds: Option<String>,
    /// Number of peers, where the scenario scales (see `list` for the minimum).
    #[arg(long)]
    peers: Option<usize>,
    /// Number of events the writers append (default: the scenario's), 1 to 1,000,000.
    #[arg(long)]
    events: Option<u64>,
    /// Caps every scenario's event count (for quick sweeps over `all`), 1 to 1,000,000.
    #[arg(long)]
    max_events: Option<u64>,
    /// Keep only these faults of the schedule, by index (`0,2`), or `none`.
    #[arg(long)]
    faults: Option<String>,
    /// Switch off noise: a list of loss, dup, tamper, jitter, drift.
    #[arg(long)]
    quiet: Option<String>,
    /// Drive the nodes of an implementation's adapter over the harness protocol
    /// (spec/harness-protocol.md) instead of in-process reference peers.
    #[arg(long = "impl", value_name = "CMD")]
    implementation: Option<String>,
    /// Write trace.txt and report.html (single runs) or one directory per run (sweeps).
    #[arg(long, value_name = "DIR")]
    report: Option<PathBuf>,
    /// Do not shrink a failing run.
    #[arg(long)]
    no_shrink: bool,
    /// Most runs spent shrinking a failure.
    #[arg(long, default_value_t = 200)]
    shrink_budget: usize,
    /// Runs in parallel during a sweep.
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// Print one JSON object per run instead of the text report (what `threads-conform run`
    /// reads for its liveness cases): `{"scenario", "seed", "verdict", "why", "replay",
    /// "trace", "wallSeconds"}`, verdict `PASS`, `FAIL`, `SKIP` or `ERROR`. No shrinking.
    #[arg(long)]
    json: bool,
    /// Make a peer misbehave: NODE=KIND, KIND one of forgets-writes, skips-verification,
    /// ignores-heads, ignores-acl, serves-strangers, folds-in-log-order, ignores-revocation
    /// (in-process peers only; to test the invariants).
    #[arg(long, hide = true)]
    broken: Vec<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::List { json } => {
            list(json);
            Ok(true)
        }
        Command::Run(run) => execute(&run),
        Command::ReferenceAdapter { fault: None } => {
            return threads_harness::adapter::serve_stdio();
        }
        Command::ReferenceAdapter { fault: Some(name) } => {
            return threads_harness::catalogue::serve_stdio(&name);
        }
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("threads-sim: {e}");
            ExitCode::from(2)
        }
    }
}

fn list(json: bool) {
    if json {
        for s in SCENARIOS {
            // What a scenario needs does not depend on the seed: the first one shows it.
            let over_impl = s
                .plan(1, None, None)
                .is_ok_and(|plan| subprocess::can_drive(&plan.needs));
            let line = serde_json::json!({
                "name": s.name,
                "peers": s.peers.0,
                "minPeers": s.peers.1,
                "events": s.events,
                "bound": s.bound,
                "summary": s.summary,
                "overImpl": over_impl,
            });
            println!("{line}");
        }
        return;
    }
    println!(
        "{:<26} {:>6} {:>8}  bound / what it shows",
        "scenario", "peers", "events"
    );
    for s in SCENARIOS {
        let peers = format!("{}+", s.peers.1);
        println!("{:<26} {:>6} {:>8}  {}", s.name, peers, s.events, s.bound);
        println!(
            "{:<26} {:>6} {:>8}  {}",
            "",
            format!("({})", s.peers.0),
            "",
            s.summary
        );
    }
}

fn parse_list<T>(text: &str, what: &str, parse: impl Fn(&str) -> Option<T>) -> Result<Vec<T>> {
    if text == "none" || text.is_empty() {
        return Ok(Vec::new());
    }
    text.split(',')
        .map(|item| {
            parse(item.trim()).ok_or_else(|| SimError::Usage(format!("{what}: bad item {item:?}")))
        })
        .collect()
}

/// The most runs one command may ask for (scenarios times seeds). Every run's spec and row is
/// kept for the summary, so a sweep of 2^64 seeds would not fit in memory (it panicked with a
/// capacity overflow, issue 18); 100,000 covers 10,000 seeds of every scenario. Split larger
/// sweeps into several commands.
const MAX_RUNS: u64 = 100_000;

fn parse_seeds(run: &Run) -> Result<std::ops::RangeInclusive<u64>> {
    match (&run.seed, &run.seeds) {
        (Some(seed), _) => Ok(*seed..=*seed),
        (None, Some(range)) => {
            let bad = || SimError::Usage(format!("--seeds {range}: expected A..B"));
            let (a, b) = range.split_once("..").ok_or_else(bad)?;
            let b = b.strip_prefix('=').unwrap_or(b);
            let (a, b): (u64, u64) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
            if a > b {
                return Err(bad());
            }
            Ok(a..=b)
        }
        (None, None) => Err(SimError::Usage("give --seed N or --seeds A..B".into())),
    }
}

/// The runs the command line asks for, scenario by scenario, seed by seed.
fn specs(run: &Run) -> Result<Vec<RunSpec>> {
    let names: Vec<&str> = match run.scenario.as_str() {
        "all" => SCENARIOS.iter().map(|s| s.name).collect(),
        list => list.split(',').collect(),
    };
    let faults = run
        .faults
        .as_deref()
        .map(|f| parse_list(f, "--faults", |i| i.parse().ok()))
        .transpose()?;
    let quiet = parse_list(
        run.quiet.as_deref().unwrap_or(""),
        "--quiet",
        Noise::from_name,
    )?;
    let broken = parse_list(&run.broken.join(","), "--broken", |item| {
        let (node, kind) = item.split_once('=')?;
        Some((node.to_string(), Broken::from_name(kind)?))
    })?;
    let implementation = run
        .implementation
        .as_deref()
        .map(|c| shell_words::split(c).map_err(|e| SimError::Usage(format!("--impl: {e}"))))
        .transpose()?;
    for (flag, events) in [("--events", run.events), ("--max-events", run.max_events)] {
        if let Some(events) = events {
            check_events(flag, events)?;
        }
    }
    let seeds = parse_seeds(run)?;
    // Counted before anything is allocated: the range may hold up to 2^64 seeds.
    let runs = (seeds.end() - seeds.start())
        .checked_add(1)
        .and_then(|n| n.checked_mul(names.len() as u64))
        .filter(|n| *n <= MAX_RUNS)
        .ok_or_else(|| {
            SimError::Usage(format!(
                "--seeds {}..{} over {} scenario(s) asks for more than {MAX_RUNS} runs; split the sweep",
                seeds.start(),
                seeds.end(),
                names.len()
            ))
        })?;
    let mut specs = Vec::with_capacity(usize::try_from(runs).unwrap_or(0));
    for name in names {
        for seed in seeds.clone() {
            let mut spec = RunSpec::new(name, seed)?;
            let default = spec.scenario()?.events;
            spec.events = match (run.events, run.max_events) {
                (Some(e), _) => Some(e),
                (None, Some(cap)) if cap < default => Some(cap),
                _ => None,
            };
            spec.peers = run.peers;
            spec.faults = faults.clone();
            spec.quiet = quiet.clone();
            spec.broken = broken.clone();
            spec.implementation = implementation.clone();
            specs.push(spec);
        }
    }
    Ok(specs)
}

fn execute(run: &Run) -> Result<bool> {
    let specs = specs(run)?;
    if run.json {
        return Ok(json_lines(&specs));
    }
    match specs.as_slice() {
        [single] => single_run(run, single),
        _ => sweep(run, &specs),
    }
}

fn single_run(run: &Run, spec: &RunSpec) -> Result<bool> {
    let outcome = spec.run(run.report.is_some())?;
    let plan = spec.plan()?;
    let command = spec.command();
    let header = Header {
        scenario: &spec.scenario,
        seed: spec.seed,
        command: &command,
        plan: &plan,
    };
    print!("{}", report::summary(&header, &outcome));
    if let Some(dir) = &run.report {
        report::write(dir, &header, &outcome)
            .map_err(|e| SimError::Usage(format!("--report {}: {e}", dir.display())))?;
        println!("report    {}", dir.join("report.html").display());
    }
    if outcome.verdict.failed() && !run.no_shrink {
        shrink(spec, &outcome, run.shrink_budget)?;
    }
    Ok(!outcome.verdict.failed())
}

fn shrink(spec: &RunSpec, outcome: &Outcome, budget: usize) -> Result<()> {
    eprintln!("shrinking (at most {budget} runs)…");
    let Some((reduced, shrunk)) = spec.shrink(outcome, budget)? else {
        return Ok(());
    };
    println!(
        "shrunk    after {} runs, the run still fails with:",
        shrunk.runs
    );
    println!("{}", reduced.plan()?);
    println!("  events {}", shrunk.reduction.events);
    if let Ok(again) = reduced.run(false)
        && let Verdict::Fail(failure) = &again.verdict
    {
        println!("          {failure}");
    }
    println!("replay    {}", reduced.command());
    Ok(())
}

/// Runs every spec in order and prints one JSON object per run; `true` when none failed.
fn json_lines(specs: &[RunSpec]) -> bool {
    let mut passed = true;
    for spec in specs {
        let outcome = spec.run(false);
        let (verdict, why, trace, wall) = match &outcome {
            Ok(o) => {
                let why = match &o.verdict {
                    Verdict::Pass => String::new(),
                    Verdict::Fail(f) => f.to_string(),
                    Verdict::Skip(why) => why.clone(),
                };
                (
                    o.verdict.word(),
                    why,
                    o.trace_hash.clone(),
                    o.wall.as_secs_f64(),
                )
            }
            Err(e) => ("ERROR", e.to_string(), String::new(), 0.0),
        };
        passed &= !matches!(verdict, "FAIL" | "ERROR");
        let line = serde_json::json!({
            "scenario": spec.scenario,
            "seed": spec.seed,
            "verdict": verdict,
            "why": why,
            "replay": spec.command(),
            "trace": trace,
            "wallSeconds": wall,
        });
        println!("{line}");
    }
    passed
}

struct Row {
    spec: RunSpec,
    outcome: std::result::Result<Outcome, SimError>,
}

/// How far a sweep has got, for its progress lines.
struct Progress {
    total: usize,
    done: AtomicUsize,
    started: Instant,
}

impl Progress {
    /// Counts one more run and says where the sweep stands: `[done/total]`, and from the rate so
    /// far, runs per second and the time left.
    fn step(&self) -> String {
        let done = self.done.fetch_add(1, Ordering::SeqCst) + 1;
        let seconds = self.started.elapsed().as_secs_f64();
        let rate = done as f64 / seconds.max(1e-9);
        let left = (self.total - done.min(self.total)) as f64 / rate;
        format!(
            "[{done:>4}/{}] {seconds:.0} s, {rate:.1} runs/s, about {left:.0} s left",
            self.total
        )
    }
}

fn sweep(run: &Run, specs: &[RunSpec]) -> Result<bool> {
    let next = AtomicUsize::new(0);
    let rows: Mutex<Vec<Option<Row>>> = Mutex::new((0..specs.len()).map(|_| None).collect());
    let started = Instant::now();
    let progress = Progress {
        total: specs.len(),
        done: AtomicUsize::new(0),
        started,
    };
    std::thread::scope(|scope| {
        for _ in 0..run.jobs.max(1) {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::SeqCst);
                    let Some(spec) = specs.get(index) else {
                        break;
                    };
                    let row = sweep_one(run, spec, &progress);
                    if let Ok(mut rows) = rows.lock()
                        && let Some(slot) = rows.get_mut(index)
                    {
                        *slot = Some(row);
                    }
                }
            });
        }
    });
    let rows: Vec<Row> = rows
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .collect();
    Ok(summarise(&rows, started.elapsed().as_secs_f64()))
}

fn sweep_one(run: &Run, spec: &RunSpec, progress: &Progress) -> Row {
    let outcome = spec.run(run.report.is_some());
    let (word, wall) = match &outcome {
        Ok(o) => (o.verdict.word(), o.wall.as_secs_f64()),
        Err(_) => ("ERROR", 0.0),
    };
    eprintln!(
        "{} {} seed {}: {word} ({wall:.2} s)",
        progress.step(),
        spec.scenario,
        spec.seed
    );
    if let (Some(dir), Ok(outcome), Ok(plan)) = (&run.report, &outcome, spec.plan()) {
        let command = spec.command();
        let header = Header {
            scenario: &spec.scenario,
            seed: spec.seed,
            command: &command,
            plan: &plan,
        };
        let dir = dir.join(format!("{}-{}", spec.scenario, spec.seed));
        if let Err(e) = report::write(&dir, &header, outcome) {
            eprintln!("report {}: {e}", dir.display());
        }
    }
    Row {
        spec: spec.clone(),
        outcome,
    }
}

fn summarise(rows: &[Row], seconds: f64) -> bool {
    println!(
        "{:<26} {:>6} {:<5} {:>9} {:>11} {:>10} {:>8}  trace",
        "scenario", "seed", "", "messages", "bytes", "converge", "wall"
    );
    let mut failures = Vec::new();
    for row in rows {
        match &row.outcome {
            Ok(o) => {
                let converge = o
                    .stats
                    .to_converge()
                    .map_or("-".to_string(), |ms| format!("{ms} ms"));
                println!(
                    "{:<26} {:>6} {:<5} {:>9} {:>11} {:>10} {:>7.2}s  {}",
                    row.spec.scenario,
                    row.spec.seed,
                    o.verdict.word(),
                    o.stats.messages,
                    o.stats.bytes,
                    converge,
                    o.wall.as_secs_f64(),
                    &o.trace_hash[..16]
                );
                if let Verdict::Fail(f) = &o.verdict {
                    failures.push(format!("{f}\n  replay: {}", row.spec.command()));
                }
            }
            Err(e) => {
                println!("{:<26} {:>6} ERROR {e}", row.spec.scenario, row.spec.seed);
                failures.push(format!("{e}\n  replay: {}", row.spec.command()));
            }
        }
    }
    let skipped = rows
        .iter()
        .filter(|r| matches!(&r.outcome, Ok(o) if matches!(o.verdict, Verdict::Skip(_))))
        .count();
    let passed = rows.len() - failures.len() - skipped;
    println!(
        "{passed} of {} runs passed, {skipped} skipped, in {seconds:.1} s",
        rows.len()
    );
    for failure in &failures {
        println!("FAIL {failure}");
    }
    failures.is_empty()
}
