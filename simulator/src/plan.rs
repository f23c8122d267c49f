//! What a run does: the peers, the link model, the workload script and the fault schedule.
//!
//! A scenario ([`crate::scenarios`]) builds a [`Plan`] from its parameters and the seed; the engine
//! ([`crate::sim`]) plays it. The fault schedule is a separate list so that the shrinker
//! ([`crate::shrink`]) can remove faults and noise and replay what is left.

use std::collections::BTreeMap;
use std::fmt;

use threads::acl::Roles;
use threads::id::Variant;
use threads::invite::InviteRole;

use crate::rng::Ppm;

/// A node's index in [`Plan::nodes`].
pub type NodeIx = usize;

/// Virtual time, in milliseconds since the start of the run.
pub type Millis = u64;

/// A peer's clock: its local time is `T0 + offset + t + t · drift / 10^6` at virtual time `t`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Clock {
    /// Constant offset from virtual time, in ms (may be negative).
    pub offset_ms: i64,
    /// Rate error in parts per million (positive: the clock runs fast).
    pub drift_ppm: i64,
}

/// The local time every clock starts from: 2019-10-01T00:00:00Z, as in the harness [HP-43].
pub const T0: u64 = 1_569_888_000_000;

impl Clock {
    /// The local time, in Unix milliseconds, at virtual time `t`.
    pub fn local(&self, t: Millis) -> u64 {
        let t = i128::from(t);
        let local = i128::from(T0)
            + i128::from(self.offset_ms)
            + t
            + t * i128::from(self.drift_ppm) / 1_000_000;
        u64::try_from(local).unwrap_or(0)
    }

    /// How much virtual time passes while this clock advances by `local_ms`.
    pub fn virtual_span(&self, local_ms: u64) -> Millis {
        let rate = 1_000_000 + i128::from(self.drift_ppm);
        let span = i128::from(local_ms) * 1_000_000 / rate.max(1);
        u64::try_from(span).unwrap_or(local_ms).max(1)
    }
}

/// A deliberately broken peer, to prove that the invariants bite (in-process nodes only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Broken {
    /// Its store acknowledges record writes and keeps none of them: after a crash its heads go
    /// back, breaking [SYNC-12]/[SYNC-13].
    ForgetsWrites,
    /// It keeps the records it receives even when they fail verification, breaking [SYNC-6].
    SkipsVerification,
    /// It ignores `heads` messages, so it never learns that it missed a push [SYNC-8].
    IgnoresHeads,
    /// Its reader view shows every event it can open, whatever the ACL says [ACL-7].
    IgnoresAcl,
    /// It answers every `pull` with the records it holds, proven requester or not, breaking
    /// [SYNC-21]: a stranger that pulls is served.
    ServesStrangers,
    /// Its database view applies the events log by log, in the order it holds them, instead of
    /// in the order of [DB-9], breaking [DB-11].
    FoldsInLogOrder,
    /// It answers a `pull` from a peer its ACL gives a role below follow (a revoked member)
    /// with the records asked for, as if the revocation had not been applied, breaking
    /// [SYNC-22].
    IgnoresRevocation,
}

impl Broken {
    /// Every kind, for `--help` and parsing.
    pub const ALL: [Broken; 7] = [
        Broken::ForgetsWrites,
        Broken::SkipsVerification,
        Broken::IgnoresHeads,
        Broken::IgnoresAcl,
        Broken::ServesStrangers,
        Broken::FoldsInLogOrder,
        Broken::IgnoresRevocation,
    ];

    /// The kind's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Broken::ForgetsWrites => "forgets-writes",
            Broken::SkipsVerification => "skips-verification",
            Broken::IgnoresHeads => "ignores-heads",
            Broken::IgnoresAcl => "ignores-acl",
            Broken::ServesStrangers => "serves-strangers",
            Broken::FoldsInLogOrder => "folds-in-log-order",
            Broken::IgnoresRevocation => "ignores-revocation",
        }
    }

    /// The kind named `name`.
    pub fn from_name(name: &str) -> Option<Broken> {
        Broken::ALL.into_iter().find(|b| b.name() == name)
    }
}

