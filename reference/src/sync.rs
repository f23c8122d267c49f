//! A sans-IO peer (chapter 7, Synchronisation, is still to be written): the minimal exchange the
//! harness's live scenarios use — pull a log oldest-first after one's counter, answer with a
//! contiguous batch, push new records to the peers that pulled.
//!
//! The [`Peer`] never touches a clock, a socket or an entropy source: commands carry the time, the
//! RNG is handed in at construction, and every message it wants to send comes out of
//! [`Peer::take_outbox`] for a driver (the harness adapter, later the libp2p node and the
//! simulator) to carry.

use std::collections::{BTreeMap, BTreeSet};

use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use crate::block;
use crate::envelope::Envelope;
use crate::error::{Error, ErrorCode, Result};
use crate::id::{LogId, ThreadId, Variant};
use crate::keys::{IdentityKey, KeySet, Role};
use crate::log::{Accepted, Log};
use crate::record::{self, Author};
use crate::verify::{self, OpenedEvent};

/// Most records one `Records` message carries; a puller asks again after a full batch.
pub const PULL_LIMIT: u64 = 64;

/// A message between peers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Asks for the records of `log` after seq `after`, oldest first, at most `limit`.
    Pull {
        /// The thread.
        thread: ThreadId,
        /// The log.
        log: LogId,
        /// The requester's counter for the log.
        after: u64,
        /// Most records wanted.
        limit: u64,
    },
    /// Contiguous records of one log, oldest first: a pull's answer or a push.
    Records {
        /// The thread.
        thread: ThreadId,
        /// The log.
        log: LogId,
        /// The envelopes, in seq order.
        envelopes: Vec<Envelope>,
    },
}

/// Wire form of [`Message`]: canonical DAG-CBOR with a `type` field.
#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
enum Wire {
    Pull {
        after: u64,
        limit: u64,
        log: ByteBuf,
        thread: ByteBuf,
    },
    Records {
        envelopes: Vec<ByteBuf>,
        log: ByteBuf,
        thread: ByteBuf,
    },
}

impl Message {
    /// The canonical DAG-CBOR encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        let wire = match self {
            Message::Pull {
                thread,
                log,
                after,
                limit,
            } => Wire::Pull {
                after: *after,
                limit: *limit,
                log: ByteBuf::from(log.to_bytes()),
                thread: ByteBuf::from(thread.as_bytes()),
            },
            Message::Records {
                thread,
                log,
                envelopes,
            } => Wire::Records {
                envelopes: envelopes
                    .iter()
                    .map(|e| ByteBuf::from(e.to_bytes()))
                    .collect(),
                log: ByteBuf::from(log.to_bytes()),
                thread: ByteBuf::from(thread.as_bytes()),
            },
        };
        block::encode(&wire)
    }

    /// Decodes a message; anything malformed is a registry error, never a panic.
    pub fn from_bytes(bytes: &[u8]) -> Result<Message> {
        let wire: Wire = block::decode_canonical(bytes, ErrorCode::BlockMalformed)?;
        Ok(match wire {
            Wire::Pull {
                after,
                limit,
                log,
                thread,
            } => Message::Pull {
                thread: ThreadId::from_bytes(&thread)?,
                log: LogId::from_bytes(&log)?,
                after,
                limit,
            },
            Wire::Records {
                envelopes,
                log,
                thread,
            } => Message::Records {
                thread: ThreadId::from_bytes(&thread)?,
                log: LogId::from_bytes(&log)?,
                envelopes: envelopes
                    .iter()
                    .map(|e| Envelope::from_bytes(e))
                    .collect::<Result<_>>()?,
            },
        })
    }
}

/// What a peer hands another so it can join a thread: the thread, the key set for its role, the
/// logs to fetch and the peers to fetch them from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invite {
    /// The thread.
    pub thread: ThreadId,
    /// The keys for the invitee's role [KEY-6].
    pub keys: KeySet,
    /// The logs of the thread the inviter knows.
    pub logs: Vec<LogId>,
    /// Peers that serve those logs (the inviter first).
    pub peers: Vec<LogId>,
}

/// One thread as a peer holds it.
struct ThreadState {
    keys: KeySet,
    /// The identity key of this peer's own log in the thread, if it writes one.
    writer: Option<IdentityKey>,
    logs: BTreeMap<LogId, StoredLog>,
    /// Peers to push new records to, and to pull from.
    peers: BTreeSet<LogId>,
}

/// A log's chain and the envelopes that make it up, for serving.
#[derive(Default)]
struct StoredLog {
    chain: Log,
    envelopes: Vec<Envelope>,
}

impl StoredLog {
    fn counter(&self) -> u64 {
        self.chain.counter()
    }
}

