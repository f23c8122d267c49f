//! The [`Peer`]: its state, its constructors, its getters and its output queues (spec/sync.md).

use std::collections::{BTreeMap, VecDeque};

use cid::Cid;
use multiaddr::Multiaddr;
use rand_chacha::ChaCha20Rng;
use rand_core::{CryptoRng, SeedableRng};

use super::pulls::{PULL_WINDOW, Window};
use super::thread::ThreadState;
use super::{Counters, Destination, Message, Notification, Transmit};
use crate::acl::AclDocument;
use crate::acl::AclView;
use crate::book::AddrBook;
use crate::db::Reducer;
use crate::envelope::Envelope;
use crate::error::{Error, ErrorCode, Result};
use crate::id::{LogId, ThreadId};
use crate::keys::{IdentityKey, KeySet};
use crate::log::ahead::AheadVerdicts;
use crate::store::{MemoryStore, Store};
use crate::verify::OpenedEvent;

/// A peer: its identity, its threads, its books, and what it wants done (spec/sync.md, chapter 7).
///
/// The peer is a state machine in the manner of quinn-proto's `Connection`. It never reads a
/// clock, a socket or an entropy source: every input carries the time, `now`, in milliseconds of
/// Unix time (or any clock the driver keeps, as long as it never goes back), the RNG is handed in
/// at construction, and everything it wants done waits in a queue for the driver. Its methods come
/// in four kinds:
///
/// - **getters** read state: [`Peer::id`], [`Peer::threads`], [`Peer::heads`],
///   [`Peer::envelopes`], [`Peer::read`], [`Peer::keys`], [`Peer::acl_document`],
///   [`Peer::addresses`], [`Peer::peers_of`], [`Peer::counters`];
/// - **inputs** from the network and the clock: [`Peer::handle_message`] takes the bytes a peer
///   sent (the peer decodes them and drops what is malformed [SYNC-2]), and
///   [`Peer::handle_timeout`] tells it that the time [`Peer::poll_timeout`] asked for has come;
/// - **commands** from the application: [`Peer::create_thread`], [`Peer::append`],
///   [`Peer::set_roles`], [`Peer::invite`], [`Peer::join`], [`Peer::add_address`],
///   [`Peer::set_listen_addrs`];
/// - **outputs**, polled after every input or command until they return `None`:
///   [`Peer::poll_transmit`] gives the bytes to send and to whom ([`Transmit`]),
///   [`Peer::poll_event`] what to tell the application ([`Notification`]), and
///   [`Peer::poll_timeout`] when to call [`Peer::handle_timeout`] next: the earliest of the
///   head-exchange timer [SYNC-8], a pull's retry or grace deadline [SYNC-7], [SYNC-10], and an
///   address's expiry [SYNC-9]. A driver sleeps exactly until then.
///
/// ```text
///   driver                               Peer
///   bytes from peer `from` ──▶ handle_message(now, from, &bytes)
///   clock reaches the time ──▶ handle_timeout(now)
///   application ─────────────▶ append(now, thread, body), join(now, invite), …
///   inputs arrived together ─▶ begin_group() … handle_message(…) … end_group()
///                              poll_transmit() ──▶ send bytes to a peer, or publish on a topic
///                              poll_event()    ──▶ tell the application
///                              poll_timeout()  ──▶ sleep until then
/// ```
pub struct Peer<R, S = MemoryStore> {
    pub(super) identity: IdentityKey,
    pub(super) rng: R,
    pub(super) store: S,
    pub(super) threads: BTreeMap<ThreadId, ThreadState>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Notification>,
    pub(super) addrs: AddrBook,
    pub(super) listen: Vec<Multiaddr>,
    /// The window of pulls of each (thread, log, peer asked) [SYNC-32].
    pub(super) pending: BTreeMap<(ThreadId, LogId, LogId), Window>,
    /// Bytes of the answers the windows hold [SYNC-33].
    pub(super) held_bytes: usize,
    /// The same, by the peer they came from [SYNC-33].
    pub(super) held_from: BTreeMap<LogId, usize>,
    /// Pulls in flight per window, at most [SYNC-32].
    pub(super) pull_window: usize,
    /// The latest time an input carried; never goes back.
    pub(super) now: u64,
    /// When heads go out next [SYNC-8]; 0 sends them at the first timeout.
    pub(super) next_heads: u64,
    pub(super) counters: Counters,
    /// The reducers registered for each thread: the peer runs them on every record it stores
    /// and writes their rows in the same store write [DB-11].
    pub(super) reducers: BTreeMap<ThreadId, Vec<Box<dyn Reducer>>>,
    /// View rows loaded from the store for threads whose reducers are not registered yet: checked
    /// against the events when they are [SYNC-13].
    pub(super) stored_views: BTreeMap<ThreadId, BTreeMap<Vec<u8>, Vec<u8>>>,
    /// Set when the store failed: what is in memory may be ahead of what is stored, so the peer
    /// refuses to go on and must be reopened from its store [SYNC-12].
    failed: bool,
    /// The local secret the peer's nonces and decoy proofs come from: drawn from the RNG when the
    /// peer starts, never stored, so a restart voids every outstanding nonce [SYNC-19].
    pub(super) secret: [u8; 32],
    /// The thread of each gossip topic [SYNC-24].
    pub(super) topics: BTreeMap<String, ThreadId>,
    /// Threads the verifications of one batch are spread over [SYNC-31]; 1 verifies inline.
    pub(super) verify_threads: usize,
    /// Inside a group commit ([`Peer::begin_group`]): the outputs wait for its end [SYNC-12].
    grouped: bool,
    /// Verdicts computed ahead for the message being handled, and only during it [SYNC-31].
    pub(super) given: AheadVerdicts,
}

