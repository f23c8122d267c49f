//! The discrete-event engine: virtual time, one event queue ordered by (time, insertion order), one
//! seeded network RNG. It plays a [`Plan`] on a [`Cluster`], carries every message through the
//! link model, checks the invariants after every step and judges liveness at the end.
//!
//! Each peer is woken when it asks to be (`Peer::poll_timeout`, in its own drifted clock), which
//! drives its retries [SYNC-10], head exchange [SYNC-8] and address expiry [SYNC-9]; the engine
//! asks again after every event that touched the peer. A publication [SYNC-4] goes to every other node that holds the thread, like
//! a gossip mesh, through the same links and faults as a direct message.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use threads::Cid;
use threads::id::{LogId, ThreadId};
use threads::invite::InviteRole;
use threads::sync::Message;

use crate::adversary::{self, OBSERVED_AUTH, Observed};
use crate::check::{self, Checker, Context, Invariant, Stop, Violation};
use crate::error::{Result, SimError};
use crate::nodes::{Cluster, Out};
use crate::plan::{Action, Attack, Fault, Millis, NodeIx, Plan};
use crate::rng::{SimRng, derive_seed};
use crate::trace::{Names, Stats, Trace};

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every invariant held and every peer converged within the bound.
    Pass,
    /// Something broke.
    Fail(Failure),
    /// The nodes lack a capability the scenario needs.
    Skip(String),
}

impl Verdict {
    /// `PASS`, `FAIL` or `SKIP`.
    pub fn word(&self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail(_) => "FAIL",
            Verdict::Skip(_) => "SKIP",
        }
    }

    /// Whether the run failed.
    pub fn failed(&self) -> bool {
        matches!(self, Verdict::Fail(_))
    }
}

/// Why a run failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// An invariant broke.
    Invariant(Violation),
    /// Some peer had not converged when the bound ran out.
    Liveness {
        /// The deadline (quiet time + bound).
        deadline: Millis,
        /// The run's seed.
        seed: u64,
        /// Who lags on what.
        lagging: Vec<String>,
    },
    /// A node refused a step, or the adapter broke.
    Driver {
        /// The step.
        step: u64,
        /// The run's seed.
        seed: u64,
        /// The error.
        error: String,
    },
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Invariant(v) => write!(f, "{v}"),
            Failure::Liveness {
                deadline,
                seed,
                lagging,
            } => write!(
                f,
                "liveness: not converged by t = {deadline} ms (seed {seed}): {}",
                lagging.join("; ")
            ),
            Failure::Driver { step, seed, error } => {
                write!(f, "step {step} (seed {seed}) could not run: {error}")
            }
        }
    }
}

/// One message as the report draws it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrow {
    /// Sender.
    pub from: NodeIx,
    /// Recipient.
    pub to: NodeIx,
    /// When it was sent.
    pub sent: Millis,
    /// When it arrived, or when it would have.
    pub until: Millis,
    /// Why it was dropped, if it was.
    pub dropped: Option<&'static str>,
    /// What it was.
    pub label: String,
}

/// Everything a run produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The verdict.
    pub verdict: Verdict,
    /// The SHA-256 of the trace, in hex.
    pub trace_hash: String,
    /// The numbers.
    pub stats: Stats,
    /// Per node: when it last became converged on all it holds (None: never, or not required).
    pub converged: Vec<(String, Option<Millis>)>,
    /// The trace lines, when kept.
    pub lines: Option<Vec<String>>,
    /// The messages, when kept.
    pub arrows: Vec<Arrow>,
    /// What ran the nodes.
    pub implementation: String,
    /// Wall-clock time of the run.
    pub wall: Duration,
}

impl Outcome {
    /// A run that never started because the nodes lack what it needs ([HP-16]: skipped, not failed).
    pub fn skipped(why: String, implementation: String) -> Outcome {
        Outcome {
            verdict: Verdict::Skip(why),
            trace_hash: Trace::new(false).hash(),
            stats: Stats::default(),
            converged: Vec::new(),
            lines: None,
            arrows: Vec::new(),
            implementation,
            wall: Duration::ZERO,
        }
    }
}

/// Runs `plan` with `seed` on `cluster`; `record` keeps the trace lines and the messages for a
/// report.
///
/// The run's peers share one memo of verification verdicts ([`threads::verify::memoised`]): a
/// record every peer receives is verified once, not once per peer, with the same verdict.
pub fn run(plan: &Plan, seed: u64, cluster: &mut dyn Cluster, record: bool) -> Outcome {
    threads::verify::memoised(|| play(plan, seed, cluster, record))
}

fn play(plan: &Plan, seed: u64, cluster: &mut dyn Cluster, record: bool) -> Outcome {
    let started = Instant::now();
    let mut sim = Sim::new(plan, seed, cluster, record);
    let verdict = match sim.play() {
        Ok(verdict) => verdict,
        Err(e) => Verdict::Fail(Failure::Driver {
            step: sim.step,
            seed,
            error: e.to_string(),
        }),
    };
    sim.finish(verdict, started.elapsed())
}

enum Event {
    Action(usize),
    Effect(Effect),
    Wake(NodeIx),
    Deliver(Packet),
    Deadline,
}

enum Effect {
    Cut(usize, bool),
    Offline(NodeIx, bool),
    /// Offline for good once the second node holds every record the first wrote.
    OfflineOnceCopied(NodeIx, NodeIx),
    Crash(NodeIx),
    Restart(NodeIx),
    /// Arms (or disarms) a crash inside the node's next batch write, down for the given ms.
    CrashInBatch(NodeIx, Option<Millis>),
}

struct Packet {
    id: u64,
    from: NodeIx,
    to: NodeIx,
    bytes: Vec<u8>,
    /// The thread whose topic carried it, for a publication [SYNC-24].
    gossip: Option<ThreadId>,
}

#[derive(Default, Clone, Copy)]
struct Status {
    offline: u32,
    down: bool,
}

