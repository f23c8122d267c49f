//! In-process nodes: reference [`Peer`]s over a [`SimStore`] the simulator keeps across crashes,
//! and the deliberately broken variants of [`Broken`] that prove the invariants bite.

use std::collections::BTreeMap;

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use threads::Cid;
use threads::acl::{AclEvent, Roles};
use threads::db::{Database, DbEvent, DbRecord, DbView, Kind, Schema};
use threads::envelope::Envelope;
use threads::id::{LogId, ThreadId, Variant};
use threads::invite::InviteRole;
use threads::keys::{FollowKey, IdentityKey};
use threads::store::{MemoryStore, Store, StoredThread};
use threads::sync::{Destination, Message, Notification, Peer, Transmit};
use threads::verify::verify_reader;

use super::{Caps, Cluster, Heads, Out, ReadOutcome};
use crate::error::{Result, SimError};
use crate::plan::{Broken, NodeIx, NodeSpec};
use crate::rng::derive_seed;

/// A peer's durable store in the simulation: kept by the simulator when the peer crashes
/// [SYNC-12].
#[derive(Debug, Clone)]
pub enum SimStore {
    /// A [`MemoryStore`].
    Honest(MemoryStore),
    /// Acknowledges every record write and keeps none ([`Broken::ForgetsWrites`]).
    Forgetful(MemoryStore),
}

impl Store for SimStore {
    fn load(&self) -> threads::Result<BTreeMap<Vec<u8>, StoredThread>> {
        match self {
            SimStore::Honest(s) | SimStore::Forgetful(s) => s.load(),
        }
    }

    // A restart reads the records a log at a time; without these it would copy the whole store
    // for each chunk.
    fn index(&self) -> threads::Result<BTreeMap<Vec<u8>, threads::store::ThreadIndex>> {
        match self {
            SimStore::Honest(s) | SimStore::Forgetful(s) => s.index(),
        }
    }

    fn records(
        &self,
        thread: &[u8],
        log: &[u8],
        from: u64,
        count: usize,
    ) -> threads::Result<Vec<Vec<u8>>> {
        match self {
            SimStore::Honest(s) | SimStore::Forgetful(s) => s.records(thread, log, from, count),
        }
    }

    fn put_thread(&mut self, thread: &[u8], meta: &[u8]) -> threads::Result<()> {
        match self {
            SimStore::Honest(s) | SimStore::Forgetful(s) => s.put_thread(thread, meta),
        }
    }

    fn put_records(
        &mut self,
        thread: &[u8],
        log: &[u8],
        first: u64,
        envelopes: &[Vec<u8>],
    ) -> threads::Result<()> {
        match self {
            SimStore::Honest(s) => s.put_records(thread, log, first, envelopes),
            SimStore::Forgetful(_) => Ok(()),
        }
    }

    // The records and the view rows they change are kept together, as on disk [DB-11].
    fn commit(
        &mut self,
        thread: &[u8],
        log: &[u8],
        first: u64,
        envelopes: &[Vec<u8>],
        views: &[threads::store::ViewRow],
    ) -> threads::Result<()> {
        match self {
            SimStore::Honest(s) => s.commit(thread, log, first, envelopes, views),
            SimStore::Forgetful(_) => Ok(()),
        }
    }

    fn put_views(
        &mut self,
        thread: &[u8],
        views: &[threads::store::ViewRow],
    ) -> threads::Result<()> {
        match self {
            SimStore::Honest(s) => s.put_views(thread, views),
            SimStore::Forgetful(_) => Ok(()),
        }
    }
}

/// How many records the peer holds, over every thread.
fn held(peer: &SimPeer) -> u64 {
    peer.threads()
        .iter()
        .filter_map(|t| peer.heads(t).ok())
        .flat_map(|heads| heads.into_values().map(|(_, counter)| counter))
        .sum()
}

/// The peer type the simulator runs.
pub type SimPeer = Peer<ChaCha20Rng, SimStore>;

enum State {
    Up(Box<SimPeer>),
    Down(SimStore),
    /// Only while moving between the two.
    Gone,
}