/// A peer: its identity, its threads, and the messages it wants to send.
pub struct Peer<R> {
    identity: IdentityKey,
    rng: R,
    threads: BTreeMap<ThreadId, ThreadState>,
    outbox: Vec<(LogId, Message)>,
}

impl<R: CryptoRng> Peer<R> {
    /// A peer with a host identity, drawing all its randomness from `rng`.
    pub fn new(identity: IdentityKey, rng: R) -> Self {
        Peer {
            identity,
            rng,
            threads: BTreeMap::new(),
            outbox: Vec::new(),
        }
    }

    /// This peer's ID [LOGID-4].
    pub fn id(&self) -> LogId {
        self.identity.log_id()
    }

    /// Creates a thread with fresh keys and a log this peer writes; returns the thread and the log.
    pub fn create_thread(&mut self, variant: Variant) -> Result<(ThreadId, LogId)> {
        let thread = ThreadId::generate(variant, &mut self.rng);
        let keys = KeySet::generate(&mut self.rng);
        keys.read_key()?;
        let writer = IdentityKey::generate(&mut self.rng);
        let log = writer.log_id();
        let mut logs = BTreeMap::new();
        logs.insert(log, StoredLog::default());
        let state = ThreadState {
            keys,
            writer: Some(writer),
            logs,
            peers: BTreeSet::new(),
        };
        self.threads.insert(thread.clone(), state);
        Ok((thread, log))
    }

    /// Appends an event to this peer's log in `thread` and pushes it to the thread's peers.
    pub fn append(
        &mut self,
        thread: &ThreadId,
        body: &[u8],
        time: u64,
    ) -> Result<(LogId, u64, cid::Cid)> {
        let state = self
            .threads
            .get_mut(thread)
            .ok_or_else(|| unknown_thread(thread))?;
        let identity = state.writer.as_ref().ok_or_else(|| {
            Error::new(
                ErrorCode::KeyUnavailable,
                "this peer holds no log of its own in the thread",
            )
        })?;
        let log = identity.log_id();
        let author = Author {
            thread,
            identity,
            follow: &state.keys.follow,
            read: state.keys.read_key()?,
        };
        let stored = state.logs.entry(log).or_default();
        let envelope = record::create(
            &author,
            stored.chain.next_position(),
            body,
            time,
            &mut self.rng,
        );
        // A writer checks its own record as any follower would, so it never serves one they reject.
        let verified = verify::verify_follower(&envelope, thread, &log, &state.keys.follow)?;
        stored.chain.accept(&verified)?;
        stored.envelopes.push(envelope.clone());
        let (seq, cid) = (verified.seq(), *verified.cid());
        for peer in &state.peers {
            let message = Message::Records {
                thread: thread.clone(),
                log,
                envelopes: vec![envelope.clone()],
            };
            self.outbox.push((*peer, message));
        }
        Ok((log, seq, cid))
    }

    /// An invite for `role`: a follower's key set carries no read key [KEY-6].
    pub fn invite(&self, thread: &ThreadId, role: Role) -> Result<Invite> {
        let state = self
            .threads
            .get(thread)
            .ok_or_else(|| unknown_thread(thread))?;
        let keys = match role {
            Role::Reader => {
                state.keys.read_key()?;
                state.keys.clone()
            }
            Role::Follower => state.keys.for_follower(),
        };
        let peers = std::iter::once(self.id())
            .chain(state.peers.iter().copied())
            .collect();
        Ok(Invite {
            thread: thread.clone(),
            keys,
            logs: state.logs.keys().copied().collect(),
            peers,
        })
    }

    /// Joins a thread from an invite: asks every listed peer for every listed log.
    pub fn join(&mut self, invite: Invite) {
        let peers: BTreeSet<LogId> = invite
            .peers
            .into_iter()
            .filter(|p| *p != self.id())
            .collect();
        let logs = invite
            .logs
            .into_iter()
            .map(|log| (log, StoredLog::default()))
            .collect();
        let state = ThreadState {
            keys: invite.keys,
            writer: None,
            logs,
            peers,
        };
        self.threads.insert(invite.thread.clone(), state);
        self.pull_all(&invite.thread);
    }

    /// Asks every known peer for everything after this peer's counter, for every log.
    fn pull_all(&mut self, thread: &ThreadId) {
        let Some(state) = self.threads.get(thread) else {
            return;
        };
        for peer in &state.peers {
            for (log, stored) in &state.logs {
                let message = Message::Pull {
                    thread: thread.clone(),
                    log: *log,
                    after: stored.counter(),
                    limit: PULL_LIMIT,
                };
                self.outbox.push((*peer, message));
            }
        }
    }

