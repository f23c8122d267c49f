//! A sans-IO peer (chapter 7, Synchronisation, is still to be written): the exchange the harness's
//! live scenarios use — pull a log oldest-first after one's counter, answer with a contiguous
//! batch, push new records to the peers that pulled, pass newly accepted records on to the
//! thread's other peers — plus joining by invite (chapter 5) and the access-controlled threads of
//! chapter 6, where only what the ACL accepts is applied.
//!
//! The [`Peer`] never touches a clock, a socket or an entropy source: commands carry the time, the
//! RNG is handed in at construction, and every message it wants to send comes out of
//! [`Peer::take_outbox`] for a driver (the harness adapter, later the libp2p node and the
//! simulator) to carry.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use cid::Cid;
use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use crate::acl::{
    Acl, AclAnchor, AclDocument, AclEvent, AclEventRef, AclOp, Action, Genesis, Roles,
};
use crate::addr::LogAddr;
use crate::block;
use crate::envelope::Envelope;
use crate::error::{Error, ErrorCode, Result};
use crate::id::{LogId, ThreadId, Variant};
use crate::invite::{Invite, InviteRole, InviteTerms, Join, LogEntry};
use crate::keys::{IdentityKey, KeySet};
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

/// One thread as a peer holds it.
struct ThreadState {
    keys: KeySet,
    /// The identity key of this peer's own log in the thread, if it writes one.
    writer: Option<IdentityKey>,
    logs: BTreeMap<LogId, StoredLog>,
    /// Peers to push new records to, and to pull from.
    peers: BTreeSet<LogId>,
    /// Access-controlled threads: where the genesis is, and the ACL events read so far.
    acl: Option<AclEvents>,
}

/// What a reader of an access-controlled thread knows of its ACL [ACL-6], [ACL-11].
struct AclEvents {
    creator: LogId,
    genesis: Cid,
    events: BTreeMap<Cid, AclEventRef>,
}

impl AclEvents {
    /// The ACL as of the events read so far; `None` until the genesis record is read [ACL-4].
    fn current(&self, thread: &ThreadId) -> Option<Acl> {
        let genesis = self.events.get(&self.genesis)?;
        if genesis.author != self.creator {
            return None;
        }
        let genesis = Genesis::new(thread, genesis).ok()?;
        Some(Acl::from_events(genesis, self.events.values().cloned()))
    }
}

/// A log's chain and the envelopes that make it up, for serving.
#[derive(Default)]
struct StoredLog {
    chain: Log,
    envelopes: Vec<Envelope>,
    /// For readers, each envelope opened once on arrival [VERIFY-2]; `None` where the header or
    /// body does not open (the record still belongs to its log) or for a follower.
    opened: Vec<Option<OpenedEvent>>,
}

impl StoredLog {
    fn counter(&self) -> u64 {
        self.chain.counter()
    }
}

/// Why ingesting a batch stopped early.
enum Stop {
    /// A record is beyond the next position: ask for the missing ones.
    Gap,
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
    ///
    /// An access-controlled thread's log is the peer's own identity, and its first record is the
    /// genesis naming this peer the only admin [ACL-4].
    pub fn create_thread(&mut self, variant: Variant, time: u64) -> Result<(ThreadId, LogId)> {
        let thread = ThreadId::generate(variant, &mut self.rng);
        let keys = KeySet::generate(&mut self.rng);
        let writer = match variant {
            Variant::AccessControlled => self.identity.clone(),
            Variant::Raw => IdentityKey::generate(&mut self.rng),
        };
        let log = writer.log_id();
        let acl = (variant == Variant::AccessControlled).then(|| AclEvents {
            creator: log,
            genesis: Cid::default(),
            events: BTreeMap::new(),
        });
        let state = ThreadState {
            keys,
            writer: Some(writer),
            logs: BTreeMap::from([(log, StoredLog::default())]),
            peers: BTreeSet::new(),
            acl,
        };
        self.threads.insert(thread.clone(), state);
        if variant == Variant::AccessControlled {
            let genesis = AclEvent::Genesis {
                acl: AclDocument::for_thread(&thread, log),
            };
            let (_, _, cid) = self.append(&thread, &genesis.to_bytes(), time)?;
            if let Some(acl) = self.state_mut(&thread)?.acl.as_mut() {
                acl.genesis = cid;
            }
        }
        Ok((thread, log))
    }