struct LocalNode {
    seed: [u8; 32],
    identity: [u8; 32],
    broken: Option<Broken>,
    restarts: u32,
    state: State,
    /// Notifications taken from the peer while delivering, to be handed out by `take`.
    outbox: Vec<Notification>,
    /// Records a [`Broken::SkipsVerification`] node kept although its peer rejected them.
    unverified: BTreeMap<(ThreadId, LogId), Vec<Envelope>>,
    /// Answers a [`Broken::ServesStrangers`] node sent past its peer, to be handed out by `take`.
    served: Vec<Out>,
    /// Whether deliveries are watched for a batch write, and whether the last one stored one.
    watch: bool,
    batch: bool,
}

/// Reference peers in this process.
pub struct LocalCluster {
    nodes: Vec<LocalNode>,
    /// Each node's peer ID, by index, and back: known even while a node is down, since messages
    /// it sent before crashing are still delivered.
    by_index: Vec<LogId>,
    ids: BTreeMap<LogId, NodeIx>,
    caps: Caps,
}

impl Default for LocalCluster {
    fn default() -> Self {
        LocalCluster {
            nodes: Vec::new(),
            by_index: Vec::new(),
            ids: BTreeMap::new(),
            caps: Caps {
                implementation: "threads-reference (in process)".into(),
                ticks: true,
                crash: true,
                acl: true,
                envelopes: true,
                db: true,
            },
        }
    }
}

/// [`Broken::FoldsInLogOrder`]: the view of the events folded in the order the peer holds them
/// (log by log, then seq), each event given its position as its clock so that the fold's own
/// sort keeps that order.
fn log_order_view(peer: &SimPeer, thread: &ThreadId) -> Result<Cid> {
    let mut position = 0;
    let mut records = Vec::new();
    for event in peer.read(thread)? {
        let mut record = DbRecord::from(&event);
        if let Ok(Some(db_event)) = DbEvent::classify(&record.body) {
            position += 1;
            if let Ok(reordered) = DbEvent::new(position, db_event.ops) {
                record.body = reordered.to_bytes();
            }
        }
        records.push(record);
    }
    Ok(DbView::from_records(&records).cid())
}

/// The collection database edits write.
const COLLECTION: &str = "docs";

/// Whether the peer reads the thread (holds it and its read key): only such peers have a view.
fn reads(peer: &SimPeer, thread: &ThreadId) -> bool {
    peer.keys(thread).is_ok_and(|k| k.read.is_some())
}

fn down(ix: NodeIx) -> SimError {
    SimError::Unsupported(format!("node {ix} is down"))
}

impl LocalCluster {
    fn node(&mut self, ix: NodeIx) -> Result<&mut LocalNode> {
        self.nodes
            .get_mut(ix)
            .ok_or_else(|| SimError::Usage(format!("no node {ix}")))
    }

    fn peer(&mut self, ix: NodeIx) -> Result<&mut SimPeer> {
        match &mut self.node(ix)?.state {
            State::Up(peer) => Ok(peer),
            _ => Err(down(ix)),
        }
    }

    fn peer_ref(&self, ix: NodeIx) -> Result<&SimPeer> {
        match self.nodes.get(ix).map(|n| &n.state) {
            Some(State::Up(peer)) => Ok(peer),
            _ => Err(down(ix)),
        }
    }

    fn id(&self, ix: NodeIx) -> Result<LogId> {
        self.by_index
            .get(ix)
            .copied()
            .ok_or_else(|| SimError::Usage(format!("no node {ix}")))
    }

    fn transmit(&self, transmit: Transmit) -> Out {
        match transmit.destination {
            Destination::Peer(to) => Out::Send {
                to: self.ids.get(&to).copied().ok_or_else(|| to.to_string()),
                bytes: transmit.bytes,
            },
            Destination::Topic(thread) => Out::Publish {
                thread,
                bytes: transmit.bytes,
            },
        }
    }

