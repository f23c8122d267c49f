//! `threads-node` processes for the hostile-peer suite: spawn, drive over the JSON control
//! channel, restart, and read their memory from `/proc` (the same harness as `tests/node.rs`,
//! plus what an attack needs to measure).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long one reply may take.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(120);

/// How long a replication may take before a test gives up. Loaded machines, debug builds.
pub const SYNC_TIMEOUT: Duration = Duration::from_secs(300);

/// One log's head CID and counter, as `heads` reports them.
pub type Heads = BTreeMap<String, (Value, u64)>;

/// A `threads-node` process and its control channel.
pub struct Node {
    pub name: &'static str,
    pub dir: PathBuf,
    child: Child,
    stdin: Option<ChildStdin>,
    replies: Receiver<String>,
    /// Its peer ID and listen addresses, from the ready line.
    pub peer: String,
    pub addrs: Vec<String>,
}

impl Node {
    /// Starts a node on `dir` (created if missing) and waits for its ready line. Its log goes to
    /// `<dir>.log`, shown when a wait times out.
    pub fn spawn(name: &'static str, dir: &Path) -> Node {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log_path(dir))
            .expect("log file");
        let mut child = Command::new(env!("CARGO_BIN_EXE_threads-node"))
            .args(["--data", path_str(dir), "--exit-on-stdin-close"])
            .env("RUST_LOG", "warn,threads=info")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("spawn threads-node");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, replies) = channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
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
            peer: String::new(),
            addrs: Vec::new(),
        };
        let ready = node.reply_within(SYNC_TIMEOUT);
        assert_eq!(ready["ready"], true, "{name}: first line {ready}");
        node.peer = ready["peer"].as_str().expect("peer").to_owned();
        node.addrs = ready["addrs"]
            .as_array()
            .expect("addrs")
            .iter()
            .map(|a| a.as_str().expect("addr").to_owned())
            .collect();
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

    fn reply_within(&mut self, timeout: Duration) -> Value {
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
        self.reply_within(REPLY_TIMEOUT)
    }

    /// Sends one command line and returns its reply, which must be a success.
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
                self.fail(&format!("heads never got there; last {} logs", heads.len()));
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

    pub fn fail(&self, what: &str) -> ! {
        let log = std::fs::read_to_string(log_path(&self.dir)).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(30).collect();
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
/// `every`, and the peak RSS at the end.
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
