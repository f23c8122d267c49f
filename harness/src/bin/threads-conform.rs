//! `threads-conform`: runs the Threads conformance suite (signed vectors and live scenarios)
//! against any implementation's adapter.
//!
//! Exit status ([HP-46], [HP-84]): 0 when cases ran and every one passed (skips allowed), 1 when
//! a case failed, 2 when the harness could not run, 3 when no case failed but none ran, or a
//! suite or scenario named with `--suite` or `--case` was entirely skipped.

use std::fs;
use std::io::{self, IsTerminal};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory, Parser, Subcommand};
use threads_harness::runner::bench;
use threads_harness::runner::liveness::{self, Liveness};
use threads_harness::runner::results::{HARNESS, KIT_VERSION, RunReport};
use threads_harness::runner::select::CaseName;
use threads_harness::runner::{self, Options, html, junit, matrix, summary};
use threads_vectors::format::{SPEC_VERSION, SUITES_VERSION};

/// Conformance runner for the Threads protocol.
#[derive(Parser)]
#[command(name = "threads-conform", about, disable_version_flag = true)]
struct Cli {
    /// Print the kit, spec, suites and harness protocol versions, the digest of the vectors'
    /// MANIFEST and the fingerprint of the key that signed it.
    #[arg(short = 'V', long)]
    version: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

/// Shown after `run --help`.
const RUN_AFTER_HELP: &str = "\
Exit status:
  0  cases ran and every one passed (skipped cases allowed)
  1  a case failed
  2  the harness could not run: a bad command line, vectors that do not match their signed
     MANIFEST, an adapter that cannot start or whose hello breaks a rule of appendix H (HP-14,
     HP-15, HP-81: the message names it), a --filter or --case that selects nothing
  3  no case failed, but no case ran, or a suite or scenario named with --suite or --case was
     entirely skipped (the report says why, HP-84)
With --impl repeated: 1 if any implementation failed a case, else 3 if any did not run, else 0.

Examples:
  threads-conform run --impl './my-adapter --flag'
  threads-conform run --impl './my-adapter' --case tid:35          # one failed case again
  threads-conform run --impl './a' --impl 'python3 b.py' --html out # side by side, as a page";

#[derive(Subcommand)]
enum Command {
    /// Check the signed vectors, then run every suite and live scenario against an adapter (or
    /// several, side by side).
    #[command(after_help = RUN_AFTER_HELP)]
    Run(Box<RunArgs>),
    /// The signed vector set compiled into this program.
    Vectors {
        #[command(subcommand)]
        command: VectorsCommand,
    },
    /// Serve the bundled reference adapter on stdin and stdout (what `run` starts by default).
    #[command(hide = true)]
    ReferenceAdapter {
        /// Switch on one bug of the catalogue (see `catalogue --list`).
        #[arg(long, value_name = "NAME")]
        fault: Option<String>,
    },
    /// Run the suite against every fault of the bug catalogue (the reference with one bug each)
    /// and fail unless every fault is caught [HP-86].
    #[command(after_help = CATALOGUE_AFTER_HELP)]
    Catalogue(CatalogueArgs),
    /// Measure an implementation's sync throughput through its adapter, beside the bundled
    /// reference's in the same run [HP-94].
    Bench(BenchArgs),
    /// For every requirement the spec states with MUST: the cases that check it and the
    /// catalogue faults that prove they can fail; then the tags with neither [HP-87].
    Coverage {
        /// The specification's directory (a checkout's `spec/`).
        #[arg(long, value_name = "DIR", default_value = "spec")]
        spec: PathBuf,
        /// Exit with 1 while a MUST tag has no case.
        #[arg(long)]
        strict: bool,
        /// Also write the coverage as JSON.
        #[arg(long, value_name = "PATH")]
        json: Option<PathBuf>,
    },
}

/// Shown after `catalogue --help`.
const CATALOGUE_AFTER_HELP: &str = "\
Exit status:
  0  every selected fault was caught: a case failed, or the harness refused the adapter
  1  a fault was missed: the suite passed (or skipped) with it
  2  the catalogue could not run (an unknown fault, the reference itself failing)";

#[derive(clap::Args)]
struct CatalogueArgs {
    /// Only this fault (repeatable).
    #[arg(long = "fault", value_name = "NAME")]
    faults: Vec<String>,
    /// List the faults (name, tag, class, what the bug is) and exit.
    #[arg(long)]
    list: bool,
    /// Also write the outcome as JSON.
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    /// How many seconds one case may take.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_timeout)]
    timeout: Duration,
    /// The simulator program for the liveness runs [default: threads-sim next to this
    /// program, in THREADS_SIM, or on PATH]; the catalogue needs it.
    #[arg(long, value_name = "PATH")]
    sim: Option<PathBuf>,
}

#[derive(clap::Args)]
struct BenchArgs {
    /// The adapter's command line, split by shell rules; without it only the reference is
    /// measured.
    #[arg(long = "impl", value_name = "CMD")]
    implementation: Option<String>,
    /// How many events the writer appends and each new node ingests.
    #[arg(long, value_name = "N", default_value_t = bench::DEFAULT_RECORDS)]
    records: u64,
    /// Bytes per event body.
    #[arg(long, value_name = "BYTES", default_value_t = bench::DEFAULT_BODY)]
    body: usize,
    /// Measurements per implementation (1 to 20), taken in turns; the median is reported.
    #[arg(long, value_name = "K", default_value_t = 3,
          value_parser = clap::value_parser!(u8).range(1..=20))]
    repeats: u8,
    /// Also write the rates as JSON.
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    /// How many seconds one request may take.
    #[arg(long, value_name = "SECS", default_value = "60", value_parser = parse_timeout)]
    timeout: Duration,
}

