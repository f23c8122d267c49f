//! The sans-IO peer over an in-memory network (spec/sync.md): restarts from the store, a failing
//! store, head exchange, retries, batch limits, and a property test under loss, duplication and
//! reordering.

use std::collections::BTreeMap;

use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use threads::error::{Error, ErrorCode, Result};
use threads::id::{LogId, ThreadId, Variant};
use threads::invite::InviteRole;
use threads::keys::IdentityKey;
use threads::store::{MemoryStore, Store, StoredThread};
use threads::sync::{
    Destination, HEADS_INTERVAL_MS, MAX_BATCH_BYTES, Message, Net, PULL_LIMIT, Peer, retry_delay,
};

type TestPeer<S = MemoryStore> = Peer<ChaCha20Rng, S>;

fn identity(seed: u64) -> IdentityKey {
    IdentityKey::generate(&mut ChaCha20Rng::seed_from_u64(seed))
}

fn peer(seed: u64) -> TestPeer {
    Peer::new(identity(seed), ChaCha20Rng::seed_from_u64(seed + 1000))
}

fn deliver<S: Store>(to: &mut TestPeer<S>, now: u64, from: LogId, message: &Message) -> Result<()> {
    to.handle_message(now, from, &message.to_bytes())
}

/// Runs the membership handshake between `a` and `b` for `thread` at time `now` [SYNC-20],
/// carrying only `auth` messages: every other message either wanted sent meanwhile (earlier ones
/// included) is lost, and returned with its sender.
fn prove<S: Store, T: Store>(
    a: &mut TestPeer<S>,
    b: &mut TestPeer<T>,
    thread: &ThreadId,
    now: u64,
) -> Vec<(LogId, LogId, Message)> {
    let mut lost = Vec::new();
    let poke = Message::Heads {
        thread: thread.clone(),
        heads: Vec::new(),
    };
    deliver(a, now, b.id(), &poke).expect("receive");
    deliver(b, now, a.id(), &poke).expect("receive");
    loop {
        let mut moved = false;
        for (to, message) in Net::sent(a) {
            if to == b.id() && matches!(message, Message::Auth { .. }) {
                deliver(b, now, a.id(), &message).expect("receive");
                moved = true;
            } else {
                lost.push((a.id(), to, message));
            }
        }
        for (to, message) in Net::sent(b) {
            if to == a.id() && matches!(message, Message::Auth { .. }) {
                deliver(a, now, b.id(), &message).expect("receive");
                moved = true;
            } else {
                lost.push((b.id(), to, message));
            }
        }
        if !moved {
            break;
        }
    }
    assert!(a.is_proven(thread, &b.id()) && b.is_proven(thread, &a.id()));
    lost
}

/// A writer with `n` events in a raw thread, and a follower and a reader joined to it.
fn thread_of_three(n: u64) -> (ThreadId, LogId, [TestPeer; 3]) {
    let (mut writer, mut follower, mut reader) = (peer(1), peer(2), peer(3));
    let (thread, log) = writer.create_thread(0, Variant::Raw).expect("create");
    for i in 0..n {
        writer
            .append(i, &thread, format!("event {i}").as_bytes())
            .expect("append");
    }
    // The follower syncs before the reader is invited, so the reader's invite lists it too.
    let invite = writer
        .invite(&thread, InviteRole::Follower, follower.id())
        .expect("invite");
    follower.join(0, &invite).expect("join");
    Net::new(0)
        .pump(&mut [&mut writer, &mut follower])
        .expect("pump");
    let invite = writer
        .invite(&thread, InviteRole::Reader, reader.id())
        .expect("invite");
    reader.join(0, &invite).expect("join");
    (thread, log, [writer, follower, reader])
}

fn counter(p: &TestPeer<impl Store>, thread: &ThreadId, log: &LogId) -> u64 {
    p.heads(thread).expect("heads").get(log).map_or(0, |h| h.1)
}

