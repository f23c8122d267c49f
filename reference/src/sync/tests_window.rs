//! Tests of a peer whose store keeps a window ([`Store::window`]): it holds only the newest
//! records of each log in memory and serves and checks the older ones from its store [SYNC-5],
//! [SYNC-12], [SYNC-13].

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

use super::*;
use crate::envelope::Envelope;
use crate::error::{Error, ErrorCode};
use crate::id::{ThreadId, Variant};
use crate::invite::InviteRole;
use crate::keys::IdentityKey;
use crate::log::{Admitted, LogReplica};
use crate::store::{MemoryStore, Store, StoredThread};

/// Records of each log a windowed test peer keeps in memory.
const WINDOW: usize = 5;

fn on<S: Store>(seed: u8, store: S) -> Peer<ChaCha20Rng, S> {
    let mut rng = ChaCha20Rng::from_seed([seed; 32]);
    let identity = IdentityKey::generate(&mut rng);
    Peer::open(identity, rng, store, 0).expect("open")
}

fn windowed(seed: u8) -> Peer<ChaCha20Rng, MemoryStore> {
    on(seed, MemoryStore::windowed(WINDOW))
}

/// A raw thread on `writer` with `events` events appended in batches of 7, and `joiner` invited
/// as `role`, joined and caught up.
fn caught_up<S: Store>(
    writer: &mut Peer<ChaCha20Rng, S>,
    joiner: &mut Peer<ChaCha20Rng, S>,
    role: InviteRole,
    events: u32,
) -> (ThreadId, LogId) {
    let (thread, log) = writer.create_thread(0, Variant::Raw).expect("create");
    let bodies: Vec<Vec<u8>> = (0..events).map(|i| i.to_be_bytes().to_vec()).collect();
    for chunk in bodies.chunks(7) {
        writer.append_batch(1, &thread, chunk).expect("append");
    }
    let invite = writer.invite(&thread, role, joiner.id()).expect("invite");
    joiner.join(2, &invite).expect("join");
    let mut net = Net::new(2);
    net.pump(&mut [writer, joiner]).expect("pump");
    (thread, log)
}

/// Every record of `log`, read through [`Peer::records`] a few at a time.
fn all_records<S: Store>(
    peer: &Peer<ChaCha20Rng, S>,
    thread: &ThreadId,
    log: &LogId,
) -> Vec<Envelope> {
    let mut out = Vec::new();
    loop {
        let next = peer
            .records(thread, log, out.len() as u64 + 1, 3)
            .expect("read");
        if next.is_empty() {
            return out;
        }
        out.extend(next);
    }
}

/// A windowed writer serves a fresh follower the whole log, old records from its store; both
/// keep only the window in memory, the follower no opened entries, and each holds exactly the
/// log a writer keeping everything in memory holds.
#[test]
fn a_windowed_peer_serves_old_records_from_its_store_and_keeps_only_the_window() {
    let (mut writer, mut follower) = (windowed(1), windowed(2));
    let (thread, log) = caught_up(&mut writer, &mut follower, InviteRole::Follower, 40);
    let mut whole = Peer::from_seed([1; 32]);
    let mut twin = Peer::from_seed([2; 32]);
    let (t2, l2) = caught_up(&mut whole, &mut twin, InviteRole::Follower, 40);
    assert_eq!(
        (&t2, l2),
        (&thread, log),
        "the same seeds make the same thread"
    );
    let truth = whole.envelopes(&thread, &log).expect("log").to_vec();
    assert_eq!(truth.len(), 40);
    for peer in [&writer, &follower] {
        assert_eq!(
            peer.heads(&thread).expect("heads"),
            whole.heads(&thread).expect("heads")
        );
        assert_eq!(
            peer.envelopes(&thread, &log).expect("held"),
            &truth[40 - WINDOW..]
        );
        assert_eq!(all_records(peer, &thread, &log), truth);
    }
    let replica = &follower.threads[&thread].logs[&log];
    assert!(
        replica.opened().is_empty(),
        "a follower keeps no opened entry"
    );
    assert!(replica.chain().records().len() <= WINDOW);
    assert_eq!(replica.first_held(), 40 - WINDOW as u64 + 1);
    // The writer answers a pull from seq 0 from its store, by the rule it uses from memory.
    let pull = Message::Pull {
        thread: thread.clone(),
        log,
        after: 3,
        limit: 10,
    };
    writer
        .handle_message(3, follower.id(), &pull.to_bytes())
        .expect("pull");
    let answer = Net::sent(&mut writer)
        .into_iter()
        .find_map(|(_, m)| match m {
            Message::Records { envelopes, .. } => Some(envelopes),
            _ => None,
        })
        .expect("an answer");
    assert_eq!(answer, truth[3..13].to_vec());
}

