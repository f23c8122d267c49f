//! Unit tests of the [`Peer`] on an in-memory [`Net`].

use super::*;
use crate::acl::{Role, Roles};
use crate::error::ErrorCode;
use crate::id::{ThreadId, Variant};
use crate::invite::InviteRole;
use crate::log::ahead::AheadJob;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

type TestPeer = Peer<ChaCha20Rng>;

fn peer(seed: u8) -> TestPeer {
    Peer::from_seed([seed; 32])
}

fn sent(peer: &mut TestPeer) -> Vec<(LogId, Message)> {
    Net::sent(peer)
}

/// A raw thread `writer` created, which `follower` joined as a follower and caught up with.
fn followed(writer: &mut TestPeer, follower: &mut TestPeer, net: &mut Net) -> (ThreadId, LogId) {
    let (thread, log) = writer.create_thread(0, Variant::Raw).expect("create");
    let invite = writer
        .invite(&thread, InviteRole::Follower, follower.id())
        .expect("invite");
    follower.join(0, &invite).expect("join");
    net.pump(&mut [writer, follower]).expect("pump");
    (thread, log)
}

/// How many pulls `peer` wanted sent since the last look.
fn pulls_sent(peer: &mut TestPeer) -> usize {
    sent(peer)
        .into_iter()
        .filter(|(_, m)| matches!(m, Message::Pull { .. }))
        .count()
}

fn deliver(to: &mut TestPeer, from: LogId, message: &Message) {
    to.handle_message(0, from, &message.to_bytes())
        .expect("the memory store does not fail");
}

/// Runs the membership handshake between `a` and `b` for `thread` [SYNC-20], carrying only
/// `auth` messages; every other message either wanted sent (earlier ones included) is lost and
/// returned.
fn prove(a: &mut TestPeer, b: &mut TestPeer, thread: &ThreadId) -> Vec<(LogId, Message)> {
    let poke = Message::Heads {
        thread: thread.clone(),
        heads: Vec::new(),
    };
    deliver(a, b.id(), &poke);
    deliver(b, a.id(), &poke);
    let mut lost = Vec::new();
    while carry_auth(a, b, &mut lost) | carry_auth(b, a, &mut lost) {}
    assert!(a.is_proven(thread, &b.id()) && b.is_proven(thread, &a.id()));
    lost
}

/// Delivers the `auth` messages `from` wants sent to `to`; the rest goes to `lost`. True if any
/// moved.
fn carry_auth(from: &mut TestPeer, to: &mut TestPeer, lost: &mut Vec<(LogId, Message)>) -> bool {
    let mut moved = false;
    for (dest, message) in sent(from) {
        if dest == to.id() && matches!(message, Message::Auth { .. }) {
            deliver(to, from.id(), &message);
            moved = true;
        } else {
            lost.push((dest, message));
        }
    }
    moved
}

#[test]
fn a_reader_catches_up_from_a_follower_while_the_writer_is_offline() {
    let (mut writer, mut follower, mut reader) = (peer(1), peer(2), peer(3));
    let mut net = Net::new(0);
    let (thread, log) = writer.create_thread(0, Variant::Raw).expect("create");
    for i in 0..150u64 {
        writer
            .append(1_000 + i, &thread, format!("event {i}").as_bytes())
            .expect("append");
    }
    let invite = writer
        .invite(&thread, InviteRole::Follower, follower.id())
        .expect("invite");
    follower.join(0, &invite).expect("join");
    net.pump(&mut [&mut writer, &mut follower, &mut reader])
        .expect("pump");
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
    reader.join(0, &invite).expect("join");
    net.set_online(writer.id(), false);
    net.pump(&mut [&mut writer, &mut follower, &mut reader])
        .expect("pump");
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
    let mut net = Net::new(0);
    let (thread, log) = followed(&mut writer, &mut follower, &mut net);
    writer.append(7, &thread, b"later").expect("append");
    net.pump(&mut [&mut writer, &mut follower]).expect("pump");
    assert_eq!(follower.heads(&thread).expect("heads")[&log].1, 1);
}

#[test]
fn records_that_fail_verification_are_never_stored() {
    let (mut writer, mut follower) = (peer(6), peer(7));
    let (thread, log) = writer.create_thread(0, Variant::Raw).expect("create");
    writer.append(1, &thread, b"genuine").expect("append");
    let invite = writer
        .invite(&thread, InviteRole::Follower, follower.id())
        .expect("invite");
    follower.join(0, &invite).expect("join");
    prove(&mut follower, &mut writer, &thread);
    let pull = Message::Pull {
        thread: thread.clone(),
        log,
        after: 0,
        limit: 10,
    };
    deliver(&mut writer, follower.id(), &pull);
    let Some((_, Message::Records { mut envelopes, .. })) = sent(&mut writer).pop() else {
        panic!("the writer answers a pull with records");
    };
    let last = envelopes[0].record.len() - 1;
    envelopes[0].record[last] ^= 1;
    let forged = Message::Records {
        thread: thread.clone(),
        log,
        counter: 1,
        envelopes,
    };
    deliver(&mut follower, writer.id(), &forged);
    assert_eq!(follower.heads(&thread).expect("heads")[&log], (None, 0));
    assert!(matches!(
        follower.poll_event(),
        Some(Notification::Rejected { .. })
    ));
}

#[test]
fn a_pull_beyond_the_log_or_with_limit_zero_is_answered_without_panicking() {
    let mut writer = peer(9);
    let (thread, log) = writer.create_thread(0, Variant::Raw).expect("create");
    writer.append(1, &thread, b"one").expect("append");
    let mut member = peer(10);
    let invite = writer
        .invite(&thread, InviteRole::Follower, member.id())
        .expect("invite");
    member.join(0, &invite).expect("join");
    prove(&mut member, &mut writer, &thread);
    let asker = member.id();
    for (after, limit) in [(u64::MAX, u64::MAX), (5, 1), (0, 0)] {
        let pull = Message::Pull {
            thread: thread.clone(),
            log,
            after,
            limit,
        };
        deliver(&mut writer, asker, &pull);
        let Some((_, Message::Records { envelopes, .. })) = sent(&mut writer).pop() else {
            panic!("a pull is answered");
        };
        assert!(envelopes.is_empty());
    }
}