fn bodies(p: &TestPeer<impl Store>, thread: &ThreadId) -> Vec<Vec<u8>> {
    p.read(thread)
        .expect("read")
        .into_iter()
        .map(|e| e.body)
        .collect()
}

#[test]
fn a_peer_reopened_from_its_store_holds_every_record_and_the_same_heads() {
    let (thread, log, [mut writer, mut follower, mut reader]) = thread_of_three(70);
    Net::new(0)
        .pump(&mut [&mut writer, &mut follower, &mut reader])
        .expect("pump");
    for (seed, p) in [(2, follower), (3, reader)] {
        let heads = p.heads(&thread).expect("heads");
        let read = p.read(&thread).map(|e| e.len()).map_err(|e| e.code);
        let reopened = Peer::open(
            identity(seed),
            ChaCha20Rng::seed_from_u64(seed),
            p.into_store(),
            0,
        )
        .expect("reopen");
        assert_eq!(reopened.heads(&thread).expect("heads"), heads);
        assert_eq!(heads[&log].1, 70);
        assert_eq!(
            reopened.read(&thread).map(|e| e.len()).map_err(|e| e.code),
            read
        );
    }
    // The writer's own log survives too, and it goes on appending where it stopped [SYNC-13].
    let mut writer = Peer::open(
        identity(1),
        ChaCha20Rng::seed_from_u64(9),
        writer.into_store(),
        0,
    )
    .expect("reopen");
    let (_, seq, _) = writer
        .append(99, &thread, b"after restart")
        .expect("append");
    assert_eq!(seq, 71);
}

/// A store that fails every write after the first `budget` ones.
struct FailingStore {
    inner: MemoryStore,
    budget: usize,
}

impl FailingStore {
    fn spend(&mut self) -> Result<()> {
        if self.budget == 0 {
            return Err(Error::new(ErrorCode::StoreFailed, "disk full"));
        }
        self.budget -= 1;
        Ok(())
    }
}

impl Store for FailingStore {
    fn load(&self) -> Result<BTreeMap<Vec<u8>, StoredThread>> {
        self.inner.load()
    }
    fn put_thread(&mut self, thread: &[u8], meta: &[u8]) -> Result<()> {
        self.spend()?;
        self.inner.put_thread(thread, meta)
    }
    fn put_records(&mut self, t: &[u8], l: &[u8], first: u64, e: &[Vec<u8>]) -> Result<()> {
        self.spend()?;
        self.inner.put_records(t, l, first, e)
    }
}

#[test]
fn a_peer_whose_store_fails_acknowledges_nothing_more_and_stops() {
    let (thread, log, [mut writer, ..]) = thread_of_three(3);
    let store = FailingStore {
        inner: MemoryStore::new(),
        // The thread's description and the first batch of records; the second batch fails.
        budget: 2,
    };
    let mut follower =
        Peer::open(identity(20), ChaCha20Rng::seed_from_u64(20), store, 0).expect("open");
    let invite = writer
        .invite(&thread, InviteRole::Follower, follower.id())
        .expect("invite");
    follower.join(0, &invite).expect("join");
    prove(&mut follower, &mut writer, &thread, 0);
    let asker = follower.id();
    let records = |after: u64, writer: &mut TestPeer| {
        let pull = Message::Pull {
            thread: thread.clone(),
            log,
            after,
            limit: 1,
        };
        deliver(writer, 0, asker, &pull).expect("serve");
        Net::sent(writer).pop().expect("an answer").1
    };
    let first = records(0, &mut writer);
    deliver(&mut follower, 0, writer.id(), &first).expect("stored");
    assert_eq!(counter(&follower, &thread, &log), 1);
    Net::outbox(&mut follower);
    let second = records(1, &mut writer);
    assert_eq!(
        deliver(&mut follower, 0, writer.id(), &second).map_err(|e| e.code),
        Err(ErrorCode::StoreFailed)
    );
    assert_eq!(
        follower.poll_transmit(),
        None,
        "nothing unstored is announced or pulled on"
    );
    assert_eq!(follower.poll_event(), None);
    assert_eq!(
        follower.poll_timeout(),
        None,
        "a failed peer wants no timer"
    );
    assert_eq!(
        follower.handle_timeout(10_000).map_err(|e| e.code),
        Err(ErrorCode::StoreFailed),
        "a failed peer refuses to go on"
    );
    // Restarted from what was stored, it holds exactly the acknowledged record.
    let store = follower.into_store().inner;
    let reopened =
        Peer::open(identity(20), ChaCha20Rng::seed_from_u64(21), store, 0).expect("open");
    assert_eq!(counter(&reopened, &thread, &log), 1);
}

