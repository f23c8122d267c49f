//! Liveness as conformance [HP-93]: the `liveness` group of `threads-conform run` plays the
//! network simulator's scenarios against the adapter's own nodes, one case per scenario and
//! seed, so that an implementation that never retries a pull or never re-announces its heads
//! fails the run, not only the reference's own tests.
//!
//! The simulator depends on this crate (it drives adapters with [`crate::runner::client`]), so
//! the harness cannot link it: it runs the `threads-sim` program, found next to this program,
//! through `THREADS_SIM` or `--sim`, or on `PATH`, and reads the one JSON line `threads-sim run
//! --json` prints per run.

use std::io::Read;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::progress::Progress;
use super::results::{CaseFailure, CaseResult, GroupKind, GroupResult, Status};
use super::select::Filter;

/// The group's name, as `--suite liveness` selects it.
pub const GROUP: &str = "liveness";

/// The requirement every liveness case checks.
pub const TAG: &str = "HP-93";

/// The seeds a run plays by default: two per scenario keeps the group to seconds for the
/// reference while still varying the loss, duplication and delays the seed decides.
pub const DEFAULT_SEEDS: RangeInclusive<u64> = 1..=2;

/// The most events one liveness run appends (`--max-events`): enough to need several pull
/// batches, small enough that a scenario of 100,000 events (late-joiner) stays a second long.
pub const MAX_EVENTS: u64 = 300;

/// The most wall time one case may take before its simulator is stopped and the case fails.
pub const CASE_WALL: Duration = Duration::from_secs(300);

/// How a run finds and uses the simulator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Liveness {
    /// `--sim PATH`; `None`: `THREADS_SIM`, then next to this program, then `PATH`.
    pub sim: Option<PathBuf>,
    /// `--liveness-seeds A..B`.
    pub seeds: RangeInclusive<u64>,
    /// `false` with `--no-liveness`: the default selection leaves the group out.
    pub enabled: bool,
}

impl Default for Liveness {
    fn default() -> Self {
        Liveness {
            sim: None,
            seeds: DEFAULT_SEEDS,
            enabled: true,
        }
    }
}

/// The group's selected cases, found before the adapter starts.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The simulator program, or why there is none.
    sim: Result<PathBuf, String>,
    /// (scenario, seed) of every selected case.
    cases: Vec<(String, u64)>,
    /// Without a simulator: whether the filter selects the one case that says it is missing.
    missing_selected: bool,
    /// The scenarios no adapter can play (they crash nodes or read a database view).
    not_drivable: Vec<String>,
}

impl Plan {
    /// How many cases the group reports.
    pub fn cases(&self) -> usize {
        self.cases.len() + usize::from(self.sim.is_err() && self.missing_selected)
    }
}

/// Reads `A..B` (or `A..=B`), both inclusive, `A ≤ B`, at most 1,000 seeds.
pub fn parse_seeds(text: &str) -> Result<RangeInclusive<u64>, String> {
    let bad =
        || format!("--liveness-seeds {text:?}: expected A..B with A <= B, at most 1000 seeds");
    let (a, b) = text.split_once("..").ok_or_else(bad)?;
    let b = b.strip_prefix('=').unwrap_or(b);
    let (a, b): (u64, u64) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
    if a > b || b - a >= 1000 {
        return Err(bad());
    }
    Ok(a..=b)
}

/// The case name of a scenario and seed: `partition-heal/seed-1`.
fn case_id(scenario: &str, seed: u64) -> String {
    format!("{scenario}/seed-{seed}")
}

/// Finds the simulator and lists the selected cases; a missing simulator is no error here (the
/// group is then skipped, saying why), a simulator that cannot list its scenarios is.
pub fn plan(options: &Liveness, filter: &Filter) -> Result<Plan, String> {
    let sim = locate(options.sim.as_deref());
    let Ok(program) = &sim else {
        return Ok(Plan {
            sim,
            cases: Vec::new(),
            missing_selected: filter.matches(GROUP, &[MISSING], &[MISSING, TAG]),
            not_drivable: Vec::new(),
        });
    };
    let mut cases = Vec::new();
    let mut not_drivable = Vec::new();
    for Listed {
        name,
        summary,
        over_impl,
    } in scenarios(program)?
    {
        if !over_impl {
            not_drivable.push(name);
            continue;
        }
        for seed in options.seeds.clone() {
            let id = case_id(&name, seed);
            if filter.matches(GROUP, &[&id], &[&id, &summary, TAG]) {
                cases.push((name.clone(), seed));
            }
        }
    }
    Ok(Plan {
        sim,
        cases,
        missing_selected: false,
        not_drivable,
    })
}