#[test]
fn malformed_bytes_are_dropped_and_counted_never_an_error() {
    let mut writer = peer(15);
    let (thread, _) = writer.create_thread(0, Variant::Raw).expect("create");
    let stranger = peer(16).id();
    for bytes in [&[][..], &[0xa0], &[0xff; 64]] {
        writer
            .handle_message(1, stranger, bytes)
            .expect("malformed input is not an error");
    }
    assert_eq!(writer.counters().messages_malformed, 3);
    assert_eq!(writer.counters().messages_in, 3);
    assert!(writer.peers_of(&thread).is_empty(), "nobody was filed");
    assert_eq!(writer.poll_transmit(), None);
}

#[test]
fn poll_timeout_names_the_earliest_timer_and_a_timeout_before_it_does_nothing() {
    let (mut writer, mut follower) = (peer(17), peer(18));
    assert_eq!(writer.poll_timeout(), None, "no thread, no timer");
    let (thread, _) = writer.create_thread(100, Variant::Raw).expect("create");
    assert_eq!(
        writer.poll_timeout(),
        Some(0),
        "heads go out at the first timeout"
    );
    writer.handle_timeout(100).expect("timeout");
    assert_eq!(writer.poll_timeout(), Some(100 + HEADS_INTERVAL_MS));
    let invite = writer
        .invite(&thread, InviteRole::Follower, follower.id())
        .expect("invite");
    follower.join(200, &invite).expect("join");
    // The join's pull waits for its answer: its retry is the follower's earliest timer.
    assert_eq!(follower.poll_timeout(), Some(0));
    follower.handle_timeout(200).expect("timeout");
    assert_eq!(follower.poll_timeout(), Some(200 + retry_delay(0)));
    sent(&mut follower);
    follower.handle_timeout(1_100).expect("early");
    assert!(sent(&mut follower).is_empty(), "nothing is due yet");
    follower.handle_timeout(1_200).expect("due");
    let retried = sent(&mut follower);
    assert_eq!(retried.len(), 1, "the pull is sent again: {retried:?}");
    assert_eq!(follower.counters().pulls_retried, 1);
}

#[test]
fn run_until_drives_retries_and_head_exchange_through_poll_timeout() {
    let (mut writer, mut follower) = (peer(19), peer(20));
    let mut net = Net::new(0);
    let (thread, log) = followed(&mut writer, &mut follower, &mut net);
    // The follower misses three pushes, then learns of them at the next head exchange.
    net.set_online(follower.id(), false);
    for i in 0..3 {
        writer.append(i, &thread, b"missed").expect("append");
    }
    net.pump(&mut [&mut writer, &mut follower]).expect("pump");
    net.set_online(follower.id(), true);
    net.run_until(&mut [&mut writer, &mut follower], 2 * HEADS_INTERVAL_MS)
        .expect("run");
    assert_eq!(follower.heads(&thread).expect("heads")[&log].1, 3);
}