#[test]
fn stored_data_that_no_longer_verifies_is_store_corrupt() {
    let (thread, _, [mut writer, ..]) = thread_of_three(2);
    Net::outbox(&mut writer);
    let mut stored = writer.into_store().load().expect("load");
    let logs = &mut stored
        .get_mut(thread.as_bytes())
        .expect("the thread is stored")
        .logs;
    let envelopes = logs.values_mut().next().expect("one log");
    envelopes[1][40] ^= 1;
    let mut store = MemoryStore::new();
    for (t, contents) in &stored {
        store.put_thread(t, &contents.meta).expect("put");
        for (l, e) in &contents.logs {
            store.put_records(t, l, 1, e).expect("put");
        }
    }
    assert_eq!(
        Peer::open(identity(1), ChaCha20Rng::seed_from_u64(1), store, 0)
            .err()
            .map(|e| e.code),
        Some(ErrorCode::StoreCorrupt)
    );
}

#[test]
fn a_peer_that_missed_pushes_catches_up_at_the_next_head_exchange() {
    let (thread, log, [mut writer, mut follower, mut reader]) = thread_of_three(5);
    let mut net = Net::new(0);
    net.pump(&mut [&mut writer, &mut follower, &mut reader])
        .expect("pump");
    for i in 0..10 {
        writer
            .append(100 + i, &thread, b"while away")
            .expect("append");
    }
    // The reader is offline: the pushes to it are lost.
    net.set_online(reader.id(), false);
    net.pump(&mut [&mut writer, &mut follower, &mut reader])
        .expect("pump");
    assert_eq!(counter(&reader, &thread, &log), 5);
    // The writer goes offline; the follower's periodic heads bring the reader up to date.
    net.set_online(reader.id(), true);
    net.set_online(writer.id(), false);
    net.run_until(&mut [&mut follower, &mut reader], HEADS_INTERVAL_MS)
        .expect("run");
    assert_eq!(counter(&reader, &thread, &log), 15);
    assert_eq!(bodies(&reader, &thread).len(), 15);
}

#[test]
fn an_unanswered_pull_is_sent_again_with_backoff_and_only_one_waits_at_a_time() {
    let (thread, log, [mut writer, _, mut reader]) = thread_of_three(3);
    let w = writer.id();
    let pulls_to_writer = |p: &mut TestPeer| {
        Net::sent(p)
            .into_iter()
            .filter(|(to, m)| *to == w && matches!(m, Message::Pull { .. }))
            .count()
    };
    let lost = prove(&mut reader, &mut writer, &thread, 0);
    assert_eq!(
        lost.iter()
            .filter(|(from, to, m)| *from == reader.id()
                && *to == w
                && matches!(m, Message::Pull { .. }))
            .count(),
        1,
        "the join pulls the writer's log as soon as the writer proved membership (the pull is lost)"
    );
    // The join at time 0 waits retry_delay(0) for its answer, then twice as long.
    let first = retry_delay(0);
    let second = first + retry_delay(1);
    assert_eq!(reader.poll_timeout(), Some(0), "heads go out first");
    for (now, expected) in [
        (0, 0),
        (first - 1, 0),
        (first, 1),
        (second - 1, 0),
        (second, 1),
    ] {
        reader.handle_timeout(now).expect("timeout");
        assert_eq!(
            pulls_to_writer(&mut reader),
            expected,
            "pulls sent again at {now} ms"
        );
    }
    // Heads from the writer while a pull waits do not add a second one [SYNC-10].
    let heads = Message::Heads {
        thread: thread.clone(),
        heads: vec![(log, 3)],
    };
    deliver(&mut reader, second, w, &heads).expect("receive");
    assert_eq!(pulls_to_writer(&mut reader), 0);
    // Two pulls wait (to the writer and to the follower), each sent again twice.
    assert_eq!(reader.counters().pulls_retried, 4);
    assert_eq!(counter(&reader, &thread, &log), 0);
}

