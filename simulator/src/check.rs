//! The invariants, checked on a node after every step that touched it (spec/sync.md).
//!
//! - **verified**: every envelope a node stores passes [VERIFY-1] [SYNC-6];
//! - **prefix**: every node's copy of a log is a prefix of what its writer wrote [LOG-3];
//! - **forward**: a node's counters never decrease, across crashes and restarts included
//!   [SYNC-12], [SYNC-13];
//! - **follower**: a follower holds no read key and its reads fail with KEY_UNAVAILABLE
//!   [SYNC-14], [KEY-7];
//! - **acl**: a reader that holds a revocation shows none of the revoked writer's records beyond
//!   the cut [ACL-7];
//! - **membership**: no `pull`, `records` or `heads` about a thread (no record, counter or log ID)
//!   is sent to a peer that does not hold it, and a node stores no log nobody wrote and files no
//!   peer that is not a member [SYNC-20], [SYNC-21], [SYNC-23]. (What is sent is checked by the
//!   engine as it carries each message, [`leak`]; what is kept, here.)
//! - **revoked**: once a member's role is set below follow, a peer that reads the ACL and
//!   holds that ACL change sends it no `pull`, `records` or `heads` about the thread (no record,
//!   counter or log ID), and keeps nothing from what it sends directly [SYNC-22], [SYNC-21].
//!   (Checked by the engine as it carries each message, [`Checker::revoked`]; publications are
//!   not covered: the follow key, and so the gossip key, is not rotated, [SYNC-22].)
//! - **views**: once every node converged (the end of every scenario), the nodes that read a
//!   thread show the same database view CID [DB-11], [DB-15] (`Sim::views_agree`).
//!
//! The checks are incremental: each envelope is looked at once (a byte comparison with the
//! writer's envelope, verification only when it differs), so a long log stays cheap.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use threads::Cid;
use threads::id::{LogId, ThreadId};
use threads::invite::InviteRole;
use threads::verify::verify_follower;

use crate::error::SimError;
use crate::nodes::{Cluster, Heads};
use crate::plan::{Millis, NodeIx};
use crate::trace::Names;
use crate::truth::Truth;

/// Which invariant a node broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Invariant {
    /// It stores an envelope that fails verification [SYNC-6].
    Verified,
    /// Its log is not a prefix of the writer's.
    Prefix,
    /// A counter went back [SYNC-13].
    Forward,
    /// A follower holds plaintext or the read key [SYNC-14].
    Follower,
    /// It shows a revoked writer's record beyond the cut [ACL-7].
    Acl,
    /// It told a non-member something about a thread, or kept what one said [SYNC-21].
    Membership,
    /// Converged readers show different database views [DB-11].
    Views,
}

impl Invariant {
    /// The invariant's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Invariant::Verified => "stored records verify",
            Invariant::Prefix => "logs are prefixes of the writer's",
            Invariant::Forward => "heads only move forward",
            Invariant::Follower => "followers hold no plaintext",
            Invariant::Acl => "the ACL is respected",
            Invariant::Membership => "nothing reaches or stays from a non-member",
            Invariant::Views => "converged readers have the same view CID",
        }
    }
}

/// A broken invariant, with where it was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The step after which it was seen.
    pub step: u64,
    /// Its virtual time.
    pub time: Millis,
    /// The run's seed.
    pub seed: u64,
    /// The node.
    pub node: String,
    /// The invariant.
    pub invariant: Invariant,
    /// What exactly.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invariant \"{}\" broken at step {} (t = {} ms), seed {}: peer {}: {}",
            self.invariant.name(),
            self.step,
            self.time,
            self.seed,
            self.node,
            self.detail
        )
    }
}

/// Why a check stopped: an invariant, or the nodes could not be asked.
#[derive(Debug)]
pub enum Stop {
    /// An invariant broke: which, and what exactly.
    Broke(Invariant, String),
    /// The driver failed.
    Driver(SimError),
}

impl From<SimError> for Stop {
    fn from(e: SimError) -> Stop {
        Stop::Driver(e)
    }
}

/// A log on which a node is behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lag {
    /// The log.
    pub log: LogId,
    /// What the node holds.
    pub have: u64,
    /// What the writer wrote.
    pub want: u64,
}

type Key = (NodeIx, ThreadId, LogId);