#[derive(Subcommand)]
enum VectorsCommand {
    /// Write the embedded vector set (suites, schemas, README.md, vector-signing.pub and the
    /// signed MANIFEST) into DIR, for test runners that read the JSON files themselves.
    Export {
        /// The directory to write into (created if missing).
        dir: PathBuf,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    /// The adapter's command line, split by shell rules [default: the bundled reference
    /// adapter]. Repeat it to run several implementations one after the other and compare them
    /// side by side.
    #[arg(long = "impl", value_name = "CMD")]
    implementations: Vec<String>,
    /// Run only this suite or scenario (repeatable). A named suite or scenario that is
    /// entirely skipped makes the run end with status 3.
    #[arg(long = "suite", value_name = "NAME")]
    suites: Vec<String>,
    /// Run only this case: SUITE:TCID (e.g. tid:35) or SCENARIO:CHECK (the scenario runs whole;
    /// only that check is reported). Repeatable. Every failure in a report ends with this
    /// option, ready to copy.
    #[arg(long = "case", value_name = "GROUP:ID", value_parser = CaseName::parse)]
    cases: Vec<CaseName>,
    /// Run only cases whose tcId equals SUBSTR or whose comment, flags, specSection, check or
    /// scenario name contain it (ignoring case).
    #[arg(long, value_name = "SUBSTR")]
    filter: Option<String>,
    /// Write a machine-readable report here (with --impl repeated: one document holding each
    /// implementation's report).
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    /// Write a JUnit XML report here.
    #[arg(long, value_name = "PATH")]
    junit: Option<PathBuf>,
    /// Write DIR/index.html: the run as one self-contained page (per suite, per requirement
    /// tag, failures expanded; with --impl repeated, a side-by-side matrix first).
    #[arg(long, value_name = "DIR")]
    html: Option<PathBuf>,
    /// Run the vector set in DIR instead of the one compiled in; it must be signed by the
    /// published key pinned in this program (or by a key given with --trust-key).
    #[arg(long, value_name = "DIR")]
    vectors: Option<PathBuf>,
    /// Also accept a MANIFEST signed by this Ed25519 public key (64 hex digits); the report
    /// then says the set was not signed by the published key. Repeatable.
    #[arg(long = "trust-key", value_name = "HEX")]
    trust_keys: Vec<String>,
    /// How many seconds one case (one request) may take.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_timeout)]
    timeout: Duration,
    /// The simulator program for the `liveness` group [default: threads-sim next to this
    /// program, in THREADS_SIM, or on PATH; without one the group is skipped, saying why].
    #[arg(long, value_name = "PATH")]
    sim: Option<PathBuf>,
    /// The seeds of the `liveness` group: every simulator scenario is played with each
    /// [HP-93].
    #[arg(long, value_name = "A..B", default_value = "1..2", value_parser = liveness::parse_seeds)]
    liveness_seeds: RangeInclusive<u64>,
    /// Leave out the `liveness` group (for example to record one adapter process's traffic).
    #[arg(long)]
    no_liveness: bool,
}

fn parse_timeout(text: &str) -> Result<Duration, String> {
    match text.parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs > 0.0 && secs <= 86_400.0 => {
            Ok(Duration::from_secs_f64(secs))
        }
        _ => Err(format!(
            "{text:?} is not a number of seconds between 0 and 86400"
        )),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        _ if cli.version => version().map(|()| 0),
        Some(Command::Run(args)) => execute(*args),
        Some(Command::Bench(args)) => bench_command(&args).map(|()| 0),
        Some(Command::Vectors {
            command: VectorsCommand::Export { dir },
        }) => export(&dir).map(|()| 0),
        Some(Command::ReferenceAdapter { fault: None }) => {
            return threads_harness::adapter::serve_stdio();
        }
        Some(Command::ReferenceAdapter { fault: Some(name) }) => {
            return threads_harness::catalogue::serve_stdio(&name);
        }
        Some(Command::Catalogue(args)) => catalogue(&args),
        Some(Command::Coverage { spec, strict, json }) => coverage(&spec, strict, json.as_deref()),
        None => {
            let _ = Cli::command().print_help();
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(status) => ExitCode::from(status),
        Err(message) => {
            eprintln!("threads-conform: error: {message}");
            ExitCode::from(2)
        }
    }
}

/// `coverage`: what checks each MUST of the spec [HP-87]; with `strict`, 1 while one has no case.
fn coverage(spec: &Path, strict: bool, json: Option<&Path>) -> Result<u8, String> {
    use threads_harness::catalogue::coverage as cov;
    let (set, _) = runner::load_vectors(None, &[])?;
    let tags = cov::collect(spec, &set)?;
    print!("{}", cov::render(&tags));
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(&cov::to_json(&tags)).map_err(|e| e.to_string())?;
        write(path, &format!("{text}\n"))?;
    }
    Ok(u8::from(strict && !cov::uncovered(&tags).is_empty()))
}