    /// Handles a message from `from`. Bad records are dropped (never stored) [VERIFY-3].
    pub fn receive(&mut self, from: LogId, message: Message) {
        match message {
            Message::Pull {
                thread,
                log,
                after,
                limit,
            } => self.serve_pull(from, thread, log, after, limit),
            Message::Records {
                thread,
                log,
                envelopes,
            } => self.ingest(from, &thread, log, envelopes),
        }
    }

    fn serve_pull(&mut self, from: LogId, thread: ThreadId, log: LogId, after: u64, limit: u64) {
        let Some(state) = self.threads.get_mut(&thread) else {
            return;
        };
        // Whoever pulls is interested in what comes next.
        state.peers.insert(from);
        let Some(stored) = state.logs.get(&log) else {
            return;
        };
        let start = usize::try_from(after)
            .unwrap_or(usize::MAX)
            .min(stored.envelopes.len());
        let end = start
            .saturating_add(usize::try_from(limit.min(PULL_LIMIT)).unwrap_or(0))
            .min(stored.envelopes.len());
        let envelopes = stored.envelopes[start..end].to_vec();
        self.outbox.push((
            from,
            Message::Records {
                thread,
                log,
                envelopes,
            },
        ));
    }

    /// Verifies and appends records in order; after a full batch or a gap, asks `from` for more.
    fn ingest(&mut self, from: LogId, thread: &ThreadId, log: LogId, envelopes: Vec<Envelope>) {
        let Some(state) = self.threads.get_mut(thread) else {
            return;
        };
        let batch = envelopes.len() as u64;
        let stored = state.logs.entry(log).or_default();
        let mut gap = false;
        for envelope in envelopes {
            let Ok(record) = verify::verify_follower(&envelope, thread, &log, &state.keys.follow)
            else {
                continue;
            };
            match stored.chain.accept(&record) {
                Ok(Accepted::Appended) => stored.envelopes.push(envelope),
                Ok(Accepted::Duplicate) => {}
                Err(e) if e.code == ErrorCode::LogGap => gap = true,
                Err(_) => {}
            }
        }
        if gap || batch == PULL_LIMIT {
            let after = stored.counter();
            self.outbox.push((
                from,
                Message::Pull {
                    thread: thread.clone(),
                    log,
                    after,
                    limit: PULL_LIMIT,
                },
            ));
        }
    }

    /// Every message the peer wants to send, oldest first; the outbox is then empty.
    pub fn take_outbox(&mut self) -> Vec<(LogId, Message)> {
        std::mem::take(&mut self.outbox)
    }

    /// Head and counter of every log of `thread` [LOG-2].
    pub fn heads(&self, thread: &ThreadId) -> Result<BTreeMap<LogId, (Option<cid::Cid>, u64)>> {
        let state = self
            .threads
            .get(thread)
            .ok_or_else(|| unknown_thread(thread))?;
        Ok(state
            .logs
            .iter()
            .map(|(log, s)| (*log, (s.chain.head().copied(), s.counter())))
            .collect())
    }

    /// Every event of `thread` a reader can open, by log then seq; KEY_UNAVAILABLE for a
    /// follower [KEY-7], [VERIFY-2].
    pub fn read(&self, thread: &ThreadId) -> Result<Vec<OpenedEvent>> {
        let state = self
            .threads
            .get(thread)
            .ok_or_else(|| unknown_thread(thread))?;
        state.keys.read_key()?;
        let mut events = Vec::new();
        for (log, stored) in &state.logs {
            for envelope in &stored.envelopes {
                if let Ok(event) = verify::verify_reader(envelope, thread, log, &state.keys) {
                    events.push(event);
                }
            }
        }
        Ok(events)
    }
}

