//! Driver faults, proven by the reference's own tests: bugs of the libp2p binding, of the sync
//! core's inner workings and of a node's snapshots that no request or reply of the harness
//! protocol can show (spec/sync.md 7.11, [SYNC-33], [SYNC-35], [DB-25]). Each is planted in the
//! reference behind its cargo feature `fault-injection` (reference/src/fault.rs) and switched on
//! at run time by `THREADS_DRIVER_FAULT`; the catalogue runs the reference test paired with it
//! and counts the fault caught only if that test fails with it, having passed without it in the
//! same catalogue run, so that a broken test never passes as a catch [HP-86].

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The environment variable the reference reads its fault from (reference/src/fault.rs).
pub const ENV: &str = "THREADS_DRIVER_FAULT";

/// The cargo feature that plants the hooks.
pub const FEATURE: &str = "fault-injection";

/// The longest one test run may take, its build included, before it counts as not caught.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(600);

/// Where the reference test of a fault lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    /// The unit tests of the library (`--lib`).
    Lib,
    /// An integration test, `reference/tests/NAME.rs` (`--test NAME`).
    Test(&'static str),
}

impl Target {
    /// The cargo arguments that select it.
    pub fn args(self) -> Vec<&'static str> {
        match self {
            Target::Lib => vec!["--lib"],
            Target::Test(name) => vec!["--test", name],
        }
    }

    /// `lib`, or `tests/NAME.rs`.
    pub fn shown(self) -> String {
        match self {
            Target::Lib => "lib".into(),
            Target::Test(name) => format!("tests/{name}.rs"),
        }
    }
}

/// One driver fault and the reference test that must catch it.
#[derive(Debug, Clone, Copy)]
pub struct DriverFault {
    /// Its name, as `THREADS_DRIVER_FAULT` and `catalogue --fault` give it.
    pub name: &'static str,
    /// The requirement tag it violates.
    pub tag: &'static str,
    /// The bug, in a sentence.
    pub summary: &'static str,
    /// Where its test is.
    pub target: Target,
    /// The test's full name, run with `--exact`.
    pub test: &'static str,
}

/// The driver faults, each with the reference test that catches it.
pub const DRIVER_FAULTS: &[DriverFault] = &[
    DriverFault {
        name: "oversized-prefix-read-on",
        tag: "SYNC-15",
        summary: "a request whose length prefix exceeds 8 MiB is read on instead of rejected",
        target: Target::Lib,
        test: "node::transport::tests::frames_round_trip_and_oversized_ones_are_refused",
    },
    DriverFault {
        name: "gossip-topic-from-tid",
        tag: "SYNC-16",
        summary: "the gossip topic is the Thread ID instead of the follow key's derivation",
        target: Target::Lib,
        test: "sync::tests::publications_are_opened_decided_and_their_unproven_relays_not_filed",
    },
    DriverFault {
        name: "refusal-read-as-received",
        tag: "SYNC-25",
        summary: "any response body is read as the empty frame: a refusal passes for received",
        target: Target::Lib,
        test: "node::transport::tests::a_refusal_carries_its_code_on_the_wire",
    },
    DriverFault {
        name: "keeps-request-past-bound",
        tag: "SYNC-26",
        summary: "a request whose bytes pass the inbound bound is kept and handled, not refused",
        target: Target::Lib,
        test: "node::transport::tests::a_request_past_the_inbound_budget_is_drained_and_gives_its_bytes_back",
    },
    DriverFault {
        name: "refusal-counted-as-delivered",
        tag: "SYNC-27",
        summary: "the sender takes a refusal for an acknowledgement: not counted as refused",
        target: Target::Lib,
        test: "node::transport::tests::a_peer_past_the_budget_is_told_so_and_the_next_request_gets_through",
    },
    DriverFault {
        name: "no-peer-share",
        tag: "SYNC-28",
        summary: "no per-peer share: one peer may fill the whole inbound bound",
        target: Target::Lib,
        test: "node::transport::tests::one_peer_past_its_share_is_refused_while_another_is_read",
    },
    DriverFault {
        name: "held-answer-missed-at-its-turn",
        tag: "SYNC-33",
        summary: "take_held off by one: a held answer is not decided when the counter reaches it",
        target: Target::Test("pipelining"),
        test: "a_window_of_pulls_asks_for_disjoint_consecutive_ranges_and_answers_in_reverse_are_decided_in_order",
    },
    DriverFault {
        name: "compacted-serves-from-snapshot",
        tag: "SYNC-35",
        summary: "a peer restarted from its kept snapshot serves each log only past the snapshot",
        target: Target::Lib,
        test: "db::tests::sync_35_a_peer_restarted_from_its_snapshot_serves_every_record_to_a_new_member",
    },
    DriverFault {
        name: "foreign-snapshot-trusted",
        tag: "DB-25",
        summary: "kept snapshot rows are believed (count, last key) without the events they cover",
        target: Target::Lib,
        test: "db::tests::db_25_snapshot_rows_without_their_events_never_become_the_view",
    },
];