    fn notification(&self, notification: Notification) -> Option<Out> {
        match notification {
            Notification::Rejected {
                from, log, code, ..
            } => Some(Out::Rejected {
                from: self.ids.get(&from).copied(),
                log,
                code: code.name().to_string(),
            }),
            Notification::Appended { .. } | Notification::Refused { .. } => None,
        }
    }

    /// [`Broken::IgnoresAcl`]: every application event the node holds and can open, as if the
    /// thread had no ACL.
    fn read_ignoring_acl(&self, ix: NodeIx, thread: &ThreadId) -> ReadOutcome {
        let peer = self.peer_ref(ix).map_err(|e| e.to_string())?;
        let keys = peer.keys(thread).map_err(|e| e.code.name().to_string())?;
        keys.read_key().map_err(|e| e.code.name().to_string())?;
        let heads = peer.heads(thread).map_err(|e| e.code.name().to_string())?;
        let mut shown = Vec::new();
        for log in heads.keys() {
            for envelope in peer.envelopes(thread, log).unwrap_or(&[]) {
                if let Ok(event) = verify_reader(envelope, thread, log, keys)
                    && matches!(AclEvent::classify(&event.body), Ok(None))
                {
                    shown.push((*log, event.record.seq()));
                }
            }
        }
        Ok(shown)
    }

    /// [`Broken::SkipsVerification`]: after the peer rejected records of a message, the node
    /// keeps the ones it does not hold anyway, as a peer that never verified would.
    fn keep_unverified(
        &mut self,
        ix: NodeIx,
        message: &Message,
        events: &[Notification],
    ) -> Result<()> {
        let Message::Records {
            thread,
            log,
            envelopes,
            ..
        } = message
        else {
            return Ok(());
        };
        let rejected = events
            .iter()
            .any(|e| matches!(e, Notification::Rejected { log: l, .. } if l == log));
        if !rejected {
            return Ok(());
        }
        let held: Vec<Cid> = self
            .peer_ref(ix)?
            .envelopes(thread, log)
            .map(|es| es.iter().map(Envelope::record_cid).collect())
            .unwrap_or_default();
        let node = self.node(ix)?;
        let kept = node.unverified.entry((thread.clone(), *log)).or_default();
        for envelope in envelopes {
            if !held.contains(&envelope.record_cid()) && !kept.contains(envelope) {
                kept.push(envelope.clone());
            }
        }
        Ok(())
    }
}

impl LocalCluster {
    /// Whether the node's ACL of `thread` gives `sender` a role below follow: a member it
    /// revoked, which [`Broken::IgnoresRevocation`] serves anyway.
    fn revoked_here(&self, ix: NodeIx, sender: NodeIx, thread: &ThreadId) -> Result<bool> {
        let from = self.id(sender)?;
        let Ok(acl) = self.peer_ref(ix)?.acl_document(thread) else {
            return Ok(false);
        };
        Ok(acl.role_of(&from) < threads::acl::Role::Follow)
    }

    /// [`Broken::ServesStrangers`]: answers a pull from a peer not proven for the thread with
    /// the records asked for, as a peer without membership checks would.
    fn serve_anyone(&mut self, ix: NodeIx, sender: NodeIx, message: &Message) -> Result<()> {
        let Message::Pull {
            thread,
            log,
            after,
            limit,
        } = message
        else {
            return Ok(());
        };
        let from = self.id(sender)?;
        let peer = self.peer_ref(ix)?;
        if peer.is_proven(thread, &from) {
            return Ok(());
        }
        let Ok(held) = peer.envelopes(thread, log) else {
            return Ok(());
        };
        let skip = usize::try_from(*after).unwrap_or(usize::MAX);
        let take = usize::try_from(*limit).unwrap_or(usize::MAX);
        let answer = Message::Records {
            thread: thread.clone(),
            log: *log,
            counter: held.len() as u64,
            envelopes: held.iter().skip(skip).take(take).cloned().collect(),
        };
        self.node(ix)?.served.push(Out::Send {
            to: Ok(sender),
            bytes: answer.to_bytes(),
        });
        Ok(())
    }
}

impl Cluster for LocalCluster {
    fn caps(&self) -> &Caps {
        &self.caps
    }