/// One peer of the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSpec {
    /// Its name in traces and reports (and its node name in the harness protocol, [HP-27]).
    pub name: String,
    /// Its clock.
    pub clock: Clock,
    /// Set to make it misbehave.
    pub broken: Option<Broken>,
}

/// How one directed link treats a message: delay, loss, duplication and tampering.
///
/// Reordering falls out of the jitter: two messages on one link overtake each other whenever
/// the second draws a shorter delay.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkModel {
    /// Fixed part of the delay.
    pub base_ms: Millis,
    /// Uniform extra delay in `0..=jitter_ms`.
    pub jitter_ms: Millis,
    /// Probability of a long-tail delay on top.
    pub tail_ppm: Ppm,
    /// A long-tail delay is uniform in `0..=tail_ms`.
    pub tail_ms: Millis,
    /// Probability that a message is lost.
    pub loss_ppm: Ppm,
    /// Probability that a message is delivered twice.
    pub dup_ppm: Ppm,
    /// Probability that a message's first envelope is tampered with in flight (one body byte
    /// flipped), so that honest peers must reject it [SYNC-6].
    pub tamper_ppm: Ppm,
}

impl LinkModel {
    /// Switches off one kind of noise (drift is the clocks', not the links').
    pub fn silence(&mut self, noise: Noise) {
        match noise {
            Noise::Loss => self.loss_ppm = 0,
            Noise::Dup => self.dup_ppm = 0,
            Noise::Tamper => self.tamper_ppm = 0,
            Noise::Jitter => {
                self.jitter_ms = 0;
                self.tail_ppm = 0;
            }
            Noise::Drift => {}
        }
    }
}

/// A kind of noise the shrinker (and `--quiet`) can switch off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Noise {
    /// Message loss.
    Loss,
    /// Duplication.
    Dup,
    /// Tampering.
    Tamper,
    /// Jitter and long-tail delays (and so reordering).
    Jitter,
    /// Clock offsets and drift.
    Drift,
}

impl Noise {
    /// Every kind, in the order the shrinker tries them.
    pub const ALL: [Noise; 5] = [
        Noise::Loss,
        Noise::Dup,
        Noise::Tamper,
        Noise::Jitter,
        Noise::Drift,
    ];

    /// The name used by `--quiet`.
    pub fn name(self) -> &'static str {
        match self {
            Noise::Loss => "loss",
            Noise::Dup => "dup",
            Noise::Tamper => "tamper",
            Noise::Jitter => "jitter",
            Noise::Drift => "drift",
        }
    }

    /// The kind named `name`.
    pub fn from_name(name: &str) -> Option<Noise> {
        Noise::ALL.into_iter().find(|n| n.name() == name)
    }
}

/// A workload step, run at its time on one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `node` creates a thread; it becomes thread slot `k` for the k-th creation.
    CreateThread {
        /// The creator.
        node: NodeIx,
        /// Raw or access-controlled.
        variant: Variant,
    },
    /// `node` appends `count` events to its own log in the thread [SYNC-4].
    Append {
        /// The writer.
        node: NodeIx,
        /// The thread slot.
        thread: usize,
        /// How many events, one after the other.
        count: u32,
    },
    /// `node` appends `count` database edits, one event each, to the documents and keys a
    /// seeded draw picks from a small set, so that writers edit the same ones [DB-2].
    DbEdit {
        /// The writer.
        node: NodeIx,
        /// The thread slot.
        thread: usize,
        /// How many edits.
        count: u32,
    },
    /// `from` exports an invite for `to`, who accepts it at once (out of band, as by a QR code).
    Invite {
        /// The inviter.
        from: NodeIx,
        /// The invited peer.
        to: NodeIx,
        /// The thread slot.
        thread: usize,
        /// The role invited to.
        role: InviteRole,
    },
    /// `admin` sets `peer`'s roles in an access-controlled thread; without write, a revocation
    /// whose cut the simulator records for the ACL invariant.
    SetRoles {
        /// The admin.
        admin: NodeIx,
        /// The thread slot.
        thread: usize,
        /// The peer whose entry changes.
        peer: NodeIx,
        /// The new roles.
        roles: Roles,
    },
    /// `from`, which holds no key of the thread, sends `to` something about it: an attack the
    /// membership rules must defeat [SYNC-20], [SYNC-21], [SYNC-23], [SYNC-24].
    Attack {
        /// The attacker.
        from: NodeIx,
        /// The target.
        to: NodeIx,
        /// The thread slot.
        thread: usize,
        /// What it sends.
        attack: Attack,
    },
}