/// What the checker remembers between steps.
#[derive(Default)]
pub struct Checker {
    /// The highest counter seen per node and log: heads must not go below it.
    seen: BTreeMap<Key, u64>,
    /// How many envelopes of each node's log were already checked.
    checked: BTreeMap<Key, usize>,
    /// Each node's role in each thread.
    roles: BTreeMap<(NodeIx, ThreadId), InviteRole>,
    /// (node, thread) pairs whose role checks ran at least once.
    visited: BTreeSet<(NodeIx, ThreadId)>,
    /// Members whose role an ACL change set below follow, with the admin's log and the seq of
    /// the record that did it [SYNC-22].
    revoked: BTreeMap<(NodeIx, ThreadId), (LogId, u64)>,
}

/// Where a check runs: the nodes, what was written, and names for the messages.
pub struct Context<'a> {
    /// The nodes.
    pub cluster: &'a mut dyn Cluster,
    /// What the writers wrote.
    pub truth: &'a Truth,
    /// Names for details.
    pub names: &'a Names,
    /// Each node's peer ID, by index.
    pub ids: &'a [LogId],
    /// Each writer's own log in each thread.
    pub own_logs: &'a BTreeMap<(NodeIx, ThreadId), LogId>,
}

impl Checker {
    /// Whether the node holds the thread (was invited to it or created it).
    pub fn member(&self, ix: NodeIx, thread: &ThreadId) -> bool {
        self.roles.contains_key(&(ix, thread.clone()))
    }

    /// Notes the node's role in the thread (the creator counts as a writer).
    pub fn set_role(&mut self, ix: NodeIx, thread: &ThreadId, role: InviteRole) {
        self.roles.insert((ix, thread.clone()), role);
    }

    /// The node's role in the thread, as it was invited (the creator: writer).
    pub fn role(&self, ix: NodeIx, thread: &ThreadId) -> Option<InviteRole> {
        self.roles.get(&(ix, thread.clone())).copied()
    }

    /// Notes that the ACL change at `seq` of `admin_log` set the node's role below follow.
    pub fn revoke(&mut self, ix: NodeIx, thread: &ThreadId, admin_log: LogId, seq: u64) {
        self.revoked
            .entry((ix, thread.clone()))
            .or_insert((admin_log, seq));
    }

    /// The ACL change that revoked the node in the thread, if one did: (admin's log, seq).
    pub fn revoked(&self, ix: NodeIx, thread: &ThreadId) -> Option<(LogId, u64)> {
        self.revoked.get(&(ix, thread.clone())).copied()
    }

    /// Whether any member was revoked: most runs skip the revocation checks at once.
    pub fn any_revoked(&self) -> bool {
        !self.revoked.is_empty()
    }

    /// A node restarted: everything it stores is checked again; its counters still may not drop.
    pub fn restarted(&mut self, ix: NodeIx) {
        self.checked.retain(|(n, _, _), _| *n != ix);
        self.visited.retain(|(n, _)| *n != ix);
    }

    /// Checks every invariant on one node and thread; returns the logs it lags on.
    pub fn check(
        &mut self,
        cx: &mut Context,
        ix: NodeIx,
        thread: &ThreadId,
    ) -> Result<Vec<Lag>, Stop> {
        let heads = cx.cluster.heads(ix, thread)?;
        self.kept_nothing_foreign(cx, ix, thread, &heads)?;
        let mut changed = self.visited.insert((ix, thread.clone()));
        for (log, (head, counter)) in &heads {
            changed |= self.forward(cx.names, ix, thread, log, *counter)?;
            prefix(cx, thread, log, head.as_ref(), *counter)?;
            self.verified(cx, ix, thread, log)?;
        }
        self.vanished(cx.names, ix, thread, &heads)?;
        if changed {
            self.roles_hold(cx, ix, thread, &heads)?;
        }
        Ok(lags(cx.truth, thread, &heads))
    }

    /// Every log the node holds was written by a member, and every peer it files for the thread
    /// is one: a stranger's `heads` or records leave nothing behind [SYNC-20], [SYNC-23].
    fn kept_nothing_foreign(
        &self,
        cx: &mut Context,
        ix: NodeIx,
        thread: &ThreadId,
        heads: &Heads,
    ) -> Result<(), Stop> {
        // A member's own log may hold no record yet.
        let written = cx.truth.logs.get(thread);
        let foreign = |log: &LogId| {
            written.is_none_or(|w| !w.contains_key(log))
                && !cx
                    .own_logs
                    .iter()
                    .any(|((_, t), own)| t == thread && own == log)
        };
        if let Some(log) = heads.keys().find(|log| foreign(log)) {
            return Err(Stop::Broke(
                Invariant::Membership,
                format!("holds log {log}, which no member writes"),
            ));
        }
        let filed = cx.cluster.peers(ix, thread)?.unwrap_or_default();
        for peer in &filed {
            let node = cx.ids.iter().position(|id| id == peer);
            if node.is_some_and(|node| self.member(node, thread)) {
                continue;
            }
            let name = node.map_or_else(|| peer.to_string(), |n| cx.names.node(n).to_string());
            return Err(Stop::Broke(
                Invariant::Membership,
                format!("files peer {name}, which does not hold the thread"),
            ));
        }
        Ok(())
    }