#[test]
fn in_an_access_controlled_thread_a_revoked_writers_records_beyond_its_cut_are_not_applied() {
    let (mut admin, mut writer, mut reader, mut follower) =
        (peer(11), peer(12), peer(13), peer(14));
    let mut net = Net::new(0);
    let (thread, _) = admin
        .create_thread(0, Variant::AccessControlled)
        .expect("create");
    let grants = [
        (writer.id(), Role::Write),
        (reader.id(), Role::Read),
        (follower.id(), Role::Follow),
    ];
    for (peer, role) in grants {
        admin
            .set_roles(1, &thread, peer, Roles::of(role))
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
        p.join(2, &invite).expect("join");
    }
    net.pump(&mut [&mut admin, &mut writer, &mut reader, &mut follower])
        .expect("pump");
    writer.append(3, &thread, b"allowed 1").expect("append");
    writer.append(4, &thread, b"allowed 2").expect("append");
    net.pump(&mut [&mut admin, &mut writer, &mut reader, &mut follower])
        .expect("pump");
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
        .set_roles(5, &thread, w, Roles::of(Role::Read))
        .expect("revoke");
    writer
        .append(6, &thread, b"too late")
        .expect("the writer does not know yet");
    net.pump(&mut [&mut admin, &mut writer, &mut reader, &mut follower])
        .expect("pump");
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

/// A pull lost while the link was down waits out a backoff that grows to 32 s; heads from the
/// peer it asked, showing it still ahead, prove the link works again and send the pull at once,
/// with the backoff restarted (simulator, flapping-links seed 2519: a reader stayed 7 records
/// behind past the liveness bound) [SYNC-10]. Heads within a second of a send do not resend.
#[test]
fn heads_from_a_peer_ahead_resend_a_waiting_pull_at_once() {
    let (mut writer, mut reader) = (peer(11), peer(12));
    let (thread, log) = writer.create_thread(0, Variant::Raw).expect("create");
    for i in 0..3u64 {
        writer.append(i, &thread, b"event").expect("append");
    }
    let invite = writer
        .invite(&thread, InviteRole::Reader, reader.id())
        .expect("invite");
    reader.join(0, &invite).expect("join");
    // The first pull (sent when the writer proved membership) and its retries are all lost:
    // sent at 0, 1, 3, 7, 15 and 31 s.
    let lost = prove(&mut reader, &mut writer, &thread);
    let first = lost
        .iter()
        .filter(|(to, m)| *to == writer.id() && matches!(m, Message::Pull { .. }))
        .count();
    assert_eq!(first, 1);
    let mut now = 0;
    while now < 40_000 {
        now = reader.poll_timeout().expect("a timer").max(now);
        if now >= 40_000 {
            break;
        }
        reader.handle_timeout(now).expect("timeout");
        pulls_sent(&mut reader);
    }
    let heads = Message::Heads {
        thread: thread.clone(),
        heads: vec![(log, 3)],
    };
    reader
        .handle_message(40_000, writer.id(), &heads.to_bytes())
        .expect("heads");
    assert_eq!(
        pulls_sent(&mut reader),
        1,
        "the heads resend the waiting pull"
    );
    reader
        .handle_message(40_500, writer.id(), &heads.to_bytes())
        .expect("heads");
    assert_eq!(pulls_sent(&mut reader), 0, "not again within a second");
    reader.handle_timeout(41_000).expect("timeout");
    assert_eq!(
        pulls_sent(&mut reader),
        1,
        "the backoff starts over: the next retry comes 1 s after the resend"
    );
}

/// Heads that show the peer a pull waits on at this peer's own counter, not ahead, send nothing:
/// only heads showing the sender ahead are worth a pull [SYNC-8], and only those prove the link
/// and resend a waiting pull at once [SYNC-10]. Here the records came by another way (a
/// publication relayed by a peer that did not prove membership), so the pull to the writer still
/// waits when the writer's heads arrive.
#[test]
fn heads_from_a_peer_not_ahead_resend_no_waiting_pull() {
    let (mut writer, mut follower) = (peer(13), peer(14));
    let relay = peer(15).id();
    let (thread, log) = writer.create_thread(0, Variant::Raw).expect("create");
    let mut publications = Vec::new();
    for i in 0..3u64 {
        writer.append(i, &thread, b"event").expect("append");
        publications.extend(
            std::iter::from_fn(|| writer.poll_transmit())
                .filter(|t| t.destination == Destination::Topic(thread.clone()))
                .map(|t| t.bytes),
        );
    }
    assert_eq!(publications.len(), 3);
    let invite = writer
        .invite(&thread, InviteRole::Follower, follower.id())
        .expect("invite");
    follower.join(0, &invite).expect("join");
    // The pull sent when the writer proved membership, at 0, is lost and waits for its retry.
    let lost = prove(&mut follower, &mut writer, &thread);
    let first = lost
        .iter()
        .filter(|(to, m)| *to == writer.id() && matches!(m, Message::Pull { .. }))
        .count();
    assert_eq!(first, 1);
    let topic = follower.topic(&thread).expect("topic");
    for publication in &publications {
        follower
            .handle_publication(1, relay, &topic, publication)
            .expect("decided");
    }
    assert_eq!(follower.heads(&thread).expect("heads")[&log].1, 3);
    sent(&mut follower);
    // Past a second after the send, before the retry is due: heads at the follower's counter.
    let heads = |counter| Message::Heads {
        thread: thread.clone(),
        heads: vec![(log, counter)],
    };
    follower
        .handle_message(1_500, writer.id(), &heads(3).to_bytes())
        .expect("heads");
    assert_eq!(pulls_sent(&mut follower), 0, "the writer is not ahead");
    // The pull does still wait: heads one record ahead resend it.
    writer.append(2, &thread, b"later").expect("append");
    follower
        .handle_message(1_500, writer.id(), &heads(4).to_bytes())
        .expect("heads");
    assert_eq!(pulls_sent(&mut follower), 1, "the writer is ahead");
}

/// Checks [SYNC-23]: the pending logs of all senders together stop at [`MAX_PENDING_LOGS`]:
/// with each sender at its own bound and the thread far below [`MAX_LOGS_PER_THREAD`], one more
/// log from a new sender is not tracked.
#[test]
fn pending_logs_of_all_senders_together_stop_at_max_pending_logs() {
    let mut peer = Peer::<ChaCha20Rng>::from_seed([37; 32]);
    let (thread, _) = peer.create_thread(0, Variant::Raw).expect("create");
    let mut rng = ChaCha20Rng::seed_from_u64(37);
    let mut id = || crate::keys::IdentityKey::generate(&mut rng).log_id();
    for _ in 0..MAX_PENDING_LOGS / MAX_PENDING_LOGS_PER_PEER {
        let sender = id();
        for _ in 0..MAX_PENDING_LOGS_PER_PEER {
            assert!(peer.track_pending(&thread, sender, id()));
        }
    }
    assert_eq!(peer.pending_logs(), MAX_PENDING_LOGS);
    let (sender, log) = (id(), id());
    assert!(
        !peer.track_pending(&thread, sender, log),
        "past the bound of all senders"
    );
    assert_eq!(peer.pending_logs(), MAX_PENDING_LOGS);
}

/// Checks [SYNC-8], [SYNC-23]: heads naming a log this peer does not hold, at counter 0, ask
/// for nothing and spend none of the pending-log limits; the same log at 2 is pulled and
/// tracked as pending.
#[test]
fn heads_naming_an_unknown_log_at_zero_pull_nothing() {
    let (mut writer, mut follower) = (peer(95), peer(96));
    let mut net = Net::new(0);
    let (thread, _) = followed(&mut writer, &mut follower, &mut net);
    sent(&mut follower);
    let unknown = peer(97).id();
    for (counter, expected) in [(0, 0), (2, 1)] {
        // Each log pulled is tracked as pending until one of its records verifies.
        let heads = Message::Heads {
            thread: thread.clone(),
            heads: vec![(unknown, counter)],
        };
        follower
            .handle_message(10, writer.id(), &heads.to_bytes())
            .expect("heads");
        let pulls = pulls_sent(&mut follower);
        assert_eq!(pulls, expected, "counter {counter}");
        assert_eq!(follower.pending_logs(), expected, "counter {counter}");
    }
}

/// A publication opens only on its thread's topic and untampered; its records are decided like a
/// push's, and a relay that has not proved membership is neither filed nor pulled from
/// [SYNC-16], [SYNC-24].
#[test]
fn publications_are_opened_decided_and_their_unproven_relays_not_filed() {
    let (mut writer, mut follower) = (peer(40), peer(41));
    let relay = peer(42).id();
    let (thread, log) = writer.create_thread(0, Variant::Raw).expect("create");
    let invite = writer
        .invite(&thread, InviteRole::Follower, follower.id())
        .expect("invite");
    follower.join(0, &invite).expect("join");
    sent(&mut follower);
    sent(&mut writer);
    let out = writer.counters().messages_out;
    writer.append(1, &thread, b"gossiped").expect("append");
    let transmits: Vec<_> = std::iter::from_fn(|| writer.poll_transmit()).collect();
    assert_eq!(
        writer.counters().messages_out - out,
        transmits.len() as u64,
        "messages out count what is sent and what is published"
    );
    let publication = transmits
        .into_iter()
        .find(|t| t.destination == Destination::Topic(thread.clone()))
        .expect("published")
        .bytes;
    assert!(
        Message::from_bytes(&publication).is_err(),
        "sealed, not a message"
    );
    let topic = follower.topic(&thread).expect("topic");
    assert_eq!(topic, writer.topic(&thread).expect("topic"));
    assert_ne!(topic, thread.to_string());
    let mut tampered = publication.clone();
    tampered[30] ^= 1;
    for (on, bytes) in [("b-not-a-topic", &publication), (topic.as_str(), &tampered)] {
        follower
            .handle_publication(2, relay, on, bytes)
            .expect("dropped, not an error");
    }
    assert_eq!(follower.counters().publications_invalid, 2);
    assert_eq!(follower.heads(&thread).expect("heads")[&log].1, 0);
    follower
        .handle_publication(3, relay, &topic, &publication)
        .expect("opens");
    // Every publication received is counted, the dropped ones too [SYNC-24].
    assert_eq!(follower.counters().publications_in, 3);
    assert_eq!(follower.heads(&thread).expect("heads")[&log].1, 1);
    assert!(!follower.peers_of(&thread).contains(&relay));
    assert!(
        sent(&mut follower).iter().all(|(to, _)| *to != relay),
        "nothing goes to an unproven relay"
    );
}

/// A store that counts its record writes, to see batches share one [SYNC-30], and its syncs of
/// the disk, as a store on disk would make them, to see a group commit share one [SYNC-12].
#[derive(Default)]
struct CountingStore {
    inner: crate::store::MemoryStore,
    commits: usize,
    syncs: usize,
    /// Inside a group: whether it wrote anything yet.
    group: Option<bool>,
}

impl crate::store::Store for CountingStore {
    fn load(
        &self,
    ) -> crate::Result<std::collections::BTreeMap<Vec<u8>, crate::store::StoredThread>> {
        self.inner.load()
    }
    fn put_thread(&mut self, thread: &[u8], meta: &[u8]) -> crate::Result<()> {
        self.inner.put_thread(thread, meta)
    }
    fn put_records(
        &mut self,
        thread: &[u8],
        log: &[u8],
        first: u64,
        envelopes: &[Vec<u8>],
    ) -> crate::Result<()> {
        self.commits += 1;
        match self.group.as_mut() {
            Some(written) => *written = true,
            None => self.syncs += 1,
        }
        self.inner.put_records(thread, log, first, envelopes)
    }
    fn begin_group(&mut self) {
        self.group.get_or_insert(false);
    }
    fn end_group(&mut self) -> crate::Result<()> {
        if self.group.take() == Some(true) {
            self.syncs += 1;
        }
        Ok(())
    }
}

fn counted(seed: u8) -> Peer<ChaCha20Rng, CountingStore> {
    let mut rng = ChaCha20Rng::from_seed([seed; 32]);
    let identity = crate::keys::IdentityKey::generate(&mut rng);
    Peer::open_on(identity, rng, CountingStore::default(), 0, 3).expect("open")
}

/// Answers handled in one group commit are stored as usual but synced once, and nothing the
/// follower would send or tell leaves it before the group ends: no acknowledgement, push or
/// notification runs ahead of the sync [SYNC-12].
#[test]
fn answers_in_one_group_share_one_sync_and_nothing_leaves_before_it() {
    let (mut writer, mut follower) = (counted(11), counted(12));
    let (thread, log) = writer.create_thread(0, Variant::Raw).expect("create");
    let bodies: Vec<Vec<u8>> = (0..900u32).map(|i| i.to_be_bytes().to_vec()).collect();
    writer.append_batch(1, &thread, &bodies).expect("batch");
    let invite = writer
        .invite(&thread, InviteRole::Follower, follower.id())
        .expect("invite");
    follower.join(2, &invite).expect("join");
    let (mut groups, mut answers) = (0, 0);
    for _ in 0..64 {
        for (_, message) in Net::sent(&mut follower) {
            writer
                .handle_message(3, follower.id(), &message.to_bytes())
                .expect("writer");
        }
        let replies = Net::sent(&mut writer);
        if replies.is_empty() {
            break;
        }
        let stored = follower.store.commits;
        follower.begin_group();
        for (_, message) in &replies {
            answers += usize::from(matches!(message, Message::Records { .. }));
            follower
                .handle_message(3, writer.id(), &message.to_bytes())
                .expect("follower");
        }
        assert!(follower.poll_transmit().is_none(), "sent before the sync");
        assert!(follower.poll_event().is_none(), "told before the sync");
        let syncs = follower.store.syncs;
        follower.end_group().expect("sync");
        if follower.store.commits > stored {
            groups += 1;
            assert_eq!(follower.store.syncs, syncs + 1, "one sync for the group");
        }
    }
    assert_eq!(follower.heads(&thread).expect("heads")[&log].1, 900);
    assert!(
        answers >= 4,
        "900 records come in 4 answers at least: {answers}"
    );
    assert!(groups < answers, "{groups} groups, {answers} answers");
    assert_eq!(
        follower.store.syncs, groups,
        "one sync per group that stored records"
    );
}

/// A batch append is one store write, and the peers get every record, in order, in batches a
/// pull may carry; the follower's state matches a writer that appended one at a time [SYNC-30].
#[test]
fn a_batch_append_is_one_store_write_and_reaches_peers_like_single_appends() {
    let (mut writer, mut follower) = (counted(9), counted(2));
    let mut net = Net::new(0);
    let (thread, log) = writer.create_thread(0, Variant::Raw).expect("create");
    let invite = writer
        .invite(&thread, InviteRole::Follower, follower.id())
        .expect("invite");
    follower.join(0, &invite).expect("join");
    net.pump(&mut [&mut writer, &mut follower]).expect("pump");
    let bodies: Vec<Vec<u8>> = (0..600u32).map(|i| i.to_be_bytes().to_vec()).collect();
    let before = writer.store.commits;
    let done = writer.append_batch(5, &thread, &bodies).expect("batch");
    assert_eq!(writer.store.commits, before + 1, "one write for 600 events");
    let seqs: Vec<u64> = done.iter().map(|(_, seq, _)| *seq).collect();
    assert_eq!(seqs, (1..=600).collect::<Vec<u64>>());
    net.pump(&mut [&mut writer, &mut follower]).expect("pump");
    assert_eq!(follower.heads(&thread).expect("heads")[&log].1, 600);
    let envelopes = writer.envelopes(&thread, &log).expect("log");
    let cut: Vec<(usize, u64)> = super::commands::push_batches(envelopes, 1)
        .into_iter()
        .map(|(part, last)| (part.len(), last))
        .collect();
    assert_eq!(
        cut,
        vec![(256, 256), (256, 512), (88, 600)],
        "cut at the pull limit"
    );
    let again = writer
        .append_batch(6, &thread, &bodies[..3])
        .expect("batch");
    assert_eq!(again[0].1, 601);
    net.pump(&mut [&mut writer, &mut follower]).expect("pump");
    assert_eq!(
        follower.heads(&thread).expect("heads"),
        writer.heads(&thread).expect("heads")
    );
    assert_eq!(follower.heads(&thread).expect("heads")[&log].1, 603);
    assert_eq!(
        writer.append_batch(7, &thread, &[]).expect("empty"),
        Vec::new()
    );
}

/// Too many events at once, or a batch from a peer without a log of its own, is refused with a
/// code and changes nothing.
#[test]
fn batch_appends_over_the_limit_or_without_a_log_are_refused() {
    let (mut writer, mut follower) = (peer(1), peer(2));
    let mut net = Net::new(0);
    let (thread, log) = followed(&mut writer, &mut follower, &mut net);
    let many = vec![b"x".to_vec(); MAX_APPEND_BATCH + 1];
    let code = writer
        .append_batch(1, &thread, &many)
        .map(|_| ())
        .map_err(|e| e.code);
    assert_eq!(code, Err(ErrorCode::BadRequest));
    let code = follower
        .append_batch(1, &thread, &many[..2])
        .map(|_| ())
        .map_err(|e| e.code);
    assert_eq!(code, Err(ErrorCode::KeyUnavailable));
    assert_eq!(writer.heads(&thread).expect("heads")[&log].1, 0);
    writer.append(2, &thread, b"still writes").expect("append");
}

/// Verifying a batch on several threads decides exactly as inline: the same records appended,
/// the same rejected at the same indexes, the same gap [SYNC-31].
#[test]
fn verification_on_threads_decides_as_inline() {
    let mut writer = peer(1);
    let (thread, log) = writer.create_thread(0, Variant::Raw).expect("create");
    let bodies: Vec<Vec<u8>> = (0..80u32).map(|i| i.to_be_bytes().to_vec()).collect();
    writer.append_batch(1, &thread, &bodies).expect("batch");
    let keys = writer.keys(&thread).expect("keys").clone();
    let mut incoming: Vec<crate::envelope::Envelope> =
        writer.envelopes(&thread, &log).expect("log").to_vec();
    // A duplicate, a record with a flipped signature byte, then a gap.
    incoming.insert(10, incoming[9].clone());
    let mut bytes = incoming[20].to_bytes();
    let at = bytes.len() - 10;
    bytes[at] ^= 1;
    if let Ok(bad) = crate::envelope::Envelope::from_bytes(&bytes) {
        incoming[20] = bad;
    }
    incoming.remove(60);
    let decide = |threads| {
        let mut replica = crate::log::LogReplica::new(thread.clone(), log);
        let decided = replica.decide_on(&keys, incoming.clone(), threads);
        (decided, replica.counter())
    };
    let inline = decide(1);
    assert!(inline.0.duplicates >= 1 && inline.0.gap.is_some());
    for threads in [2, 3, 8] {
        assert_eq!(decide(threads), inline, "{threads} threads");
    }
}

/// Verdicts computed ahead decide a follower's catch-up exactly as checking inline does, and an
/// answer that overtakes the one before it keeps its verdicts while it is held, until it is
/// decided; none is kept after [SYNC-31], [SYNC-33].
#[test]
fn verdicts_ahead_follow_a_held_answer_and_are_not_kept_after() {
    let (mut writer, mut follower) = (peer(31), peer(32));
    let (thread, log) = writer.create_thread(0, Variant::Raw).expect("create");
    let bodies: Vec<Vec<u8>> = (0..700u32).map(|i| i.to_be_bytes().to_vec()).collect();
    writer.append_batch(1, &thread, &bodies).expect("batch");
    let invite = writer
        .invite(&thread, InviteRole::Follower, follower.id())
        .expect("invite");
    follower.join(2, &invite).expect("join");
    let (mut reversed, mut held) = (false, false);
    for _ in 0..64 {
        for (_, message) in Net::sent(&mut follower) {
            deliver(&mut writer, follower.id(), &message);
        }
        let mut replies: Vec<Message> =
            Net::sent(&mut writer).into_iter().map(|(_, m)| m).collect();
        if replies.is_empty() {
            break;
        }
        let answers = replies
            .iter()
            .filter(|m| matches!(m, Message::Records { envelopes, .. } if !envelopes.is_empty()))
            .count();
        if answers >= 2 && !reversed {
            // The later answers overtake the first, which comes last.
            replies.rotate_left(1);
            reversed = true;
        }
        for message in replies {
            // Decoded from its bytes, as a driver receives it.
            let message = Message::from_bytes(&message.to_bytes()).expect("decodes");
            let job = follower.verify_ahead(writer.id(), &message);
            assert!(
                job.as_ref().is_none_or(|job| !job.is_empty()),
                "a job is made only for records to check"
            );
            let verdicts = job.map(AheadJob::run).unwrap_or_default();
            follower
                .handle_message_verified(3, writer.id(), message, verdicts)
                .expect("follower");
            if follower.held_bytes > 0 {
                held = true;
                assert!(
                    !follower.given.is_empty(),
                    "a held answer keeps its verdicts"
                );
            } else {
                assert!(follower.given.is_empty(), "no verdict outlives its message");
            }
        }
    }
    assert!(
        reversed && held,
        "an answer overtook the first and was held"
    );
    assert_eq!(follower.heads(&thread).expect("heads")[&log].1, 700);
    assert_eq!(follower.counters().records_rejected, 0);
    let stranger = peer(33);
    let records = Message::Records {
        thread: thread.clone(),
        log,
        counter: 700,
        envelopes: writer.envelopes(&thread, &log).expect("log")[..3].to_vec(),
    };
    assert!(
        follower.verify_ahead(stranger.id(), &records).is_none(),
        "a stranger's records are not verified ahead"
    );
    assert!(follower.verify_ahead(writer.id(), &records).is_some());
}

/// The in-memory network reports its clock and counts each message it carries (to a peer or,
/// with gossip, to each subscriber of a publication) [SYNC-1]; a pump with nothing to send
/// carries nothing.
#[test]
fn the_net_reports_its_clock_and_the_messages_it_carried() {
    let (mut writer, mut follower) = (peer(91), peer(92));
    let mut net = Net::new(42);
    assert_eq!(net.now(), 42);
    assert_eq!(net.carried(), 0);
    let (thread, _) = followed(&mut writer, &mut follower, &mut net);
    let after_join = net.carried();
    assert!(after_join >= 4, "auth both ways, a pull and its answer");
    assert_eq!(
        net.pump(&mut [&mut writer, &mut follower]).expect("pump"),
        0
    );
    assert_eq!(net.carried(), after_join);
    writer.append(43, &thread, b"one more").expect("append");
    net.pump(&mut [&mut writer, &mut follower]).expect("pump");
    assert!(net.carried() > after_join, "the push was carried");
    assert_eq!(net.now(), 42, "carrying messages does not move the clock");
}

/// On the in-memory network an offline peer is down: its timers do not run, so it sends
/// nothing (not even heads, [SYNC-8]) until it is back online, when they run again.
#[test]
fn an_offline_peer_runs_no_timer_on_the_net() {
    let (mut writer, mut follower) = (peer(98), peer(99));
    let mut net = Net::new(0);
    followed(&mut writer, &mut follower, &mut net);
    net.set_online(writer.id(), false);
    let out = writer.counters().messages_out;
    net.run_until(&mut [&mut writer, &mut follower], 60_000)
        .expect("run");
    assert_eq!(writer.counters().messages_out, out, "nothing while offline");
    net.set_online(writer.id(), true);
    net.run_until(&mut [&mut writer, &mut follower], 120_000)
        .expect("run");
    assert!(writer.counters().messages_out > out, "heads once back");
}

/// The in-memory network carries a publication [SYNC-4] to every other peer holding its thread
/// only when asked to ([`Net::with_gossip`]); otherwise it drops it.
#[test]
fn the_net_carries_publications_only_with_gossip() {
    for gossip in [false, true] {
        let (mut writer, mut follower) = (peer(93), peer(94));
        let mut net = if gossip {
            Net::new(42).with_gossip()
        } else {
            Net::new(42)
        };
        let (thread, _) = followed(&mut writer, &mut follower, &mut net);
        let before = follower.counters().publications_in;
        writer.append(43, &thread, b"published").expect("append");
        net.pump(&mut [&mut writer, &mut follower]).expect("pump");
        assert_eq!(
            follower.counters().publications_in - before,
            u64::from(gossip),
            "gossip {gossip}"
        );
    }
}

/// Checks [SYNC-24], [SYNC-33]: records relayed in a publication by a peer that is not proven
/// (here one whose proof an ACL change took back, as [SYNC-22] does, while pulls to it were
/// still waiting) are decided at once and never held as a pull's answer: a peer that is no
/// longer a member spends none of the held-answer budget and is not treated as proven later.
#[test]
fn records_relayed_by_an_unproven_peer_are_never_held_as_an_answer() {
    let (mut writer, mut follower) = (peer(101), peer(102));
    let (thread, log) = writer.create_thread(0, Variant::Raw).expect("create");
    let bodies: Vec<Vec<u8>> = (0..1000u32).map(|i| i.to_be_bytes().to_vec()).collect();
    writer.append_batch(1, &thread, &bodies).expect("append");
    let invite = writer
        .invite(&thread, InviteRole::Follower, follower.id())
        .expect("invite");
    follower.join(2, &invite).expect("join");
    let lost = prove(&mut follower, &mut writer, &thread);
    // The writer's heads open a window of pulls to it, after 0, 256, 512 and 768; no answer
    // is delivered.
    for (to, message) in lost {
        if to == follower.id() && matches!(message, Message::Heads { .. }) {
            deliver(&mut follower, writer.id(), &message);
        }
    }
    let pulls: Vec<u64> = sent(&mut follower)
        .into_iter()
        .filter_map(|(to, m)| match m {
            Message::Pull { after, .. } if to == writer.id() => Some(after),
            _ => None,
        })
        .collect();
    assert!(pulls.contains(&256), "a pull after 256 waits: {pulls:?}");
    follower
        .threads
        .get_mut(&thread)
        .expect("thread")
        .members
        .proven
        .remove(&writer.id());
    let envelopes = writer.envelopes(&thread, &log).expect("log")[256..512].to_vec();
    follower
        .ingest(writer.id(), false, &thread, log, 1000, envelopes)
        .expect("ingest");
    assert_eq!(follower.held_bytes, 0, "nothing held for an unproven relay");
}

/// Checks the append counter ([SYNC-4]): a batch append counts each record it appends.
#[test]
fn a_batch_append_counts_each_record_appended() {
    let mut peer = Peer::<ChaCha20Rng>::from_seed([19; 32]);
    let (thread, _) = peer.create_thread(0, Variant::Raw).expect("create");
    peer.append(1, &thread, b"one").expect("append");
    let bodies = vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()];
    peer.append_batch(2, &thread, &bodies).expect("batch");
    assert_eq!(peer.counters().records_appended, 4);
}