/// What an attacker that knows a Thread ID (and, at worst, its log IDs) but holds none of its
/// keys can send: it never proves membership [SYNC-18].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Attack {
    /// An `auth` with a challenge and no proof, then a `pull` of every log it knows of: the
    /// target answers the challenge and must not serve the pulls [SYNC-20].
    Pull,
    /// A `heads` message naming `entries` random log IDs: at most [SYNC-23]'s 1024 entries is a
    /// well-formed message the target must not act on; more is malformed.
    FloodHeads {
        /// How many log IDs.
        entries: u32,
    },
    /// A `records` push of a real envelope under a log ID it is not of, and of the real records
    /// of a log it names truly: neither may be stored from a stranger [SYNC-20].
    ForgedRecords,
    /// A publication on the thread's topic that the gossip key does not seal, and one that is a
    /// plain `records` message (the pre-membership wire form) [SYNC-24].
    ForgedPublication,
    /// An `auth` message one member sent another, replayed to its recipient and reflected to
    /// its sender, then a `pull`: a proof binds prover and verifier, so neither proves the
    /// stranger [SYNC-18].
    ReplayAuth,
    /// The `auth` messages the attacker itself sent while it was a member, replayed to their
    /// recipients, then a `pull` of every log: a revoked member's old proofs are over nonces
    /// that expired or over a role the ACL took back, and prove nothing [SYNC-19], [SYNC-22].
    ReplayOwnAuth,
}

impl Attack {
    /// The attack's name in traces.
    pub fn name(self) -> String {
        match self {
            Attack::Pull => "pull".into(),
            Attack::FloodHeads { entries } => format!("flood-heads x{entries}"),
            Attack::ForgedRecords => "forged-records".into(),
            Attack::ForgedPublication => "forged-publication".into(),
            Attack::ReplayAuth => "replay-auth".into(),
            Attack::ReplayOwnAuth => "replay-own-auth".into(),
        }
    }
}

/// Something at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timed<T> {
    /// When.
    pub at: Millis,
    /// What.
    pub what: T,
}

/// One fault of the schedule; the shrinker removes whole faults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The directed links are cut from `from` until `until`: a partition (both directions of
    /// every link between two groups) or a one-way cut.
    Cut {
        /// What the cut is, for traces and reports (e.g. `writer,reader | admin,follower`).
        label: String,
        /// The directed links, (sender, receiver).
        links: Vec<(NodeIx, NodeIx)>,
        /// Start.
        from: Millis,
        /// End.
        until: Millis,
    },
    /// The links are cut for `down_ms`, then up for `up_ms`, repeatedly, from `from` to `until`.
    Flap {
        /// What flaps.
        label: String,
        /// The directed links.
        links: Vec<(NodeIx, NodeIx)>,
        /// Start.
        from: Millis,
        /// End.
        until: Millis,
        /// Length of each cut.
        down_ms: Millis,
        /// Length of each gap between cuts.
        up_ms: Millis,
    },
    /// The node is offline (neither sends, receives nor ticks; its state is kept) from `from`
    /// until `until`, or to the end. With `copied_by`, it goes offline at `from` or once that
    /// node holds every record this node wrote, whichever is later (checked every
    /// [`COPY_POLL_MS`]): a scenario about serving from a copy needs the copy to exist, and loss
    /// may delay it past any fixed time.
    Offline {
        /// The node.
        node: NodeIx,
        /// Start.
        from: Millis,
        /// End, if it comes back.
        until: Option<Millis>,
        /// The node whose copy of this node's logs must be whole first.
        copied_by: Option<NodeIx>,
    },
    /// The node crashes at `at` (what is only in memory is lost, its store is kept) and restarts
    /// from its store at `restart`, if ever [SYNC-12], [SYNC-13].
    Crash {
        /// The node.
        node: NodeIx,
        /// When it crashes.
        at: Millis,
        /// When it restarts.
        restart: Option<Millis>,
    },
    /// Between `from` and `until`, the node crashes inside the next write that stores two or
    /// more records at once (a batch of a pull): the write completes, and the node dies before
    /// it does anything else with the batch, its memory (the view it folded included) lost. It
    /// restarts from its store `down_ms` later, where its view must check against its records
    /// [SYNC-12], [SYNC-13], [DB-28].
    CrashInBatch {
        /// The node.
        node: NodeIx,
        /// When it is armed.
        from: Millis,
        /// When it is disarmed if no batch came.
        until: Millis,
        /// How long it stays down.
        down_ms: Millis,
    },
}