struct Sim<'a> {
    plan: &'a Plan,
    seed: u64,
    cluster: &'a mut dyn Cluster,
    queue: BTreeMap<(Millis, u64), Event>,
    inserted: u64,
    now: Millis,
    step: u64,
    net: SimRng,
    status: Vec<Status>,
    /// Nodes armed to crash inside their next batch write, with how long they stay down.
    armed: BTreeMap<NodeIx, Millis>,
    ids: Vec<LogId>,
    /// Active cuts per directed link (cuts may overlap).
    cuts: BTreeMap<(NodeIx, NodeIx), u32>,
    /// The links of each cut, by the index of the effect.
    cut_links: Vec<(String, Vec<(NodeIx, NodeIx)>)>,
    threads: Vec<ThreadId>,
    subs: BTreeMap<ThreadId, BTreeSet<NodeIx>>,
    own_logs: BTreeMap<(NodeIx, ThreadId), LogId>,
    names: Names,
    truth: crate::truth::Truth,
    checker: Checker,
    converged: BTreeMap<(NodeIx, ThreadId), Option<Millis>>,
    trace: Trace,
    stats: Stats,
    arrows: Option<Vec<Arrow>>,
    next_message: u64,
    bodies: u64,
    /// Each node's pending wake-up, by its key in `queue`.
    wakes: Vec<Option<(Millis, u64)>>,
    /// A message that told a non-member about a thread, seen as it was sent [SYNC-21].
    leak: Option<Violation>,
    /// The draws of the strangers' forgeries, apart from the network's.
    adversary: SimRng,
    /// Whether the plan has a stranger, who watches the members' `auth` messages to replay them.
    watched: bool,
    /// The latest `auth` messages between members, as a stranger saw them.
    observed: Vec<Observed>,
    /// The first `auth` with a proof each member sent each other member: what a member whose
    /// access is revoked later replays ([`Attack::ReplayOwnAuth`]).
    own_auth: BTreeMap<(NodeIx, NodeIx), Vec<u8>>,
    /// Draws which document or key each database edit writes.
    db_picks: SimRng,
}

impl<'a> Sim<'a> {
    fn new(plan: &'a Plan, seed: u64, cluster: &'a mut dyn Cluster, record: bool) -> Self {
        let names = Names::new(plan.nodes.iter().map(|n| n.name.clone()).collect());
        Sim {
            plan,
            seed,
            cluster,
            queue: BTreeMap::new(),
            inserted: 0,
            now: 0,
            step: 0,
            net: SimRng::new(seed, "network"),
            status: vec![Status::default(); plan.nodes.len()],
            armed: BTreeMap::new(),
            ids: Vec::new(),
            cuts: BTreeMap::new(),
            cut_links: Vec::new(),
            threads: Vec::new(),
            subs: BTreeMap::new(),
            own_logs: BTreeMap::new(),
            names,
            truth: crate::truth::Truth::default(),
            checker: Checker::default(),
            converged: BTreeMap::new(),
            trace: Trace::new(record),
            stats: Stats::default(),
            arrows: record.then(Vec::new),
            next_message: 0,
            bodies: 0,
            wakes: vec![None; plan.nodes.len()],
            leak: None,
            adversary: SimRng::new(seed, "adversary"),
            watched: plan
                .script
                .iter()
                .any(|a| matches!(a.what, Action::Attack { .. })),
            observed: Vec::new(),
            own_auth: BTreeMap::new(),
            db_picks: SimRng::new(seed, "db-edits"),
        }
    }

    fn at(&mut self, time: Millis, event: Event) -> (Millis, u64) {
        self.inserted += 1;
        let key = (time, self.inserted);
        self.queue.insert(key, event);
        key
    }

    fn log(&mut self, text: &str) {
        self.trace.line(self.now, self.step, text);
    }

    fn local(&self, ix: NodeIx) -> u64 {
        self.plan
            .nodes
            .get(ix)
            .map_or(0, |n| n.clock.local(self.now))
    }

    fn name(&self, ix: NodeIx) -> String {
        self.names.node(ix).to_string()
    }

    /// What the nodes cannot do that the plan needs, if anything.
    fn missing(&self) -> Option<String> {
        let caps = self.cluster.caps();
        let needs = self.plan.needs;
        let missing: Vec<&str> = [
            (needs.ticks && !caps.ticks, "ticks (node.tick, HP-51)"),
            (needs.crash && !caps.crash, "crash and restart"),
            (
                needs.db && !caps.db,
                "the database (db edits and view CIDs)",
            ),
            (
                needs.acl && !caps.acl,
                "access-controlled threads (feature acl)",
            ),
        ]
        .into_iter()
        .filter_map(|(m, what)| m.then_some(what))
        .collect();
        (!missing.is_empty())
            .then(|| format!("{} lacks {}", caps.implementation, missing.join(", ")))
    }

    fn play(&mut self) -> Result<Verdict> {
        self.add_nodes()?;
        if let Some(missing) = self.missing() {
            return Ok(Verdict::Skip(missing));
        }
        self.schedule();
        let quiet = self.plan.quiet_at();
        self.stats.quiet_at = quiet;
        while let Some(((time, _), event)) = self.queue.pop_first() {
            self.now = time;
            self.step += 1;
            let touched = match event {
                Event::Deadline => return self.liveness_failure(),
                event => self.handle(event)?,
            };
            if let Some(violation) = self.leak.take() {
                return Ok(Verdict::Fail(Failure::Invariant(violation)));
            }
            if let Some(ix) = touched {
                if let Some(violation) = self.check(ix)? {
                    return Ok(Verdict::Fail(Failure::Invariant(violation)));
                }
                self.schedule_wake(ix)?;
            }
            if self.now >= quiet && self.all_converged() {
                if let Some(violation) = self.views_agree()? {
                    return Ok(Verdict::Fail(Failure::Invariant(violation)));
                }
                self.stats.converged_at = Some(self.now);
                return Ok(Verdict::Pass);
            }
        }
        self.liveness_failure()
    }

