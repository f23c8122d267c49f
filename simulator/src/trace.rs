//! The run's trace, its hash and its statistics.
//!
//! Every send, delivery, drop, fault and tick effect is one line `time step text`; the trace hash
//! is the SHA-256 of all lines, each followed by a line feed. Nothing in a line depends on the
//! wall clock or on map iteration order, so the same seed always gives the same hash.

use std::collections::BTreeMap;
use std::fmt;

use sha2::{Digest, Sha256};
use threads::id::{LogId, ThreadId};
use threads::sync::Message;

use crate::plan::{Millis, NodeIx};

/// The trace: always hashed, kept only when a report is wanted.
pub struct Trace {
    hasher: Sha256,
    count: u64,
    kept: Option<Vec<String>>,
}

impl Trace {
    /// A trace that keeps its lines if `keep`.
    pub fn new(keep: bool) -> Trace {
        Trace {
            hasher: Sha256::new(),
            count: 0,
            kept: keep.then(Vec::new),
        }
    }

    /// Adds one line.
    pub fn line(&mut self, time: Millis, step: u64, text: &str) {
        let line = format!("{time:>9} {step:>8} {text}");
        self.hasher.update(line.as_bytes());
        self.hasher.update(b"\n");
        self.count += 1;
        if let Some(kept) = &mut self.kept {
            kept.push(line);
        }
    }

    /// The hash of every line so far, in hex.
    pub fn hash(&self) -> String {
        hex::encode(self.hasher.clone().finalize())
    }

    /// How many lines were written.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The lines, if kept.
    pub fn into_lines(self) -> Option<Vec<String>> {
        self.kept
    }
}

/// Short names for nodes, threads and logs in traces and reports.
#[derive(Debug, Clone, Default)]
pub struct Names {
    /// Node names, by index.
    pub nodes: Vec<String>,
    threads: BTreeMap<ThreadId, String>,
    logs: BTreeMap<LogId, String>,
}

impl Names {
    /// Names for these nodes.
    pub fn new(nodes: Vec<String>) -> Names {
        Names {
            nodes,
            ..Names::default()
        }
    }

    /// The node's name.
    pub fn node(&self, ix: NodeIx) -> &str {
        self.nodes.get(ix).map_or("?", String::as_str)
    }

    /// Names the k-th thread `tk`.
    pub fn add_thread(&mut self, thread: &ThreadId) {
        let name = format!("t{}", self.threads.len());
        self.threads.entry(thread.clone()).or_insert(name);
    }

    /// Names a log after its writer (and the thread, after the first).
    pub fn add_log(&mut self, log: LogId, writer: NodeIx, thread: &ThreadId) {
        let base = self.node(writer).to_string();
        let name = match self.thread(thread).as_str() {
            "t0" => base,
            t => format!("{base}/{t}"),
        };
        self.logs.entry(log).or_insert(name);
    }

    /// The thread's short name.
    pub fn thread(&self, thread: &ThreadId) -> String {
        self.threads
            .get(thread)
            .cloned()
            .unwrap_or_else(|| thread.to_string())
    }

    /// The log's short name, or its ID's last characters.
    pub fn log(&self, log: &LogId) -> String {
        if let Some(name) = self.logs.get(log) {
            return name.clone();
        }
        let text = log.to_string();
        format!("log…{}", &text[text.len().saturating_sub(6)..])
    }

    /// A short description of a message for the trace; the bytes of an implementation that
    /// speaks another wire format are shown as `msg`.
    pub fn message(&self, bytes: &[u8]) -> String {
        match Message::from_bytes(bytes) {
            Ok(Message::Pull {
                thread, log, after, ..
            }) => format!(
                "pull {}:{} after {after}",
                self.thread(&thread),
                self.log(&log)
            ),
            Ok(Message::Records {
                thread,
                log,
                counter,
                envelopes,
            }) => format!(
                "records {}:{} n={} counter {counter}",
                self.thread(&thread),
                self.log(&log),
                envelopes.len()
            ),
            Ok(Message::Heads { thread, heads }) => {
                format!("heads {} n={}", self.thread(&thread), heads.len())
            }
            Ok(Message::Auth {
                thread,
                nonce,
                proof,
            }) => format!(
                "auth {}{}{}",
                self.thread(&thread),
                if nonce.is_empty() { "" } else { " nonce" },
                if proof.is_empty() { "" } else { " proof" }
            ),
            Err(_) => "msg".into(),
        }
    }
}

/// What the run did, in numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Events processed.
    pub steps: u64,
    /// Trace lines.
    pub lines: u64,
    /// Messages sent (pushes, pulls, answers, heads and each publication copy).
    pub messages: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Messages handed to their recipient.
    pub delivered: u64,
    /// Dropped by the link model.
    pub lost: u64,
    /// Dropped by a cut (partition, one-way cut, flapping link).
    pub cut: u64,
    /// Dropped because the sender or the recipient was offline or down.
    pub offline: u64,
    /// Addressed to a peer that is no node of the run.
    pub unknown: u64,
    /// Extra copies delivered.
    pub duplicated: u64,
    /// Messages tampered with in flight.
    pub tampered: u64,
    /// Records nodes rejected [SYNC-6].
    pub rejected: u64,
    /// Messages a stranger forged ([`crate::plan::Attack`], [SYNC-21]).
    pub attacks: u64,
    /// Records written by the writers.
    pub records: u64,
    /// When the workload and the faults were over.
    pub quiet_at: Millis,
    /// When every peer held everything, if it happened.
    pub converged_at: Option<Millis>,
    /// Virtual time at the end of the run.
    pub end: Millis,
}

impl Stats {
    /// Virtual time from the end of the faults to convergence.
    pub fn to_converge(&self) -> Option<Millis> {
        self.converged_at.map(|at| at.saturating_sub(self.quiet_at))
    }
}

fn secs(ms: Millis) -> String {
    format!("{:.3} s", ms as f64 / 1000.0)
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "messages  {} ({} bytes); delivered {}, duplicated {}, tampered {}",
            self.messages, self.bytes, self.delivered, self.duplicated, self.tampered
        )?;
        writeln!(
            f,
            "dropped   {} lost, {} cut, {} offline or down, {} to unknown peers; {} records rejected",
            self.lost, self.cut, self.offline, self.unknown, self.rejected
        )?;
        if self.attacks > 0 {
            writeln!(f, "attacks   {} messages forged by strangers", self.attacks)?;
        }
        let converge = match self.to_converge() {
            Some(ms) => format!("converged {} after the faults stopped", secs(ms)),
            None => "did not converge".into(),
        };
        write!(
            f,
            "time      {} virtual, faults over at {}; {converge}; {} records, {} steps",
            secs(self.end),
            secs(self.quiet_at),
            self.records,
            self.steps
        )
    }
}