    /// Counters never decrease; returns whether this one grew.
    fn forward(
        &mut self,
        names: &Names,
        ix: NodeIx,
        thread: &ThreadId,
        log: &LogId,
        counter: u64,
    ) -> Result<bool, Stop> {
        let seen = self.seen.entry((ix, thread.clone(), *log)).or_insert(0);
        if counter < *seen {
            return Err(Stop::Broke(
                Invariant::Forward,
                format!(
                    "log {}: counter went from {} back to {counter}",
                    names.log(log),
                    *seen
                ),
            ));
        }
        let grew = counter > *seen;
        *seen = counter;
        Ok(grew)
    }

    /// A log the node reported before and no longer knows went back to 0.
    fn vanished(
        &self,
        names: &Names,
        ix: NodeIx,
        thread: &ThreadId,
        heads: &Heads,
    ) -> Result<(), Stop> {
        let gone = self.seen.iter().find(|((n, t, log), seen)| {
            *n == ix && t == thread && **seen > 0 && !heads.contains_key(log)
        });
        match gone {
            Some(((_, _, log), seen)) => Err(Stop::Broke(
                Invariant::Forward,
                format!(
                    "log {}: counter went from {seen} to nothing",
                    names.log(log)
                ),
            )),
            None => Ok(()),
        }
    }

    /// Each envelope not yet checked is the writer's (byte for byte, which implies it verifies:
    /// the writer checked it as any reader would) or is verified here to say what is wrong.
    fn verified(
        &mut self,
        cx: &mut Context,
        ix: NodeIx,
        thread: &ThreadId,
        log: &LogId,
    ) -> Result<(), Stop> {
        let key = (ix, thread.clone(), *log);
        let from = self.checked.get(&key).copied().unwrap_or(0);
        let Some(fresh) = cx.cluster.envelopes(ix, thread, log, from)? else {
            return Ok(());
        };
        let written = cx.truth.log(thread, log);
        for (i, envelope) in fresh.iter().enumerate() {
            let seq = from + i + 1;
            if written.and_then(|w| w.envelopes.get(seq - 1)) == Some(envelope) {
                continue;
            }
            let name = cx.names.log(log);
            let verdict = match cx.truth.follow.get(thread) {
                Some(key) => verify_follower(envelope, thread, log, key).map(drop),
                None => Ok(()),
            };
            return Err(match verdict {
                Err(e) => Stop::Broke(
                    Invariant::Verified,
                    format!(
                        "log {name}: stored record {seq} fails verification: {}: {}",
                        e.code, e.detail
                    ),
                ),
                Ok(()) => Stop::Broke(
                    Invariant::Prefix,
                    format!("log {name}: stored record {seq} is not the one its writer wrote"),
                ),
            });
        }
        self.checked.insert(key, from + fresh.len());
        Ok(())
    }

    /// The role invariants, run when a node's counters changed: followers cannot read, readers
    /// respect revocations.
    fn roles_hold(
        &mut self,
        cx: &mut Context,
        ix: NodeIx,
        thread: &ThreadId,
        heads: &Heads,
    ) -> Result<(), Stop> {
        match self.roles.get(&(ix, thread.clone())) {
            Some(InviteRole::Follower) => follower_blind(cx, ix, thread),
            Some(_) => revocations_hold(cx, ix, thread, heads),
            None => Ok(()),
        }
    }
}

/// The node's head at its counter is the writer's record at that position, and it holds no more
/// than was written. (Each record links its predecessor, so this makes the whole log a prefix.)
fn prefix(
    cx: &Context,
    thread: &ThreadId,
    log: &LogId,
    head: Option<&Cid>,
    counter: u64,
) -> Result<(), Stop> {
    if counter == 0 {
        return Ok(());
    }
    let name = cx.names.log(log);
    let written = cx.truth.log(thread, log);
    let want = written.and_then(|w| w.cids.get(counter as usize - 1));
    match (want, head) {
        (None, _) => Err(Stop::Broke(
            Invariant::Prefix,
            format!(
                "log {name}: counter {counter}, but its writer wrote {}",
                cx.truth.len(thread, log)
            ),
        )),
        (Some(want), Some(head)) if want == head => Ok(()),
        (Some(want), head) => Err(Stop::Broke(
            Invariant::Prefix,
            format!(
                "log {name}: head {head:?} at counter {counter}, the writer's record there is {want}"
            ),
        )),
    }
}