/// How often a conditional offline fault checks its copy, in ms.
pub const COPY_POLL_MS: Millis = 100;

impl Fault {
    /// The time the fault is over (its start, for a fault without an end).
    pub fn end(&self) -> Millis {
        match self {
            Fault::Cut { until, .. } | Fault::Flap { until, .. } => *until,
            Fault::Offline { from, until, .. } => until.unwrap_or(*from),
            Fault::Crash { at, restart, .. } => restart.unwrap_or(*at),
            Fault::CrashInBatch { until, down_ms, .. } => until + down_ms,
        }
    }

    /// The windows during which a cut or a flapping fault's links are down, in order; none for
    /// other faults.
    pub fn cut_windows(&self) -> Vec<(Millis, Millis)> {
        match self {
            Fault::Cut { from, until, .. } => vec![(*from, *until)],
            Fault::Flap {
                from,
                until,
                down_ms,
                up_ms,
                ..
            } => {
                let mut windows = Vec::new();
                let mut t = *from;
                while t < *until {
                    let end = (t + down_ms).min(*until);
                    windows.push((t, end));
                    t = end + up_ms;
                }
                windows
            }
            Fault::Offline { .. } | Fault::Crash { .. } | Fault::CrashInBatch { .. } => Vec::new(),
        }
    }

    /// A one-line description using the plan's node names.
    pub fn describe(&self, nodes: &[NodeSpec]) -> String {
        let name = |ix: &NodeIx| nodes.get(*ix).map_or("?", |n| n.name.as_str()).to_string();
        let secs = |t: Millis| format!("{:.1}s", t as f64 / 1000.0);
        match self {
            Fault::Cut {
                label, from, until, ..
            } => format!("cut {label} {}..{}", secs(*from), secs(*until)),
            Fault::Flap {
                label,
                from,
                until,
                down_ms,
                up_ms,
                ..
            } => format!(
                "flap {label} {}..{} (down {down_ms} ms, up {up_ms} ms)",
                secs(*from),
                secs(*until)
            ),
            Fault::Offline {
                node,
                from,
                until,
                copied_by,
            } => {
                let when = match until {
                    Some(until) => format!("{}..{}", secs(*from), secs(*until)),
                    None => format!("from {}", secs(*from)),
                };
                let copy = copied_by.map_or(String::new(), |c| {
                    format!(" (not before {} holds its logs)", name(&c))
                });
                format!("offline {} {when}{copy}", name(node))
            }
            Fault::Crash { node, at, restart } => match restart {
                Some(r) => format!(
                    "crash {} at {}, restart {}",
                    name(node),
                    secs(*at),
                    secs(*r)
                ),
                None => format!("crash {} at {}", name(node), secs(*at)),
            },
            Fault::CrashInBatch {
                node,
                from,
                until,
                down_ms,
            } => format!(
                "crash {} inside its next batch write {}..{}, down {down_ms} ms",
                name(node),
                secs(*from),
                secs(*until)
            ),
        }
    }
}