/// `catalogue`: the suite against each fault; 0 when every one is caught [HP-86].
fn catalogue(args: &CatalogueArgs) -> Result<u8, String> {
    use threads_harness::catalogue::driver;
    use threads_harness::catalogue::run as cat;
    // A driver fault is proven by a reference test, not by a run of the suite.
    let (driver_names, adapter_names): (Vec<String>, Vec<String>) = args
        .faults
        .iter()
        .cloned()
        .partition(|n| driver::find(n).is_some());
    let drivers: Vec<&'static driver::DriverFault> = if args.faults.is_empty() {
        driver::DRIVER_FAULTS.iter().collect()
    } else {
        driver_names
            .iter()
            .filter_map(|n| driver::find(n))
            .collect()
    };
    let faults = if args.faults.is_empty() || !adapter_names.is_empty() {
        cat::select(&adapter_names)?
    } else {
        Vec::new()
    };
    if args.list {
        for f in &faults {
            println!(
                "{:34} [{}] {:15} {}",
                f.name,
                f.tag,
                f.class.name(),
                f.summary
            );
        }
        for f in &drivers {
            println!("{:34} [{}] {:15} {}", f.name, f.tag, "driver", f.summary);
        }
        return Ok(0);
    }
    let mut outcomes = Vec::with_capacity(faults.len());
    if !faults.is_empty() {
        outcomes = adapter_catalogue(args, faults)?;
        print!("{}", cat::render(&outcomes));
    }
    let root = if drivers.is_empty() {
        PathBuf::new()
    } else {
        driver::checkout()?
    };
    let driven = driver::run_all(&root, &drivers)?;
    if !driven.is_empty() {
        print!("{}", driver::render(&driven));
    }
    if !outcomes.is_empty() && !driven.is_empty() {
        let caught = outcomes.iter().filter(|o| o.caught()).count()
            + driven.iter().filter(|o| o.caught()).count();
        println!(
            "in all: {caught} of {} faults caught",
            outcomes.len() + driven.len()
        );
    }
    if let Some(path) = &args.json {
        let mut json = cat::to_json(&outcomes);
        json["driverFaults"] = driver::to_json(&driven);
        json["driverCaught"] = driven.iter().filter(|o| o.caught()).count().into();
        let text = serde_json::to_string_pretty(&json).map_err(|e| e.to_string())?;
        write(path, &format!("{text}\n"))?;
    }
    let all = outcomes.iter().all(cat::Outcome::caught)
        && driven.iter().all(driver::DriverOutcome::caught);
    Ok(u8::from(!all))
}

