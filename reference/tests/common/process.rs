//! `threads-node` processes for the tests that run real nodes (`tests/node.rs`,
//! `tests/hostile.rs`): spawn, drive over the stdin/stdout control channel, restart, crash, and
//! read their memory from `/proc` and their store from disk.
//!
//! The crate that includes this module names the log filter its nodes run with, `LOG_FILTER`
//! (`RUST_LOG` syntax): the hostile suite floods nodes with attacks, so it logs less.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long one reply may take. Loaded machines, debug builds.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(120);

/// How long a replication, or a start that re-verifies a long store, may take before the test
/// gives up. Debug builds verify signatures slowly, and these machines are loaded.
pub const SYNC_TIMEOUT: Duration = Duration::from_secs(300);

/// One log's head CID (null before the first record) and counter, as `heads` reports them.
pub type Heads = BTreeMap<String, (Value, u64)>;

/// A `threads-node` process and its control channel.
pub struct Node {
    pub name: &'static str,
    pub dir: PathBuf,
    pub child: Child,
    pub stdin: Option<ChildStdin>,
    pub replies: Receiver<String>,
    /// Set, the thread that reads stdout stops reading, as a controller that hangs would.
    pub deaf: Arc<AtomicBool>,
    /// Its peer ID and listen addresses, from the ready line.
    pub peer: String,
    pub addrs: Vec<String>,
}

impl Node {
    /// Starts a node on `dir` (created if missing) and waits for its ready line. Its log goes to
    /// `<dir>.log`, shown when a wait times out.
    pub fn spawn(name: &'static str, dir: &Path) -> Node {
        Node::spawn_with(name, dir, &[])
    }