/// The driver fault named `name`.
pub fn find(name: &str) -> Option<&'static DriverFault> {
    DRIVER_FAULTS.iter().find(|f| f.name == name)
}

/// How the reference test of one driver fault did.
#[derive(Debug, Clone)]
pub struct DriverOutcome {
    /// The fault.
    pub fault: &'static DriverFault,
    /// Whether the test passed without the fault (`Err` says how it did not).
    pub control: Result<(), String>,
    /// Whether it failed with the fault (`Ok` holds the test's panic message, `Err` says why
    /// it is no catch).
    pub faulted: Result<String, String>,
}

impl DriverOutcome {
    /// Caught: the test passed without the fault and failed with it.
    pub fn caught(&self) -> bool {
        self.control.is_ok() && self.faulted.is_ok()
    }

    fn evidence(&self) -> String {
        match (&self.control, &self.faulted) {
            (Err(why), _) => format!("no proof: without the fault the test {why}"),
            (Ok(()), Err(why)) => why.clone(),
            (Ok(()), Ok(panic)) => panic.clone(),
        }
    }
}

/// How one run of a test ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TestRun {
    /// It ran and passed.
    Passed,
    /// It ran and failed, with its first panic message.
    Failed(String),
    /// It did not run as one test: not built, not found, timed out.
    Broken(String),
}

/// The checkout the reference is built from: the current directory or one above it holding
/// `reference/Cargo.toml`, else the checkout this program was built in.
pub fn checkout() -> Result<PathBuf, String> {
    let here = std::env::current_dir().map_err(|e| e.to_string())?;
    let built_in = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    here.ancestors()
        .map(Path::to_path_buf)
        .chain(std::iter::once(built_in))
        .find(|dir| dir.join("reference/Cargo.toml").is_file())
        .ok_or_else(|| {
            "the driver faults need a checkout of the kit (reference/): run from one".to_string()
        })
}

/// `cargo test` of the reference with the feature, no fault chosen.
fn cargo_test(root: &Path) -> Command {
    let program = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(program);
    command
        .current_dir(root)
        .args(["test", "--locked", "-p", "threads-reference", "--features"])
        .arg(FEATURE)
        .env_remove(ENV);
    command
}

fn cargo(root: &Path, target: Target) -> Command {
    let mut command = cargo_test(root);
    command.args(target.args());
    command
}

