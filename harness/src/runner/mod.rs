//! The conformance runner behind `threads-conform run`: checks the signed vectors, starts the
//! adapter, runs every selected vector suite and live scenario, and reports.
//!
//! - [`client`]: one adapter process and the wire protocol.
//! - [`session`]: the adapter for a whole run, restarted after it misbehaves.
//! - [`vectors`]: vector suites, judged with [`threads_vectors::run::judge`].
//! - [`driver`] and [`scenario`]: live scenarios over node instances.
//! - [`results`], [`summary`], [`junit`]: what the run found, as JSON, text and JUnit XML.

pub mod client;
pub mod driver;
pub mod junit;
pub mod progress;
pub mod results;
pub mod scenario;
pub mod select;
pub mod session;
pub mod summary;
pub mod tail;
pub mod vectors;

use std::path::PathBuf;
use std::time::Duration;

use threads_vectors::format::SuiteFile;
use threads_vectors::generate::SUITES;
use threads_vectors::manifest::{ManifestError, VectorSet};

use progress::Progress;
use results::{RunReport, VectorsInfo};
use scenario::SCENARIOS;
use select::Filter;
use session::Session;

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
    /// The vector directory (holding `MANIFEST` and `suites/`); `None`: the signed set compiled
    /// into this program.
    pub vectors: Option<PathBuf>,
    /// Keys (hex) besides the pinned one whose signature on `MANIFEST` the user accepts.
    pub trusted_keys: Vec<String>,
    /// How long one request may take.
    pub timeout: Duration,
    /// Whether to show a progress line on stderr.
    pub progress: bool,
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
    let scenario_names: Vec<&str> = SCENARIOS.iter().map(|s| s.name).collect();
    let names = select::groups(&options.groups, SUITES, &scenario_names)?;
    let filter = Filter::new(options.filter.as_deref());
    let plan = plan(&set, &names, &filter)?;
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
                scenario::run_scenario(&mut session, s, &filter, &mut progress)
            }
        });
    }
    progress.clear();
    let hello = session.hello().clone();
    let restarts = session.restarts();
    let notes = session.shutdown().into_iter().collect();
    Ok(RunReport {
        command: options.command.clone(),
        implementation: hello.implementation,
        version: hello.version,
        restarts,
        groups,
        notes,
        vectors: vectors_info,
    })
}

/// A suite or scenario to run, with how many of its cases are selected.
enum Planned {
    Suite(SuiteFile, usize),
    Scenario(&'static scenario::Scenario, usize),
}

impl Planned {
    fn cases(&self) -> usize {
        match self {
            Planned::Suite(_, n) | Planned::Scenario(_, n) => *n,
        }
    }
}

/// Loads the named suites and finds the named scenarios.
fn plan(set: &VectorSet, names: &[&str], filter: &Filter) -> Result<Vec<Planned>, String> {
    names
        .iter()
        .map(|name| match SCENARIOS.iter().find(|s| s.name == *name) {
            Some(s) => Ok(Planned::Scenario(s, scenario::selected(s, filter).len())),
            None => {
                let file = set.suite(name)?;
                let n = vectors::selected(&file, filter).len();
                Ok(Planned::Suite(file, n))
            }
        })
        .collect()
}