/// A record older than the window, sent again, is verified and then found in the store: a
/// duplicate, not a fork and not a rejection [LOG-4]; a fresh peer restarted from the store
/// holds the same log, and serves it [SYNC-13].
#[test]
fn an_old_duplicate_is_checked_against_the_store_and_a_restart_keeps_the_window() {
    let (mut writer, mut follower) = (windowed(3), windowed(4));
    let (thread, log) = caught_up(&mut writer, &mut follower, InviteRole::Follower, 30);
    let truth = all_records(&writer, &thread, &log);
    let again = Message::Records {
        thread: thread.clone(),
        log,
        counter: 30,
        envelopes: truth[..4].to_vec(),
    };
    let before = follower.counters();
    follower
        .handle_message(4, writer.id(), &again.to_bytes())
        .expect("records");
    let after = follower.counters();
    assert_eq!(after.records_duplicate, before.records_duplicate + 4);
    assert_eq!(after.records_rejected, before.records_rejected);
    assert_eq!(follower.heads(&thread).expect("heads")[&log].1, 30);

    let id = follower.id();
    let store = follower.into_store();
    let mut rng = ChaCha20Rng::from_seed([4; 32]);
    let identity = IdentityKey::generate(&mut rng);
    assert_eq!(identity.log_id(), id);
    let reopened = Peer::open(identity, rng, store, 5).expect("reopen");
    assert_eq!(reopened.heads(&thread).expect("heads")[&log].1, 30);
    assert_eq!(
        reopened.envelopes(&thread, &log).expect("held"),
        &truth[30 - WINDOW..]
    );
    assert_eq!(all_records(&reopened, &thread, &log), truth);
}

/// A reader on a windowed store keeps its opened events (its application reads them) but not
/// the envelopes beyond the window [VERIFY-2].
#[test]
fn a_windowed_reader_keeps_its_opened_events() {
    let (mut writer, mut reader) = (windowed(5), windowed(6));
    let (thread, log) = caught_up(&mut writer, &mut reader, InviteRole::Reader, 25);
    assert_eq!(reader.read(&thread).expect("read").len(), 25);
    assert_eq!(reader.envelopes(&thread, &log).expect("held").len(), WINDOW);
    assert_eq!(
        all_records(&reader, &thread, &log),
        all_records(&writer, &thread, &log)
    );
}

/// A trimmed replica decides a record older than its window by the CID its store holds there:
/// the same is a duplicate, another a fork, a store that fails or lost it a typed error, never
/// a panic [LOG-4], [LOG-5], [SYNC-12].
#[test]
fn a_trimmed_replica_asks_its_store_about_old_positions() {
    let mut writer = Peer::from_seed([7; 32]);
    let (thread, log) = writer.create_thread(0, Variant::Raw).expect("create");
    let bodies: Vec<Vec<u8>> = (0..12u32).map(|i| i.to_be_bytes().to_vec()).collect();
    writer.append_batch(1, &thread, &bodies).expect("batch");
    let keys = writer.keys(&thread).expect("keys").clone();
    let held = writer.envelopes(&thread, &log).expect("log").to_vec();
    let mut replica =
        LogReplica::from_held(thread.clone(), log, &keys, held.clone()).expect("held");
    replica.trim(3, false);
    assert_eq!(replica.envelopes(), &held[9..]);
    let old = held[1].clone();
    let decide = |older: &dyn Fn(u64) -> crate::Result<Option<cid::Cid>>| {
        let mut replica = replica.clone();
        let decided = replica.decide_with(&keys, vec![old.clone()], 1, older);
        (
            decided.duplicates,
            decided
                .rejected
                .iter()
                .map(|(_, e)| e.code)
                .collect::<Vec<_>>(),
        )
    };
    let right = |seq: u64| Ok(Some(held[seq as usize - 1].record_cid()));
    assert_eq!(decide(&right), (1, vec![]));
    let other = |_: u64| Ok(Some(held[5].record_cid()));
    assert_eq!(decide(&other), (0, vec![ErrorCode::LogFork]));
    let failing = |_: u64| Err(Error::new(ErrorCode::StoreFailed, "disk gone"));
    assert_eq!(decide(&failing), (0, vec![ErrorCode::StoreFailed]));
    let lost = |_: u64| Ok(None);
    assert_eq!(decide(&lost), (0, vec![ErrorCode::StoreCorrupt]));
    // Within the window a duplicate costs no store read at all.
    let mut inside = replica.clone();
    assert_eq!(inside.admit(&keys, held[10].clone()), Admitted::Duplicate);
}

