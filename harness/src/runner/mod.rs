//! The conformance runner behind `threads-conform run`: checks the signed vectors, starts the
//! adapter, runs every selected vector suite and live scenario, and reports.
//!
//! - [`client`]: one adapter process and the wire protocol.
//! - [`session`]: the adapter for a whole run, restarted after it misbehaves.
//! - [`vectors`]: vector suites, judged with [`threads_vectors::run::judge`].
//! - [`driver`] and [`scenario`]: live scenarios over node instances.
//! - [`liveness`]: the simulator's scenarios against the adapter's nodes [HP-93].
//! - [`bench`]: sync throughput through the adapter, beside the reference's [HP-94].
//! - [`results`], [`summary`], [`junit`], [`html`]: what the run found, as JSON, text, JUnit XML
//!   and a web page; [`matrix`]: several implementations side by side.
//! - [`diff`] and [`links`]: what a failure report shows besides the values [HP-85].

pub mod bench;
pub mod client;
pub mod diff;
pub mod driver;
pub mod html;
pub mod junit;
pub mod links;
pub mod liveness;
pub mod matrix;
pub mod partitioned;
pub mod progress;
pub mod prover;
pub mod records;
pub mod results;
pub mod scenario;
pub mod select;
pub mod session;
pub mod stranger;
pub mod summary;
pub mod tail;
pub mod vectors;

use std::path::PathBuf;
use std::time::Duration;

use threads_vectors::format::SuiteFile;
use threads_vectors::generate::SUITES;
use threads_vectors::manifest::{ManifestError, VectorSet};

use progress::Progress;
use results::{CaseFailure, GroupResult, RunReport, Status, VectorsInfo};
use scenario::SCENARIOS;
use select::{CaseName, Filter};
use session::{Blame, Session};

/// The default per-case timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// What to run, and how.
#[derive(Debug, Clone)]
pub struct Options {
    /// The adapter's command line (program and arguments).
    pub command: Vec<String>,
    /// Suites and scenarios to run; empty means all.
    pub groups: Vec<String>,
    /// The `--filter` text.
    pub filter: Option<String>,
    /// The `--case` names: only these cases run.
    pub cases: Vec<CaseName>,
    /// The command line that reruns this run, for the report's rerun commands (without
    /// `--case`); empty: `threads-conform run`.
    pub rerun: Vec<String>,
    /// The vector directory (holding `MANIFEST` and `suites/`); `None`: the signed set compiled
    /// into this program.
    pub vectors: Option<PathBuf>,
    /// Keys (hex) besides the pinned one whose signature on `MANIFEST` the user accepts.
    pub trusted_keys: Vec<String>,
    /// How long one request may take.
    pub timeout: Duration,
    /// Whether to show a progress line on stderr.
    pub progress: bool,
    /// Where the simulator is and which seeds the liveness group plays [HP-93].
    pub liveness: liveness::Liveness,
}

/// Loads the vector set a run uses (the embedded one, or `--vectors DIR`) and checks it against
/// the pinned key and the keys the user trusts; `Err` says why it cannot be used.
pub fn load_vectors(
    dir: Option<&std::path::Path>,
    trusted: &[String],
) -> Result<(VectorSet, VectorsInfo), String> {
    let (source, set) = match dir {
        None => ("embedded".to_string(), VectorSet::embedded()),
        Some(dir) => (
            dir.display().to_string(),
            VectorSet::read_dir(dir).map_err(|e| refused(dir.display(), &e))?,
        ),
    };
    let verified = set.verify(trusted).map_err(|e| match dir {
        Some(dir) => refused(dir.display(), &e),
        None => refused("compiled into this program", &e),
    })?;
    Ok((set, VectorsInfo { source, verified }))
}

fn refused(place: impl std::fmt::Display, e: &ManifestError) -> String {
    format!(
        "the vectors in {place} do not match their signed MANIFEST: [{}] {e}",
        e.code()
    )
}