/// Checks [SYNC-7]: after a `records` message whose records the peer already holds (nothing
/// appended, and no gap), from a sender whose counter is ahead, the peer pulls the rest from
/// that sender at once. Only a message stopped by a gap may wait `GAP_GRACE_MS` first.
#[test]
fn sync_7_records_already_held_from_a_sender_ahead_are_followed_by_a_pull_at_once() {
    let (mut writer, mut follower) = (peer(111), peer(112));
    let mut net = Net::new(0);
    let (thread, log) = writer.create_thread(0, Variant::Raw).expect("create");
    for i in 0..3u64 {
        writer.append(i, &thread, b"event").expect("append");
    }
    let invite = writer
        .invite(&thread, InviteRole::Follower, follower.id())
        .expect("invite");
    follower.join(0, &invite).expect("join");
    net.pump(&mut [&mut writer, &mut follower]).expect("pump");
    assert_eq!(follower.heads(&thread).expect("heads")[&log].1, 3);
    // Two more records, whose pushes and announcements are lost.
    for i in 3..5u64 {
        writer.append(i, &thread, b"event").expect("append");
    }
    sent(&mut writer);
    let repeated = Message::Records {
        thread: thread.clone(),
        log,
        counter: 5,
        envelopes: writer.envelopes(&thread, &log).expect("log")[..3].to_vec(),
    };
    deliver(&mut follower, writer.id(), &repeated);
    assert_eq!(follower.counters().records_duplicate, 3);
    let pulls: Vec<u64> = sent(&mut follower)
        .into_iter()
        .filter_map(|(to, m)| match m {
            Message::Pull { log: l, after, .. } if to == writer.id() && l == log => Some(after),
            _ => None,
        })
        .collect();
    assert_eq!(
        pulls,
        [3],
        "a pull after the follower's counter, sent at once"
    );
}