    fn add_node(&mut self, spec: &NodeSpec, seed: [u8; 32]) -> Result<LogId> {
        // As Peer::from_seed, which the harness adapter uses: the identity, then every other
        // draw, from the node's seed; here over a store the simulator keeps across crashes.
        let mut rng = ChaCha20Rng::from_seed(seed);
        let identity = IdentityKey::generate(&mut rng);
        let store = match spec.broken {
            Some(Broken::ForgetsWrites) => SimStore::Forgetful(MemoryStore::new()),
            _ => SimStore::Honest(MemoryStore::new()),
        };
        let peer = Peer::open(identity.clone(), rng, store, 0)?;
        let id = peer.id();
        self.ids.insert(id, self.nodes.len());
        self.by_index.push(id);
        self.nodes.push(LocalNode {
            seed,
            identity: identity.seed(),
            broken: spec.broken,
            restarts: 0,
            state: State::Up(Box::new(peer)),
            outbox: Vec::new(),
            unverified: BTreeMap::new(),
            served: Vec::new(),
            watch: false,
            batch: false,
        });
        Ok(id)
    }

    fn create_thread(
        &mut self,
        ix: NodeIx,
        variant: Variant,
        time: u64,
    ) -> Result<(ThreadId, LogId)> {
        Ok(self.peer(ix)?.create_thread(time, variant)?)
    }

    fn append(
        &mut self,
        ix: NodeIx,
        thread: &ThreadId,
        body: &[u8],
        time: u64,
    ) -> Result<(LogId, u64, Cid)> {
        Ok(self.peer(ix)?.append(time, thread, body)?)
    }

    fn invite(
        &mut self,
        ix: NodeIx,
        thread: &ThreadId,
        role: InviteRole,
        recipient: NodeIx,
    ) -> Result<Vec<u8>> {
        let recipient = self.id(recipient)?;
        Ok(self.peer(ix)?.invite(thread, role, recipient)?)
    }

    fn join(&mut self, ix: NodeIx, invite: &[u8], time: u64) -> Result<(ThreadId, InviteRole)> {
        Ok(self.peer(ix)?.join(time, invite)?)
    }

    fn set_roles(
        &mut self,
        ix: NodeIx,
        thread: &ThreadId,
        peer: NodeIx,
        roles: Roles,
        time: u64,
    ) -> Result<Cid> {
        let peer = self.id(peer)?;
        Ok(self.peer(ix)?.set_roles(time, thread, peer, roles)?)
    }

    fn deliver(&mut self, ix: NodeIx, from: NodeIx, bytes: &[u8], time: u64) -> Result<()> {
        let sender = from;
        let from = self.id(from)?;
        let broken = self.node(ix)?.broken;
        // The broken variants look at what they are handed; an honest node leaves decoding (and
        // dropping what does not decode) to its peer [SYNC-2].
        let message = match broken {
            Some(
                Broken::IgnoresHeads
                | Broken::SkipsVerification
                | Broken::ServesStrangers
                | Broken::IgnoresRevocation,
            ) => Message::from_bytes(bytes).ok(),
            _ => None,
        };
        if broken == Some(Broken::IgnoresHeads) && matches!(message, Some(Message::Heads { .. })) {
            return Ok(());
        }
        if let (Some(Broken::ServesStrangers), Some(message)) = (broken, &message) {
            self.serve_anyone(ix, sender, message)?;
        }
        if let (Some(Broken::IgnoresRevocation), Some(message)) = (broken, &message)
            && self.revoked_here(ix, sender, message.thread())?
        {
            self.serve_anyone(ix, sender, message)?;
        }
        let watch = self.node(ix)?.watch;
        let peer = self.peer(ix)?;
        let before = watch.then(|| held(peer));
        peer.handle_message(time, from, bytes)?;
        let stored = before.map(|b| held(peer).saturating_sub(b));
        let events: Vec<Notification> = std::iter::from_fn(|| peer.poll_event()).collect();
        // Records are stored a message's batch at a time, in one write [SYNC-12].
        self.node(ix)?.batch = stored.is_some_and(|n| n >= 2);
        if let (Some(Broken::SkipsVerification), Some(message)) = (broken, &message) {
            self.keep_unverified(ix, message, &events)?;
        }
        self.node(ix)?.outbox.extend(events);
        Ok(())
    }