/// The bundled reference adapter: the running `threads-conform` with its hidden
/// `reference-adapter` command.
pub fn default_adapter_command() -> std::io::Result<Vec<String>> {
    let exe = std::env::current_exe()?;
    Ok(vec![
        exe.to_string_lossy().into_owned(),
        "reference-adapter".to_string(),
    ])
}

/// Runs the conformance suite; `Err` says why the harness itself could not run.
pub fn run(options: &Options) -> Result<RunReport, String> {
    let (set, vectors_info) = load_vectors(options.vectors.as_deref(), &options.trusted_keys)?;
    let scenario_names: Vec<&str> = SCENARIOS
        .iter()
        .map(|s| s.name)
        .chain([liveness::GROUP])
        .collect();
    let named = named_groups(options);
    let requested = if options.groups.is_empty() {
        &named
    } else {
        &options.groups
    };
    let mut names = select::groups(requested, SUITES, &scenario_names)?;
    if !options.liveness.enabled {
        if named.iter().any(|n| n == liveness::GROUP) {
            return Err(format!(
                "--no-liveness leaves out the group {} that --suite or --case names",
                liveness::GROUP
            ));
        }
        names.retain(|n| *n != liveness::GROUP);
    }
    let filter = Filter::new(options.filter.as_deref()).with_cases(options.cases.clone());
    let plan = plan(&set, &names, &filter, &options.liveness)?;
    check_cases(&plan, options)?;
    if plan.iter().all(|item| item.cases() == 0) {
        return Err(format!(
            "no case matches --filter {:?} in {}",
            options.filter.as_deref().unwrap_or(""),
            names.join(", ")
        ));
    }
    let mut session = Session::start(&options.command, options.timeout)?;
    let mut progress = Progress::new(options.progress);
    let mut groups = Vec::new();
    for item in plan.iter().filter(|item| item.cases() > 0) {
        groups.push(match item {
            Planned::Suite(file, _) => {
                vectors::run_suite(&mut session, file, &filter, &mut progress)
            }
            Planned::Scenario(s, _) => {
                let skip = handshake_alone(s, &groups, &named);
                scenario::run_scenario_unless(&mut session, s, &filter, &mut progress, skip)
            }
            Planned::Liveness(plan) => liveness::run(plan, &options.command, &mut progress),
        });
        charge(&mut groups, session.take_blames());
    }
    progress.clear();
    let hello = session.hello().clone();
    let restarts = session.restarts();
    let mut notes: Vec<String> = unknown_operations(&set, &hello.operations)
        .into_iter()
        .collect();
    let (shutdown_note, blames) = session.shutdown();
    charge(&mut groups, blames);
    notes.extend(shutdown_note);
    Ok(RunReport {
        command: options.command.clone(),
        implementation: hello.implementation,
        version: hello.version,
        restarts,
        groups,
        notes,
        vectors: vectors_info,
        named,
        rerun: options.rerun.clone(),
    })
}

/// Why the `handshake` scenario is not played: nothing else of the run ran and the user did not
/// name it. It checks an adapter's side of appendix H, not the implementation, so alone it would
/// make a run that checked nothing of the implementation end with 0 instead of 3 [HP-15], [HP-84].
fn handshake_alone(
    s: &scenario::Scenario,
    groups: &[GroupResult],
    named: &[String],
) -> Option<String> {
    let ran = groups.iter().any(|g| {
        let c = g.counts();
        c.passed + c.failed > 0
    });
    (s.name == scenario::HANDSHAKE.name && !ran && !named.iter().any(|n| n == s.name)).then(|| {
        "no other case ran: the handshake alone checks nothing of the implementation (HP-84)".into()
    })
}

/// The suites and scenarios the user named, with `--suite` or in a `--case`, in the order given.
fn named_groups(options: &Options) -> Vec<String> {
    let mut named: Vec<String> = Vec::new();
    let from_cases = options.cases.iter().map(|c| &c.group);
    for name in options.groups.iter().chain(from_cases) {
        if !named.contains(name) {
            named.push(name.clone());
        }
    }
    named
}

