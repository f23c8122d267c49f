//! `side-by-side`: the same workload through `threads-node` and through Hypercore, printed beside
//! the Ed25519 bounds measured in the same run (issue 14; see benches/README.md).
//!
//! The workload: events of 1 KiB, two processes over 127.0.0.1. A writer appends one at a time
//! (each durable before the next is asked for) and in batches; a fresh follower (and, for Threads,
//! a reader) catches up the whole log. Threads runs its `threads-node` binary as a user would
//! (control lines on stdin, `threads-node append` with one event per stdin line); Hypercore runs
//! under Node from `benches/hypercore` (installed with `npm ci`), with RAM and file storage.
//!
//! Every rate is printed beside its bound, measured in this run on this machine: a follower must
//! strictly verify one Ed25519 signature per event [SIG-2], and a writer sign one [SIG-1], so the
//! bounds are cores × one core's strict-verify rate and cores × one core's sign rate.
//!
//! ```sh
//! cargo run --release -p threads-benches --bin side-by-side            # 100,000 events
//! cargo run --release -p threads-benches --bin side-by-side -- --quick # 10,000 events
//! cargo run --release -p threads-benches --bin side-by-side -- --memory 10000,100000,1000000
//! cargo run --release -p threads-benches --bin side-by-side -- --memory 100000 --perf follower.perf.data
//! ```

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use threads_benches::{Ed25519Fixture, thousands};

/// Bytes of every event body.
const EVENT_BYTES: usize = 1024;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| args.iter().any(|a| a == name);
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let quick = flag("--quick");
    let events: u64 = value("--events")
        .and_then(|v| v.parse().ok())
        .unwrap_or(if quick { 10_000 } else { 100_000 });
    let singles: u64 = value("--singles")
        .and_then(|v| v.parse().ok())
        .unwrap_or(if quick { 300 } else { 2_000 });
    // `THREADS_NODE=PATH` runs another build (e.g. an older one, for before/after figures).
    let node_bin = std::env::var_os("THREADS_NODE").map_or_else(build_threads_node, PathBuf::from);
    let scratch = tempfile::tempdir().expect("a scratch directory");
    if let Some(sizes) = value("--memory") {
        let list =
            |text: &str| -> Vec<u64> { text.split(',').filter_map(|s| s.parse().ok()).collect() };
        let readers = value("--readers").map_or_else(Vec::new, |r| list(&r));
        let perf = value("--perf").map(PathBuf::from);
        memory_curve(
            &node_bin,
            scratch.path(),
            &list(&sizes),
            &readers,
            perf.as_deref(),
        );
        return;
    }
    let bounds = Bounds::measure();
    println!("{}", bounds.describe());
    let mut rows = Vec::new();
    rows.extend(threads_side(&node_bin, scratch.path(), events, singles));
    let hyper = hypercore_side(scratch.path(), events, singles);
    let after = Bounds::measure();
    println!("bounds measured again after the runs: {}", after.describe());
    // The machine's load may change during the runs: the fractions use the mean of the two.
    let mean = Bounds {
        verify: (bounds.verify + after.verify) / 2.0,
        sign: (bounds.sign + after.sign) / 2.0,
        together: (bounds.together + after.together) / 2.0,
        cores: bounds.cores,
    };
    println!("fractions below are of the mean: {}", mean.describe());
    print_table(&rows, hyper.as_ref(), &mean, events, singles);
}

/// One core's strict-verify and sign rates, and the cores, measured now; and the strict-verify
/// rate of all cores verifying at once, which on a virtual machine whose cores share physical
/// ones (hyperthreads, or a busy host) is below cores × one core's rate.
#[derive(Debug, Clone, Copy)]
struct Bounds {
    verify: f64,
    sign: f64,
    together: f64,
    cores: usize,
}