/// A windowed store whose reads fail: records are written, but reading them back is
/// STORE_FAILED.
struct UnreadableStore(MemoryStore);

impl Store for UnreadableStore {
    fn load(&self) -> crate::Result<std::collections::BTreeMap<Vec<u8>, StoredThread>> {
        self.0.load()
    }
    fn put_thread(&mut self, thread: &[u8], meta: &[u8]) -> crate::Result<()> {
        self.0.put_thread(thread, meta)
    }
    fn put_records(&mut self, t: &[u8], l: &[u8], first: u64, e: &[Vec<u8>]) -> crate::Result<()> {
        self.0.put_records(t, l, first, e)
    }
    fn records(&self, _: &[u8], _: &[u8], _: u64, _: usize) -> crate::Result<Vec<Vec<u8>>> {
        Err(Error::new(ErrorCode::StoreFailed, "the disk does not read"))
    }
    fn window(&self) -> Option<usize> {
        Some(2)
    }
}

/// A pull for records older than the window, on a store that cannot read them, stops the peer
/// with STORE_FAILED; nothing is sent [SYNC-12].
#[test]
fn a_store_that_cannot_read_stops_the_peer_instead_of_answering() {
    let mut writer = on(8, UnreadableStore(MemoryStore::new()));
    let mut follower = on(9, UnreadableStore(MemoryStore::new()));
    let (thread, log) = writer.create_thread(0, Variant::Raw).expect("create");
    let bodies: Vec<Vec<u8>> = (0..6u32).map(|i| i.to_be_bytes().to_vec()).collect();
    writer.append_batch(1, &thread, &bodies).expect("batch");
    let invite = writer
        .invite(&thread, InviteRole::Follower, follower.id())
        .expect("invite");
    follower.join(2, &invite).expect("join");
    let result = Net::new(2).pump(&mut [&mut writer, &mut follower]);
    // The writer either failed inside the pump or refuses everything after it.
    let code = result
        .err()
        .map(|e| e.code)
        .or_else(|| writer.append(3, &thread, b"more").err().map(|e| e.code));
    assert_eq!(code, Some(ErrorCode::StoreFailed));
    assert_eq!(follower.heads(&thread).expect("heads")[&log].1, 0);
}

/// The attack a window opens: old records cost a verification and a store read each, since no
/// resident set drops them first. Replayed here: a stranger pushes the whole old log (and the same
/// records tampered at the old positions), then the writer's own session replays it twice. The
/// stranger's messages are refused before any record is verified [SYNC-3], [SYNC-21]; the tampered
/// ones are rejected; the replays are counted as duplicates; what the follower stores and serves is
/// unchanged throughout [LOG-4], [SYNC-12].
#[test]
fn old_records_replayed_by_a_stranger_or_a_member_change_nothing_stored() {
    let (mut writer, mut follower) = (windowed(8), windowed(9));
    let (thread, log) = caught_up(&mut writer, &mut follower, InviteRole::Follower, 40);
    let truth = all_records(&writer, &thread, &log);
    let old = truth[..40 - WINDOW].to_vec();
    let push = |envelopes: Vec<Envelope>| {
        Message::Records {
            thread: thread.clone(),
            log,
            counter: 40,
            envelopes,
        }
        .to_bytes()
    };
    let stranger = Peer::from_seed([10; 32]).id();
    let before = follower.counters();
    follower
        .handle_message(5, stranger, &push(old.clone()))
        .expect("a stranger's push is answered, not an error");
    let after_stranger = follower.counters();
    assert_eq!(after_stranger.records_duplicate, before.records_duplicate);
    assert_eq!(after_stranger.records_rejected, before.records_rejected);
    assert_eq!(
        after_stranger.messages_unproven,
        before.messages_unproven + 1
    );

    let mut tampered = old[3].to_bytes();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    let bad = Envelope::from_bytes(&tampered).expect("a flipped last byte still decodes");
    follower
        .handle_message(6, writer.id(), &push(vec![bad]))
        .expect("records");
    assert_eq!(
        follower.counters().records_rejected,
        after_stranger.records_rejected + 1
    );
    for time in [7, 8] {
        follower
            .handle_message(time, writer.id(), &push(old.clone()))
            .expect("records");
    }
    let after = follower.counters();
    assert_eq!(
        after.records_duplicate,
        after_stranger.records_duplicate + 2 * old.len() as u64
    );
    assert_eq!(after.records_appended, before.records_appended);
    assert_eq!(follower.heads(&thread).expect("heads")[&log].1, 40);
    assert_eq!(all_records(&follower, &thread, &log), truth);
    assert_eq!(
        follower.envelopes(&thread, &log).expect("held").len(),
        WINDOW
    );
}