/// Checks [SYNC-10]: an answer whose records the peer already holds all of (they came first in
/// publications relayed by another peer) still ends the wait of the pull it answers: the pull is
/// not sent again when its retry falls due.
#[test]
fn sync_10_an_answer_of_records_already_held_ends_the_wait() {
    let (mut writer, mut follower) = (peer(113), peer(114));
    let relay = peer(115).id();
    let (thread, log) = writer.create_thread(0, Variant::Raw).expect("create");
    for i in 0..3u64 {
        writer.append(i, &thread, b"event").expect("append");
    }
    let publications: Vec<Vec<u8>> = std::iter::from_fn(|| writer.poll_transmit())
        .filter(|t| t.destination == Destination::Topic(thread.clone()))
        .map(|t| t.bytes)
        .collect();
    assert_eq!(publications.len(), 3);
    let invite = writer
        .invite(&thread, InviteRole::Follower, follower.id())
        .expect("invite");
    follower.join(0, &invite).expect("join");
    let lost = prove(&mut follower, &mut writer, &thread);
    let pulls: Vec<Message> = lost
        .into_iter()
        .filter(|(to, m)| *to == writer.id() && matches!(m, Message::Pull { .. }))
        .map(|(_, m)| m)
        .collect();
    assert_eq!(pulls.len(), 1, "one pull waits on the writer");
    deliver(&mut writer, follower.id(), &pulls[0]);
    let Some((_, answer @ Message::Records { .. })) = sent(&mut writer).pop() else {
        panic!("the writer answers the pull");
    };
    let topic = follower.topic(&thread).expect("topic");
    for publication in &publications {
        follower
            .handle_publication(1, relay, &topic, publication)
            .expect("opens");
    }
    assert_eq!(follower.heads(&thread).expect("heads")[&log].1, 3);
    follower
        .handle_message(2, writer.id(), &answer.to_bytes())
        .expect("answer");
    assert_eq!(follower.counters().records_duplicate, 3);
    sent(&mut follower);
    follower.handle_timeout(1_500).expect("timeout");
    let resent = sent(&mut follower)
        .into_iter()
        .filter(|(_, m)| matches!(m, Message::Pull { .. }))
        .count();
    assert_eq!(resent, 0, "the answered pull is not resent");
    assert_eq!(follower.counters().pulls_retried, 0);
}