/// A follower holds no read key and cannot read [SYNC-14], [KEY-7].
fn follower_blind(cx: &mut Context, ix: NodeIx, thread: &ThreadId) -> Result<(), Stop> {
    if cx.cluster.holds_read_key(ix, thread)? == Some(true) {
        return Err(Stop::Broke(
            Invariant::Follower,
            "a follower holds the read key".into(),
        ));
    }
    match cx.cluster.read(ix, thread)? {
        Err(code) if code == "KEY_UNAVAILABLE" => Ok(()),
        Err(code) => Err(Stop::Broke(
            Invariant::Follower,
            format!("a follower's read fails with {code}, not KEY_UNAVAILABLE"),
        )),
        Ok(events) => Err(Stop::Broke(
            Invariant::Follower,
            format!("a follower reads {} events", events.len()),
        )),
    }
}

/// A reader that holds a revocation shows none of the revoked log's records beyond the cut.
fn revocations_hold(
    cx: &mut Context,
    ix: NodeIx,
    thread: &ThreadId,
    heads: &Heads,
) -> Result<(), Stop> {
    let Some(revocations) = cx.truth.revocations.get(thread) else {
        return Ok(());
    };
    let known: Vec<_> = revocations
        .iter()
        .filter(|r| heads.get(&r.admin_log).is_some_and(|(_, c)| *c >= r.seq))
        .collect();
    if known.is_empty() {
        return Ok(());
    }
    // A read that fails (no genesis yet) shows nothing, which breaks nothing.
    let Ok(shown) = cx.cluster.read(ix, thread)? else {
        return Ok(());
    };
    for r in known {
        if let Some((_, seq)) = shown
            .iter()
            .find(|(log, seq)| *log == r.log && *seq > r.cut)
        {
            return Err(Stop::Broke(
                Invariant::Acl,
                format!(
                    "shows record {seq} of {}, revoked with cut {} by record {} of {}",
                    cx.names.log(&r.log),
                    r.cut,
                    r.seq,
                    cx.names.log(&r.admin_log)
                ),
            ));
        }
    }
    Ok(())
}

/// Why `bytes`, sent to `to`, tells a non-member something about a thread, if it does: any
/// `pull`, `records` or `heads` names the thread's log IDs and counters; an `auth` names only the
/// thread, which the recipient already knew to ask about, and publications never reach it
/// [SYNC-21], [SYNC-24].
pub fn leak(checker: &Checker, names: &Names, to: NodeIx, bytes: &[u8]) -> Option<String> {
    let message = threads::sync::Message::from_bytes(bytes).ok()?;
    if matches!(message, threads::sync::Message::Auth { .. })
        || checker.member(to, message.thread())
    {
        return None;
    }
    Some(format!(
        "sent {} to a peer that does not hold the thread",
        names.message(bytes)
    ))
}

/// Why a direct message `bytes` from `from` to the revoked member `to` breaks the revocation,
/// if it does: it is a `pull`, `records` or `heads` about a thread that revoked `to`, and
/// `from` reads the ACL (it is no follower) and holds the revocation (`from_heads` of the
/// thread, asked only then) [SYNC-22].
pub fn revoked_leak(
    checker: &Checker,
    names: &Names,
    from: NodeIx,
    to: NodeIx,
    bytes: &[u8],
    from_heads: impl FnOnce(&ThreadId) -> Option<Heads>,
) -> Option<String> {
    let message = threads::sync::Message::from_bytes(bytes).ok()?;
    if matches!(message, threads::sync::Message::Auth { .. }) {
        return None;
    }
    let thread = message.thread();
    let (admin_log, seq) = checker.revoked(to, thread)?;
    match checker.role(from, thread) {
        None | Some(InviteRole::Follower) => return None,
        Some(_) => {}
    }
    let heads = from_heads(thread)?;
    let holds = heads.get(&admin_log).is_some_and(|(_, c)| *c >= seq);
    holds.then(|| {
        format!(
            "sent {} to a member it revoked (record {seq} of {})",
            names.message(bytes),
            names.log(&admin_log)
        )
    })
}

/// The logs of the thread on which `heads` is behind what was written.
pub fn lags(truth: &Truth, thread: &ThreadId, heads: &Heads) -> Vec<Lag> {
    let Some(logs) = truth.logs.get(thread) else {
        return Vec::new();
    };
    logs.iter()
        .filter_map(|(log, written)| {
            let have = heads.get(log).map_or(0, |(_, c)| *c);
            let want = written.cids.len() as u64;
            (have < want).then_some(Lag {
                log: *log,
                have,
                want,
            })
        })
        .collect()
}