fn unknown_thread(thread: &ThreadId) -> Error {
    Error::new(
        ErrorCode::KeyUnavailable,
        format!("this peer holds no keys for thread {thread}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    type TestPeer = Peer<ChaCha20Rng>;

    fn peer(seed: u64) -> TestPeer {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        Peer::new(IdentityKey::generate(&mut rng), rng)
    }

    /// Carries every message between the online peers until none is left; returns the rounds.
    fn pump(peers: &mut [&mut TestPeer], online: &[bool]) -> usize {
        for round in 0..100 {
            let mut moved = false;
            for i in 0..peers.len() {
                for (to, message) in peers[i].take_outbox() {
                    moved = true;
                    let from = peers[i].id();
                    if let Some(j) = peers.iter().position(|p| p.id() == to)
                        && online[i]
                        && online[j]
                    {
                        let bytes = message.to_bytes();
                        peers[j].receive(
                            from,
                            Message::from_bytes(&bytes).expect("own encoding decodes"),
                        );
                    }
                }
            }
            if !moved {
                return round;
            }
        }
        panic!("messages still moving after 100 rounds");
    }

    #[test]
    fn a_reader_catches_up_from_a_follower_while_the_writer_is_offline() {
        let (mut writer, mut follower, mut reader) = (peer(1), peer(2), peer(3));
        let (thread, log) = writer.create_thread(Variant::Raw).expect("create");
        for i in 0..150u64 {
            writer
                .append(&thread, format!("event {i}").as_bytes(), 1_000 + i)
                .expect("append");
        }
        follower.join(writer.invite(&thread, Role::Follower).expect("invite"));
        pump(
            &mut [&mut writer, &mut follower, &mut reader],
            &[true, true, true],
        );
        assert_eq!(
            follower.heads(&thread).expect("heads")[&log],
            writer.heads(&thread).expect("heads")[&log]
        );
        assert_eq!(
            follower.read(&thread).map_err(|e| e.code),
            Err(ErrorCode::KeyUnavailable)
        );

        reader.join(writer.invite(&thread, Role::Reader).expect("invite"));
        pump(
            &mut [&mut writer, &mut follower, &mut reader],
            &[false, true, true],
        );
        let events = reader.read(&thread).expect("a reader reads");
        assert_eq!(events.len(), 150);
        for (i, event) in events.iter().enumerate() {
            assert_eq!(event.body, format!("event {i}").into_bytes());
            assert_eq!(event.header.time, 1_000 + i as u64);
        }
    }

    #[test]
    fn new_records_are_pushed_to_peers_that_pulled() {
        let (mut writer, mut follower) = (peer(4), peer(5));
        let (thread, log) = writer.create_thread(Variant::Raw).expect("create");
        follower.join(writer.invite(&thread, Role::Follower).expect("invite"));
        pump(&mut [&mut writer, &mut follower], &[true, true]);
        writer.append(&thread, b"later", 7).expect("append");
        pump(&mut [&mut writer, &mut follower], &[true, true]);
        assert_eq!(follower.heads(&thread).expect("heads")[&log].1, 1);
    }

    #[test]
    fn records_that_fail_verification_are_never_stored() {
        let (mut writer, mut follower) = (peer(6), peer(7));
        let (thread, log) = writer.create_thread(Variant::Raw).expect("create");
        writer.append(&thread, b"genuine", 1).expect("append");
        let invite = writer.invite(&thread, Role::Follower).expect("invite");
        follower.join(invite);
        follower.take_outbox();
        let Some((_, Message::Records { mut envelopes, .. })) = ({
            writer.receive(
                follower.id(),
                Message::Pull {
                    thread: thread.clone(),
                    log,
                    after: 0,
                    limit: 10,
                },
            );
            writer.take_outbox().pop()
        }) else {
            panic!("the writer answers a pull with records");
        };
        let last = envelopes[0].record.len() - 1;
        envelopes[0].record[last] ^= 1;
        follower.receive(
            writer.id(),
            Message::Records {
                thread: thread.clone(),
                log,
                envelopes,
            },
        );
        assert_eq!(follower.heads(&thread).expect("heads")[&log], (None, 0));
    }

    #[test]
    fn messages_round_trip_and_malformed_ones_are_errors() {
        let mut rng = ChaCha20Rng::seed_from_u64(8);
        let thread = ThreadId::generate(Variant::Raw, &mut rng);
        let log = IdentityKey::generate(&mut rng).log_id();
        let pull = Message::Pull {
            thread,
            log,
            after: 3,
            limit: 64,
        };
        assert_eq!(Message::from_bytes(&pull.to_bytes()), Ok(pull));
        for bad in [&[][..], &[0xa0], &[0x01, 0x02]] {
            assert_eq!(
                Message::from_bytes(bad).map_err(|e| e.code),
                Err(ErrorCode::BlockMalformed)
            );
        }
    }

    #[test]
    fn a_pull_beyond_the_log_or_with_limit_zero_is_answered_without_panicking() {
        let mut writer = peer(9);
        let (thread, log) = writer.create_thread(Variant::Raw).expect("create");
        writer.append(&thread, b"one", 1).expect("append");
        let asker = peer(10).id();
        for (after, limit) in [(u64::MAX, u64::MAX), (5, 1), (0, 0)] {
            writer.receive(
                asker,
                Message::Pull {
                    thread: thread.clone(),
                    log,
                    after,
                    limit,
                },
            );
            let Some((_, Message::Records { envelopes, .. })) = writer.take_outbox().pop() else {
                panic!("a pull is answered");
            };
            assert!(envelopes.is_empty());
        }
    }
}