/// What a scenario needs from the nodes; an implementation without it skips the scenario.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needs {
    /// Clock ticks: retries and head exchange [SYNC-8], [SYNC-10].
    pub ticks: bool,
    /// Crash and restart from storage [SYNC-13].
    pub crash: bool,
    /// Access-controlled threads.
    pub acl: bool,
    /// The database (edits and view CIDs) [DB-11].
    pub db: bool,
}

/// A whole run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The peers.
    pub nodes: Vec<NodeSpec>,
    /// The model of every directed link without an override.
    pub link: LinkModel,
    /// Directed links with a model of their own (a slow or lossy peer).
    pub links: BTreeMap<(NodeIx, NodeIx), LinkModel>,
    /// The workload, in time order.
    pub script: Vec<Timed<Action>>,
    /// The fault schedule.
    pub faults: Vec<Fault>,
    /// Liveness: once the workload and the faults are over, every online peer holding a thread
    /// must hold all of it within this much virtual time.
    pub bound_ms: Millis,
    /// What the nodes must support.
    pub needs: Needs,
}

impl Plan {
    /// When the last action or fault is over: liveness is measured from here.
    pub fn quiet_at(&self) -> Millis {
        let script = self.script.iter().map(|a| a.at);
        let faults = self.faults.iter().map(Fault::end);
        script.chain(faults).max().unwrap_or(0)
    }

    /// The model of the directed link from `from` to `to`.
    pub fn link(&self, from: NodeIx, to: NodeIx) -> LinkModel {
        self.links.get(&(from, to)).copied().unwrap_or(self.link)
    }

    /// The plan with the noise kinds in `quiet` switched off, on every link.
    pub fn without_noise(mut self, quiet: &[Noise]) -> Plan {
        for noise in quiet {
            if *noise == Noise::Drift {
                self.nodes
                    .iter_mut()
                    .for_each(|n| n.clock = Clock::default());
            }
            self.link.silence(*noise);
            self.links.values_mut().for_each(|l| l.silence(*noise));
        }
        self
    }

    /// The plan keeping only the faults at the given indices (in schedule order).
    pub fn keeping_faults(mut self, keep: &[usize]) -> Plan {
        self.faults = self
            .faults
            .into_iter()
            .enumerate()
            .filter(|(i, _)| keep.contains(i))
            .map(|(_, f)| f)
            .collect();
        self
    }

    /// The node named `name`.
    pub fn node(&self, name: &str) -> Option<NodeIx> {
        self.nodes.iter().position(|n| n.name == name)
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, fault) in self.faults.iter().enumerate() {
            writeln!(f, "  fault {i}: {}", fault.describe(&self.nodes))?;
        }
        write!(f, "  links: {}", self.link)?;
        for ((a, b), link) in &self.links {
            let name = |ix: &NodeIx| self.nodes.get(*ix).map_or("?", |n| n.name.as_str());
            write!(f, "\n  link {} -> {}: {link}", name(a), name(b))?;
        }
        Ok(())
    }
}

impl fmt::Display for LinkModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "delay {}+{} ms (tail {} ppm up to {} ms), loss {} ppm, dup {} ppm, tamper {} ppm",
            self.base_ms,
            self.jitter_ms,
            self.tail_ppm,
            self.tail_ms,
            self.loss_ppm,
            self.dup_ppm,
            self.tamper_ppm
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drifting_clock_runs_fast_or_slow_and_starts_at_its_offset() {
        let fast = Clock {
            offset_ms: -500,
            drift_ppm: 1000,
        };
        assert_eq!(fast.local(0), T0 - 500);
        assert_eq!(fast.local(1_000_000), T0 - 500 + 1_001_000);
        assert_eq!(fast.virtual_span(100), 99);
        assert_eq!(Clock::default().virtual_span(100), 100);
    }
}
