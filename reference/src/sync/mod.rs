//! Synchronisation (spec/sync.md, chapter 7): a sans-IO peer.
//!
//! A [`Peer`] holds threads — for each, its keys (the key book), its logs with their heads and
//! counters (the head book) and the peers it syncs with — and talks to other peers in
//! [`Message`]s: it pushes each record it appends to the thread's peers and publishes it on the
//! thread's topic [SYNC-4]; it answers a pull with a contiguous, oldest-first batch [SYNC-5];
//! it verifies every record before it stores it [SYNC-6]; it announces what is new to it and
//! exchanges heads on a timer so that peers that missed a push catch up by pulling [SYNC-8];
//! and it retries unanswered pulls with backoff [SYNC-10].
//!
//! The peer never touches a clock, a socket or an entropy source: commands and [`Peer::tick`]
//! carry the time, the RNG is handed in at construction, and everything it wants done comes out
//! of [`Peer::take_outputs`] for a driver (the harness adapter, the libp2p node, the simulator)
//! to carry. What it must not lose it writes to its [`Store`] before anything leaves it
//! [SYNC-12]; [`Peer::open`] restarts from what was stored [SYNC-13].

mod message;
mod thread;

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use cid::Cid;
use multiaddr::Multiaddr;
use rand_core::CryptoRng;

pub use message::{MAX_BATCH_BYTES, MAX_MESSAGE_BYTES, Message, PULL_LIMIT};
use thread::{AclEvents, Admitted, StoredLog, ThreadState};
pub use thread::{Decided, decide_records, pull_after, serve_pull};

use crate::acl::{Acl, AclAnchor, AclDocument, AclEvent, AclOp, Action, Roles};
use crate::addr::LogAddr;
use crate::book::{self, AddrBook, MAX_ATTEMPTS};
use crate::envelope::Envelope;
use crate::error::{Error, ErrorCode, Result};
use crate::id::{LogId, ThreadId, Variant};
use crate::invite::{Invite, InviteRole, InviteTerms, Join, LogEntry};
use crate::keys::{IdentityKey, KeySet};
use crate::record::{self, Author};
use crate::store::{MemoryStore, Store};
use crate::verify::{self, OpenedEvent};

/// How long a peer waits for records in flight to fill a gap before it pulls them [SYNC-7].
pub const GAP_GRACE_MS: u64 = 250;

/// How often a peer sends its heads to every peer of every thread it holds [SYNC-8].
pub const HEADS_INTERVAL_MS: u64 = 5_000;

/// Something the peer wants its driver to do [SYNC-3].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send `message` to the peer `to` (a request/response stream, in the libp2p driver).
    Send {
        /// The recipient.
        to: LogId,
        /// The message.
        message: Message,
    },
    /// Publish `message` on the thread's topic; best effort, as pushes and head exchange already
    /// deliver it [SYNC-4]. A driver without publish/subscribe may drop it.
    Publish {
        /// The thread, whose TID text names the topic.
        thread: ThreadId,
        /// The message.
        message: Message,
    },
    /// Tell the application something happened.
    Notify(Notification),
}

/// What a peer tells its application [SYNC-3].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    /// Records of `log` were verified, stored and appended; the log's counter is now `counter`.
    Appended {
        /// The thread.
        thread: ThreadId,
        /// The log.
        log: LogId,
        /// The log's new counter.
        counter: u64,
    },
    /// A record from `from` was dropped: it failed verification or does not extend its log
    /// [VERIFY-3], [LOG-5], [LOG-6].
    Rejected {
        /// The peer that sent it.
        from: LogId,
        /// The thread.
        thread: ThreadId,
        /// The log.
        log: LogId,
        /// Why.
        code: ErrorCode,
    },
}

/// What a peer has done so far; for progress reports and statistics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counters {
    /// Messages received.
    pub messages_in: u64,
    /// Messages sent or published.
    pub messages_out: u64,
    /// Records verified, stored and appended (the peer's own included).
    pub records_appended: u64,
    /// Records received that were already held.
    pub records_duplicate: u64,
    /// Records received and dropped [VERIFY-3].
    pub records_rejected: u64,
    /// Pulls sent, first attempts.
    pub pulls_sent: u64,
    /// Pulls sent again after no answer [SYNC-10].
    pub pulls_retried: u64,
}