impl Peer<ChaCha20Rng, MemoryStore> {
    /// A peer with an empty in-memory store whose identity and every later random value come from
    /// `seed`: the identity key is the first draw of a ChaCha20 RNG seeded with it. The harness
    /// adapter and the simulator create their nodes this way [HP-29].
    pub fn from_seed(seed: [u8; 32]) -> Self {
        let mut rng = ChaCha20Rng::from_seed(seed);
        let identity = IdentityKey::generate(&mut rng);
        Peer::new(identity, rng)
    }
}

impl<R: CryptoRng> Peer<R, MemoryStore> {
    /// A peer with a host identity and an empty in-memory store, drawing all its randomness from
    /// `rng`.
    pub fn new(identity: IdentityKey, rng: R) -> Self {
        Peer::empty(identity, rng, MemoryStore::new(), 0)
    }
}

impl<R: CryptoRng, S: Store> Peer<R, S> {
    fn empty(identity: IdentityKey, mut rng: R, store: S, now: u64) -> Self {
        let mut secret = [0u8; 32];
        rng.fill_bytes(&mut secret);
        Peer {
            identity,
            rng,
            store,
            threads: BTreeMap::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            addrs: AddrBook::default(),
            listen: Vec::new(),
            pending: BTreeMap::new(),
            held_bytes: 0,
            held_from: BTreeMap::new(),
            pull_window: PULL_WINDOW,
            now,
            next_heads: 0,
            counters: Counters::default(),
            reducers: BTreeMap::new(),
            stored_views: BTreeMap::new(),
            failed: false,
            secret,
            topics: BTreeMap::new(),
            verify_threads: 1,
            grouped: false,
            given: AheadVerdicts::default(),
        }
    }

    /// A peer restarted at time `now` from its store [SYNC-13]: every stored thread and record,
    /// each record verified again as it was on arrival, and the stored addresses, which live
    /// [`crate::book::ADDR_TTL_MS`] from `now`. STORE_CORRUPT if anything stored does not decode,
    /// verify or link.
    pub fn open(identity: IdentityKey, rng: R, store: S, now: u64) -> Result<Self> {
        Peer::open_on(identity, rng, store, now, 1)
    }

    /// [`Peer::open`] with the stored records verified on `threads` threads, and the peer's
    /// [`Peer::set_verify_threads`] set to it [SYNC-13], [SYNC-31].
    pub fn open_on(
        identity: IdentityKey,
        rng: R,
        store: S,
        now: u64,
        threads: usize,
    ) -> Result<Self> {
        let index = store.index()?;
        let mut peer = Peer::empty(identity, rng, store, now);
        peer.set_verify_threads(threads);
        for (id, mut contents) in index {
            let views = std::mem::take(&mut contents.views);
            let (thread, state, addrs) =
                super::persist::restore(&id, &contents, &peer.store, peer.verify_threads)?;
            if !views.is_empty() {
                peer.stored_views.insert(thread.clone(), views);
            }
            for (at, addr) in addrs {
                peer.addrs.add(at, addr, now);
            }
            peer.insert_thread(thread, state);
        }
        Ok(peer)
    }

    /// Spreads the verifications of each batch of records over `threads` threads (at least 1,
    /// the default: inline) [SYNC-31]. The verdicts are applied in log order whatever the number,
    /// so the peer's state and outputs do not depend on it; a driver sets it to its cores, while
    /// the simulator and the harness adapter keep the default.
    pub fn set_verify_threads(&mut self, threads: usize) {
        self.verify_threads = threads.max(1);
    }