/// A scenario as `threads-sim list --json` gives it.
struct Listed {
    name: String,
    summary: String,
    /// Whether the simulator can play it with an adapter's nodes.
    over_impl: bool,
}

/// The one case of the group when there is no simulator.
const MISSING: &str = "threads-sim";

/// The simulator program: `explicit`, `THREADS_SIM`, next to the running program, or on `PATH`.
fn locate(explicit: Option<&Path>) -> Result<PathBuf, String> {
    let name = format!("threads-sim{}", std::env::consts::EXE_SUFFIX);
    if let Some(path) = explicit {
        return match path.is_file() {
            true => Ok(path.to_path_buf()),
            false => Err(format!("--sim {}: no such program", path.display())),
        };
    }
    let from_env = std::env::var_os("THREADS_SIM").map(PathBuf::from);
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.join(&name)));
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join(&name));
    from_env
        .into_iter()
        .chain(beside)
        .chain(on_path)
        .find(|p| p.is_file())
        .ok_or_else(|| {
            "threads-sim was not found (next to this program, in THREADS_SIM or on PATH): build it \
             with `cargo build --release -p threads-simulator` or pass --sim PATH"
                .to_string()
        })
}

/// `threads-sim list --json`: every scenario, in the simulator's order.
fn scenarios(program: &Path) -> Result<Vec<Listed>, String> {
    let output = Command::new(program)
        .args(["list", "--json"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{}: {e}", program.display()))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let listed: Option<Vec<Listed>> = text
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).ok()?;
            Some(Listed {
                name: v["name"].as_str()?.to_string(),
                summary: v["summary"].as_str()?.to_string(),
                over_impl: v["overImpl"].as_bool()?,
            })
        })
        .collect();
    match listed {
        Some(list) if output.status.success() && !list.is_empty() => Ok(list),
        _ => Err(format!(
            "{} list --json did not list the scenarios (exit {:?}); is it the simulator of this kit?",
            program.display(),
            output.status.code()
        )),
    }
}

/// Plays every planned case against the adapter `command` and reports them.
pub fn run(plan: &Plan, command: &[String], progress: &mut Progress) -> GroupResult {
    let mut group = GroupResult {
        name: GROUP.to_string(),
        kind: GroupKind::Liveness,
        skipped: None,
        cases: Vec::new(),
        notes: Vec::new(),
    };
    if !plan.not_drivable.is_empty() {
        group.notes.push(format!(
            "not played (the harness protocol cannot crash a node, and the simulator reads the \
             database of in-process peers only; the reference's own tests run them): {}",
            plan.not_drivable.join(", ")
        ));
    }
    let program = match &plan.sim {
        Ok(program) => program,
        Err(_) if !plan.missing_selected => return group,
        Err(why) => {
            group.skipped = Some(why.clone());
            group.cases.push(CaseResult {
                id: MISSING.into(),
                comment: "the simulator runs the liveness cases".into(),
                spec_section: TAG.into(),
                flags: Vec::new(),
                status: Status::Skipped(why.clone()),
            });
            return group;
        }
    };
    let statuses = play_all(program, command, &plan.cases);
    for ((scenario, seed), status) in plan.cases.iter().zip(statuses) {
        group.cases.push(CaseResult {
            id: case_id(scenario, *seed),
            comment: format!("simulator scenario {scenario}, seed {seed}"),
            spec_section: TAG.into(),
            flags: Vec::new(),
            status,
        });
        progress.update(&group, plan.cases.len());
    }
    group
}