/// The suite against each adapter fault of `faults`, after the reference without one.
fn adapter_catalogue(
    args: &CatalogueArgs,
    faults: Vec<&'static threads_harness::catalogue::Fault>,
) -> Result<Vec<threads_harness::catalogue::run::Outcome>, String> {
    use threads_harness::catalogue::Class;
    use threads_harness::catalogue::run as cat;
    let program = default_adapter()?.remove(0);
    // The reference without a fault must pass, or a caught fault proves nothing.
    let live = Liveness {
        sim: args.sim.clone(),
        ..Liveness::default()
    };
    let reference = runner::run(&Options {
        command: default_adapter()?,
        groups: Vec::new(),
        filter: None,
        cases: Vec::new(),
        rerun: Vec::new(),
        vectors: None,
        trusted_keys: Vec::new(),
        timeout: args.timeout,
        progress: false,
        liveness: live.clone(),
    })?;
    // Faults that only a liveness run shows would pass unseen without the simulator.
    let needs_live = faults.iter().any(|f| f.class == Class::NotLive);
    if let Some(why) = reference
        .groups
        .iter()
        .find(|g| g.name == liveness::GROUP)
        .and_then(|g| g.skipped.clone())
        .filter(|_| needs_live)
    {
        return Err(format!(
            "the faults of class not-live need the liveness runs: {why}"
        ));
    }
    if reference.verdict().exit_status() != 0 {
        return Err(format!(
            "the reference itself does not pass: {}",
            cat::failed_cases(&reference).join(" ")
        ));
    }
    let mut outcomes = Vec::with_capacity(faults.len());
    for fault in faults {
        let outcome = cat::run_fault(&program, fault, args.timeout, &live);
        if io::stderr().is_terminal() {
            eprint!("\r{:60}", fault.name);
        }
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

/// `bench`: the reference's rates, then the implementation's, and their ratio [HP-94].
fn bench_command(args: &BenchArgs) -> Result<(), String> {
    let measure = |command: &[String], who: &str, turn: u8| {
        eprintln!(
            "[{turn}/{}] {who}: {} events of {} bytes…",
            args.repeats, args.records, args.body
        );
        bench::measure(command, args.records, args.body, args.timeout)
            .map_err(|e| format!("bench of {who}: {e}"))
    };
    let reference_command = default_adapter()?;
    let other_command = match &args.implementation {
        Some(line) => Some((adapter_command(Some(line))?, line.as_str())),
        None => None,
    };
    let (mut references, mut others) = (Vec::new(), Vec::new());
    for turn in 1..=args.repeats {
        references.push(measure(&reference_command, "the reference", turn)?);
        if let Some((command, line)) = &other_command {
            others.push(measure(command, line, turn)?);
        }
    }
    let reference = bench::median(&references).ok_or("no measurement")?;
    let other = bench::median(&others);
    print!(
        "{}",
        bench::render(
            &reference,
            other.as_ref(),
            args.records,
            args.body,
            usize::from(args.repeats)
        )
    );
    if let Some(path) = &args.json {
        let json = serde_json::json!({
            "records": args.records,
            "body": args.body,
            "repeats": args.repeats,
            "reference": reference.json(),
            "implementation": other.as_ref().map(bench::Rates::json),
        });
        let text = serde_json::to_string_pretty(&json).map_err(|e| e.to_string())?;
        write(path, &format!("{text}\n"))?;
    }
    Ok(())
}

/// `--version`: what a report is judged against, after checking the embedded set.
fn version() -> Result<(), String> {
    let (_, info) = runner::load_vectors(None, &[])?;
    let v = &info.verified;
    println!("{HARNESS}");
    println!("kit {KIT_VERSION}");
    println!("spec {SPEC_VERSION}");
    println!("suites {SUITES_VERSION}");
    println!("harness protocol {}", threads_harness::protocol::PROTOCOL);
    println!("vectors MANIFEST sha256 {}", v.manifest_sha256);
    println!(
        "vectors signing key {} (key ID {}, pinned)",
        v.fingerprint, v.key_id
    );
    Ok(())
}

/// `vectors export DIR`: writes the embedded set, then checks what was written.
fn export(dir: &Path) -> Result<(), String> {
    let (set, info) = runner::load_vectors(None, &[])?;
    set.write_to(dir)
        .map_err(|e| format!("[{}] {e}", e.code()))?;
    let (_, written) = runner::load_vectors(Some(dir), &[])?;
    if written.verified.manifest_sha256 != info.verified.manifest_sha256 {
        return Err(format!(
            "{}: the written set differs from the embedded one",
            dir.display()
        ));
    }
    println!(
        "wrote {} files and MANIFEST (sha256 {}) to {}",
        written.verified.files,
        written.verified.manifest_sha256,
        dir.display()
    );
    println!("{}", written.verified.key_line());
    Ok(())
}

/// Runs and reports: `Ok` with the exit status (0, 1 or 3, [HP-84]), `Err` when the harness
/// could not run.
fn execute(args: RunArgs) -> Result<u8, String> {
    let lines: Vec<Option<&String>> = if args.implementations.is_empty() {
        vec![None]
    } else {
        args.implementations.iter().map(Some).collect()
    };
    let mut reports = Vec::with_capacity(lines.len());
    for line in lines {
        let options = Options {
            command: adapter_command(line)?,
            groups: args.suites.clone(),
            filter: args.filter.clone(),
            cases: args.cases.clone(),
            rerun: rerun_command(&args, line),
            vectors: args.vectors.clone(),
            trusted_keys: args.trust_keys.clone(),
            timeout: args.timeout,
            progress: io::stderr().is_terminal(),
            liveness: Liveness {
                sim: args.sim.clone(),
                seeds: args.liveness_seeds.clone(),
                enabled: !args.no_liveness,
            },
        };
        let report =
            runner::run(&options).map_err(|e| match (line, args.implementations.len()) {
                (Some(line), 2..) => format!("--impl {line:?}: {e}"),
                _ => e,
            })?;
        print!("{}", summary::render(&report));
        reports.push(report);
    }
    let verdict = if let [report] = &reports[..] {
        report.verdict()
    } else {
        print!("{}", matrix::render_text(&reports));
        let verdict = matrix::verdict(&reports);
        summary::print_not_run(&verdict);
        verdict
    };
    write_reports(&args, &reports)?;
    Ok(verdict.exit_status())
}

/// Writes the `--json`, `--junit` and `--html` reports asked for.
fn write_reports(args: &RunArgs, reports: &[RunReport]) -> Result<(), String> {
    if let Some(path) = &args.json {
        let json = match reports {
            [report] => report.to_json(),
            _ => matrix::to_json(reports),
        };
        let text = serde_json::to_string_pretty(&json).map_err(|e| e.to_string())?;
        write(path, &format!("{text}\n"))?;
    }
    if let Some(path) = &args.junit {
        write(path, &junit::render_all(reports))?;
    }
    if let Some(dir) = &args.html {
        fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        write(&dir.join("index.html"), &html::render(reports))?;
    }
    Ok(())
}

/// The adapter's words: `--impl` split by shell rules, or the bundled reference adapter.
fn adapter_command(line: Option<&String>) -> Result<Vec<String>, String> {
    match line {
        Some(line) => {
            let words = shell_words::split(line).map_err(|e| format!("--impl {line:?}: {e}"))?;
            if words.is_empty() {
                return Err("--impl is empty".into());
            }
            Ok(words)
        }
        None => default_adapter(),
    }
}

/// The command line that reruns this run against one implementation, for the report's
/// per-case rerun commands (which add `--case`) [HP-85].
fn rerun_command(args: &RunArgs, line: Option<&String>) -> Vec<String> {
    let mut words = vec!["threads-conform".to_string(), "run".to_string()];
    if let Some(line) = line {
        words.extend(["--impl".to_string(), line.clone()]);
    }
    if let Some(dir) = &args.vectors {
        words.extend(["--vectors".to_string(), dir.display().to_string()]);
    }
    for key in &args.trust_keys {
        words.extend(["--trust-key".to_string(), key.clone()]);
    }
    if let Some(sim) = &args.sim {
        words.extend(["--sim".to_string(), sim.display().to_string()]);
    }
    if args.no_liveness {
        words.push("--no-liveness".to_string());
    }
    if args.liveness_seeds != liveness::DEFAULT_SEEDS {
        let (a, b) = args.liveness_seeds.clone().into_inner();
        words.extend(["--liveness-seeds".to_string(), format!("{a}..{b}")]);
    }
    if args.timeout != runner::DEFAULT_TIMEOUT {
        words.extend([
            "--timeout".to_string(),
            args.timeout.as_secs_f64().to_string(),
        ]);
    }
    words
}

/// The bundled reference adapter: this very program with the hidden `reference-adapter`
/// command, so that `cargo run` alone gives a complete harness.
fn default_adapter() -> Result<Vec<String>, String> {
    runner::default_adapter_command().map_err(|e| format!("cannot locate this program: {e}"))
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}