    /// Appends an event to this peer's log in `thread` and pushes it to the thread's peers.
    pub fn append(
        &mut self,
        thread: &ThreadId,
        body: &[u8],
        time: u64,
    ) -> Result<(LogId, u64, Cid)> {
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
        // A writer checks its own record as any reader would, so it never serves one they reject.
        let opened = verify::verify_reader(&envelope, thread, &log, &state.keys)?;
        stored.chain.accept(&opened.record)?;
        stored.envelopes.push(envelope.clone());
        stored.opened.push(Some(opened.clone()));
        if let (Some(acl), Some(event)) = (state.acl.as_mut(), AclEventRef::from_opened(&opened)?) {
            acl.events.insert(event.cid, event);
        }
        for peer in &state.peers {
            let message = Message::Records {
                thread: thread.clone(),
                log,
                envelopes: vec![envelope.clone()],
            };
            self.outbox.push((*peer, message));
        }
        Ok((log, opened.record.seq(), *opened.record.cid()))
    }

    /// Changes a peer's roles in an access-controlled thread: a signed ACL change event in this
    /// peer's log [ACL-5]. Revoking write records the cut: the revoked peer's counter as known here.
    pub fn set_roles(
        &mut self,
        thread: &ThreadId,
        peer: LogId,
        roles: Roles,
        time: u64,
    ) -> Result<Cid> {
        let state = self.state(thread)?;
        let acl = current_acl(thread, state)?;
        acl.may(&self.id(), Action::Admin)?;
        let counter = state.logs.get(&peer).map_or(0, StoredLog::counter);
        let change = acl.next_change(AclOp::set_peer(peer, roles, counter))?;
        let (_, _, cid) = self.append(thread, &AclEvent::Change(change).to_bytes(), time)?;
        Ok(cid)
    }

    /// The thread's current ACL document [ACL-3], [ACL-6].
    pub fn acl_document(&self, thread: &ThreadId) -> Result<AclDocument> {
        Ok(current_acl(thread, self.state(thread)?)?.document().clone())
    }

    /// The keys this peer holds for `thread` [KEY-6].
    pub fn keys(&self, thread: &ThreadId) -> Result<&KeySet> {
        Ok(&self.state(thread)?.keys)
    }

    /// A signed invite for `recipient` [INV-3]: the key set for `role` sealed to it, every log with
    /// the peers that serve it, and, in an access-controlled thread, the ACL anchor [INV-9].
    pub fn invite(
        &mut self,
        thread: &ThreadId,
        role: InviteRole,
        recipient: LogId,
    ) -> Result<Vec<u8>> {
        let state = self
            .threads
            .get(thread)
            .ok_or_else(|| unknown_thread(thread))?;
        let me = self.identity.log_id();
        let servers: Vec<LogId> = std::iter::once(me)
            .chain(state.peers.iter().copied())
            .collect();
        let logs = state
            .logs
            .keys()
            .map(|log| LogEntry {
                log: *log,
                addrs: servers
                    .iter()
                    .map(|peer| format!("/p2p/{peer}/ipel/{log}"))
                    .collect(),
            })
            .collect();
        let acl = match &state.acl {
            Some(_) => Some(AclAnchor::of(&current_acl(thread, state)?).to_bytes()),
            None => None,
        };
        let terms = InviteTerms {
            thread: thread.clone(),
            role,
            recipient,
            logs,
            acl,
        };
        Ok(Invite::create(&self.identity, terms, &state.keys, &mut self.rng)?.to_bytes())
    }