    fn add_nodes(&mut self) -> Result<()> {
        for (ix, spec) in self.plan.nodes.iter().enumerate() {
            let seed = derive_seed(self.seed, &format!("node/{ix}/{}", spec.name));
            let id = self.cluster.add_node(spec, seed)?;
            self.ids.push(id);
        }
        Ok(())
    }

    fn schedule(&mut self) {
        for (i, action) in self.plan.script.iter().enumerate() {
            self.at(action.at, Event::Action(i));
        }
        for fault in &self.plan.faults {
            self.schedule_fault(fault);
        }
        let deadline = self.plan.quiet_at() + self.plan.bound_ms;
        self.at(deadline, Event::Deadline);
    }

    fn schedule_fault(&mut self, fault: &Fault) {
        match fault {
            Fault::Cut { label, links, .. } | Fault::Flap { label, links, .. } => {
                for (from, until) in fault.cut_windows() {
                    self.schedule_cut(label, links, from, until);
                }
            }
            Fault::Offline {
                node,
                from,
                until,
                copied_by: Some(copier),
            } => {
                self.at(
                    *from,
                    Event::Effect(Effect::OfflineOnceCopied(*node, *copier)),
                );
                if let Some(until) = until {
                    self.at(*until, Event::Effect(Effect::Offline(*node, false)));
                }
            }
            Fault::Offline {
                node,
                from,
                until,
                copied_by: None,
            } => {
                self.at(*from, Event::Effect(Effect::Offline(*node, true)));
                if let Some(until) = until {
                    self.at(*until, Event::Effect(Effect::Offline(*node, false)));
                }
            }
            Fault::Crash { node, at, restart } => {
                self.at(*at, Event::Effect(Effect::Crash(*node)));
                if let Some(restart) = restart {
                    self.at(*restart, Event::Effect(Effect::Restart(*node)));
                }
            }
            Fault::CrashInBatch {
                node,
                from,
                until,
                down_ms,
            } => {
                let arm = Effect::CrashInBatch(*node, Some(*down_ms));
                self.at(*from, Event::Effect(arm));
                self.at(*until, Event::Effect(Effect::CrashInBatch(*node, None)));
            }
        }
    }

    fn schedule_cut(
        &mut self,
        label: &str,
        links: &[(NodeIx, NodeIx)],
        from: Millis,
        until: Millis,
    ) {
        let ix = self.cut_links.len();
        self.cut_links.push((label.to_string(), links.to_vec()));
        self.at(from, Event::Effect(Effect::Cut(ix, true)));
        self.at(until, Event::Effect(Effect::Cut(ix, false)));
    }

    fn up(&self, ix: NodeIx) -> bool {
        self.status
            .get(ix)
            .is_some_and(|s| !s.down && s.offline == 0)
    }

    fn handle(&mut self, event: Event) -> Result<Option<NodeIx>> {
        match event {
            Event::Action(i) => self.act(i),
            Event::Effect(effect) => self.apply(effect),
            Event::Wake(ix) => self.wake(ix),
            Event::Deliver(packet) => self.deliver(packet),
            Event::Deadline => Ok(None),
        }
    }

    fn wake(&mut self, ix: NodeIx) -> Result<Option<NodeIx>> {
        if let Some(wake) = self.wakes.get_mut(ix) {
            *wake = None;
        }
        if !self.up(ix) {
            return Ok(None);
        }
        let local = self.local(ix);
        self.cluster.wake(ix, local)?;
        self.drain(ix, "wake")?;
        Ok(Some(ix))
    }

    /// Sets the node's wake-up to when it now asks for one, replacing the one pending: a node
    /// that is down or offline is woken when it comes back. Nodes that cannot be woken (no
    /// `ticks`) never are.
    fn schedule_wake(&mut self, ix: NodeIx) -> Result<()> {
        if !self.cluster.caps().ticks {
            return Ok(());
        }
        let wanted = match self.up(ix) {
            true => self.cluster.next_wake(ix)?,
            false => None,
        };
        let at = wanted.map(|local| {
            let behind = local.saturating_sub(self.local(ix));
            let span = self
                .plan
                .nodes
                .get(ix)
                .map_or(behind, |n| n.clock.virtual_span(behind));
            // At least 1 ms on: a node is never woken twice at one instant.
            self.now + span.max(1)
        });
        let pending = self.wakes.get(ix).copied().flatten();
        if pending.map(|(time, _)| time) == at {
            return Ok(());
        }
        if let Some(key) = pending {
            self.queue.remove(&key);
        }
        let key = at.map(|at| self.at(at, Event::Wake(ix)));
        if let Some(wake) = self.wakes.get_mut(ix) {
            *wake = key;
        }
        Ok(())
    }

    fn deliver(&mut self, packet: Packet) -> Result<Option<NodeIx>> {
        let Packet {
            id,
            from,
            to,
            bytes,
            gossip,
        } = packet;
        if !self.up(to) {
            self.stats.offline += 1;
            self.mark_dropped(id, "offline");
            self.log(&format!(
                "drop #{id} {}->{} recipient offline",
                self.name(from),
                self.name(to)
            ));
            return Ok(None);
        }
        self.stats.delivered += 1;
        self.log(&format!(
            "recv #{id} {}->{}",
            self.name(from),
            self.name(to)
        ));
        let local = self.local(to);
        let revoked = match (&gossip, self.checker.any_revoked()) {
            (None, true) => self.revoked_sender(from, to, &bytes)?,
            _ => None,
        };
        match &gossip {
            Some(thread) => self
                .cluster
                .deliver_publication(to, from, thread, &bytes, local)?,
            None => self.cluster.deliver(to, from, &bytes, local)?,
        }
        if let Some((thread, before)) = revoked
            && self.cluster.heads(to, &thread)? != before
        {
            let detail = format!("kept records from {}, a member it revoked", self.name(from));
            let violation = self.violation(to, Invariant::Membership, detail);
            self.leak = Some(violation);
        }
        if let Some(down_ms) = self.armed.get(&to).copied()
            && self.cluster.took_batch(to)?
        {
            // Dead before it did anything else: what it would have sent or told is lost too.
            self.armed.remove(&to);
            if let Some(status) = self.status.get_mut(to) {
                status.down = true;
            }
            self.cluster.crash(to)?;
            self.log(&format!(
                "fault crash {} inside a batch write",
                self.name(to)
            ));
            self.at(self.now + down_ms, Event::Effect(Effect::Restart(to)));
            return Ok(None);
        }
        self.drain(to, "")?;
        Ok(Some(to))
    }