impl Bounds {
    fn measure() -> Bounds {
        let fixture = Ed25519Fixture::new(1);
        Bounds {
            verify: per_second(|| assert!(fixture.verify())),
            sign: per_second(|| {
                std::hint::black_box(fixture.sign());
            }),
            together: verify_on_every_core(),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }

    fn verify_bound(&self) -> f64 {
        self.verify * self.cores as f64
    }

    fn sign_bound(&self) -> f64 {
        self.sign * self.cores as f64
    }

    fn describe(&self) -> String {
        format!(
            "bounds: {} cores; one core {} strict verifies/s and {} signs/s (200-byte message); \
             follower bound {} events/s, writer bound {} events/s; all cores verifying at once \
             {} verifies/s ({:.2} of the follower bound)",
            self.cores,
            thousands(self.verify),
            thousands(self.sign),
            thousands(self.verify_bound()),
            thousands(self.sign_bound()),
            thousands(self.together),
            self.together / self.verify_bound()
        )
    }
}

/// Strict verifies per second of every core verifying at once, summed: what the machine's cores
/// really give together, measured beside the one-core rate the bounds multiply.
fn verify_on_every_core() -> f64 {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::thread::scope(|scope| {
        let each: Vec<_> = (0..cores)
            .map(|_| {
                scope.spawn(|| {
                    let fixture = Ed25519Fixture::new(1);
                    per_second(|| assert!(fixture.verify()))
                })
            })
            .collect();
        each.into_iter()
            .map(|t| t.join().expect("a verify thread"))
            .sum()
    })
}

/// Calls of `f` per second over about one second.
fn per_second(mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut calls = 0u64;
    while start.elapsed() < Duration::from_secs(1) {
        for _ in 0..64 {
            f();
        }
        calls += 64;
    }
    calls as f64 / start.elapsed().as_secs_f64()
}

/// One measured row of the Threads side.
struct Row {
    what: &'static str,
    events: u64,
    seconds: f64,
    /// Peak RSS of the process measured, bytes.
    peak_rss: Option<u64>,
    /// Which bound applies: true for the writer's sign bound, false for the verify bound.
    writer: bool,
}

impl Row {
    fn rate(&self) -> f64 {
        self.events as f64 / self.seconds
    }
}

/// Builds `threads-node` in release mode beside this runner and returns its path.
fn build_threads_node() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(&root)
        .args([
            "build",
            "--release",
            "-p",
            "threads-reference",
            "--features",
            "node",
            "--bin",
            "threads-node",
        ])
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building threads-node failed");
    let exe = std::env::current_exe().expect("this runner's path");
    let bin = exe
        .parent()
        .expect("the runner sits in a target directory")
        .join("threads-node");
    assert!(bin.exists(), "{} was not built", bin.display());
    bin
}

/// A `threads-node` process on a data directory, its replies read on a thread of their own so
/// that a controller writing ahead never deadlocks on a full pipe.
struct Node {
    child: Child,
    stdin: ChildStdin,
    replies: mpsc::Receiver<Value>,
}

impl Node {
    fn start(bin: &Path, dir: &Path) -> Node {
        Node::start_under(bin, dir, None)
    }

    /// Starts the node, under `perf record -g -o FILE` when `perf` names a file.
    fn start_under(bin: &Path, dir: &Path, perf: Option<&Path>) -> Node {
        let mut command = match perf {
            Some(out) => {
                let mut c = Command::new("perf");
                // `PERF_CALL_GRAPH=dwarf` for whole stacks where frame pointers are missing.
                let graph = std::env::var("PERF_CALL_GRAPH").unwrap_or_else(|_| "fp".into());
                c.args(["record", "--call-graph", &graph, "-o", path_str(out), "--"])
                    .arg(bin);
                c
            }
            None => Command::new(bin),
        };
        let mut child = command
            .args(["--data", path_str(dir), "--listen", "/ip4/127.0.0.1/tcp/0"])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("threads-node starts");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let (tx, replies) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines() {
                let Ok(line) = line else { break };
                let Ok(value) = serde_json::from_str::<Value>(&line) else {
                    break;
                };
                if tx.send(value).is_err() {
                    break;
                }
            }
        });
        let mut node = Node {
            child,
            stdin,
            replies,
        };
        let ready = node.reply();
        assert_eq!(ready["ready"], Value::Bool(true), "{ready}");
        node
    }

    fn write(&mut self, text: &str) {
        self.stdin
            .write_all(text.as_bytes())
            .and_then(|()| self.stdin.flush())
            .expect("the node reads commands");
    }

    fn reply(&mut self) -> Value {
        self.replies
            .recv_timeout(Duration::from_secs(600))
            .expect("the node answers")
    }

    fn ok(&mut self, line: &str) -> Value {
        self.write(&format!("{line}\n"));
        let reply = self.reply();
        assert_eq!(reply["ok"], Value::Bool(true), "{line}: {reply}");
        reply
    }

    fn peak_rss(&self) -> Option<u64> {
        peak_rss(self.child.id())
    }

    fn stop(mut self) {
        self.write("stop\n");
        let _ = self.child.wait();
    }
}

/// VmHWM of a process, bytes (Linux only).
fn peak_rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