    /// Lets at most `pulls` pulls (at least 1; [`PULL_WINDOW`] by default) wait for an answer
    /// from one peer on one log at once [SYNC-32]. 1 is the one-pull-at-a-time behaviour of
    /// earlier versions, which peers that pipeline still interoperate with.
    pub fn set_pull_window(&mut self, pulls: usize) {
        self.pull_window = pulls.max(1);
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

    /// Where `peer` can be reached, as far as this peer knows [SYNC-9].
    pub fn addresses(&self, peer: &LogId) -> Vec<Multiaddr> {
        if *peer == self.id() {
            return self.listen.clone();
        }
        self.addrs.get(peer)
    }

    /// Head and counter of every log of `thread` [LOG-2].
    pub fn heads(&self, thread: &ThreadId) -> Result<BTreeMap<LogId, (Option<Cid>, u64)>> {
        Ok(self
            .state(thread)?
            .logs
            .iter()
            .map(|(log, replica)| (*log, (replica.chain().head().copied(), replica.counter())))
            .collect())
    }

    /// The envelopes of one log this peer holds in memory, in seq order: every one, unless its
    /// store keeps a window ([`crate::store::Store::window`]); then the newest, and
    /// [`Peer::records`] reads the others from the store.
    pub fn envelopes(&self, thread: &ThreadId, log: &LogId) -> Result<&[Envelope]> {
        Ok(self
            .state(thread)?
            .logs
            .get(log)
            .map_or(&[][..], |replica| replica.envelopes()))
    }

    /// The envelopes of one log from seq `from` on, at most `count` of them, from memory or, for
    /// those older than the window the peer keeps, from its store [SYNC-5], [SYNC-12].
    /// STORE_FAILED or STORE_CORRUPT when the store cannot be read.
    pub fn records(
        &self,
        thread: &ThreadId,
        log: &LogId,
        from: u64,
        count: usize,
    ) -> Result<Vec<Envelope>> {
        let Some(replica) = self.state(thread)?.logs.get(log) else {
            return Ok(Vec::new());
        };
        let from = from.max(1);
        if from >= replica.first_held() {
            let start = usize::try_from(from - replica.first_held()).unwrap_or(usize::MAX);
            return Ok(replica
                .envelopes()
                .iter()
                .skip(start)
                .take(count)
                .cloned()
                .collect());
        }
        let stored = self
            .store
            .records(thread.as_bytes(), &log.to_bytes(), from, count)?;
        stored
            .iter()
            .map(|bytes| {
                Envelope::from_bytes(bytes).map_err(|e| {
                    Error::new(ErrorCode::StoreCorrupt, format!("a stored record: {e}"))
                })
            })
            .collect()
    }

    /// The peers this peer files for `thread` [SYNC-9]: it syncs with those that proved
    /// membership [SYNC-21].
    pub fn peers_of(&self, thread: &ThreadId) -> Vec<LogId> {
        self.threads
            .get(thread)
            .map(|s| s.peers.iter().copied().collect())
            .unwrap_or_default()
    }

    /// The keys this peer holds for `thread` [KEY-6].
    pub fn keys(&self, thread: &ThreadId) -> Result<&KeySet> {
        Ok(&self.state(thread)?.keys)
    }

    /// The thread's current ACL document [ACL-3], [ACL-6].
    pub fn acl_document(&self, thread: &ThreadId) -> Result<AclDocument> {
        Ok(self.acl_view(thread)?.acl().document().clone())
    }

    /// Every application event of `thread` a reader can open, by log then seq. In an
    /// access-controlled thread the ACL decides what is applied: not the ACL's own events, not
    /// records it refuses [ACL-7], not deleted events [ACL-8]. KEY_UNAVAILABLE for a follower
    /// [KEY-7], [VERIFY-2].
    pub fn read(&self, thread: &ThreadId) -> Result<Vec<OpenedEvent>> {
        let state = self.state(thread)?;
        state.keys.read_key()?;
        let view = match &state.acl {
            Some(_) => Some(self.acl_view(thread)?),
            None => None,
        };
        Ok(state
            .logs
            .values()
            .flat_map(|replica| replica.opened().iter().filter_map(|o| o.event()))
            .filter(|event| view.as_ref().is_none_or(|view| view.shows(event)))
            .cloned()
            .collect())
    }

    /// The ACL view of an access-controlled thread, from the logs this peer holds [ACL-6].
    /// ACL_DENIED for a raw thread; KEY_UNAVAILABLE without the read key; ACL_MALFORMED until the
    /// genesis is held [ACL-4].
    pub(crate) fn acl_view(&self, thread: &ThreadId) -> Result<AclView> {
        let state = self.state(thread)?;
        let anchor = state.acl.as_ref().ok_or_else(|| {
            Error::new(
                ErrorCode::AclDenied,
                format!("thread {thread} is not access-controlled"),
            )
        })?;
        state.keys.read_key()?;
        AclView::from_logs(
            thread,
            &anchor.creator,
            anchor.genesis.as_ref(),
            state.logs.values(),
        )
    }

    // ---- outputs ----

    /// The next bytes to send, oldest first; `None` when there are none [SYNC-3].
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        if self.grouped {
            return None;
        }
        self.transmits.pop_front()
    }