    fn mark_dropped(&mut self, id: u64, why: &'static str) {
        let index = usize::try_from(id).ok().and_then(|id| id.checked_sub(1));
        if let (Some(arrows), Some(i)) = (self.arrows.as_mut(), index)
            && let Some(arrow) = arrows.get_mut(i)
        {
            arrow.dropped = Some(why);
        }
    }

    /// Carries out what the node wants: sends, publications; notes rejections.
    fn drain(&mut self, ix: NodeIx, cause: &str) -> Result<()> {
        let local = self.local(ix);
        let outputs = self.cluster.take(ix, local)?;
        if !cause.is_empty() && !outputs.is_empty() {
            self.log(&format!(
                "{cause} {}: {} outputs",
                self.name(ix),
                outputs.len()
            ));
        }
        for output in outputs {
            match output {
                Out::Send { to: Ok(to), bytes } => self.send(ix, to, bytes, None),
                Out::Send { to: Err(peer), .. } => {
                    self.stats.unknown += 1;
                    self.log(&format!("drop {}->{peer}: no such node", self.name(ix)));
                }
                Out::Publish { thread, bytes } => self.publish(ix, &thread, &bytes),
                Out::Rejected { from, log, code } => {
                    self.stats.rejected += 1;
                    let from = from.map_or_else(|| "?".to_string(), |f| self.name(f));
                    let log = self.names.log(&log);
                    self.log(&format!(
                        "reject {} record of {log} from {from}: {code}",
                        self.name(ix)
                    ));
                }
            }
        }
        Ok(())
    }

    fn publish(&mut self, from: NodeIx, thread: &ThreadId, bytes: &[u8]) {
        let subscribers: Vec<NodeIx> = self
            .subs
            .get(thread)
            .map(|s| s.iter().copied().filter(|n| *n != from).collect())
            .unwrap_or_default();
        for to in subscribers {
            self.send(from, to, bytes.to_vec(), Some(thread));
        }
    }

    /// One message through the link model: cut, loss, tampering, delay, duplication; `gossip`
    /// names the thread of a publication.
    fn send(&mut self, from: NodeIx, to: NodeIx, bytes: Vec<u8>, gossip: Option<&ThreadId>) {
        let how = if gossip.is_some() { "gossip" } else { "send" };
        self.stats.messages += 1;
        self.stats.bytes += bytes.len() as u64;
        let label = self.names.message(&bytes);
        if gossip.is_none() {
            self.watch(from, to, &bytes);
        }
        let (a, b) = (self.name(from), self.name(to));
        let id = self.new_arrow(from, to, &label);
        let head = format!("{how} #{id} {a}->{b} {label} {}B", bytes.len());
        let link = self.plan.link(from, to);
        let dropped = if !self.up(from) {
            self.stats.offline += 1;
            Some("offline")
        } else if self.cuts.get(&(from, to)).is_some_and(|c| *c > 0) {
            self.stats.cut += 1;
            Some("cut")
        } else if self.net.chance(link.loss_ppm) {
            self.stats.lost += 1;
            Some("lost")
        } else {
            None
        };
        if let Some(why) = dropped {
            self.mark_dropped(id, why);
            return self.log(&format!("{head} dropped: {why}"));
        }
        let bytes = if self.net.chance(link.tamper_ppm) {
            self.stats.tampered += 1;
            tamper(bytes)
        } else {
            bytes
        };
        let delay = self.delay(from, to);
        self.log(&format!("{head} +{delay}ms"));
        self.set_arrival(id, self.now + delay);
        if self.net.chance(link.dup_ppm) {
            let copy = self.new_arrow(from, to, &label);
            let again = self.delay(from, to);
            self.stats.duplicated += 1;
            self.log(&format!("dup #{id} as #{copy} +{again}ms"));
            self.set_arrival(copy, self.now + again);
            self.at(
                self.now + again,
                Event::Deliver(Packet {
                    id: copy,
                    from,
                    to,
                    bytes: bytes.clone(),
                    gossip: gossip.cloned(),
                }),
            );
        }
        self.at(
            self.now + delay,
            Event::Deliver(Packet {
                id,
                from,
                to,
                bytes,
                gossip: gossip.cloned(),
            }),
        );
    }

    /// Checks, as it is sent, that a direct message tells a non-member nothing about a thread
    /// [SYNC-21]; and lets a stranger see the members' `auth` messages.
    fn watch(&mut self, from: NodeIx, to: NodeIx, bytes: &[u8]) {
        // Most messages go between peers holding every thread: nothing to decode.
        let everywhere = self.threads.iter().all(|t| self.checker.member(to, t));
        if !everywhere
            && self.leak.is_none()
            && let Some(detail) = check::leak(&self.checker, &self.names, to, bytes)
        {
            let violation = self.violation(from, Invariant::Membership, detail);
            self.leak = Some(violation);
        }
        if self.checker.any_revoked() && self.leak.is_none() {
            self.watch_revoked(from, to, bytes);
        }
        if !self.watched {
            return;
        }
        if let Ok(Message::Auth { thread, proof, .. }) = Message::from_bytes(bytes)
            && !proof.is_empty()
            && self.checker.member(from, &thread)
            && self.checker.member(to, &thread)
        {
            if self.observed.len() == OBSERVED_AUTH {
                self.observed.remove(0);
            }
            self.observed.push(Observed {
                from,
                to,
                bytes: bytes.to_vec(),
            });
            self.own_auth
                .entry((from, to))
                .or_insert_with(|| bytes.to_vec());
        }
    }