/// Checks [SYNC-30] with [KEY-7]: a batch append in a thread where this peer has a log of its own
/// but no read key (a stored thread description can say so: it is not checked against the role)
/// is refused with KEY_UNAVAILABLE before anything is signed, like a single append. Nothing is
/// appended, and the peer has not failed: it goes on appending elsewhere.
#[test]
fn a_batch_append_without_the_read_key_is_refused_and_the_peer_goes_on() {
    let mut peer = peer(116);
    let (thread, log) = peer.create_thread(0, Variant::Raw).expect("create");
    let state = peer.threads.get_mut(&thread).expect("thread");
    state.keys = state.keys.for_follower();
    let batch = peer
        .append_batch(1, &thread, &[b"a".to_vec(), b"b".to_vec()])
        .map(|_| ())
        .map_err(|e| e.code);
    assert_eq!(batch, Err(ErrorCode::KeyUnavailable));
    let single = peer
        .append(2, &thread, b"c")
        .map(|_| ())
        .map_err(|e| e.code);
    assert_eq!(single, Err(ErrorCode::KeyUnavailable));
    assert_eq!(peer.heads(&thread).expect("heads")[&log].1, 0);
    let (other, _) = peer
        .create_thread(3, Variant::Raw)
        .expect("the peer goes on");
    peer.append_batch(4, &other, &[b"d".to_vec()])
        .expect("it still appends");
}