#[test]
fn a_pull_answer_is_cut_at_the_byte_limit_and_the_puller_pulls_the_rest() {
    let (mut writer, mut follower) = (peer(30), peer(31));
    let (thread, log) = writer.create_thread(0, Variant::Raw).expect("create");
    let body = vec![7u8; 200 * 1024];
    let n = 40u64;
    for i in 0..n {
        writer.append(i, &thread, &body).expect("append");
    }
    let invite = writer
        .invite(&thread, InviteRole::Follower, follower.id())
        .expect("invite");
    follower.join(n, &invite).expect("join");
    prove(&mut follower, &mut writer, &thread, n);
    let pull = Message::Pull {
        thread: thread.clone(),
        log,
        after: 0,
        limit: PULL_LIMIT,
    };
    deliver(&mut writer, n, follower.id(), &pull).expect("serve");
    let Some((
        _,
        Message::Records {
            envelopes,
            counter: c,
            ..
        },
    )) = Net::sent(&mut writer).pop()
    else {
        panic!("a pull is answered with records");
    };
    let bytes: usize = envelopes.iter().map(|e| e.size()).sum();
    assert!(envelopes.len() < n as usize && !envelopes.is_empty());
    assert!(bytes <= MAX_BATCH_BYTES, "{bytes} bytes in one batch");
    assert_eq!(c, n, "the answer carries the server's counter");
    // The follower's own pull was lost while proving: it goes again at its retry.
    Net::new(n)
        .run_until(&mut [&mut writer, &mut follower], n + retry_delay(0))
        .expect("run");
    assert_eq!(counter(&follower, &thread, &log), n);
}

/// One step of a random schedule.
#[derive(Debug, Clone)]
enum Step {
    Append,
    Deliver,
    Drop,
    Duplicate,
    Swap,
    Wait(u64),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        2 => Just(Step::Append),
        6 => Just(Step::Deliver),
        1 => Just(Step::Drop),
        1 => Just(Step::Duplicate),
        1 => Just(Step::Swap),
        1 => (1u64..4_000).prop_map(Step::Wait),
    ]
}

/// Messages in flight as (from, to, bytes), in the order the faults left them.
type Flight = Vec<(LogId, LogId, Vec<u8>)>;

fn take(p: &mut TestPeer, flight: &mut Flight) {
    let from = p.id();
    while let Some(t) = p.poll_transmit() {
        if let Destination::Peer(to) = t.destination {
            flight.push((from, to, t.bytes));
        }
    }
}