    /// A revoked member gets no `pull`, `records` or `heads` from a peer that applied its
    /// revocation [SYNC-22].
    fn watch_revoked(&mut self, from: NodeIx, to: NodeIx, bytes: &[u8]) {
        let cluster = &mut *self.cluster;
        let heads = |thread: &ThreadId| cluster.heads(from, thread).ok();
        if let Some(detail) =
            check::revoked_leak(&self.checker, &self.names, from, to, bytes, heads)
        {
            let violation = self.violation(from, Invariant::Membership, detail);
            self.leak = Some(violation);
        }
    }

    /// The thread a direct message from a revoked member is about, and its heads at the
    /// recipient, when the recipient applied the revocation: what must not change [SYNC-22].
    fn revoked_sender(
        &mut self,
        from: NodeIx,
        to: NodeIx,
        bytes: &[u8],
    ) -> Result<Option<(ThreadId, crate::nodes::Heads)>> {
        let Ok(message) = Message::from_bytes(bytes) else {
            return Ok(None);
        };
        let thread = message.thread().clone();
        let Some((admin_log, seq)) = self.checker.revoked(from, &thread) else {
            return Ok(None);
        };
        if matches!(
            self.checker.role(to, &thread),
            None | Some(InviteRole::Follower)
        ) {
            return Ok(None);
        }
        let heads = self.cluster.heads(to, &thread)?;
        let applied = heads.get(&admin_log).is_some_and(|(_, c)| *c >= seq);
        Ok(applied.then_some((thread, heads)))
    }

    fn new_arrow(&mut self, from: NodeIx, to: NodeIx, label: &str) -> u64 {
        self.next_message += 1;
        if let Some(arrows) = &mut self.arrows {
            arrows.push(Arrow {
                from,
                to,
                sent: self.now,
                until: self.now,
                dropped: None,
                label: label.to_string(),
            });
        }
        self.next_message
    }

    fn set_arrival(&mut self, id: u64, at: Millis) {
        let index = usize::try_from(id).ok().and_then(|id| id.checked_sub(1));
        if let (Some(arrows), Some(i)) = (self.arrows.as_mut(), index)
            && let Some(arrow) = arrows.get_mut(i)
        {
            arrow.until = at;
        }
    }

    fn delay(&mut self, from: NodeIx, to: NodeIx) -> Millis {
        let link = self.plan.link(from, to);
        let tail = if self.net.chance(link.tail_ppm) {
            self.net.below(link.tail_ms + 1)
        } else {
            0
        };
        link.base_ms + self.net.below(link.jitter_ms + 1) + tail
    }

    fn apply(&mut self, effect: Effect) -> Result<Option<NodeIx>> {
        match effect {
            Effect::Cut(ix, on) => {
                let (label, links) = self.cut_links.get(ix).cloned().unwrap_or_default();
                for link in links {
                    let count = self.cuts.entry(link).or_insert(0);
                    *count = if on {
                        *count + 1
                    } else {
                        count.saturating_sub(1)
                    };
                }
                self.log(&format!(
                    "fault cut {label} {}",
                    if on { "begins" } else { "heals" }
                ));
                Ok(None)
            }
            Effect::Offline(ix, on) => self.offline(ix, on),
            Effect::OfflineOnceCopied(ix, copier) => {
                if self.copied(ix, copier)? {
                    return self.offline(ix, true);
                }
                let again = self.now + crate::plan::COPY_POLL_MS;
                self.at(again, Event::Effect(Effect::OfflineOnceCopied(ix, copier)));
                Ok(None)
            }
            Effect::Crash(ix) => {
                if let Some(status) = self.status.get_mut(ix).filter(|s| !s.down) {
                    status.down = true;
                    self.cluster.crash(ix)?;
                    self.log(&format!("fault crash {}", self.name(ix)));
                }
                Ok(None)
            }
            Effect::CrashInBatch(ix, Some(down_ms)) => {
                if self.up(ix) {
                    self.cluster.watch_batches(ix, true)?;
                    self.armed.insert(ix, down_ms);
                }
                Ok(None)
            }
            Effect::CrashInBatch(ix, None) => {
                if self.armed.remove(&ix).is_some() {
                    self.cluster.watch_batches(ix, false)?;
                }
                Ok(None)
            }
            Effect::Restart(ix) => {
                if let Some(status) = self.status.get_mut(ix).filter(|s| s.down) {
                    status.down = false;
                    let local = self.local(ix);
                    self.cluster.restart(ix, local)?;
                    self.checker.restarted(ix);
                    self.watch_views(ix)?;
                    self.log(&format!("fault restart {} from its store", self.name(ix)));
                    self.drain(ix, "restart")?;
                    return Ok(Some(ix));
                }
                Ok(None)
            }
        }
    }

