//! The stranger: a peer that knows a Thread ID, and at worst the thread's log IDs, but holds none
//! of its keys, so it can never prove membership (spec/sync.md 7.12, [SYNC-17] to [SYNC-24]).
//!
//! Its messages are forged here from what it could plausibly know: the thread and log IDs, the
//! envelopes of the ground truth (as if a member had leaked them), and the `auth` messages it
//! watched members exchange. The engine sends them through the same links as any message; the
//! membership invariant ([`crate::check::Invariant::Membership`]) then checks that nothing about
//! the thread ever reaches a non-member and that no honest peer keeps anything the stranger said.

use std::sync::OnceLock;

use threads::envelope::Envelope;
use threads::id::{LogId, ThreadId};
use threads::keys::IdentityKey;
use threads::sync::{MAX_HEADS_ENTRIES, Message, PULL_LIMIT};

use crate::plan::{Attack, NodeIx};
use crate::rng::{SimRng, derive_seed};
use crate::truth::Truth;

/// How many random log IDs the stranger can name: enough for the largest flood a scenario draws.
pub const FORGED_LOG_IDS: usize = 2 * MAX_HEADS_ENTRIES;

/// Most `auth` messages between members the stranger remembers, to replay.
pub const OBSERVED_AUTH: usize = 16;

/// One message the stranger sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forged {
    /// The recipient.
    pub to: NodeIx,
    /// The bytes.
    pub bytes: Vec<u8>,
    /// Sent as a publication on the thread's topic [SYNC-24] rather than directly.
    pub gossip: bool,
}

/// An `auth` message one member sent another, as the stranger saw it on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// Its sender.
    pub from: NodeIx,
    /// Its recipient.
    pub to: NodeIx,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// Valid log IDs nobody writes, made once per process: deriving a key pair per ID costs far more
/// than the rest of a flood, and the IDs need only be valid and unknown, not fresh per run.
fn forged_ids() -> &'static [LogId] {
    static IDS: OnceLock<Vec<LogId>> = OnceLock::new();
    IDS.get_or_init(|| {
        (0..FORGED_LOG_IDS)
            .map(|i| IdentityKey::from_seed(&derive_seed(i as u64, "stranger/log")).log_id())
            .collect()
    })
}

/// `count` distinct forged log IDs (at most [`FORGED_LOG_IDS`]), starting at a point the seed
/// draws.
fn some_ids(rng: &mut SimRng, count: usize) -> Vec<LogId> {
    let ids = forged_ids();
    let count = count.min(ids.len());
    let start = rng.below(ids.len() as u64) as usize;
    (0..count).map(|k| ids[(start + k) % ids.len()]).collect()
}

/// What the attacker `from` (a stranger, or a revoked member) sends `to` for `attack` on
/// `thread`.
pub fn forge(
    attack: Attack,
    from: NodeIx,
    to: NodeIx,
    thread: &ThreadId,
    truth: &Truth,
    observed: &[Observed],
    rng: &mut SimRng,
) -> Vec<Forged> {
    let direct = |to: NodeIx, message: Message| Forged {
        to,
        bytes: message.to_bytes(),
        gossip: false,
    };
    let logs: Vec<LogId> = truth
        .logs
        .get(thread)
        .map(|l| l.keys().copied().collect())
        .unwrap_or_default();
    match attack {
        Attack::Pull => {
            let mut out = vec![direct(to, challenge(thread, rng))];
            out.extend(pulls(thread, &logs).map(|m| direct(to, m)));
            out
        }
        Attack::FloodHeads { entries } => {
            let mut heads: Vec<(LogId, u64)> = some_ids(rng, entries as usize)
                .into_iter()
                .map(|log| (log, 1 + rng.below(1_000)))
                .collect();
            // The real logs too, far ahead: a target that believed it would pull forever.
            heads.extend(logs.iter().map(|log| (*log, u64::MAX / 2)));
            heads.sort();
            heads.dedup_by_key(|(log, _)| *log);
            let thread = thread.clone();
            vec![direct(to, Message::Heads { thread, heads })]
        }
        Attack::ForgedRecords => forged_records(thread, truth, &logs, rng)
            .into_iter()
            .map(|m| direct(to, m))
            .collect(),
        Attack::ForgedPublication => {
            let mut sealed = vec![0u8; 24 + 64];
            sealed.iter_mut().for_each(|b| *b = rng.below(256) as u8);
            let mut out = vec![Forged {
                to,
                bytes: sealed,
                gossip: true,
            }];
            out.extend(
                forged_records(thread, truth, &logs, rng)
                    .into_iter()
                    .map(|m| Forged {
                        to,
                        bytes: m.to_bytes(),
                        gossip: true,
                    }),
            );
            out
        }
        Attack::ReplayAuth => replay(thread, &logs, observed, from, to, rng),
        Attack::ReplayOwnAuth => replay_own(thread, &logs, observed, from),
    }
}