    /// Joins a thread from an invite addressed to this peer [INV-6]: asks every listed peer for
    /// every listed log; a writer also starts its own log with a join event [INV-7].
    pub fn join(&mut self, invite: &[u8], time: u64) -> Result<(ThreadId, InviteRole)> {
        let opened = Invite::open(invite, &self.identity)?;
        let me = self.id();
        let mut peers = BTreeSet::from([opened.inviter]);
        for entry in &opened.logs {
            for addr in &entry.addrs {
                peers.extend(LogAddr::from_str(addr).map(|a| a.peer()));
            }
        }
        peers.remove(&me);
        let acl = match &opened.acl {
            Some(bytes) => {
                let anchor = AclAnchor::from_bytes(bytes)?;
                // In an access-controlled thread a log's owner serves it too.
                peers.extend(opened.logs.iter().map(|e| e.log).filter(|log| *log != me));
                Some(AclEvents {
                    creator: anchor.creator,
                    genesis: anchor.genesis,
                    events: BTreeMap::new(),
                })
            }
            None => None,
        };
        let writer = (opened.role == InviteRole::Writer).then(|| match acl {
            Some(_) => self.identity.clone(),
            None => IdentityKey::generate(&mut self.rng),
        });
        let state = ThreadState {
            keys: opened.keys,
            writer,
            logs: opened
                .logs
                .iter()
                .map(|e| (e.log, StoredLog::default()))
                .collect(),
            peers,
            acl,
        };
        let thread = opened.thread;
        self.threads.insert(thread.clone(), state);
        self.pull_all(&thread);
        if opened.role == InviteRole::Writer {
            self.append(&thread, &Join { addrs: Vec::new() }.to_bytes(), time)?;
        }
        Ok((thread, opened.role))
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

    /// Verifies and appends records in order and passes the new ones on to the thread's other
    /// peers; after a full batch or a gap, asks `from` for more.
    fn ingest(&mut self, from: LogId, thread: &ThreadId, log: LogId, envelopes: Vec<Envelope>) {
        let Some(state) = self.threads.get_mut(thread) else {
            return;
        };
        let batch = envelopes.len() as u64;
        // In an access-controlled thread a log's ID is its writer's peer ID: a new log names a new
        // writer to pull from directly, which also makes it push its later records here.
        if state.acl.is_some() && !state.logs.contains_key(&log) && log != self.identity.log_id() {
            state.peers.insert(log);
            let message = Message::Pull {
                thread: thread.clone(),
                log,
                after: 0,
                limit: PULL_LIMIT,
            };
            self.outbox.push((log, message));
        }
        let mut stop = None;
        let mut fresh = Vec::new();
        for envelope in envelopes {
            match admit(state, thread, log, envelope.clone()) {
                Ok(()) => fresh.push(envelope),
                Err(Some(why)) => {
                    stop = Some(why);
                    break;
                }
                Err(None) => {}
            }
        }
        // Gossip: what is new here is news to the other peers of the thread too. Only newly
        // appended records travel on, so the flood ends.
        if !fresh.is_empty() {
            for peer in state.peers.iter().filter(|p| **p != from) {
                let message = Message::Records {
                    thread: thread.clone(),
                    log,
                    envelopes: fresh.clone(),
                };
                self.outbox.push((*peer, message));
            }
        }
        let counter = state.logs.get(&log).map_or(0, StoredLog::counter);
        if matches!(stop, Some(Stop::Gap)) || (stop.is_none() && batch == PULL_LIMIT) {
            let message = Message::Pull {
                thread: thread.clone(),
                log,
                after: counter,
                limit: PULL_LIMIT,
            };
            self.outbox.push((from, message));
        }
    }

    /// Every message the peer wants to send, oldest first; the outbox is then empty.
    pub fn take_outbox(&mut self) -> Vec<(LogId, Message)> {
        std::mem::take(&mut self.outbox)
    }

    /// Head and counter of every log of `thread` [LOG-2].
    pub fn heads(&self, thread: &ThreadId) -> Result<BTreeMap<LogId, (Option<Cid>, u64)>> {
        let state = self.state(thread)?;
        Ok(state
            .logs
            .iter()
            .map(|(log, s)| (*log, (s.chain.head().copied(), s.counter())))
            .collect())
    }

    /// Every application event of `thread` a reader can open, by log then seq. In an
    /// access-controlled thread the ACL decides what is applied: not the ACL's own events, not
    /// records it refuses [ACL-7], not deleted events [ACL-8]. KEY_UNAVAILABLE for a follower
    /// [KEY-7], [VERIFY-2].
    pub fn read(&self, thread: &ThreadId) -> Result<Vec<OpenedEvent>> {
        let state = self.state(thread)?;
        state.keys.read_key()?;
        let acl = match &state.acl {
            Some(_) => Some(current_acl(thread, state)?),
            None => None,
        };
        let mut events = Vec::new();
        for (log, stored) in &state.logs {
            for event in stored.opened.iter().flatten() {
                let shown = match &acl {
                    None => true,
                    Some(acl) => {
                        acl.accepts_record(log, event.record.seq()).is_ok()
                            && !acl.is_deleted(event.record.cid())
                            && matches!(AclEvent::classify(&event.body), Ok(None))
                    }
                };
                if shown {
                    events.push(event.clone());
                }
            }
        }
        Ok(events)
    }

    fn state(&self, thread: &ThreadId) -> Result<&ThreadState> {
        self.threads
            .get(thread)
            .ok_or_else(|| unknown_thread(thread))
    }

    fn state_mut(&mut self, thread: &ThreadId) -> Result<&mut ThreadState> {
        self.threads
            .get_mut(thread)
            .ok_or_else(|| unknown_thread(thread))
    }
}

/// Decides one record of a batch: `Ok` appended, `Err(None)` dropped (invalid or a duplicate),
/// `Err(Some(Stop::Gap))` the rest of the batch cannot follow.
///
/// Every peer stores and serves every verified, linked record [VERIFY-1], [LOG-3]; the ACL
/// decides only what is applied [ACL-7]. A reader of an access-controlled thread also takes note
/// of the ACL events it can read [ACL-6].
fn admit(
    state: &mut ThreadState,
    thread: &ThreadId,
    log: LogId,
    envelope: Envelope,
) -> Result<(), Option<Stop>> {
    // A reader opens each record once, here; a record whose header or body does not open is still
    // a valid record of its log [VERIFY-1], stored and served but never read.
    let opened = match state.keys.read {
        Some(_) => verify::verify_reader(&envelope, thread, &log, &state.keys).ok(),
        None => None,
    };
    let record = match &opened {
        Some(event) => event.record.clone(),
        None => verify::verify_follower(&envelope, thread, &log, &state.keys.follow)
            .map_err(|_| None)?,
    };
    let stored = state.logs.entry(log).or_default();
    match stored.chain.accept(&record) {
        Ok(Accepted::Appended) => {}
        Err(e) if e.code == ErrorCode::LogGap => return Err(Some(Stop::Gap)),
        Ok(Accepted::Duplicate) | Err(_) => return Err(None),
    }
    if let (Some(acl), Some(event)) = (state.acl.as_mut(), &opened)
        && let Ok(Some(event)) = AclEventRef::from_opened(event)
    {
        acl.events.insert(event.cid, event);
    }
    stored.envelopes.push(envelope);
    stored.opened.push(opened);
    Ok(())
}

/// The current ACL of an access-controlled thread, from what this peer has read [ACL-6].
fn current_acl(thread: &ThreadId, state: &ThreadState) -> Result<Acl> {
    let events = state.acl.as_ref().ok_or_else(|| {
        Error::new(
            ErrorCode::AclDenied,
            format!("thread {thread} is not access-controlled"),
        )
    })?;
    events.current(thread).ok_or_else(|| {
        Error::new(
            ErrorCode::AclDenied,
            "the thread's genesis has not been read yet",
        )
    })
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
    use crate::acl::Role;
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
        let (thread, log) = writer.create_thread(Variant::Raw, 0).expect("create");
        for i in 0..150u64 {
            writer
                .append(&thread, format!("event {i}").as_bytes(), 1_000 + i)
                .expect("append");
        }
        let invite = writer
            .invite(&thread, InviteRole::Follower, follower.id())
            .expect("invite");
        follower.join(&invite, 0).expect("join");
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

        let invite = writer
            .invite(&thread, InviteRole::Reader, reader.id())
            .expect("invite");
        reader.join(&invite, 0).expect("join");
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
        let (thread, log) = writer.create_thread(Variant::Raw, 0).expect("create");
        let invite = writer
            .invite(&thread, InviteRole::Follower, follower.id())
            .expect("invite");
        follower.join(&invite, 0).expect("join");
        pump(&mut [&mut writer, &mut follower], &[true, true]);
        writer.append(&thread, b"later", 7).expect("append");
        pump(&mut [&mut writer, &mut follower], &[true, true]);
        assert_eq!(follower.heads(&thread).expect("heads")[&log].1, 1);
    }