/// Every case, on as many simulator processes at once as the machine has cores (each run is
/// one process and independent of the others); the statuses in the order of `cases`.
fn play_all(program: &Path, command: &[String], cases: &[(String, u64)]) -> Vec<Status> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let slots: Vec<std::sync::Mutex<Option<Status>>> =
        cases.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..workers.min(cases.len()) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some((scenario, seed)) = cases.get(i) else {
                        break;
                    };
                    let status = play(program, command, scenario, *seed);
                    if let Ok(mut slot) = slots[i].lock() {
                        *slot = Some(status);
                    }
                }
            });
        }
    });
    slots
        .into_iter()
        .map(|slot| {
            slot.into_inner()
                .ok()
                .flatten()
                .unwrap_or_else(|| failed("the run was lost".into(), "", Value::Null))
        })
        .collect()
}

/// One scenario and seed through `threads-sim run --json`.
fn play(program: &Path, command: &[String], scenario: &str, seed: u64) -> Status {
    let mut args = vec![
        "run".to_string(),
        "--scenario".into(),
        scenario.into(),
        "--seed".into(),
        seed.to_string(),
        "--max-events".into(),
        MAX_EVENTS.to_string(),
        "--impl".into(),
        shell_words::join(command),
    ];
    // The text report of the same run, with its trace and schedule, for a person to read.
    let replay = format!(
        "{} {}",
        shell_words::quote(&program.display().to_string()),
        shell_words::join(&args)
    );
    args.push("--json".into());
    let line = match run_bounded(program, &args) {
        Ok(line) => line,
        Err(why) => return failed(why, &replay, Value::Null),
    };
    let Ok(v) = serde_json::from_str::<Value>(&line) else {
        return failed(
            format!("threads-sim printed no JSON result: {line:?}"),
            &replay,
            Value::Null,
        );
    };
    let why = v["why"].as_str().unwrap_or_default().to_string();
    match v["verdict"].as_str() {
        Some("PASS") => Status::Passed,
        Some("SKIP") => Status::Skipped(why),
        _ => failed(why, &replay, v["trace"].clone()),
    }
}

/// A failed case: what the scenario needs, what happened, and the command that replays it.
fn failed(actual: String, replay: &str, trace: Value) -> Status {
    Status::Failed(CaseFailure {
        expected: "every invariant holds after every step, and every node converges within the \
                   scenario's bound (HP-93)"
            .into(),
        actual,
        inputs: Some(json!({"replay": replay, "trace": trace})),
        ..CaseFailure::default()
    })
}

/// Runs the simulator with `args` for at most [`CASE_WALL`]; its first stdout line.
fn run_bounded(program: &Path, args: &[String]) -> Result<String, String> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if started.elapsed() < CASE_WALL => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "the simulator run took more than {} s of wall time and was stopped",
                    CASE_WALL.as_secs()
                ));
            }
            Err(e) => return Err(format!("waiting for {}: {e}", program.display())),
        }
    }
    let mut out = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        // One JSON line of a few hundred bytes; bounded in case the program is not ours.
        let _ = stdout.by_ref().take(1 << 20).read_to_string(&mut out);
    }
    Ok(out.lines().next().unwrap_or_default().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_parse_inclusive_and_bounded() {
        assert_eq!(parse_seeds("1..2"), Ok(1..=2));
        assert_eq!(parse_seeds("3..=3"), Ok(3..=3));
        assert!(parse_seeds("2..1").is_err());
        assert!(parse_seeds("1..1000").is_ok());
        assert!(parse_seeds("1..1001").is_err());
        assert!(parse_seeds("x..2").is_err());
    }

    #[test]
    fn a_missing_simulator_skips_the_group_saying_why() {
        let options = Liveness {
            sim: Some(PathBuf::from("/nonexistent/threads-sim")),
            ..Liveness::default()
        };
        let plan = plan(&options, &Filter::new(None)).expect("a plan");
        assert_eq!(plan.cases(), 1);
        let group = run(&plan, &["true".into()], &mut Progress::new(false));
        assert!(group.entirely_skipped());
        assert!(
            group
                .skipped
                .as_deref()
                .unwrap_or_default()
                .contains("--sim")
        );
    }
}
