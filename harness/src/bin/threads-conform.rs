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

use clap::{CommandFactory, Parser, Subcommand};
use threads_harness::runner::results::{HARNESS, KIT_VERSION};
use threads_harness::runner::{self, Options, junit, summary};
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

#[derive(Subcommand)]
enum Command {
    /// Check the signed vectors, then run every suite and live scenario against an adapter.
    Run(RunArgs),
    /// The signed vector set compiled into this program.
    Vectors {
        #[command(subcommand)]
        command: VectorsCommand,
    },
    /// Serve the bundled reference adapter on stdin and stdout (what `run` starts by default).
    #[command(hide = true)]
    ReferenceAdapter,
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
        _ if cli.version => version().map(|()| true),
        Some(Command::Run(args)) => execute(args),
        Some(Command::Vectors {
            command: VectorsCommand::Export { dir },
        }) => export(&dir).map(|()| true),
        Some(Command::ReferenceAdapter) => return threads_harness::adapter::serve_stdio(),
        None => {
            let _ = Cli::command().print_help();
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(message) => {
            eprintln!("threads-conform: error: {message}");
            ExitCode::from(2)
        }
    }
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
        vectors: args.vectors,
        trusted_keys: args.trust_keys,
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