    /// [`Node::spawn`] with more command-line arguments. The log is appended to, so that it
    /// tells the story of every restart.
    pub fn spawn_with(name: &'static str, dir: &Path, extra: &[&str]) -> Node {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log_path(dir))
            .expect("log file");
        let mut child = Command::new(env!("CARGO_BIN_EXE_threads-node"))
            .args(["--data", path_str(dir), "--exit-on-stdin-close"])
            .args(extra)
            .env("RUST_LOG", crate::LOG_FILTER)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("spawn threads-node");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, replies) = channel();
        let deaf = Arc::new(AtomicBool::new(false));
        let deafened = Arc::clone(&deaf);
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                while deafened.load(Ordering::SeqCst) {
                    thread::sleep(Duration::from_millis(100));
                }
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut node = Node {
            name,
            dir: dir.to_owned(),
            stdin: child.stdin.take(),
            child,
            replies,
            deaf,
            peer: String::new(),
            addrs: Vec::new(),
        };
        let ready = node.reply_within(SYNC_TIMEOUT);
        assert_eq!(ready["ready"], true, "{name}: first line {ready}");
        node.peer = ready["peer"].as_str().expect("peer").to_owned();
        node.addrs = strings(&ready["addrs"]);
        assert!(!node.addrs.is_empty(), "{name} listens somewhere");
        node
    }

    /// Its first listen address, with `/p2p/`.
    pub fn addr(&self) -> &str {
        &self.addrs[0]
    }

    /// Its peer ID, parsed.
    pub fn peer_id(&self) -> libp2p::PeerId {
        self.peer.parse().expect("peer ID")
    }

    /// The next reply line, parsed.
    pub fn reply(&mut self) -> Value {
        self.reply_within(REPLY_TIMEOUT)
    }

    pub fn reply_within(&mut self, timeout: Duration) -> Value {
        match self.replies.recv_timeout(timeout) {
            Ok(line) => serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {line}", self.name)),
            Err(RecvTimeoutError::Timeout) => self.fail("no reply in time"),
            Err(RecvTimeoutError::Disconnected) => self.fail("stdout closed"),
        }
    }

    /// Sends one command line and returns its reply, whatever it says.
    pub fn send(&mut self, line: &str) -> Value {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{line}").expect("write command");
        stdin.flush().expect("flush command");
        self.reply()
    }

    /// Sends one command line and returns its reply, which must be a success. A failure shows
    /// the line's start only: attack lines can be megabytes long.
    pub fn ok(&mut self, line: &str) -> Value {
        let reply = self.send(line);
        if reply["ok"] != true {
            let short: String = line.chars().take(80).collect();
            self.fail(&format!("{short:?} failed: {reply}"));
        }
        reply
    }

    /// A new thread of `variant` (`raw` or `acl`).
    pub fn create(&mut self, variant: &str) -> String {
        self.ok(&format!("create {variant}"))["thread"]
            .as_str()
            .expect("thread")
            .to_owned()
    }

    /// Invites `peer` to `thread` as `role`; the invite's hex.
    pub fn invite(&mut self, thread: &str, role: &str, peer: &str) -> String {
        self.ok(&format!("invite {thread} {role} {peer}"))["invite"]
            .as_str()
            .expect("hex")
            .to_owned()
    }

    pub fn heads(&mut self, thread: &str) -> Heads {
        let reply = self.ok(&format!("heads {thread}"));
        reply["logs"]
            .as_object()
            .expect("logs object")
            .iter()
            .map(|(log, h)| {
                let counter = h["counter"].as_u64().expect("counter");
                (log.clone(), (h["head"].clone(), counter))
            })
            .collect()
    }

    /// The `counters` reply.
    pub fn counters(&mut self) -> Value {
        self.ok("counters")
    }

    /// Polls `heads` until `done` accepts them; returns them.
    pub fn wait_for_heads(&mut self, thread: &str, mut done: impl FnMut(&Heads) -> bool) -> Heads {
        let start = Instant::now();
        loop {
            let heads = self.heads(thread);
            if done(&heads) {
                return heads;
            }
            if start.elapsed() > SYNC_TIMEOUT {
                let last = match heads.len() {
                    0..=16 => format!("{heads:?}"),
                    n => format!("{n} logs"),
                };
                self.fail(&format!("heads never got there; last {last}"));
            }
            thread::sleep(Duration::from_millis(250));
        }
    }

    /// The process ID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its peak resident set so far (VmHWM), in bytes.
    pub fn peak_rss(&self) -> u64 {
        proc_status_kb(self.pid(), "VmHWM:") * 1024
    }

    /// Its resident set now (VmRSS), in bytes.
    pub fn rss(&self) -> u64 {
        proc_status_kb(self.pid(), "VmRSS:") * 1024
    }

    /// Sends `stop` and waits for the process to exit.
    pub fn stop(mut self) -> ExitStatus {
        self.ok("stop");
        self.wait_exit()
    }

    pub fn wait_exit(&mut self) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            if start.elapsed() > REPLY_TIMEOUT {
                self.fail("did not exit");
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the process outright (SIGKILL on unix), as a crash would.
    pub fn crash(mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("reap");
    }

    pub fn fail(&self, what: &str) -> ! {
        let log = std::fs::read_to_string(log_path(&self.dir)).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        panic!(
            "{}: {what}\n--- log tail ---\n{}",
            self.name,
            tail.join("\n")
        );
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A field of `/proc/PID/status` in kB; 0 when unreadable (not Linux, process gone).
pub fn proc_status_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

pub fn log_path(dir: &Path) -> PathBuf {
    dir.with_extension("log")
}

pub fn path_str(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temp path")
}

pub fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .expect("an array")
        .iter()
        .map(|v| v.as_str().expect("a string").to_owned())
        .collect()
}

/// What a stopped node's data directory holds for `thread`: its logs with their record counts,
/// and its filed peers, read by reopening the store as a restart would [SYNC-13].
pub fn stored(dir: &Path, thread: &str) -> (BTreeMap<String, u64>, Vec<String>) {
    use rand_core::SeedableRng;
    let store =
        threads::store::redb::RedbStore::open(&dir.join("store.redb")).expect("open the store");
    let identity = threads::node::datadir::open_identity(dir).expect("identity");
    let peer = threads::sync::Peer::open(
        identity,
        rand_chacha::ChaCha20Rng::seed_from_u64(0),
        store,
        0,
    )
    .expect("every stored record verifies and links");
    let thread: threads::id::ThreadId = thread.parse().expect("TID");
    let logs = peer
        .heads(&thread)
        .expect("heads")
        .into_iter()
        .map(|(log, (_, counter))| (log.to_string(), counter))
        .collect();
    let peers = peer
        .peers_of(&thread)
        .into_iter()
        .map(|p| p.to_string())
        .collect();
    (logs, peers)
}

/// Samples a node's control latency: the longest of `samples` `counters` commands, one every
/// `every`.
pub fn sample_latency(node: &mut Node, samples: usize, every: Duration) -> Duration {
    let mut worst = Duration::ZERO;
    for _ in 0..samples {
        let start = Instant::now();
        node.counters();
        worst = worst.max(start.elapsed());
        thread::sleep(every);
    }
    worst
}