/// Every `--case` must name a case the run selects; `Err` names the first that does not.
fn check_cases(plan: &[Planned], options: &Options) -> Result<(), String> {
    for case in &options.cases {
        let alone = Filter::new(options.filter.as_deref()).with_cases(vec![case.clone()]);
        let found = plan.iter().any(|item| match item {
            Planned::Suite(file, _) => !vectors::selected(file, &alone).is_empty(),
            Planned::Scenario(s, _) => !scenario::selected(s, &alone).is_empty(),
            Planned::Liveness(_) => {
                liveness::plan(&options.liveness, &alone).is_ok_and(|p| p.cases() > 0)
            }
        });
        if !found {
            return Err(format!(
                "--case {case} names no case of the selected suites and scenarios (a suite's \
                 cases are named by tcId, a scenario's by check name)"
            ));
        }
    }
    Ok(())
}

/// A note on the operations the adapter lists that no suite of this kit uses: ignored, as a
/// newer kit's operations are [HP-81].
fn unknown_operations(
    set: &VectorSet,
    listed: &std::collections::BTreeSet<String>,
) -> Option<String> {
    let mut known = std::collections::BTreeSet::new();
    for suite in SUITES {
        if let Ok(file) = set.suite(suite) {
            known.extend(file.test_groups.iter().map(|g| g.operation.clone()));
        }
    }
    let unknown: Vec<&str> = listed
        .iter()
        .filter(|op| !known.contains(*op))
        .map(String::as_str)
        .collect();
    (!unknown.is_empty()).then(|| {
        format!(
            "the adapter lists operation(s) no suite of this kit uses, ignored (HP-81): {}",
            unknown.join(", ")
        )
    })
}

/// Charges each fault noticed after a reply to the case that reply answered [HP-82]: that case
/// fails with the fault's flag. A scenario's step is no case: its scenario gets a note.
fn charge(groups: &mut [GroupResult], blames: Vec<Blame>) {
    for Blame { case: key, fault } in blames {
        let Some(group) = groups.iter_mut().find(|g| g.name == key.group) else {
            continue;
        };
        let target = key
            .id
            .as_ref()
            .and_then(|id| group.cases.iter_mut().find(|c| &c.id == id));
        let Some(case) = target else {
            group.notes.push(format!("after its last step: {fault}"));
            continue;
        };
        let note = Some(fault.kind.note().to_string());
        case.status = match std::mem::replace(&mut case.status, Status::Passed) {
            Status::Failed(earlier) => Status::Failed(CaseFailure {
                actual: format!("{}; then {fault}", earlier.actual),
                note,
                stderr: fault.stderr,
                ..earlier
            }),
            Status::Passed | Status::Skipped(_) => Status::Failed(CaseFailure {
                expected: "the reply, and the adapter still running and reading the next request \
                           (HP-23)"
                    .into(),
                actual: fault.to_string(),
                note,
                stderr: fault.stderr,
                ..CaseFailure::default()
            }),
        };
    }
}

/// A suite or scenario to run, with how many of its cases are selected.
enum Planned {
    Suite(SuiteFile, usize),
    Scenario(&'static scenario::Scenario, usize),
    Liveness(liveness::Plan),
}

impl Planned {
    fn cases(&self) -> usize {
        match self {
            Planned::Suite(_, n) | Planned::Scenario(_, n) => *n,
            Planned::Liveness(plan) => plan.cases(),
        }
    }
}

/// Loads the named suites and finds the named scenarios.
fn plan(
    set: &VectorSet,
    names: &[&str],
    filter: &Filter,
    live: &liveness::Liveness,
) -> Result<Vec<Planned>, String> {
    names
        .iter()
        .map(|name| match SCENARIOS.iter().find(|s| s.name == *name) {
            Some(s) => Ok(Planned::Scenario(s, scenario::selected(s, filter).len())),
            None if *name == liveness::GROUP => {
                Ok(Planned::Liveness(liveness::plan(live, filter)?))
            }
            None => {
                let file = set.suite(name)?;
                let n = vectors::selected(&file, filter).len();
                Ok(Planned::Suite(file, n))
            }
        })
        .collect()
}