/// Builds every test target of `faults` with the feature, in one cargo run.
pub fn build(root: &Path, faults: &[&'static DriverFault]) -> Result<(), String> {
    let mut targets: Vec<Target> = faults.iter().map(|f| f.target).collect();
    targets.sort();
    targets.dedup();
    let mut command = cargo_test(root);
    command
        .arg("--no-run")
        .args(targets.iter().flat_map(|t| t.args()));
    let (status, _, stderr) = run(command, TEST_TIMEOUT)?;
    if status != Some(0) {
        return Err(format!(
            "building the reference with --features {FEATURE} failed: {}",
            tail(&stderr)
        ));
    }
    Ok(())
}

/// Runs the test of `fault`, with the fault on or not.
fn run_test(root: &Path, fault: &DriverFault, on: bool) -> TestRun {
    let mut command = cargo(root, fault.target);
    command.args(["--", "--exact", fault.test]);
    if on {
        command.env(ENV, fault.name);
    }
    let (status, stdout, stderr) = match run(command, TEST_TIMEOUT) {
        Ok(out) => out,
        Err(why) => return TestRun::Broken(why),
    };
    let passed = stdout.contains("test result: ok. 1 passed; 0 failed");
    let failed = stdout.contains("test result: FAILED. 0 passed; 1 failed");
    match status {
        Some(0) if passed => TestRun::Passed,
        Some(_) if failed => TestRun::Failed(panic_of(&stdout, &stderr)),
        None => TestRun::Broken(format!("timed out after {} s", TEST_TIMEOUT.as_secs())),
        _ => TestRun::Broken(format!("did not run as one test: {}", tail(&stderr))),
    }
}

/// Runs `command`, killing it past `timeout`: its exit code (`None` if killed or signalled),
/// stdout and stderr.
fn run(mut command: Command, timeout: Duration) -> Result<(Option<i32>, String, String), String> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start cargo: {e}"))?;
    let reader = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut pipe) = pipe {
                let mut bytes = Vec::new();
                let _ = pipe.read_to_end(&mut bytes);
                text = String::from_utf8_lossy(&bytes).into_owned();
            }
            text
        })
    };
    let out = reader(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = reader(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(status) => break status.code(),
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            None => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    Ok((status, stdout, stderr))
}

/// The first panic message of a failed test run, on one line.
fn panic_of(stdout: &str, stderr: &str) -> String {
    let text = format!("{stdout}\n{stderr}");
    let mut lines = text.lines().skip_while(|l| !l.contains("panicked at"));
    let at = lines.next().unwrap_or("failed").trim();
    let message = lines.next().unwrap_or("").trim();
    let at = at.split("panicked at ").nth(1).unwrap_or(at);
    format!("failed at {at} {message}")
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(3)..].join(" | ")
}

/// Runs each fault's test without the fault (once per distinct test), then with it.
pub fn run_all(root: &Path, faults: &[&'static DriverFault]) -> Result<Vec<DriverOutcome>, String> {
    if faults.is_empty() {
        return Ok(Vec::new());
    }
    build(root, faults)?;
    let mut controls: BTreeMap<(Target, &str), Result<(), String>> = BTreeMap::new();
    let mut outcomes = Vec::with_capacity(faults.len());
    for &fault in faults {
        let control = controls
            .entry((fault.target, fault.test))
            .or_insert_with(|| match run_test(root, fault, false) {
                TestRun::Passed => Ok(()),
                TestRun::Failed(panic) => Err(format!("fails: {panic}")),
                TestRun::Broken(why) => Err(why),
            })
            .clone();
        let faulted = match run_test(root, fault, true) {
            TestRun::Failed(panic) => Ok(panic),
            TestRun::Passed => Err("the test passed with the fault on".into()),
            TestRun::Broken(why) => Err(format!("no proof: {why}")),
        };
        outcomes.push(DriverOutcome {
            fault,
            control,
            faulted,
        });
    }
    Ok(outcomes)
}

/// The text report's section of the driver faults.
pub fn render(outcomes: &[DriverOutcome]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\ndriver faults, proven by the reference's own tests (cargo feature {FEATURE}):"
    );
    for o in outcomes {
        let verdict = if o.caught() { "caught" } else { "MISSED" };
        let _ = writeln!(
            out,
            "{verdict:6} {:34} [{}] {} {}: {}",
            o.fault.name,
            o.fault.tag,
            o.fault.target.shown(),
            o.fault.test,
            o.evidence()
        );
    }
    let caught = outcomes.iter().filter(|o| o.caught()).count();
    let _ = writeln!(
        out,
        "\n{caught} of {} driver faults caught (each test passed without its fault)",
        outcomes.len()
    );
    out
}