/// Every `auth` the attacker `from` was seen sending (as a member), replayed to its recipient
/// and followed by pulls; with none seen, nothing.
fn replay_own(
    thread: &ThreadId,
    logs: &[LogId],
    observed: &[Observed],
    from: NodeIx,
) -> Vec<Forged> {
    let mut out = Vec::new();
    for seen in observed.iter().filter(|o| o.from == from) {
        out.push(Forged {
            to: seen.to,
            bytes: seen.bytes.clone(),
            gossip: false,
        });
        out.extend(pulls(thread, logs).map(|m| Forged {
            to: seen.to,
            bytes: m.to_bytes(),
            gossip: false,
        }));
    }
    out
}

/// An `auth` asking the target to prove itself, with no proof of the stranger's own.
fn challenge(thread: &ThreadId, rng: &mut SimRng) -> Message {
    Message::Auth {
        thread: thread.clone(),
        nonce: (0..16).map(|_| rng.below(256) as u8).collect(),
        proof: Vec::new(),
    }
}

/// A pull of every known log from its start.
fn pulls<'a>(thread: &'a ThreadId, logs: &'a [LogId]) -> impl Iterator<Item = Message> + 'a {
    logs.iter().map(move |log| Message::Pull {
        thread: thread.clone(),
        log: *log,
        after: 0,
        limit: PULL_LIMIT,
    })
}

/// A real envelope under a forged log ID (cross-log), and a true log's first records replayed.
fn forged_records(
    thread: &ThreadId,
    truth: &Truth,
    logs: &[LogId],
    rng: &mut SimRng,
) -> Vec<Message> {
    let written: Vec<(LogId, &[Envelope])> = logs
        .iter()
        .filter_map(|log| truth.log(thread, log).map(|w| (*log, &w.envelopes[..])))
        .filter(|(_, envelopes)| !envelopes.is_empty())
        .collect();
    let Some((log, envelopes)) = written
        .get(rng.below(written.len().max(1) as u64) as usize)
        .copied()
    else {
        let fake = some_ids(rng, 1);
        return fake
            .into_iter()
            .map(|log| Message::Records {
                thread: thread.clone(),
                log,
                counter: 5,
                envelopes: Vec::new(),
            })
            .collect();
    };
    let forged_log = some_ids(rng, 1).into_iter().next().unwrap_or(log);
    let replayed: Vec<Envelope> = envelopes.iter().take(8).cloned().collect();
    vec![
        Message::Records {
            thread: thread.clone(),
            log: forged_log,
            counter: 1,
            envelopes: envelopes[..1].to_vec(),
        },
        Message::Records {
            thread: thread.clone(),
            log,
            counter: replayed.len() as u64,
            envelopes: replayed,
        },
    ]
}

/// A member's `auth` replayed to its recipient and reflected to its sender, each followed by
/// pulls; with none observed yet, a plain challenge and pulls to `to`.
fn replay(
    thread: &ThreadId,
    logs: &[LogId],
    observed: &[Observed],
    from: NodeIx,
    to: NodeIx,
    rng: &mut SimRng,
) -> Vec<Forged> {
    let direct = |to: NodeIx, bytes: Vec<u8>| Forged {
        to,
        bytes,
        gossip: false,
    };
    let Some(seen) = observed.get(rng.below(observed.len().max(1) as u64) as usize) else {
        let mut out = vec![direct(to, challenge(thread, rng).to_bytes())];
        out.extend(pulls(thread, logs).map(|m| direct(to, m.to_bytes())));
        return out;
    };
    let mut out = Vec::new();
    // A revoked member may have been a party to what it saw: it does not attack itself.
    for target in [seen.to, seen.from].into_iter().filter(|t| *t != from) {
        out.push(direct(target, seen.bytes.clone()));
        out.extend(pulls(thread, logs).map(|m| direct(target, m.to_bytes())));
    }
    out
}