    /// Whether `copier` holds every record of every log `node` wrote (a down copier holds
    /// what its store holds, so it is asked only when up).
    fn copied(&mut self, node: NodeIx, copier: NodeIx) -> Result<bool> {
        if !self.up(copier) {
            return Ok(false);
        }
        let owned: Vec<(ThreadId, LogId)> = self
            .own_logs
            .iter()
            .filter(|((owner, _), _)| *owner == node)
            .map(|((_, thread), log)| (thread.clone(), *log))
            .collect();
        for (thread, log) in owned {
            let heads = self.cluster.heads(copier, &thread)?;
            let have = heads.get(&log).map_or(0, |(_, c)| *c);
            if have < self.truth.len(&thread, &log) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn offline(&mut self, ix: NodeIx, on: bool) -> Result<Option<NodeIx>> {
        let Some(status) = self.status.get_mut(ix) else {
            return Ok(None);
        };
        let was = status.offline;
        status.offline = if on { was + 1 } else { was.saturating_sub(1) };
        let now = status.offline;
        if was == 0 && now > 0 {
            self.cluster.stop(ix)?;
            self.log(&format!("fault offline {}", self.name(ix)));
        } else if was > 0 && now == 0 {
            self.log(&format!("fault online {}", self.name(ix)));
            return Ok(Some(ix));
        }
        Ok(None)
    }

    // ---------------------------------------------------------------------------------------
    // The workload
    // ---------------------------------------------------------------------------------------

    fn act(&mut self, i: usize) -> Result<Option<NodeIx>> {
        let Some(action) = self.plan.script.get(i).map(|a| a.what.clone()) else {
            return Ok(None);
        };
        let (node, other) = match &action {
            Action::CreateThread { node, .. }
            | Action::Append { node, .. }
            | Action::DbEdit { node, .. } => (*node, *node),
            Action::Invite { from, to, .. } => (*to, *from),
            Action::SetRoles { admin, .. } => (*admin, *admin),
            Action::Attack { from, to, .. } => (*from, *to),
        };
        // A crashed peer cannot act; an offline one still can (its messages are lost).
        if let Some(down) = [node, other]
            .into_iter()
            .find(|n| self.status.get(*n).is_none_or(|s| s.down))
        {
            self.log(&format!("skip {action:?}: {} is down", self.name(down)));
            return Ok(None);
        }
        match action {
            Action::CreateThread { node, variant } => self.create(node, variant)?,
            Action::Append {
                node,
                thread,
                count,
            } => self.append(node, thread, count)?,
            Action::DbEdit {
                node,
                thread,
                count,
            } => self.db_edit(node, thread, count)?,
            Action::Invite {
                from,
                to,
                thread,
                role,
            } => self.invite(from, to, thread, role)?,
            Action::SetRoles {
                admin,
                thread,
                peer,
                roles,
            } => self.set_roles(admin, thread, peer, roles)?,
            Action::Attack {
                from,
                to,
                thread,
                attack,
            } => self.attack(from, to, thread, attack)?,
        }
        self.drain(node, "")?;
        Ok(Some(node))
    }

    fn thread(&self, slot: usize) -> Result<ThreadId> {
        self.threads.get(slot).cloned().ok_or_else(|| {
            SimError::Usage(format!("the script uses thread {slot} before creating it"))
        })
    }

    fn create(&mut self, node: NodeIx, variant: threads::id::Variant) -> Result<()> {
        let local = self.local(node);
        let (thread, log) = self.cluster.create_thread(node, variant, local)?;
        self.threads.push(thread.clone());
        self.names.add_thread(&thread);
        self.subs.entry(thread.clone()).or_default().insert(node);
        self.checker.set_role(node, &thread, InviteRole::Writer);
        if let Some(key) = self.cluster.follow_key(node, &thread)? {
            self.truth.follow.insert(thread.clone(), key);
        }
        self.log(&format!(
            "create {} by {} ({variant:?})",
            self.names.thread(&thread),
            self.name(node)
        ));
        self.own_log(node, &thread, log)
    }

    /// Records `log` as the node's own and learns what it wrote so far.
    fn own_log(&mut self, node: NodeIx, thread: &ThreadId, log: LogId) -> Result<()> {
        self.own_logs.insert((node, thread.clone()), log);
        self.names.add_log(log, node, thread);
        self.learn(node, thread, &log)
    }

    /// Adds the records the writer holds beyond what is known to the ground truth.
    fn learn(&mut self, node: NodeIx, thread: &ThreadId, log: &LogId) -> Result<()> {
        let heads = self.cluster.heads(node, thread)?;
        let (head, counter) = heads.get(log).copied().unwrap_or((None, 0));
        let known = self.truth.len(thread, log);
        if counter <= known {
            return Ok(());
        }
        let fresh = self.cluster.envelopes(node, thread, log, known as usize)?;
        for seq in known + 1..=counter {
            let envelope = fresh
                .as_ref()
                .and_then(|f| f.get((seq - known - 1) as usize))
                .cloned();
            let cid = match (&envelope, head) {
                (Some(e), _) => e.record_cid(),
                (None, Some(head)) if seq == counter => head,
                _ => {
                    return Err(SimError::Adapter(format!(
                        "{} wrote {} records at once; their CIDs are unknown",
                        self.name(node),
                        counter - known
                    )));
                }
            };
            self.truth.push(thread, *log, node, cid, envelope);
        }
        self.stats.records = self.truth.records();
        // Everyone is now behind on this thread until checked again (the writer right away).
        for ((_, t), at) in self.converged.iter_mut() {
            if t == thread {
                *at = None;
            }
        }
        Ok(())
    }

    fn append(&mut self, node: NodeIx, slot: usize, count: u32) -> Result<()> {
        let thread = self.thread(slot)?;
        for _ in 0..count {
            self.bodies += 1;
            let body = format!("{} event {}", self.name(node), self.bodies);
            let local = self.local(node);
            let (log, seq, _) = self.cluster.append(node, &thread, body.as_bytes(), local)?;
            if !self.own_logs.contains_key(&(node, thread.clone())) {
                self.names.add_log(log, node, &thread);
                self.own_logs.insert((node, thread.clone()), log);
            }
            self.learn(node, &thread, &log)?;
            if count <= 4 {
                self.log(&format!("append {} seq {seq}", self.names.log(&log)));
            }
        }
        if count > 4 {
            self.log(&format!("append {} events by {}", count, self.name(node)));
        }
        Ok(())
    }

    /// In a database scenario, has the node keep its views from now on, so that it folds each
    /// record as it arrives, in arrival order, and a restarted node checks its stored view rows
    /// against its records [DB-11], [SYNC-13]; other scenarios compute views only at the end.
    fn watch_views(&mut self, ix: NodeIx) -> Result<()> {
        if !self.plan.needs.db {
            return Ok(());
        }
        let threads: Vec<ThreadId> = self
            .subs
            .iter()
            .filter(|(_, nodes)| nodes.contains(&ix))
            .map(|(t, _)| t.clone())
            .collect();
        for thread in threads {
            self.cluster.db_view(ix, &thread)?;
        }
        Ok(())
    }

    /// `count` database edits by `node`, each picked by the run's own draw [DB-2]; an edit its
    /// view refuses appends nothing.
    fn db_edit(&mut self, node: NodeIx, slot: usize, count: u32) -> Result<()> {
        let thread = self.thread(slot)?;
        let mut written = 0;
        for _ in 0..count {
            let pick = self.db_picks.below(u64::MAX);
            let local = self.local(node);
            if let Some((log, _, _)) = self.cluster.db_edit(node, &thread, pick, local)? {
                if !self.own_logs.contains_key(&(node, thread.clone())) {
                    self.names.add_log(log, node, &thread);
                    self.own_logs.insert((node, thread.clone()), log);
                }
                self.learn(node, &thread, &log)?;
                written += 1;
            }
        }
        self.log(&format!(
            "db edits by {}: {written} of {count} written",
            self.name(node)
        ));
        Ok(())
    }

    fn invite(&mut self, from: NodeIx, to: NodeIx, slot: usize, role: InviteRole) -> Result<()> {
        let thread = self.thread(slot)?;
        let invite = self.cluster.invite(from, &thread, role, to)?;
        let local = self.local(to);
        let (joined, _) = self.cluster.join(to, &invite, local)?;
        if joined != thread {
            return Err(SimError::Adapter(format!(
                "{} joined another thread",
                self.name(to)
            )));
        }
        self.subs.entry(thread.clone()).or_default().insert(to);
        self.checker.set_role(to, &thread, role);
        self.watch_views(to)?;
        self.log(&format!(
            "invite {} to {} as {} by {}",
            self.name(to),
            self.names.thread(&thread),
            role.name(),
            self.name(from)
        ));
        // The inviter has nothing to send; the invited peer pulls, and a writer starts its log.
        self.drain(from, "")?;
        if role == InviteRole::Writer {
            self.joined_log(to, &thread)?;
        }
        Ok(())
    }

    /// A new writer's log is the one it holds records of right after joining (its join event,
    /// [INV-7]): it cannot have received anything yet.
    fn joined_log(&mut self, node: NodeIx, thread: &ThreadId) -> Result<()> {
        let heads = self.cluster.heads(node, thread)?;
        let own = heads
            .iter()
            .find(|(log, (_, c))| *c > self.truth.len(thread, log))
            .map(|(log, _)| *log);
        match own {
            Some(log) => self.own_log(node, thread, log),
            None => Err(SimError::Adapter(format!(
                "{} joined as a writer without a join event",
                self.name(node)
            ))),
        }
    }

    /// A stranger sends what [`adversary::forge`] makes of `attack`, through the links.
    fn attack(&mut self, from: NodeIx, to: NodeIx, slot: usize, attack: Attack) -> Result<()> {
        let thread = self.thread(slot)?;
        let own: Vec<Observed>;
        let observed = match attack {
            Attack::ReplayOwnAuth => {
                own = self
                    .own_auth
                    .iter()
                    .filter(|((f, _), _)| *f == from)
                    .map(|((from, to), bytes)| Observed {
                        from: *from,
                        to: *to,
                        bytes: bytes.clone(),
                    })
                    .collect();
                &own[..]
            }
            _ => &self.observed[..],
        };
        let forged = adversary::forge(
            attack,
            from,
            to,
            &thread,
            &self.truth,
            observed,
            &mut self.adversary,
        );
        self.log(&format!(
            "attack {} by {} on {}: {} messages",
            attack.name(),
            self.name(from),
            self.name(to),
            forged.len()
        ));
        self.stats.attacks += forged.len() as u64;
        for f in forged {
            let gossip = f.gossip.then_some(&thread);
            self.send(from, f.to, f.bytes, gossip);
        }
        Ok(())
    }

    fn set_roles(
        &mut self,
        admin: NodeIx,
        slot: usize,
        peer: NodeIx,
        roles: threads::acl::Roles,
    ) -> Result<()> {
        let thread = self.thread(slot)?;
        let peer_id = self
            .ids
            .get(peer)
            .copied()
            .ok_or_else(|| SimError::Usage(format!("no node {peer}")))?;
        let cut = self
            .cluster
            .heads(admin, &thread)?
            .get(&peer_id)
            .map_or(0, |(_, c)| *c);
        let local = self.local(admin);
        self.cluster.set_roles(admin, &thread, peer, roles, local)?;
        let admin_log = self
            .own_logs
            .get(&(admin, thread.clone()))
            .copied()
            .ok_or_else(|| SimError::Usage(format!("{} holds no log", self.name(admin))))?;
        self.learn(admin, &thread, &admin_log)?;
        let names: Vec<&str> = roles.names();
        self.log(&format!(
            "acl {} sets {} to {names:?}",
            self.name(admin),
            self.name(peer)
        ));
        let seq = self.truth.len(&thread, &admin_log);
        if roles.role.is_some_and(|r| r < threads::acl::Role::Follow) {
            self.checker.revoke(peer, &thread, admin_log, seq);
            self.log(&format!("{} loses access", self.name(peer)));
        }
        if !roles.names_write() {
            self.truth
                .revocations
                .entry(thread)
                .or_default()
                .push(crate::truth::Revocation {
                    log: peer_id,
                    cut,
                    admin_log,
                    seq,
                });
            self.log(&format!("revocation of {} with cut {cut}", self.name(peer)));
        }
        Ok(())
    }

    // ---------------------------------------------------------------------------------------
    // Invariants and liveness
    // ---------------------------------------------------------------------------------------

    fn check(&mut self, ix: NodeIx) -> Result<Option<Violation>> {
        // A crashed node has no state to check; its restart is checked.
        if self.status.get(ix).is_none_or(|s| s.down) {
            return Ok(None);
        }
        let threads: Vec<ThreadId> = self
            .subs
            .iter()
            .filter(|(_, nodes)| nodes.contains(&ix))
            .map(|(t, _)| t.clone())
            .collect();
        for thread in threads {
            let mut cx = Context {
                cluster: &mut *self.cluster,
                truth: &self.truth,
                names: &self.names,
                ids: &self.ids,
                own_logs: &self.own_logs,
            };
            match self.checker.check(&mut cx, ix, &thread) {
                Ok(lags) => self.note_convergence(ix, &thread, lags.is_empty()),
                Err(Stop::Driver(e)) => return Err(e),
                Err(Stop::Broke(invariant, detail)) => {
                    return Ok(Some(self.violation(ix, invariant, detail)));
                }
            }
        }
        Ok(None)
    }

    fn violation(&mut self, ix: NodeIx, invariant: Invariant, detail: String) -> Violation {
        let v = Violation {
            step: self.step,
            time: self.now,
            seed: self.seed,
            node: self.name(ix),
            invariant,
            detail,
        };
        self.log(&format!("VIOLATION {v}"));
        v
    }

    fn note_convergence(&mut self, ix: NodeIx, thread: &ThreadId, converged: bool) {
        let entry = self.converged.entry((ix, thread.clone())).or_insert(None);
        match (converged, *entry) {
            (true, None) => *entry = Some(self.now),
            (false, Some(_)) => *entry = None,
            _ => {}
        }
    }

    /// The (node, thread) pairs that must converge: every thread of every node that is up, but
    /// for members whose access was revoked: the ACL readers stop serving them [SYNC-22].
    fn required(&self) -> Vec<(NodeIx, ThreadId)> {
        self.subs
            .iter()
            .flat_map(|(t, nodes)| nodes.iter().map(move |n| (*n, t.clone())))
            .filter(|(n, t)| self.up(*n) && self.checker.revoked(*n, t).is_none())
            .collect()
    }

    /// Converged readers show the same database view [DB-11], [DB-15]: every node that holds
    /// every record of a thread (so the same set) and can read it must have the same view CID,
    /// however the records reached it. Checked once all nodes converged, at the end of every
    /// scenario; nodes without a database answer `None` and are not compared.
    fn views_agree(&mut self) -> Result<Option<Violation>> {
        let required = self.required();
        let mut first: BTreeMap<ThreadId, (NodeIx, Cid)> = BTreeMap::new();
        for (ix, thread) in required {
            let Some(cid) = self.cluster.db_view(ix, &thread)? else {
                continue;
            };
            match first.get(&thread) {
                None => {
                    first.insert(thread, (ix, cid));
                }
                Some((other, seen)) if *seen != cid => {
                    let detail = format!(
                        "view CID {cid} on {}, {seen} on {} with the same records of {}",
                        self.name(ix),
                        self.name(*other),
                        self.names.thread(&thread)
                    );
                    return Ok(Some(self.violation(ix, Invariant::Views, detail)));
                }
                Some(_) => {}
            }
        }
        Ok(None)
    }

    fn all_converged(&self) -> bool {
        self.required()
            .iter()
            .all(|pair| self.converged.get(pair).is_some_and(Option::is_some))
    }

    fn liveness_failure(&mut self) -> Result<Verdict> {
        let mut lagging = Vec::new();
        for (ix, thread) in self.required() {
            let heads = self.cluster.heads(ix, &thread)?;
            for lag in check::lags(&self.truth, &thread, &heads) {
                lagging.push(format!(
                    "{} lags on log {}: {} of {} records",
                    self.name(ix),
                    self.names.log(&lag.log),
                    lag.have,
                    lag.want
                ));
            }
        }
        self.log(&format!("LIVENESS {}", lagging.join("; ")));
        Ok(Verdict::Fail(Failure::Liveness {
            deadline: self.now,
            seed: self.seed,
            lagging,
        }))
    }

    fn finish(self, verdict: Verdict, wall: Duration) -> Outcome {
        let mut stats = self.stats.clone();
        stats.steps = self.step;
        stats.end = self.now;
        let converged = (0..self.plan.nodes.len())
            .map(|ix| (self.name(ix), self.converged_at(ix)))
            .collect();
        let mut trace = self.trace;
        trace.line(self.now, self.step, &format!("END {}", verdict.word()));
        stats.lines = trace.count();
        Outcome {
            verdict,
            trace_hash: trace.hash(),
            stats,
            converged,
            implementation: self.cluster.caps().implementation.clone(),
            lines: trace.into_lines(),
            arrows: self.arrows.unwrap_or_default(),
            wall,
        }
    }

    /// When the node last became converged on every thread it holds, if it is now.
    fn converged_at(&self, ix: NodeIx) -> Option<Millis> {
        let mine: Vec<Option<Millis>> = self
            .converged
            .iter()
            .filter(|((n, _), _)| *n == ix)
            .map(|(_, at)| *at)
            .collect();
        if mine.is_empty() || !self.up(ix) {
            return None;
        }
        mine.into_iter()
            .try_fold(0, |acc, at| at.map(|at| acc.max(at)))
    }
}

/// Flips one byte of the first envelope's body, so that the record no longer verifies (its body
/// no longer matches the CID the event links); a message that is not a `records` message with an
/// envelope gets its last byte flipped instead.
fn tamper(bytes: Vec<u8>) -> Vec<u8> {
    if let Ok(Message::Records {
        thread,
        log,
        counter,
        mut envelopes,
    }) = Message::from_bytes(&bytes)
        && let Some(last) = envelopes.first_mut().and_then(|e| e.body.last_mut())
    {
        *last ^= 1;
        return Message::Records {
            thread,
            log,
            counter,
            envelopes,
        }
        .to_bytes();
    }
    let mut bytes = bytes;
    if let Some(last) = bytes.last_mut() {
        *last ^= 1;
    }
    bytes
}