    #[test]
    fn records_that_fail_verification_are_never_stored() {
        let (mut writer, mut follower) = (peer(6), peer(7));
        let (thread, log) = writer.create_thread(Variant::Raw, 0).expect("create");
        writer.append(&thread, b"genuine", 1).expect("append");
        let invite = writer
            .invite(&thread, InviteRole::Follower, follower.id())
            .expect("invite");
        follower.join(&invite, 0).expect("join");
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
        let (thread, log) = writer.create_thread(Variant::Raw, 0).expect("create");
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

    #[test]
    fn in_an_access_controlled_thread_a_revoked_writers_records_beyond_its_cut_are_not_applied() {
        let (mut admin, mut writer, mut reader, mut follower) =
            (peer(11), peer(12), peer(13), peer(14));
        let (thread, _) = admin
            .create_thread(Variant::AccessControlled, 0)
            .expect("create");
        let grants = [
            (writer.id(), Role::Write),
            (reader.id(), Role::Read),
            (follower.id(), Role::Follow),
        ];
        for (peer, role) in grants {
            admin
                .set_roles(&thread, peer, Roles::of(role), 1)
                .expect("admin grants");
        }
        // Nobody gets an invite beyond its role.
        assert_eq!(
            admin
                .invite(&thread, InviteRole::Reader, follower.id())
                .map_err(|e| e.code),
            Err(ErrorCode::AclDenied)
        );
        for (p, role) in [
            (&mut writer, InviteRole::Writer),
            (&mut reader, InviteRole::Reader),
            (&mut follower, InviteRole::Follower),
        ] {
            let invite = admin.invite(&thread, role, p.id()).expect("invite");
            p.join(&invite, 2).expect("join");
        }
        let all = [true; 4];
        pump(
            &mut [&mut admin, &mut writer, &mut reader, &mut follower],
            &all,
        );
        writer.append(&thread, b"allowed 1", 3).expect("append");
        writer.append(&thread, b"allowed 2", 4).expect("append");
        pump(
            &mut [&mut admin, &mut writer, &mut reader, &mut follower],
            &all,
        );
        let w = writer.id();
        assert_eq!(
            reader.heads(&thread).expect("heads")[&w].1,
            3,
            "join and two events"
        );
        assert_eq!(follower.keys(&thread).expect("keys").read, None);
        assert_eq!(
            reader.keys(&thread).expect("keys"),
            admin.keys(&thread).expect("keys")
        );

        // The admin revokes write (cut 3) while the writer, not yet told, appends once more.
        admin
            .set_roles(&thread, w, Roles::of(Role::Read), 5)
            .expect("revoke");
        writer
            .append(&thread, b"too late", 6)
            .expect("the writer does not know yet");
        pump(
            &mut [&mut admin, &mut writer, &mut reader, &mut follower],
            &all,
        );
        // Every peer links and stores the record (logs stay one chain); readers do not apply it.
        for p in [&admin, &reader, &follower] {
            assert_eq!(p.heads(&thread).expect("heads")[&w].1, 4);
        }
        for p in [&admin, &reader] {
            let bodies: Vec<Vec<u8>> = p
                .read(&thread)
                .expect("read")
                .into_iter()
                .map(|e| e.body)
                .collect();
            assert!(!bodies.contains(&b"too late".to_vec()));
            assert!(bodies.contains(&b"allowed 2".to_vec()));
        }
        assert_eq!(
            reader.acl_document(&thread).expect("acl"),
            admin.acl_document(&thread).expect("acl")
        );
    }
}