/// Event `i`'s body: 1 KiB of text (a control line carries it verbatim).
fn event_text(i: u64) -> String {
    let mut text = format!("event {i:010} ");
    text.push_str(&"x".repeat(EVENT_BYTES - text.len()));
    text
}

/// The Threads side: single and batched appends, then a follower's and a reader's catch-up.
fn threads_side(bin: &Path, scratch: &Path, events: u64, singles: u64) -> Vec<Row> {
    let mut rows = Vec::new();
    // Single appends: one control line at a time, each answered once durable.
    let single_dir = scratch.join("threads-single");
    let mut node = Node::start(bin, &single_dir);
    let thread = node.ok("create raw")["thread"]
        .as_str()
        .expect("a thread")
        .to_owned();
    let start = Instant::now();
    for i in 0..singles {
        node.ok(&format!("append {thread} {}", event_text(i)));
    }
    rows.push(Row {
        what: "writer appends, one at a time (control line, answered when durable)",
        events: singles,
        seconds: start.elapsed().as_secs_f64(),
        peak_rss: node.peak_rss(),
        writer: true,
    });
    node.stop();

    // Batched: `threads-node append` with one event per stdin line, batched as they arrive.
    let writer_dir = scratch.join("threads-writer");
    let mut node = Node::start(bin, &writer_dir);
    let thread = node.ok("create raw")["thread"]
        .as_str()
        .expect("a thread")
        .to_owned();
    node.stop();
    let (seconds, rss) = append_from_stdin(bin, &writer_dir, &thread, events);
    rows.push(Row {
        what: "writer appends from stdin (`threads-node append`, batched as lines arrive)",
        events,
        seconds,
        peak_rss: rss,
        writer: true,
    });
    println!("threads: writer appends done");

    let mut writer = Node::start(bin, &writer_dir);
    for (role, what) in [
        ("follower", "a fresh follower catches up (durable)"),
        ("reader", "a fresh reader catches up (durable)"),
    ] {
        let (seconds, rss, _) = catch_up(bin, scratch, &mut writer, &thread, role, events, None);
        rows.push(Row {
            what,
            events,
            seconds,
            peak_rss: rss,
            writer: false,
        });
        println!("threads: {role} caught up");
    }
    writer.stop();
    rows
}

/// Runs `threads-node append` on `dir` with `events` lines on stdin; its wall time and peak RSS.
fn append_from_stdin(bin: &Path, dir: &Path, thread: &str, events: u64) -> (f64, Option<u64>) {
    let start = Instant::now();
    let mut child = Command::new(bin)
        .args(["append", "--data", path_str(dir), "--thread", thread])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("threads-node append starts");
    let mut stdin = child.stdin.take().expect("stdin");
    let feeder = std::thread::spawn(move || {
        let mut out = std::io::BufWriter::new(&mut stdin);
        for i in 0..events {
            writeln!(out, "{}", event_text(i)).expect("append reads stdin");
        }
    });
    let stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut last = Value::Null;
    let mut count = 0u64;
    let mut rss = None;
    for line in stdout.lines() {
        let line = line.expect("append's output");
        count += 1;
        if count == events {
            last = serde_json::from_str(&line).expect("a JSON reply");
            rss = peak_rss(child.id());
        }
    }
    feeder.join().expect("feeder");
    assert!(
        child.wait().expect("append exits").success(),
        "append failed"
    );
    assert_eq!(last["seq"].as_u64(), Some(events), "{last}");
    (start.elapsed().as_secs_f64(), rss)
}