/// Wakes every peer whose timer is due at `now`.
fn wake(peers: &mut [&mut TestPeer], now: u64) {
    for p in peers.iter_mut() {
        if p.poll_timeout().is_some_and(|t| t <= now) {
            p.handle_timeout(now).expect("timeout");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Under loss, duplication and reordering no peer ever holds what the writer did not write,
    /// heads only move forward and the follower never reads; once the faults stop and the clocks
    /// run, every peer converges to the writer's log [SYNC-6], [SYNC-8], [SYNC-10], [SYNC-14].
    #[test]
    fn peers_converge_after_loss_duplication_and_reordering(
        steps in proptest::collection::vec(step(), 1..120),
        seed: u64,
    ) {
        let (thread, log, [mut writer, mut follower, mut reader]) = thread_of_three(2);
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let mut flight = Flight::new();
        let mut now = 0u64;
        let mut last = [0u64; 3];
        let mut appended = 2u64;
        let mut peers = [&mut writer, &mut follower, &mut reader];
        for p in peers.iter_mut() {
            take(p, &mut flight);
        }
        for s in steps {
            match s {
                Step::Append => {
                    peers[0].append(now, &thread, &appended.to_be_bytes()).expect("append");
                    appended += 1;
                }
                Step::Wait(dt) => {
                    now += dt;
                    wake(&mut peers, now);
                }
                _ if flight.is_empty() => {}
                Step::Deliver => {
                    let (from, to, bytes) = flight.remove(0);
                    if let Some(p) = peers.iter_mut().find(|p| p.id() == to) {
                        p.handle_message(now, from, &bytes).expect("store");
                    }
                }
                Step::Drop => {
                    let i = (rng.next_u64() % flight.len() as u64) as usize;
                    flight.remove(i);
                }
                Step::Duplicate => {
                    let i = (rng.next_u64() % flight.len() as u64) as usize;
                    flight.push(flight[i].clone());
                }
                Step::Swap => {
                    let i = (rng.next_u64() % flight.len() as u64) as usize;
                    let last_index = flight.len() - 1;
                    flight.swap(i, last_index);
                }
            }
            for p in peers.iter_mut() {
                take(p, &mut flight);
            }
            let truth = peers[0].envelopes(&thread, &log).expect("writer").to_vec();
            for (i, p) in peers.iter().enumerate() {
                let held = p.envelopes(&thread, &log).expect("held");
                prop_assert!(truth.starts_with(held), "peer {i} holds a prefix of the writer's log");
                prop_assert!(held.len() as u64 >= last[i], "peer {i}'s head went back");
                last[i] = held.len() as u64;
            }
            prop_assert_eq!(peers[1].read(&thread).map_err(|e| e.code).err(), Some(ErrorCode::KeyUnavailable));
        }
        // Faults stop: deliver everything and let the clocks run past every retry.
        for _ in 0..20 {
            now += HEADS_INTERVAL_MS;
            wake(&mut peers, now);
            for p in peers.iter_mut() {
                take(p, &mut flight);
            }
            while !flight.is_empty() {
                let (from, to, bytes) = flight.remove(0);
                if let Some(p) = peers.iter_mut().find(|p| p.id() == to) {
                    p.handle_message(now, from, &bytes).expect("store");
                    take(p, &mut flight);
                }
            }
        }
        for p in &peers {
            prop_assert_eq!(counter(p, &thread, &log), appended);
        }
        prop_assert_eq!(bodies(peers[2], &thread), bodies(peers[0], &thread));
    }
}

#[test]
fn messages_about_unknown_threads_get_only_a_challenge_and_from_itself_nothing() {
    let (thread, log, [mut writer, follower, _]) = thread_of_three(3);
    Net::outbox(&mut writer);
    let before = writer.heads(&thread).expect("heads");
    let mut rng = ChaCha20Rng::seed_from_u64(77);
    let stranger_thread = ThreadId::generate(Variant::Raw, &mut rng);
    let envelopes = writer.envelopes(&thread, &log).expect("held").to_vec();
    let messages = |thread: &ThreadId| {
        vec![
            Message::Pull {
                thread: thread.clone(),
                log,
                after: 0,
                limit: PULL_LIMIT,
            },
            Message::Heads {
                thread: thread.clone(),
                heads: vec![(log, 99)],
            },
            Message::Records {
                thread: thread.clone(),
                log,
                counter: 3,
                envelopes: envelopes.clone(),
            },
        ]
    };
    // A thread it does not hold, from a peer it knows: a challenge, as if the thread were held
    // and the sender unproven, and nothing else [SYNC-3], [SYNC-21].
    for message in messages(&stranger_thread) {
        deliver(&mut writer, 0, follower.id(), &message).expect("receive");
        let answers = Net::outbox(&mut writer);
        assert!(
            matches!(&answers[..], [(Some(to), Message::Auth { thread, nonce, proof })]
                if *to == follower.id() && *thread == stranger_thread && nonce.len() == 16 && proof.is_empty()),
            "one challenge, got {answers:?}"
        );
    }
    // Its own thread, but arriving from itself [SYNC-3].
    let me = writer.id();
    for message in messages(&thread) {
        deliver(&mut writer, 0, me, &message).expect("receive");
    }
    assert!(
        Net::outbox(&mut writer).is_empty(),
        "no answer, no pull, no announcement"
    );
    assert_eq!(writer.poll_event(), None);
    assert_eq!(writer.threads(), vec![thread.clone()]);
    assert_eq!(writer.heads(&thread).expect("heads"), before);
    assert!(!writer.peers_of(&thread).contains(&me));
}

#[test]
fn a_restarted_peer_still_knows_where_its_thread_peers_are() {
    let (thread, _, [writer, mut follower, _]) = thread_of_three(1);
    let at: multiaddr::Multiaddr = "/ip4/127.0.0.1/tcp/4001".parse().expect("multiaddr");
    follower
        .add_address(0, writer.id(), at.clone())
        .expect("file");
    assert!(follower.peers_of(&thread).contains(&writer.id()));
    let restart = 1_000_000_000;
    let mut reopened = Peer::open(
        identity(2),
        ChaCha20Rng::seed_from_u64(5),
        follower.into_store(),
        restart,
    )
    .expect("reopen");
    let expected = at.with(multiaddr::Protocol::P2p(writer.id().to_peer_id()));
    assert_eq!(reopened.addresses(&writer.id()), vec![expected.clone()]);
    // Timed from the restart, not from time zero [SYNC-9].
    let expiry = restart + threads::book::ADDR_TTL_MS;
    reopened.handle_timeout(expiry - 1).expect("timeout");
    assert_eq!(reopened.addresses(&writer.id()), vec![expected]);
    assert!(reopened.poll_timeout().is_some_and(|t| t <= expiry));
    reopened.handle_timeout(expiry).expect("timeout");
    assert!(reopened.addresses(&writer.id()).is_empty());
}

#[test]
fn an_appended_record_is_pushed_to_every_peer_of_the_thread_and_published_on_its_topic() {
    let (thread, log, [mut writer, follower, mut reader]) = thread_of_three(1);
    // The reader has not talked to the writer yet; it becomes a peer of the thread by proving
    // membership [SYNC-9].
    prove(&mut reader, &mut writer, &thread, 0);
    let (_, seq, cid) = writer.append(5, &thread, b"news").expect("append");
    let outputs = Net::outbox(&mut writer);
    let expected = Message::Records {
        thread: thread.clone(),
        log,
        counter: seq,
        envelopes: writer.envelopes(&thread, &log).expect("held")[1..].to_vec(),
    };
    assert!(
        matches!(&outputs[0], (Some(_), m) if *m == expected),
        "a push first, got {:?}",
        outputs[0]
    );
    let pushed: Vec<LogId> = outputs
        .iter()
        .filter_map(|(to, message)| (*message == expected).then_some(*to).flatten())
        .collect();
    let mut peers = vec![follower.id(), reader.id()];
    peers.sort();
    assert_eq!(pushed, peers, "pushed to every peer of the thread [SYNC-4]");
    assert!(outputs.contains(&(None, expected)), "and published");
    assert_eq!(writer.heads(&thread).expect("heads")[&log], (Some(cid), 2));
}