/// A body too large for one block [REC-4] is the caller's error, BLOCK_TOO_LARGE, whether
/// appended alone or in a batch: nothing is appended, and the peer goes on appending.
#[test]
fn a_body_too_large_for_one_block_is_refused_and_the_peer_goes_on() {
    let mut peer = peer(119);
    let (thread, log) = peer.create_thread(0, Variant::Raw).expect("create");
    let big = vec![7u8; crate::block::MAX_BLOCK_SIZE + 1];
    let batch = peer
        .append_batch(1, &thread, &[b"a".to_vec(), big.clone()])
        .map(|_| ())
        .map_err(|e| e.code);
    assert_eq!(batch, Err(ErrorCode::BlockTooLarge));
    let single = peer
        .append(2, &thread, &big)
        .map(|_| ())
        .map_err(|e| e.code);
    assert_eq!(single, Err(ErrorCode::BlockTooLarge));
    assert_eq!(
        peer.heads(&thread).expect("heads")[&log].1,
        0,
        "nothing appended"
    );
    let (_, seq, _) = peer.append(3, &thread, b"b").expect("the peer goes on");
    assert_eq!(seq, 1);
    let done = peer
        .append_batch(4, &thread, &[b"c".to_vec()])
        .expect("batches too");
    assert_eq!(done[0].1, 2);
}