/// Starts a fresh node, has `writer` invite it as `role`, and times from `join` until its heads
/// show the writer's whole log; the wall time, the joiner's peak RSS, and its peak RSS when it
/// restarts on its data directory afterwards.
fn catch_up(
    bin: &Path,
    scratch: &Path,
    writer: &mut Node,
    thread: &str,
    role: &str,
    events: u64,
    perf: Option<&Path>,
) -> (f64, Option<u64>, Option<u64>) {
    let dir = scratch.join(format!("threads-{role}-{events}"));
    let mut joiner = Node::start_under(bin, &dir, perf);
    let id = joiner.ok("id")["peer"].as_str().expect("an ID").to_owned();
    let invite = writer.ok(&format!("invite {thread} {role} {id}"))["invite"]
        .as_str()
        .expect("an invite")
        .to_owned();
    let start = Instant::now();
    joiner.ok(&format!("join {invite}"));
    loop {
        let heads = joiner.ok(&format!("heads {thread}"));
        let counter = heads["logs"]
            .as_object()
            .and_then(|logs| logs.values().next())
            .and_then(|log| log["counter"].as_u64())
            .unwrap_or(0);
        if counter >= events {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let seconds = start.elapsed().as_secs_f64();
    let rss = joiner.peak_rss();
    joiner.stop();
    // The joiner restarted on what it stored: every record read back and verified [SYNC-13].
    let mut restarted = Node::start(bin, &dir);
    restarted.ok(&format!("heads {thread}"));
    let restart_rss = restarted.peak_rss();
    restarted.stop();
    let _ = std::fs::remove_dir_all(&dir);
    (seconds, rss, restart_rss)
}

/// Hypercore's figures, by storage: `ram` and `file`.
struct Hyper {
    single: [f64; 2],
    batched: [f64; 2],
    follow: [f64; 2],
    follow_rss: [Option<u64>; 2],
}

/// The Hypercore side, or `None` (with the reason printed) when Node or npm is absent.
fn hypercore_side(scratch: &Path, events: u64, singles: u64) -> Option<Hyper> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("hypercore");
    let present = |tool: &str| {
        Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !present("node") || !present("npm") {
        println!("hypercore: skipped, node or npm is not installed");
        return None;
    }
    if !dir.join("node_modules").exists() {
        let ok = Command::new("npm")
            .current_dir(&dir)
            .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund"])
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            println!("hypercore: skipped, `npm ci` in {} failed", dir.display());
            return None;
        }
    }
    let script = dir.join("bench.js");
    let mut hyper = Hyper {
        single: [0.0; 2],
        batched: [0.0; 2],
        follow: [0.0; 2],
        follow_rss: [None; 2],
    };
    for (k, kind) in ["ram", "file"].into_iter().enumerate() {
        let store = |name: &str| scratch.join(format!("hc-{kind}-{name}"));
        let single = node_json(
            &script,
            &[
                "append",
                kind,
                path_str(&store("single")),
                &singles.to_string(),
                "1",
            ],
        );
        hyper.single[k] = rate(&single);
        let batched = node_json(
            &script,
            &[
                "append",
                kind,
                path_str(&store("batched")),
                &events.to_string(),
                "1000",
            ],
        );
        hyper.batched[k] = rate(&batched);
        let (f, rss) = hypercore_follow(&script, kind, &store("serve"), &store("follow"), events);
        hyper.follow[k] = f;
        hyper.follow_rss[k] = rss;
        println!("hypercore: {kind} done");
    }
    Some(hyper)
}

fn rate(result: &Value) -> f64 {
    result["events"].as_f64().unwrap_or(0.0) / result["seconds"].as_f64().unwrap_or(f64::INFINITY)
}

/// Runs `node bench.js ARGS` and returns its JSON line.
fn node_json(script: &Path, args: &[&str]) -> Value {
    let output = Command::new("node")
        .arg(script)
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .expect("node runs");
    assert!(output.status.success(), "node bench.js {args:?} failed");
    serde_json::from_slice(&output.stdout).expect("a JSON line")
}

/// A Hypercore server with `events` blocks and a fresh follower downloading them all, both on
/// `kind` storage; the follower's rate and peak RSS.
fn hypercore_follow(
    script: &Path,
    kind: &str,
    serve_dir: &Path,
    follow_dir: &Path,
    events: u64,
) -> (f64, Option<u64>) {
    let mut server = Command::new("node")
        .arg(script)
        .args(["serve", kind, path_str(serve_dir), &events.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node runs");
    let mut line = String::new();
    BufReader::new(server.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the server's line");
    let served: Value = serde_json::from_str(&line).expect("JSON");
    let key = served["key"].as_str().expect("a key").to_owned();
    let port = served["port"].to_string();
    let followed = node_json(
        script,
        &[
            "follow",
            kind,
            path_str(follow_dir),
            &key,
            &port,
            &events.to_string(),
        ],
    );
    drop(server.stdin.take());
    let _ = server.wait();
    (rate(&followed), followed["peak_rss"].as_u64())
}

/// The memory curve: for each size, a writer batch-appends that many events to a fresh log, then
/// a fresh durable follower (and, for the sizes in `readers`, a fresh reader) catches it up; its
/// rate beside the strict-verify bound measured just before and after it, and the peak RSS
/// (VmHWM) of the joiner, of the joiner restarted on its store, and of the writer serving it.
/// With `perf`, the joiner runs under
/// `perf record -g` (its RSS is then perf's, not printed).
fn memory_curve(bin: &Path, scratch: &Path, sizes: &[u64], readers: &[u64], perf: Option<&Path>) {
    let mut lines = Vec::new();
    for &events in sizes {
        let dir = scratch.join(format!("threads-writer-{events}"));
        let mut node = Node::start(bin, &dir);
        let thread = node.ok("create raw")["thread"]
            .as_str()
            .expect("a thread")
            .to_owned();
        node.stop();
        let (append_seconds, _) = append_from_stdin(bin, &dir, &thread, events);
        println!(
            "{} events appended in {append_seconds:.1} s",
            thousands(events as f64)
        );
        let roles: &[&str] = if readers.contains(&events) {
            &["follower", "reader"]
        } else {
            &["follower"]
        };
        for role in roles {
            let mut writer = Node::start(bin, &dir);
            let before = Bounds::measure();
            let (seconds, rss, restart_rss) =
                catch_up(bin, scratch, &mut writer, &thread, role, events, perf);
            let after = Bounds::measure();
            let writer_rss = writer.peak_rss();
            writer.stop();
            let bound = (before.verify_bound() + after.verify_bound()) / 2.0;
            let together = (before.together + after.together) / 2.0;
            let rate = events as f64 / seconds;
            let mb =
                |b: Option<u64>| b.map_or("—".to_owned(), |b| format!("{} MB", b / 1_000_000));
            let line = format!(
                "| {} | {role} | {seconds:.1} s | {} | {} | {:.2} | {} | {:.2} | {} | {} | {} | {} |",
                thousands(events as f64),
                thousands(rate),
                thousands(bound),
                rate / bound,
                thousands(together),
                rate / together,
                if perf.is_some() {
                    "—".to_owned()
                } else {
                    mb(rss)
                },
                rss.filter(|_| perf.is_none())
                    .map_or("—".to_owned(), |b| thousands(b as f64 / events as f64)),
                mb(restart_rss),
                mb(writer_rss),
            );
            println!("{line}");
            lines.push(line);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    println!();
    println!(
        "| events | joiner | catch-up | events/s | bound (cores × strict verifies/s, same run) | ratio | all cores verifying at once (same run) | ratio | joiner peak RSS | bytes per event | joiner restarted, peak RSS | writer (serving) peak RSS |"
    );
    println!(
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for line in lines {
        println!("{line}");
    }
}

fn print_table(rows: &[Row], hyper: Option<&Hyper>, bounds: &Bounds, events: u64, singles: u64) {
    println!();
    println!(
        "{} events of {EVENT_BYTES} bytes ({singles} for one-at-a-time appends), two processes over 127.0.0.1",
        thousands(events as f64)
    );
    println!(
        "| what | threads-node events/s | fraction of its bound | Hypercore RAM | Hypercore file | threads / RAM | threads / file | peak RSS (threads) |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (i, row) in rows.iter().enumerate() {
        let bound = if row.writer {
            bounds.sign_bound()
        } else {
            bounds.verify_bound()
        };
        // Beside the verify bound, the fraction of what all cores verifying at once gave.
        let at_once = if row.writer {
            String::new()
        } else {
            format!(
                " ({:.1}% of {} at once)",
                100.0 * row.rate() / bounds.together,
                thousands(bounds.together)
            )
        };
        // Rows are single, batched, follower, reader; Hypercore has no reader.
        let theirs = hyper.and_then(|h| match i {
            0 => Some(h.single),
            1 => Some(h.batched),
            2 => Some(h.follow),
            _ => None,
        });
        let cell = |v: Option<f64>| v.map_or("—".to_owned(), thousands);
        let ratio =
            |v: Option<f64>| v.map_or("—".to_owned(), |v| format!("{:.2}x", row.rate() / v));
        println!(
            "| {} | {} | {:.1}% of {}{at_once} | {} | {} | {} | {} | {} |",
            row.what,
            thousands(row.rate()),
            100.0 * row.rate() / bound,
            thousands(bound),
            cell(theirs.map(|t| t[0])),
            cell(theirs.map(|t| t[1])),
            ratio(theirs.map(|t| t[0])),
            ratio(theirs.map(|t| t[1])),
            row.peak_rss
                .map_or("—".to_owned(), |b| format!("{} MB", b / 1_000_000)),
        );
    }
    if let Some(h) = hyper {
        println!(
            "Hypercore follower peak RSS: RAM {} MB, file {} MB",
            h.follow_rss[0].unwrap_or(0) / 1_000_000,
            h.follow_rss[1].unwrap_or(0) / 1_000_000
        );
    }
}