    /// The next notification for the application, oldest first [SYNC-3].
    pub fn poll_event(&mut self) -> Option<Notification> {
        if self.grouped {
            return None;
        }
        self.events.pop_front()
    }

    /// Opens a group commit [SYNC-12]: the inputs handled until [`Peer::end_group`] store their
    /// records as usual, but the store may make them durable only at the end, in one sync of the
    /// disk for the whole group ([`Store::begin_group`]). A driver groups the messages that have
    /// already arrived, so a follower catching up pays one sync per group, not one per answer.
    /// Until the group ends, [`Peer::poll_transmit`] and [`Peer::poll_event`] give nothing, so
    /// nothing stored in the group is served, announced or told before it is durable; the driver
    /// acknowledges the group's messages only after `end_group` returns.
    pub fn begin_group(&mut self) {
        self.grouped = true;
        self.store.begin_group();
    }

    /// Closes the group [`Peer::begin_group`] opened: once it returns, everything stored in it is
    /// durable and the outputs flow again. STORE_FAILED when the sync fails: the peer then stops
    /// as after any failed write, and the driver must not acknowledge the group's messages.
    pub fn end_group(&mut self) -> Result<()> {
        self.grouped = false;
        let synced = self.store.end_group();
        self.stop_on_failure(synced)
    }

    /// When the peer next wants [`Peer::handle_timeout`]: the earliest of the head-exchange
    /// timer [SYNC-8], a pending pull's deadline [SYNC-7], [SYNC-10] and an address's expiry
    /// [SYNC-9]. `None` once the store failed: the peer then does nothing until reopened.
    pub fn poll_timeout(&self) -> Option<u64> {
        if self.failed {
            return None;
        }
        let heads = (!self.threads.is_empty()).then_some(self.next_heads);
        [heads, self.pulls_due(), self.addrs.next_expiry()]
            .into_iter()
            .flatten()
            .min()
    }

    pub(super) fn send(&mut self, to: LogId, message: &Message) {
        self.send_bytes(to, message.to_bytes());
    }

    /// Queues bytes already encoded, so a message for many peers is encoded once.
    pub(super) fn send_bytes(&mut self, to: LogId, bytes: Vec<u8>) {
        self.counters.messages_out += 1;
        self.transmits.push_back(Transmit {
            destination: Destination::Peer(to),
            bytes,
        });
    }

    /// Publishes a message on the thread's topic, sealed with its gossip key [SYNC-24].
    pub(super) fn publish(&mut self, thread: &ThreadId, bytes: Vec<u8>) {
        let Some(state) = self.threads.get(thread) else {
            return;
        };
        let sealed =
            crate::membership::seal_publication(thread, &state.keys.follow, &bytes, &mut self.rng);
        self.counters.messages_out += 1;
        self.transmits.push_back(Transmit {
            destination: Destination::Topic(thread.clone()),
            bytes: sealed,
        });
    }

    pub(super) fn notify(&mut self, notification: Notification) {
        self.events.push_back(notification);
    }

    /// Moves the clock to `now`, unless that is in the past: a clock that goes back is ignored.
    pub(super) fn advance(&mut self, now: u64) {
        self.now = self.now.max(now);
    }

    /// A failed write leaves memory ahead of the store; from then on the peer only refuses
    /// [SYNC-12].
    pub(super) fn stop_on_failure(&mut self, result: Result<()>) -> Result<()> {
        if result.is_err() {
            self.failed = true;
            self.transmits.clear();
            self.events.clear();
        }
        result
    }

    pub(super) fn check_alive(&self) -> Result<()> {
        if self.failed {
            return Err(Error::new(
                ErrorCode::StoreFailed,
                "the store failed earlier; reopen the peer from its store",
            ));
        }
        Ok(())
    }

    /// Holds `thread` from now on, and listens on its topic [SYNC-24].
    pub(super) fn insert_thread(&mut self, thread: ThreadId, state: ThreadState) {
        let topic = crate::membership::topic(&thread, &state.keys.follow);
        self.topics.insert(topic, thread.clone());
        self.threads.insert(thread, state);
    }

    pub(super) fn state(&self, thread: &ThreadId) -> Result<&ThreadState> {
        self.threads
            .get(thread)
            .ok_or_else(|| unknown_thread(thread))
    }

    pub(super) fn state_mut(&mut self, thread: &ThreadId) -> Result<&mut ThreadState> {
        self.threads
            .get_mut(thread)
            .ok_or_else(|| unknown_thread(thread))
    }
}

pub(super) fn unknown_thread(thread: &ThreadId) -> Error {
    Error::new(
        ErrorCode::KeyUnavailable,
        format!("this peer holds no keys for thread {thread}"),
    )
}