/// The counters report every message sent to a peer: a pull is answered with one `records`
/// message [SYNC-5], which counts one message out.
#[test]
fn each_message_sent_to_a_peer_is_counted_out() {
    let (mut writer, mut follower) = (peer(117), peer(118));
    let mut net = Net::new(0);
    let (thread, log) = followed(&mut writer, &mut follower, &mut net);
    writer.append(1, &thread, b"one").expect("append");
    sent(&mut writer);
    let before = writer.counters().messages_out;
    let pull = Message::Pull {
        thread: thread.clone(),
        log,
        after: 0,
        limit: 10,
    };
    deliver(&mut writer, follower.id(), &pull);
    let out = sent(&mut writer);
    assert_eq!(out.len(), 1, "one answer");
    assert!(matches!(out[0], (to, Message::Records { .. }) if to == follower.id()));
    assert_eq!(writer.counters().messages_out, before + 1);
}

/// Checks [SYNC-21]: a proven peer that challenges this one (it lost its proof, typically by a
/// restart) gets this peer's heads with the proof, at most once per `CHALLENGE_INTERVAL_MS`:
/// not again within the interval, and again once it has passed.
#[test]
fn sync_21_a_proven_peer_that_challenges_gets_heads_once_per_interval() {
    let (mut writer, mut follower) = (peer(119), peer(120));
    let mut net = Net::new(0);
    let (thread, _) = followed(&mut writer, &mut follower, &mut net);
    writer.append(1, &thread, b"one").expect("append");
    sent(&mut writer);
    let challenge = Message::Auth {
        thread: thread.clone(),
        nonce: vec![5; crate::membership::AUTH_NONCE_LEN],
        proof: Vec::new(),
    };
    let start = 10_000;
    let mut heads_after = |now: u64| {
        writer
            .handle_message(now, follower.id(), &challenge.to_bytes())
            .expect("challenge");
        sent(&mut writer)
            .into_iter()
            .filter(|(to, m)| *to == follower.id() && matches!(m, Message::Heads { .. }))
            .count()
    };
    assert_eq!(heads_after(start), 1, "the first challenge");
    assert_eq!(
        heads_after(start + CHALLENGE_INTERVAL_MS - 1),
        0,
        "within the interval"
    );
    assert_eq!(
        heads_after(start + CHALLENGE_INTERVAL_MS),
        1,
        "the interval passed"
    );
}

/// Checks [SYNC-24] with [SYNC-3]: a publication that opens on a thread's topic but carries a
/// `records` message about another thread is dropped and counted invalid, never decided as the
/// topic's; and a publication that arrives relayed by this peer's own ID is ignored the same way.
#[test]
fn publications_about_another_thread_or_from_this_peer_are_dropped() {
    let (mut writer, mut follower) = (peer(121), peer(122));
    let mut net = Net::new(0);
    let (thread, log) = followed(&mut writer, &mut follower, &mut net);
    let (other, other_log) = writer.create_thread(1, Variant::Raw).expect("create");
    writer.append(2, &other, b"elsewhere").expect("append");
    sent(&mut writer);
    let about_other = Message::Records {
        thread: other.clone(),
        log: other_log,
        counter: 1,
        envelopes: writer.envelopes(&other, &other_log).expect("held").to_vec(),
    };
    let follow = follower.threads[&thread].keys.follow.clone();
    let mut rng = ChaCha20Rng::seed_from_u64(121);
    let sealed =
        crate::membership::seal_publication(&thread, &follow, &about_other.to_bytes(), &mut rng);
    let topic = follower.topic(&thread).expect("topic");
    let before = follower.counters();
    follower
        .handle_publication(3, writer.id(), &topic, &sealed)
        .expect("dropped, not an error");
    let after = follower.counters();
    assert_eq!(after.publications_invalid, before.publications_invalid + 1);
    assert_eq!(
        after.records_rejected, before.records_rejected,
        "nothing decided"
    );
    assert!(
        !follower
            .heads(&thread)
            .expect("heads")
            .contains_key(&other_log)
    );
    // The writer's own publication, handed back to it as if it relayed it.
    writer.append(4, &thread, b"mine").expect("append");
    let own = std::iter::from_fn(|| writer.poll_transmit())
        .find(|t| t.destination == Destination::Topic(thread.clone()))
        .expect("published")
        .bytes;
    let before = writer.counters();
    writer
        .handle_publication(5, writer.id(), &topic, &own)
        .expect("dropped, not an error");
    let after = writer.counters();
    assert_eq!(after.publications_invalid, before.publications_invalid + 1);
    assert_eq!(
        after.records_duplicate, before.records_duplicate,
        "nothing decided"
    );
    assert_eq!(writer.heads(&thread).expect("heads")[&log].1, 1);
}

/// Checks [SYNC-23] with [SYNC-7]: records of a log this peer does not hold, from a proven
/// sender, that lie beyond a gap store nothing, but the sender says it holds more: the log is
/// tracked and pulled from that sender, from the start.
#[test]
fn records_of_an_unknown_log_beyond_a_gap_are_pulled_from_their_sender() {
    let (mut writer, mut follower) = (peer(123), peer(124));
    let mut net = Net::new(0);
    let (thread, _) = followed(&mut writer, &mut follower, &mut net);
    let mut second = peer(125);
    let invite = writer
        .invite(&thread, InviteRole::Writer, second.id())
        .expect("invite");
    second.join(0, &invite).expect("join");
    let mut other = None;
    for i in 0..3u64 {
        other = Some(second.append(i, &thread, b"event").expect("append").0);
    }
    let other = other.expect("a log");
    let beyond = Message::Records {
        thread: thread.clone(),
        log: other,
        counter: 3,
        envelopes: second.envelopes(&thread, &other).expect("held")[1..].to_vec(),
    };
    sent(&mut follower);
    deliver(&mut follower, writer.id(), &beyond);
    assert!(!follower.heads(&thread).expect("heads").contains_key(&other));
    assert_eq!(follower.pending_logs(), 1, "the log is tracked");
    let pulls: Vec<u64> = sent(&mut follower)
        .into_iter()
        .filter_map(|(to, m)| match m {
            Message::Pull { log, after, .. } if to == writer.id() && log == other => Some(after),
            _ => None,
        })
        .collect();
    assert_eq!(pulls, [0], "pulled from the sender, from the start");
}