/// A pull that has not been answered yet [SYNC-10].
struct Pending {
    attempt: u32,
    /// False for a pull deferred after a gap [SYNC-7]: it goes out when due unless the missing
    /// records arrive first.
    sent: bool,
    /// When to send it again; `None` if sent before the peer's first tick, which starts its clock.
    due: Option<u64>,
}

/// A peer: its identity, its threads, its books, and what it wants done.
pub struct Peer<R, S = MemoryStore> {
    identity: IdentityKey,
    rng: R,
    store: S,
    threads: BTreeMap<ThreadId, ThreadState>,
    outputs: Vec<Output>,
    addrs: AddrBook,
    listen: Vec<Multiaddr>,
    /// Unanswered pulls by (thread, log, peer asked).
    pending: BTreeMap<(ThreadId, LogId, LogId), Pending>,
    /// The time of the latest tick; `None` before the first.
    now: Option<u64>,
    next_heads: u64,
    counters: Counters,
    /// Set when the store failed: what is in memory may be ahead of what is stored, so the peer
    /// refuses to go on and must be reopened from its store [SYNC-12].
    failed: bool,
}

impl<R: CryptoRng> Peer<R, MemoryStore> {
    /// A peer with a host identity and an empty in-memory store, drawing all its randomness from
    /// `rng`.
    pub fn new(identity: IdentityKey, rng: R) -> Self {
        Peer::empty(identity, rng, MemoryStore::new())
    }
}

impl<R: CryptoRng, S: Store> Peer<R, S> {
    fn empty(identity: IdentityKey, rng: R, store: S) -> Self {
        Peer {
            identity,
            rng,
            store,
            threads: BTreeMap::new(),
            outputs: Vec::new(),
            addrs: AddrBook::default(),
            listen: Vec::new(),
            pending: BTreeMap::new(),
            now: None,
            next_heads: 0,
            counters: Counters::default(),
            failed: false,
        }
    }

    /// A peer restarted from its store [SYNC-13]: every stored thread and record, each record
    /// verified again as it was on arrival. STORE_CORRUPT if anything stored does not decode,
    /// verify or link.
    pub fn open(identity: IdentityKey, rng: R, store: S) -> Result<Self> {
        let stored = store.load()?;
        let mut peer = Peer::empty(identity, rng, store);
        for (id, contents) in stored {
            let thread = ThreadId::from_bytes(&id).map_err(corrupt)?;
            let (mut state, addrs) = ThreadState::from_description(&contents.meta)?;
            for (at, addr) in addrs {
                peer.addrs.add(at, addr, None);
            }
            for (log, envelopes) in contents.logs {
                let log = LogId::from_bytes(&log).map_err(corrupt)?;
                for bytes in envelopes {
                    let envelope = Envelope::from_bytes(&bytes).map_err(corrupt)?;
                    if !matches!(state.admit(&thread, log, envelope), Admitted::Appended) {
                        return Err(Error::new(
                            ErrorCode::StoreCorrupt,
                            format!("a stored record of log {log} no longer verifies or links"),
                        ));
                    }
                }
            }
            peer.threads.insert(thread, state);
        }
        Ok(peer)
    }

    /// Gives the store back, e.g. to reopen a peer from it after a simulated crash.
    pub fn into_store(self) -> S {
        self.store
    }

    /// This peer's ID [LOGID-4].
    pub fn id(&self) -> LogId {
        self.identity.log_id()
    }

    /// The threads this peer holds, in order.
    pub fn threads(&self) -> Vec<ThreadId> {
        self.threads.keys().cloned().collect()
    }

    /// What the peer has done so far.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// This peer's own addresses, put into the invites it writes [INV-3], [SYNC-9].
    pub fn set_listen_addrs(&mut self, addrs: Vec<Multiaddr>) {
        let me = self.id();
        self.listen = addrs
            .into_iter()
            .filter_map(|a| book::with_peer(a, &me))
            .collect();
    }