    fn deliver_publication(
        &mut self,
        ix: NodeIx,
        from: NodeIx,
        thread: &ThreadId,
        bytes: &[u8],
        time: u64,
    ) -> Result<()> {
        let from = self.id(from)?;
        let peer = self.peer(ix)?;
        // A node that does not hold the thread is not subscribed to its topic.
        let Ok(topic) = peer.topic(thread) else {
            return Ok(());
        };
        peer.handle_publication(time, from, &topic, bytes)?;
        let events: Vec<Notification> = std::iter::from_fn(|| peer.poll_event()).collect();
        self.node(ix)?.outbox.extend(events);
        Ok(())
    }

    fn wake(&mut self, ix: NodeIx, time: u64) -> Result<()> {
        Ok(self.peer(ix)?.handle_timeout(time)?)
    }

    fn next_wake(&mut self, ix: NodeIx) -> Result<Option<u64>> {
        Ok(self.peer_ref(ix)?.poll_timeout())
    }

    fn take(&mut self, ix: NodeIx, _time: u64) -> Result<Vec<Out>> {
        let peer = self.peer(ix)?;
        let transmits: Vec<Transmit> = std::iter::from_fn(|| peer.poll_transmit()).collect();
        let fresh: Vec<Notification> = std::iter::from_fn(|| peer.poll_event()).collect();
        let mut events = std::mem::take(&mut self.node(ix)?.outbox);
        events.extend(fresh);
        let mut outputs = std::mem::take(&mut self.node(ix)?.served);
        outputs.extend(transmits.into_iter().map(|t| self.transmit(t)));
        outputs.extend(events.into_iter().filter_map(|e| self.notification(e)));
        Ok(outputs)
    }

    fn stop(&mut self, _ix: NodeIx) -> Result<()> {
        Ok(())
    }

    fn crash(&mut self, ix: NodeIx) -> Result<()> {
        let node = self.node(ix)?;
        node.state = match std::mem::replace(&mut node.state, State::Gone) {
            State::Up(peer) => State::Down(peer.into_store()),
            other => other,
        };
        node.outbox.clear();
        node.unverified.clear();
        node.served.clear();
        node.watch = false;
        node.batch = false;
        Ok(())
    }

    fn restart(&mut self, ix: NodeIx, time: u64) -> Result<()> {
        let node = self.node(ix)?;
        let State::Down(store) = std::mem::replace(&mut node.state, State::Gone) else {
            return Err(SimError::Usage(format!("node {ix} is not down")));
        };
        node.restarts += 1;
        // A fresh random stream per restart: a restarted peer must not repeat its nonces.
        let label = format!("{}/restart/{}", hex::encode(node.seed), node.restarts);
        let rng = ChaCha20Rng::from_seed(derive_seed(0, &label));
        let identity = IdentityKey::from_seed(&node.identity);
        node.state = State::Up(Box::new(Peer::open(identity, rng, store, time)?));
        Ok(())
    }

    fn watch_batches(&mut self, ix: NodeIx, on: bool) -> Result<()> {
        let node = self.node(ix)?;
        node.watch = on;
        node.batch = false;
        Ok(())
    }

    fn took_batch(&mut self, ix: NodeIx) -> Result<bool> {
        Ok(std::mem::take(&mut self.node(ix)?.batch))
    }

    fn heads(&mut self, ix: NodeIx, thread: &ThreadId) -> Result<Heads> {
        Ok(self.peer_ref(ix)?.heads(thread).unwrap_or_default())
    }

