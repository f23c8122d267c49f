//! `threads-vectors`: generate, sign, verify, lint and run the Threads test vectors.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::{fs, io};

use clap::{Parser, Subcommand};
use threads_vectors::generate::{self, SUITES};
use threads_vectors::{lint, manifest, run};

/// Deterministic, signed test vectors for the Threads protocol.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write every suite and schema into DIR (byte-identical on every run and machine).
    Generate {
        /// Output directory; `suites/` and `schemas/` are written inside it.
        #[arg(long)]
        out: PathBuf,
    },
    /// Regenerate in memory and compare with the files in DIR; fails on any difference.
    CheckRegen {
        /// Vector directory [default: this crate's directory].
        dir: Option<PathBuf>,
    },
    /// Write DIR/MANIFEST signed with the Ed25519 seed (hex) in KEY.
    Sign {
        /// Path of the private key file (never commit it).
        #[arg(long)]
        key: PathBuf,
        /// Vector directory [default: this crate's directory].
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Check MANIFEST's signature (by the pinned, published key) and every file's digest.
    Verify {
        /// Vector directory [default: the set compiled into this program].
        dir: Option<PathBuf>,
        /// Also accept a MANIFEST signed by this Ed25519 public key (hex). The key file inside
        /// DIR is never trusted.
        #[arg(long, value_name = "HEX", alias = "public-key")]
        trust_key: Vec<String>,
    },
    /// Check the files against their schemas and the spec (tcIds, counts, flags, tag coverage).
    Lint {
        /// Vector directory [default: this crate's directory].
        dir: Option<PathBuf>,
        /// Spec directory [default: ../spec from the vector directory].
        #[arg(long)]
        spec: Option<PathBuf>,
    },
    /// Verify the manifest, then run the reference implementation against every vector.
    Run {
        /// Vector directory [default: the set compiled into this program].
        dir: Option<PathBuf>,
        /// Also accept a MANIFEST signed by this Ed25519 public key (hex).
        #[arg(long, value_name = "HEX")]
        trust_key: Vec<String>,
    },
}

/// The maintainers' commands (`check-regen`, `sign`, `lint`) work on a source checkout: by
/// default the directory this crate was built from. `verify` and `run` default to the embedded set.
fn default_dir(dir: Option<PathBuf>) -> PathBuf {
    dir.unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

/// Loads the set to check: DIR, or the one compiled in.
fn load_set(dir: Option<&Path>) -> Result<(String, manifest::VectorSet), String> {
    match dir {
        Some(dir) => manifest::VectorSet::read_dir(dir)
            .map(|set| (dir.display().to_string(), set))
            .map_err(|e| format!("[{}] {e}", e.code())),
        None => Ok((
            "the set compiled into this program".to_string(),
            manifest::VectorSet::embedded(),
        )),
    }
}

fn main() -> ExitCode {
    match execute(Cli::parse().command) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

/// Runs a command: `Ok(false)` when checks failed, `Err` when the command itself could not run.
fn execute(command: Command) -> Result<bool, String> {
    match command {
        Command::Generate { out } => write_generated(&out).map(|()| true),
        Command::CheckRegen { dir } => check_regen(&default_dir(dir)),
        Command::Sign { key, dir } => {
            let dir = default_dir(dir);
            let public = manifest::sign(&dir, &key).map_err(|e| e.to_string())?;
            println!(
                "signed {} with public key {public}",
                dir.join("MANIFEST").display()
            );
            Ok(true)
        }
        Command::Verify { dir, trust_key } => {
            verify(dir.as_deref(), &trust_key).map(|v| v.is_some())
        }
        Command::Lint { dir, spec } => {
            let dir = default_dir(dir);
            let spec = spec.unwrap_or_else(|| dir.join("..").join("spec"));
            let problems = lint::lint(&dir, &spec, SUITES)?;
            for problem in &problems {
                println!("lint: {problem}");
            }
            println!(
                "lint: {} problem(s) in {} suites",
                problems.len(),
                SUITES.len()
            );
            Ok(problems.is_empty())
        }
        Command::Run { dir, trust_key } => run_all(dir.as_deref(), &trust_key),
    }
}

fn write_generated(out: &Path) -> Result<(), String> {
    for (path, text) in generate::all_files()? {
        let target = out.join(&path);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        fs::write(&target, text).map_err(|e| format!("{}: {e}", target.display()))?;
        println!("wrote {}", target.display());
    }
    Ok(())
}

fn check_regen(dir: &Path) -> Result<bool, String> {
    let mut same = true;
    for (path, text) in generate::all_files()? {
        let committed = fs::read_to_string(dir.join(&path)).unwrap_or_default();
        if committed != text {
            println!("regen: {path} differs from a fresh generation");
            same = false;
        }
    }
    println!(
        "regen: {}",
        if same {
            "byte-identical"
        } else {
            "DIFFERENT: run `threads-vectors generate --out vectors` and re-sign"
        }
    );
    Ok(same)
}

/// Verifies a set and prints the result with the signing key's fingerprint: `Ok(None)` when a
/// check failed; `Err` (exit 2) when the set is unreadable or signed by no trusted key.
fn verify(dir: Option<&Path>, trusted: &[String]) -> Result<Option<manifest::VectorSet>, String> {
    let (name, set) = load_set(dir)?;
    match set.verify(trusted) {
        Ok(v) => {
            println!("verify: {name}");
            println!("verify: {}", v.key_line());
            println!(
                "verify: MANIFEST signature valid; {} files match their digests; MANIFEST sha256 {}",
                v.files, v.manifest_sha256
            );
            Ok(Some(set))
        }
        Err(
            e @ (manifest::ManifestError::BadSignature(_)
            | manifest::ManifestError::Mismatch(_)
            | manifest::ManifestError::Malformed(_)),
        ) => {
            println!("verify: {name}: [{}] {e}", e.code());
            Ok(None)
        }
        Err(e) => Err(format!("{name}: [{}] {e}", e.code())),
    }
}

fn run_all(dir: Option<&Path>, trusted: &[String]) -> Result<bool, String> {
    let Some(set) = verify(dir, trusted)? else {
        return Ok(false);
    };
    let tty = io::stderr().is_terminal();
    let mut all_passed = true;
    println!("{:<10} {:>7} {:>7}", "suite", "passed", "failed");
    for suite in SUITES {
        if tty {
            eprint!("running {suite}…\r");
        }
        let file = set.suite(suite)?;
        let report = run::run_suite(&file);
        println!(
            "{:<10} {:>7} {:>7}",
            suite,
            report.passed,
            report.failures.len()
        );
        for f in &report.failures {
            println!(
                "  FAIL {} tcId {} [{}] flags {:?}\n    expected: {}\n    actual:   {}",
                f.suite, f.tc_id, f.spec_section, f.flags, f.expected, f.actual
            );
        }
        all_passed &= report.failures.is_empty();
    }
    Ok(all_passed)
}