/// A memory store whose record writes fail once its switch is set.
struct Breakable(MemoryStore, std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Store for Breakable {
    fn load(&self) -> crate::Result<std::collections::BTreeMap<Vec<u8>, StoredThread>> {
        self.0.load()
    }
    fn put_thread(&mut self, thread: &[u8], meta: &[u8]) -> crate::Result<()> {
        self.0.put_thread(thread, meta)
    }
    fn put_records(&mut self, t: &[u8], l: &[u8], first: u64, e: &[Vec<u8>]) -> crate::Result<()> {
        if self.1.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(Error::new(ErrorCode::StoreFailed, "the disk is full"));
        }
        self.0.put_records(t, l, first, e)
    }
    fn records(&self, t: &[u8], l: &[u8], from: u64, count: usize) -> crate::Result<Vec<Vec<u8>>> {
        self.0.records(t, l, from, count)
    }
}

/// Checks [SYNC-12], [SYNC-31]: once its store failed, a peer does nothing until it is reopened,
/// and that includes verifying ahead the records of a proven member: what it holds in memory
/// may be ahead of its store, and the verdicts would be for a peer that decides nothing.
#[test]
fn a_peer_whose_store_failed_verifies_nothing_ahead() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let broken = Arc::new(AtomicBool::new(false));
    let mut writer = on(41, Breakable(MemoryStore::new(), Arc::default()));
    let mut follower = on(42, Breakable(MemoryStore::new(), broken.clone()));
    let (thread, log) = caught_up(&mut writer, &mut follower, InviteRole::Follower, 3);
    writer.append(3, &thread, b"more").expect("append");
    let records = Message::Records {
        thread: thread.clone(),
        log,
        counter: 4,
        envelopes: writer.envelopes(&thread, &log).expect("log")[3..].to_vec(),
    };
    assert!(
        follower.verify_ahead(writer.id(), &records).is_some(),
        "a proven member's records are verified ahead"
    );
    broken.store(true, Ordering::SeqCst);
    assert_eq!(
        follower
            .handle_message(3, writer.id(), &records.to_bytes())
            .map_err(|e| e.code),
        Err(ErrorCode::StoreFailed)
    );
    assert!(follower.verify_ahead(writer.id(), &records).is_none());
}

/// A memory store that counts the records it hands out.
struct Counting(MemoryStore, std::cell::Cell<usize>);

impl Store for Counting {
    fn load(&self) -> crate::Result<std::collections::BTreeMap<Vec<u8>, StoredThread>> {
        self.0.load()
    }
    fn put_thread(&mut self, thread: &[u8], meta: &[u8]) -> crate::Result<()> {
        self.0.put_thread(thread, meta)
    }
    fn put_records(&mut self, t: &[u8], l: &[u8], first: u64, e: &[Vec<u8>]) -> crate::Result<()> {
        self.0.put_records(t, l, first, e)
    }
    fn records(&self, t: &[u8], l: &[u8], from: u64, count: usize) -> crate::Result<Vec<Vec<u8>>> {
        let records = self.0.records(t, l, from, count)?;
        self.1.set(self.1.get() + records.len());
        Ok(records)
    }
}

/// Checks [SYNC-5] for an answer served from the store: a pull for `limit` records reads the
/// records after `after`, at most `limit` of them, in chunks, and never more than it sends:
/// memory spent on an answer is bounded by what the pull asked for.
#[test]
fn sync_5_an_answer_read_from_the_store_reads_no_more_than_the_limit() {
    let mut writer = on(43, Counting(MemoryStore::new(), std::cell::Cell::new(0)));
    let (thread, log) = writer.create_thread(0, Variant::Raw).expect("create");
    let bodies: Vec<Vec<u8>> = (0..100u32).map(|i| i.to_be_bytes().to_vec()).collect();
    for chunk in bodies.chunks(10) {
        writer.append_batch(1, &thread, chunk).expect("append");
    }
    let all = writer.envelopes(&thread, &log).expect("log").to_vec();
    let store = writer.into_store();
    for (after, limit) in [(0, 40), (10, 70), (50, 1), (90, 40)] {
        store.1.set(0);
        let batch = super::inbound::read_batch(&store, &thread, log, after, limit).expect("read");
        let wanted = &all[after as usize..(after + limit).min(100) as usize];
        assert_eq!(batch, wanted, "after {after}, limit {limit}");
        assert_eq!(store.1.get(), wanted.len(), "after {after}, limit {limit}");
    }
}