    fn envelopes(
        &mut self,
        ix: NodeIx,
        thread: &ThreadId,
        log: &LogId,
        from: usize,
    ) -> Result<Option<Vec<Envelope>>> {
        let held = self.peer_ref(ix)?.envelopes(thread, log).unwrap_or(&[]);
        let kept = self
            .nodes
            .get(ix)
            .and_then(|n| n.unverified.get(&(thread.clone(), *log)));
        let all = held.iter().chain(kept.into_iter().flatten());
        Ok(Some(all.skip(from).cloned().collect()))
    }

    fn holds_read_key(&mut self, ix: NodeIx, thread: &ThreadId) -> Result<Option<bool>> {
        let peer = self.peer_ref(ix)?;
        Ok(Some(peer.keys(thread).is_ok_and(|k| k.read.is_some())))
    }

    fn read(&mut self, ix: NodeIx, thread: &ThreadId) -> Result<ReadOutcome> {
        if self.nodes.get(ix).and_then(|n| n.broken) == Some(Broken::IgnoresAcl) {
            return Ok(self.read_ignoring_acl(ix, thread));
        }
        Ok(match self.peer_ref(ix)?.read(thread) {
            Ok(events) => Ok(events
                .iter()
                .map(|e| (*e.record.log(), e.record.seq()))
                .collect()),
            Err(e) => Err(e.code.name().to_string()),
        })
    }

    fn peers(&mut self, ix: NodeIx, thread: &ThreadId) -> Result<Option<Vec<LogId>>> {
        Ok(Some(self.peer_ref(ix)?.peers_of(thread)))
    }

    fn db_edit(
        &mut self,
        ix: NodeIx,
        thread: &ThreadId,
        pick: u64,
        time: u64,
    ) -> Result<Option<(LogId, u64, Cid)>> {
        let peer = self.peer(ix)?;
        if !reads(peer, thread) {
            return Ok(None);
        }
        let mut db = Database::new(thread.clone());
        db.refresh(peer)?;
        let declared = db.view(peer)?.collections().contains_key(COLLECTION);
        let id = format!("d{}", (pick / 16) % 4);
        let written = match pick % 16 {
            _ if !declared => {
                let schema = Schema {
                    fields: BTreeMap::from([("n".into(), vec![Kind::Integer])]),
                    required: vec!["n".into()],
                };
                db.declare(peer, time, COLLECTION, schema, &["n"])
            }
            0..=8 => {
                let doc = BTreeMap::from([("n", (pick >> 8) % 100), ("by", ix as u64)]);
                db.docs(peer, time, COLLECTION).put(&id, &doc)
            }
            9..=11 => db.docs(peer, time, COLLECTION).del(&id),
            12..=14 => db
                .kv(peer, time)
                .put(&format!("k{}", (pick / 16) % 3), &(pick % 50)),
            _ => db.kv(peer, time).del(&format!("k{}", (pick / 16) % 3)),
        };
        let cid = match written {
            Ok(cid) => cid,
            // Refused at the writer's place in the order: nothing was appended [DB-12].
            Err(e) if (801..=809).contains(&e.code.number()) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        // The new record is the head of the writer's own log.
        let own = peer
            .heads(thread)?
            .into_iter()
            .find(|(_, (head, _))| *head == Some(cid))
            .map(|(log, (_, seq))| (log, seq, cid));
        own.map(Some)
            .ok_or_else(|| SimError::Adapter(format!("node {ix}: the edit {cid} heads no log")))
    }

    fn db_view(&mut self, ix: NodeIx, thread: &ThreadId) -> Result<Option<Cid>> {
        let broken = self.nodes.get(ix).and_then(|n| n.broken);
        let peer = self.peer(ix)?;
        if !reads(peer, thread) {
            return Ok(None);
        }
        if broken == Some(Broken::FoldsInLogOrder) {
            return Ok(Some(log_order_view(peer, thread)?));
        }
        let mut db = Database::new(thread.clone());
        db.refresh(peer)?;
        Ok(Some(db.view(peer)?.cid()))
    }

    fn follow_key(&mut self, ix: NodeIx, thread: &ThreadId) -> Result<Option<FollowKey>> {
        Ok(self
            .peer_ref(ix)?
            .keys(thread)
            .ok()
            .map(|k| k.follow.clone()))
    }
}
