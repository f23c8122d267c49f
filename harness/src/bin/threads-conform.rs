//! `threads-conform`: runs the Threads conformance suite (signed vectors and live scenarios)
//! against any implementation's adapter.
//!
//! Exit status: 0 when every case that ran passed (skips allowed), 1 when a case failed, 2 when the
//! harness could not run.

use std::fs;
use std::io::{self, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use threads_harness::runner::{self, Options, junit, summary};

/// Conformance runner for the Threads protocol.
#[derive(Parser)]
#[command(name = "threads-conform", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check the signed vectors, then run every suite and live scenario against an adapter.
    Run(RunArgs),
    /// Serve the bundled reference adapter on stdin and stdout (what `run` starts by default).
    #[command(hide = true)]
    ReferenceAdapter,
}

#[derive(clap::Args)]
struct RunArgs {
    /// The adapter's command line, split by shell rules
    /// [default: the bundled reference adapter].
    #[arg(long = "impl", value_name = "CMD")]
    implementation: Option<String>,
    /// Run only this suite or scenario (repeatable).
    #[arg(long = "suite", value_name = "NAME")]
    suites: Vec<String>,
    /// Run only cases whose tcId equals SUBSTR or whose comment, flags, specSection, check or
    /// scenario name contain it (ignoring case).
    #[arg(long, value_name = "SUBSTR")]
    filter: Option<String>,
    /// Write a machine-readable report here.
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    /// Write a JUnit XML report here.
    #[arg(long, value_name = "PATH")]
    junit: Option<PathBuf>,
    /// The vector directory [default: this kit's vectors/].
    #[arg(long, value_name = "DIR")]
    vectors: Option<PathBuf>,
    /// How many seconds one case (one request) may take.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_timeout)]
    timeout: Duration,
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
    let args = match Cli::parse().command {
        Command::Run(args) => args,
        Command::ReferenceAdapter => return threads_harness::adapter::serve_stdio(),
    };
    match execute(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(message) => {
            eprintln!("threads-conform: error: {message}");
            ExitCode::from(2)
        }
    }
}

/// Runs and reports: `Ok(false)` when a case failed, `Err` when the harness could not run.
fn execute(args: RunArgs) -> Result<bool, String> {
    let command = match &args.implementation {
        Some(line) => {
            let words = shell_words::split(line).map_err(|e| format!("--impl {line:?}: {e}"))?;
            if words.is_empty() {
                return Err("--impl is empty".into());
            }
            words
        }
        None => default_adapter()?,
    };
    let options = Options {
        command,
        groups: args.suites,
        filter: args.filter,
        vectors: args.vectors.unwrap_or_else(runner::default_vectors_dir),
        timeout: args.timeout,
        progress: io::stderr().is_terminal(),
    };
    let report = runner::run(&options)?;
    print!("{}", summary::render(&report));
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&report.to_json()).map_err(|e| e.to_string())?;
        write(path, &format!("{text}\n"))?;
    }
    if let Some(path) = &args.junit {
        write(path, &junit::render(&report))?;
    }
    Ok(report.passed())
}

/// The bundled reference adapter: this very program with the hidden `reference-adapter`
/// command, so that `cargo run` alone gives a complete harness.
fn default_adapter() -> Result<Vec<String>, String> {
    runner::default_adapter_command().map_err(|e| format!("cannot locate this program: {e}"))
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}