    /// Files `addr` for `peer` in the address book, for [`book::ADDR_TTL_MS`] from the latest tick
    /// [SYNC-9]. A new address of a peer of a thread is stored with the thread, so a restarted
    /// peer can still reach it [SYNC-12]; STORE_FAILED if that write fails.
    pub fn add_address(&mut self, peer: LogId, addr: Multiaddr) -> Result<()> {
        self.check_alive()?;
        if !self.addrs.add(peer, addr, self.now) {
            return Ok(());
        }
        let threads: Vec<ThreadId> = self
            .threads
            .iter()
            .filter(|(_, state)| state.peers.contains(&peer))
            .map(|(thread, _)| thread.clone())
            .collect();
        for thread in threads {
            self.save_thread(&thread)?;
        }
        Ok(())
    }

    /// Where `peer` can be reached, as far as this peer knows [SYNC-9].
    pub fn addresses(&self, peer: &LogId) -> Vec<Multiaddr> {
        if *peer == self.id() {
            return self.listen.clone();
        }
        self.addrs.get(peer)
    }

    /// Creates a thread with fresh keys and a log this peer writes; returns the thread and the log.
    ///
    /// An access-controlled thread's log is the peer's own identity, and its first record is the
    /// genesis naming this peer the only admin [ACL-4].
    pub fn create_thread(&mut self, variant: Variant, time: u64) -> Result<(ThreadId, LogId)> {
        self.check_alive()?;
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
        self.save_thread(&thread)?;
        if variant == Variant::AccessControlled {
            let genesis = AclEvent::Genesis {
                acl: AclDocument::for_thread(&thread, log),
            };
            let (_, _, cid) = self.append(&thread, &genesis.to_bytes(), time)?;
            if let Some(acl) = self.state_mut(&thread)?.acl.as_mut() {
                acl.genesis = cid;
            }
            self.save_thread(&thread)?;
        }
        Ok((thread, log))
    }