/// The JSON of the driver faults: `[{name, tag, summary, target, test, caught, control,
/// evidence}]`.
pub fn to_json(outcomes: &[DriverOutcome]) -> Value {
    Value::Array(
        outcomes
            .iter()
            .map(|o| {
                json!({
                    "name": o.fault.name,
                    "tag": o.fault.tag,
                    "summary": o.fault.summary,
                    "target": o.fault.target.shown(),
                    "test": o.fault.test,
                    "caught": o.caught(),
                    "controlPassed": o.control.is_ok(),
                    "evidence": o.evidence(),
                })
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Every driver fault is one the reference plants, under the same tag, and names a real
    /// tag and a test that exists [HP-86].
    #[test]
    fn every_driver_fault_is_planted_in_the_reference_with_its_test() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let planted = std::fs::read_to_string(root.join("reference/src/fault.rs"))
            .expect("reference/src/fault.rs");
        let tags = threads_vectors::lint::spec_tags(&root.join("spec")).expect("spec/");
        let names: BTreeSet<_> = DRIVER_FAULTS.iter().map(|f| f.name).collect();
        assert_eq!(names.len(), DRIVER_FAULTS.len(), "unique names");
        for f in DRIVER_FAULTS {
            assert!(
                planted.contains(&format!("(\"{}\", \"{}\")", f.name, f.tag)),
                "{} [{}] is not in reference/src/fault.rs",
                f.name,
                f.tag
            );
            assert!(tags.contains_key(f.tag), "{}: {}", f.name, f.tag);
            assert!(
                super::super::find(f.name).is_none(),
                "{}: an adapter fault too",
                f.name
            );
            let file = match f.target {
                Target::Lib => {
                    let module = f.test.rsplit_once("::tests::").expect("a unit test").0;
                    let path = root.join("reference/src").join(module.replace("::", "/"));
                    let file = path.with_extension("rs");
                    if file.is_file() {
                        file
                    } else {
                        path.join("tests.rs")
                    }
                }
                Target::Test(name) => root.join(format!("reference/tests/{name}.rs")),
            };
            let text = std::fs::read_to_string(&file).expect("the test's file");
            let leaf = f.test.rsplit("::").next().unwrap_or(f.test);
            assert!(
                text.contains(&format!("fn {leaf}(")),
                "{}: {}",
                f.name,
                f.test
            );
        }
        let planted_count =
            planted.matches("\", \"SYNC-").count() + planted.matches("\", \"DB-").count();
        assert_eq!(
            planted_count,
            DRIVER_FAULTS.len(),
            "every planted fault has its test"
        );
    }

    /// A fault is caught only when its test passed without it and failed with it: a test that
    /// fails anyway, or a run that did not run the test, proves nothing [HP-86].
    #[test]
    fn a_catch_needs_the_control_to_pass_and_the_faulted_run_to_fail() {
        let fault = &DRIVER_FAULTS[0];
        let outcome = |control: Result<(), &str>, faulted: Result<&str, &str>| DriverOutcome {
            fault,
            control: control.map_err(String::from),
            faulted: faulted.map(String::from).map_err(String::from),
        };
        assert!(outcome(Ok(()), Ok("failed at x")).caught());
        let broken = outcome(Err("fails: failed at x"), Ok("failed at x"));
        assert!(!broken.caught());
        assert!(broken.evidence().starts_with("no proof: without the fault"));
        assert!(!outcome(Ok(()), Err("the test passed with the fault on")).caught());
        assert!(!outcome(Ok(()), Err("no proof: timed out after 600 s")).caught());
        let rendered = render(&[broken]);
        assert!(rendered.contains("MISSED") && rendered.contains("0 of 1 driver faults caught"));
    }

    #[test]
    fn a_panic_message_is_found_on_its_two_lines() {
        let out = "running 1 test\n\nthread 'x' (1) panicked at reference/src/a.rs:3:5:\nassertion failed\n";
        assert_eq!(
            panic_of(out, ""),
            "failed at reference/src/a.rs:3:5: assertion failed"
        );
    }
}