    /// Appends an event to this peer's log in `thread`: stored first, then pushed to the thread's
    /// peers and published on its topic [SYNC-4], [SYNC-12].
    pub fn append(
        &mut self,
        thread: &ThreadId,
        body: &[u8],
        time: u64,
    ) -> Result<(LogId, u64, Cid)> {
        self.check_alive()?;
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
        let position = state.logs.entry(log).or_default().chain.next_position();
        let envelope = record::create(&author, position, body, time, &mut self.rng);
        // A writer checks its own record as any reader would, so it never serves one they reject.
        let opened = verify::verify_reader(&envelope, thread, &log, &state.keys)?;
        let record = opened.record.clone();
        let cid = envelope.record_cid();
        let Admitted::Appended = state.link(log, cid, envelope.clone(), &record, Some(opened))
        else {
            return Err(Error::new(
                ErrorCode::Internal,
                "a record this peer just wrote does not extend its own log",
            ));
        };
        let counter = state.logs.get(&log).map_or(0, StoredLog::counter);
        self.save_records(thread, log, counter, std::slice::from_ref(&envelope))?;
        self.counters.records_appended += 1;
        let message = Message::Records {
            thread: thread.clone(),
            log,
            counter,
            envelopes: vec![envelope],
        };
        for peer in self.peers_of(thread) {
            self.send(peer, message.clone());
        }
        self.publish(thread, message);
        Ok((log, counter, cid))
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
    /// the addresses of the peers that serve it [SYNC-9], and, in an access-controlled thread,
    /// the ACL anchor [INV-9].
    pub fn invite(
        &mut self,
        thread: &ThreadId,
        role: InviteRole,
        recipient: LogId,
    ) -> Result<Vec<u8>> {
        let state = self.state(thread)?;
        let servers: Vec<LogId> = std::iter::once(self.id())
            .chain(state.peers.iter().copied())
            .filter(|peer| *peer != recipient)
            .collect();
        let logs = state
            .logs
            .keys()
            .map(|log| LogEntry {
                log: *log,
                addrs: servers
                    .iter()
                    .flat_map(|peer| self.log_addrs(peer, log))
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
        let keys = state.keys.clone();
        Ok(Invite::create(&self.identity, terms, &keys, &mut self.rng)?.to_bytes())
    }

    /// The log addresses of `log` at `peer`: one per known address of the peer, or the bare
    /// `/p2p/<peer>/ipel/<log>` when none is known [ADDR-1].
    fn log_addrs(&self, peer: &LogId, log: &LogId) -> Vec<String> {
        let addrs = self.addresses(peer);
        if addrs.is_empty() {
            return vec![format!("/p2p/{peer}/ipel/{log}")];
        }
        addrs.iter().map(|a| format!("{a}/ipel/{log}")).collect()
    }

    /// Joins a thread from an invite addressed to this peer [INV-6]: files the addresses it lists
    /// [SYNC-9], asks every listed peer for every listed log; a writer also starts its own log
    /// with a join event [INV-7].
    pub fn join(&mut self, invite: &[u8], time: u64) -> Result<(ThreadId, InviteRole)> {
        self.check_alive()?;
        let opened = Invite::open(invite, &self.identity)?;
        let me = self.id();
        let mut peers = BTreeSet::from([opened.inviter]);
        for entry in &opened.logs {
            for addr in entry.addrs.iter().filter_map(|a| LogAddr::from_str(a).ok()) {
                peers.insert(addr.peer());
                // A bare `/p2p/<peer>` names the peer but says nothing about where it is.
                if addr.peer_addr().iter().count() > 1 {
                    self.addrs
                        .add(addr.peer(), addr.peer_addr().clone(), self.now);
                }
            }
        }
        let acl = match &opened.acl {
            Some(bytes) => {
                let anchor = AclAnchor::from_bytes(bytes)?;
                // In an access-controlled thread a log's owner serves it too.
                peers.extend(opened.logs.iter().map(|e| e.log));
                Some(AclEvents {
                    creator: anchor.creator,
                    genesis: anchor.genesis,
                    events: BTreeMap::new(),
                })
            }
            None => None,
        };
        peers.remove(&me);
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
        self.save_thread(&thread)?;
        self.pull_all(&thread);
        if opened.role == InviteRole::Writer {
            self.append(&thread, &Join { addrs: Vec::new() }.to_bytes(), time)?;
        }
        Ok((thread, opened.role))
    }

    /// Asks every peer of the thread for everything after this peer's counter, for every log.
    fn pull_all(&mut self, thread: &ThreadId) {
        let Some(state) = self.threads.get(thread) else {
            return;
        };
        let wanted: Vec<(LogId, LogId)> = state
            .peers
            .iter()
            .flat_map(|peer| state.logs.keys().map(|log| (*peer, *log)))
            .collect();
        for (peer, log) in wanted {
            self.pull(thread, log, peer);
        }
    }

    /// Handles a message from `from` [SYNC-6], [SYNC-7], [SYNC-8]. Bad records are dropped,
    /// never stored [VERIFY-3]; messages about threads this peer does not hold are ignored.
    /// Fails only when the store fails (STORE_FAILED), after which the peer must be reopened.
    pub fn receive(&mut self, from: LogId, message: Message) -> Result<()> {
        self.check_alive()?;
        self.counters.messages_in += 1;
        if from == self.id() || !self.threads.contains_key(message.thread()) {
            return Ok(());
        }
        self.note_peer(message.thread(), from)?;
        match message {
            Message::Pull {
                thread,
                log,
                after,
                limit,
            } => {
                self.serve_pull(from, thread, log, after, limit);
                Ok(())
            }
            Message::Records {
                thread,
                log,
                counter,
                envelopes,
            } => self.ingest(from, &thread, log, counter, envelopes),
            Message::Heads { thread, heads } => self.on_heads(from, &thread, heads),
        }
    }

    /// Answers a pull with the next contiguous batch after `after` — possibly empty — and this
    /// peer's counter for the log [SYNC-5].
    fn serve_pull(&mut self, from: LogId, thread: ThreadId, log: LogId, after: u64, limit: u64) {
        let Some(state) = self.threads.get(&thread) else {
            return;
        };
        let (counter, envelopes) = match state.logs.get(&log) {
            Some(stored) => (
                stored.counter(),
                serve_pull(&stored.envelopes, after, limit),
            ),
            None => (0, Vec::new()),
        };
        let message = Message::Records {
            thread,
            log,
            counter,
            envelopes,
        };
        self.send(from, message);
    }

    /// Verifies and appends records in order, stores the new ones in one write, announces them to
    /// the thread's other peers, and pulls the rest if the sender has more [SYNC-6], [SYNC-7].
    fn ingest(
        &mut self,
        from: LogId,
        thread: &ThreadId,
        log: LogId,
        counter: u64,
        envelopes: Vec<Envelope>,
    ) -> Result<()> {
        let me = self.id();
        let Some(state) = self.threads.get_mut(thread) else {
            return Ok(());
        };
        let new_log = !state.logs.contains_key(&log);
        // In an access-controlled thread a log's ID is its writer's peer ID: a new log names a new
        // writer to pull from directly, which also makes it push its later records here.
        let owner = (state.acl.is_some() && new_log && log != me).then_some(log);
        let before = state.logs.get(&log).map_or(0, StoredLog::counter);
        let empty = envelopes.is_empty();
        let Decided {
            appended: fresh,
            duplicates,
            rejected,
            counter: after,
            gap,
        } = state.decide(thread, log, envelopes);
        // Only an answer ends the wait of a pull: a push that arrives beyond a gap does not, or
        // every out-of-order push would send one more pull [SYNC-10].
        if empty || !fresh.is_empty() || duplicates > 0 {
            self.pending.remove(&(thread.clone(), log, from));
        }
        self.counters.records_duplicate += duplicates;
        if new_log || owner.is_some() {
            if let Some(owner) = owner {
                state.peers.insert(owner);
            }
            self.save_thread(thread)?;
        }
        self.counters.records_rejected += rejected.len() as u64;
        for (_, code) in rejected {
            self.notify(Notification::Rejected {
                from,
                thread: thread.clone(),
                log,
                code,
            });
        }
        if !fresh.is_empty() {
            self.save_records(thread, log, before + 1, &fresh)?;
            self.counters.records_appended += fresh.len() as u64;
            self.notify(Notification::Appended {
                thread: thread.clone(),
                log,
                counter: after,
            });
            self.announce(thread, log, after, from);
        }
        if let Some(owner) = owner {
            self.pull(thread, log, owner);
        }
        if gap.is_some() && fresh.is_empty() {
            self.defer_pull(thread, log, from);
        } else if pull_after(counter, after).is_some() {
            self.pull(thread, log, from);
        }
        Ok(())
    }

    /// Tells the thread's other peers this peer's new counter for `log`, so that those behind
    /// pull [SYNC-8]. Only new records are announced, so announcements die out.
    fn announce(&mut self, thread: &ThreadId, log: LogId, counter: u64, from: LogId) {
        let message = Message::Heads {
            thread: thread.clone(),
            heads: vec![(log, counter)],
        };
        for peer in self.peers_of(thread).into_iter().filter(|p| *p != from) {
            self.send(peer, message.clone());
        }
    }

    /// Pulls every log on which `from` is ahead of this peer; learns logs it did not know
    /// [SYNC-8], [SYNC-11].
    fn on_heads(&mut self, from: LogId, thread: &ThreadId, heads: Vec<(LogId, u64)>) -> Result<()> {
        let Some(state) = self.threads.get_mut(thread) else {
            return Ok(());
        };
        let me = self.identity.log_id();
        let mut learned = Vec::new();
        let mut behind = Vec::new();
        for (log, theirs) in heads {
            if let std::collections::btree_map::Entry::Vacant(entry) = state.logs.entry(log) {
                entry.insert(StoredLog::default());
                learned.push(log);
            }
            if state.logs.get(&log).map_or(0, StoredLog::counter) < theirs {
                behind.push((log, from));
            }
        }
        // In an access-controlled thread a new log's writer is a new peer to sync with [SYNC-11].
        if state.acl.is_some() {
            for log in learned.iter().filter(|log| **log != me && **log != from) {
                state.peers.insert(*log);
                behind.push((*log, *log));
            }
        }
        if !learned.is_empty() {
            self.save_thread(thread)?;
        }
        for (log, peer) in behind {
            self.pull(thread, log, peer);
        }
        Ok(())
    }

    /// Sends a pull for what comes after this peer's counter, unless one to `peer` for the log is
    /// still unanswered [SYNC-10].
    fn pull(&mut self, thread: &ThreadId, log: LogId, peer: LogId) {
        let key = (thread.clone(), log, peer);
        if self.pending.contains_key(&key) {
            return;
        }
        self.counters.pulls_sent += 1;
        self.pending.insert(
            key,
            Pending {
                attempt: 0,
                sent: true,
                due: self.now.map(|now| now.saturating_add(book::retry_delay(0))),
            },
        );
        self.send_pull(thread, log, peer);
    }

    /// A pull that waits [`GAP_GRACE_MS`] for records still in flight to fill a gap: pushes that
    /// overtook each other usually do, and pulling at once would fetch them twice [SYNC-7]. A
    /// peer that has no clock yet pulls at once.
    fn defer_pull(&mut self, thread: &ThreadId, log: LogId, peer: LogId) {
        let Some(now) = self.now else {
            return self.pull(thread, log, peer);
        };
        self.pending
            .entry((thread.clone(), log, peer))
            .or_insert(Pending {
                attempt: 0,
                sent: false,
                due: Some(now.saturating_add(GAP_GRACE_MS)),
            });
    }

    fn send_pull(&mut self, thread: &ThreadId, log: LogId, peer: LogId) {
        let after = self
            .threads
            .get(thread)
            .and_then(|s| s.logs.get(&log))
            .map_or(0, StoredLog::counter);
        let message = Message::Pull {
            thread: thread.clone(),
            log,
            after,
            limit: PULL_LIMIT,
        };
        self.send(peer, message);
    }

    /// Advances the peer's clock to `now` (milliseconds): forgets expired addresses [SYNC-9],
    /// sends again the pulls that are due [SYNC-10], and sends its heads to every peer of every
    /// thread when the interval has passed [SYNC-8]. A clock that goes back is ignored.
    pub fn tick(&mut self, now: u64) -> Result<()> {
        self.check_alive()?;
        let now = self.now.map_or(now, |last| last.max(now));
        self.now = Some(now);
        self.addrs.expire(now);
        self.retry_due(now);
        if now >= self.next_heads {
            self.next_heads = now.saturating_add(HEADS_INTERVAL_MS);
            self.exchange_heads();
        }
        Ok(())
    }

    fn retry_due(&mut self, now: u64) {
        for pending in self.pending.values_mut() {
            pending
                .due
                .get_or_insert(now.saturating_add(book::retry_delay(pending.attempt)));
        }
        let due: Vec<_> = self
            .pending
            .iter()
            .filter(|(_, p)| p.due.is_some_and(|due| due <= now))
            .map(|(key, _)| key.clone())
            .collect();
        for key in due {
            let Some(pending) = self.pending.get_mut(&key) else {
                continue;
            };
            if !pending.sent {
                pending.sent = true;
                pending.due = Some(now.saturating_add(book::retry_delay(0)));
                self.counters.pulls_sent += 1;
                let (thread, log, peer) = key;
                self.send_pull(&thread, log, peer);
                continue;
            }
            pending.attempt += 1;
            if pending.attempt >= MAX_ATTEMPTS {
                self.pending.remove(&key);
                continue;
            }
            pending.due = Some(now.saturating_add(book::retry_delay(pending.attempt)));
            self.counters.pulls_retried += 1;
            let (thread, log, peer) = key;
            self.send_pull(&thread, log, peer);
        }
    }

    fn exchange_heads(&mut self) {
        let mut messages = Vec::new();
        for (thread, state) in &self.threads {
            let message = Message::Heads {
                thread: thread.clone(),
                heads: state.counters(),
            };
            for peer in &state.peers {
                messages.push((*peer, message.clone()));
            }
        }
        for (peer, message) in messages {
            self.send(peer, message);
        }
    }

    /// Everything the peer wants done, oldest first; the queue is then empty.
    pub fn take_outputs(&mut self) -> Vec<Output> {
        std::mem::take(&mut self.outputs)
    }

    /// Only the messages to send, oldest first, for a driver without publish/subscribe that has
    /// no use for notifications [SYNC-4]; everything else queued is dropped.
    pub fn take_messages(&mut self) -> Vec<(LogId, Message)> {
        self.take_outputs()
            .into_iter()
            .filter_map(|output| match output {
                Output::Send { to, message } => Some((to, message)),
                Output::Publish { .. } | Output::Notify(_) => None,
            })
            .collect()
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

    /// The envelopes of one log, in seq order, as this peer stores and serves them.
    pub fn envelopes(&self, thread: &ThreadId, log: &LogId) -> Result<&[Envelope]> {
        Ok(self
            .state(thread)?
            .logs
            .get(log)
            .map_or(&[][..], |s| &s.envelopes))
    }

    /// The peers this peer syncs `thread` with [SYNC-4].
    pub fn peers_of(&self, thread: &ThreadId) -> Vec<LogId> {
        self.threads
            .get(thread)
            .map(|s| s.peers.iter().copied().collect())
            .unwrap_or_default()
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

    /// Adds `peer` to the thread's peers (and stores that) the first time it talks about it.
    fn note_peer(&mut self, thread: &ThreadId, peer: LogId) -> Result<()> {
        let added = self
            .threads
            .get_mut(thread)
            .is_some_and(|s| s.peers.insert(peer));
        if added {
            self.save_thread(thread)?;
        }
        Ok(())
    }

    fn send(&mut self, to: LogId, message: Message) {
        self.counters.messages_out += 1;
        self.outputs.push(Output::Send { to, message });
    }

    fn publish(&mut self, thread: &ThreadId, message: Message) {
        self.counters.messages_out += 1;
        self.outputs.push(Output::Publish {
            thread: thread.clone(),
            message,
        });
    }

    fn notify(&mut self, notification: Notification) {
        self.outputs.push(Output::Notify(notification));
    }

    fn save_thread(&mut self, thread: &ThreadId) -> Result<()> {
        let meta = self.state(thread)?.describe(&self.addrs);
        let result = self.store.put_thread(thread.as_bytes(), &meta);
        self.stop_on_failure(result)
    }

    fn save_records(
        &mut self,
        thread: &ThreadId,
        log: LogId,
        first: u64,
        envelopes: &[Envelope],
    ) -> Result<()> {
        let bytes: Vec<Vec<u8>> = envelopes.iter().map(Envelope::to_bytes).collect();
        let result = self
            .store
            .put_records(thread.as_bytes(), &log.to_bytes(), first, &bytes);
        self.stop_on_failure(result)
    }

    /// A failed write leaves memory ahead of the store; from then on the peer only refuses
    /// [SYNC-12].
    fn stop_on_failure(&mut self, result: Result<()>) -> Result<()> {
        if result.is_err() {
            self.failed = true;
            self.outputs.clear();
        }
        result
    }

    fn check_alive(&self) -> Result<()> {
        if self.failed {
            return Err(Error::new(
                ErrorCode::StoreFailed,
                "the store failed earlier; reopen the peer from its store",
            ));
        }
        Ok(())
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

fn corrupt(e: Error) -> Error {
    Error::new(ErrorCode::StoreCorrupt, e.to_string())
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
                for (to, message) in peers[i].take_messages() {
                    moved = true;
                    let from = peers[i].id();
                    if let Some(j) = peers.iter().position(|p| p.id() == to)
                        && online[i]
                        && online[j]
                    {
                        let bytes = message.to_bytes();
                        peers[j]
                            .receive(
                                from,
                                Message::from_bytes(&bytes).expect("own encoding decodes"),
                            )
                            .expect("the memory store does not fail");
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
        follower.take_outputs();
        let Some((_, Message::Records { mut envelopes, .. })) = ({
            writer
                .receive(
                    follower.id(),
                    Message::Pull {
                        thread: thread.clone(),
                        log,
                        after: 0,
                        limit: 10,
                    },
                )
                .expect("receive");
            writer.take_messages().pop()
        }) else {
            panic!("the writer answers a pull with records");
        };
        let last = envelopes[0].record.len() - 1;
        envelopes[0].record[last] ^= 1;
        follower
            .receive(
                writer.id(),
                Message::Records {
                    thread: thread.clone(),
                    log,
                    counter: 1,
                    envelopes,
                },
            )
            .expect("receive");
        assert_eq!(follower.heads(&thread).expect("heads")[&log], (None, 0));
    }

    #[test]
    fn a_pull_beyond_the_log_or_with_limit_zero_is_answered_without_panicking() {
        let mut writer = peer(9);
        let (thread, log) = writer.create_thread(Variant::Raw, 0).expect("create");
        writer.append(&thread, b"one", 1).expect("append");
        let asker = peer(10).id();
        for (after, limit) in [(u64::MAX, u64::MAX), (5, 1), (0, 0)] {
            writer
                .receive(
                    asker,
                    Message::Pull {
                        thread: thread.clone(),
                        log,
                        after,
                        limit,
                    },
                )
                .expect("the memory store does not fail");
            let Some((_, Message::Records { envelopes, .. })) = writer.take_messages().pop() else {
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
