//! Membership (spec/sync.md, 7.12): a peer that cannot prove membership of a thread gets nothing
//! about it; nothing an unproven peer says is stored; proofs cannot be relayed, reflected or
//! replayed; revocation and restarts; and the handshake under message loss.

mod common;

use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use threads::acl::{Role, Roles};
use threads::error::ErrorCode;
use threads::id::{LogId, ThreadId, Variant};
use threads::invite::InviteRole;
use threads::keys::IdentityKey;
use threads::membership;
use threads::store::{MemoryStore, Store};
use threads::sync::{
    Destination, HEADS_INTERVAL_MS, MAX_HEADS_ENTRIES, MAX_LOGS_PER_THREAD,
    MAX_PENDING_LOGS_PER_PEER, Message, Net, Notification, Peer, Transmit,
};

type TestPeer<S = MemoryStore> = Peer<ChaCha20Rng, S>;

fn identity(seed: u64) -> IdentityKey {
    IdentityKey::generate(&mut ChaCha20Rng::seed_from_u64(seed))
}

fn peer(seed: u64) -> TestPeer {
    Peer::new(identity(seed), ChaCha20Rng::seed_from_u64(seed + 1000))
}

fn deliver<S: Store>(to: &mut TestPeer<S>, now: u64, from: LogId, message: &Message) {
    to.handle_message(now, from, &message.to_bytes())
        .expect("the memory store does not fail");
}

/// What `p` wants sent to `to`, decoded; everything else it wanted sent is dropped.
fn sent_to<S: Store>(p: &mut TestPeer<S>, to: LogId) -> Vec<Message> {
    Net::sent(p)
        .into_iter()
        .filter(|(dest, _)| *dest == to)
        .map(|(_, m)| m)
        .collect()
}

/// A writer with `n` events in a raw thread, a follower and a reader, all caught up.
/// A member gone bad: peer `seed`, invited by `writer` as a follower, joined and proven by
/// `follower` like any member.
fn rogue_member(
    seed: u64,
    thread: &ThreadId,
    writer: &mut TestPeer,
    follower: &mut TestPeer,
) -> TestPeer {
    let mut rogue = peer(seed);
    let invite = writer
        .invite(thread, InviteRole::Follower, rogue.id())
        .expect("invite");
    rogue.join(0, &invite).expect("join");
    Net::new(0)
        .pump(&mut [writer, follower, &mut rogue])
        .expect("pump");
    assert!(follower.is_proven(thread, &rogue.id()));
    rogue
}

fn raw_thread(n: u64) -> (ThreadId, LogId, [TestPeer; 3]) {
    let (mut writer, mut follower, mut reader) = (peer(1), peer(2), peer(3));
    let (thread, log) = writer.create_thread(0, Variant::Raw).expect("create");
    for i in 0..n {
        writer.append(i, &thread, b"secret event").expect("append");
    }
    let mut net = Net::new(0);
    for (p, role) in [
        (&mut follower, InviteRole::Follower),
        (&mut reader, InviteRole::Reader),
    ] {
        let invite = writer.invite(&thread, role, p.id()).expect("invite");
        p.join(0, &invite).expect("join");
    }
    net.pump(&mut [&mut writer, &mut follower, &mut reader])
        .expect("pump");
    for p in [&follower, &reader] {
        assert_eq!(p.heads(&thread).expect("heads")[&log].1, n);
    }
    (thread, log, [writer, follower, reader])
}

/// The bytes a stranger who knows the thread and a log ID sends a member.
fn probes(
    thread: &ThreadId,
    log: LogId,
    envelopes: Vec<threads::envelope::Envelope>,
) -> Vec<Message> {
    vec![
        Message::Heads {
            thread: thread.clone(),
            heads: Vec::new(),
        },
        Message::Heads {
            thread: thread.clone(),
            heads: vec![(log, 0)],
        },
        Message::Pull {
            thread: thread.clone(),
            log,
            after: 0,
            limit: 256,
        },
        Message::Records {
            thread: thread.clone(),
            log,
            counter: 1,
            envelopes,
        },
        Message::Auth {
            thread: thread.clone(),
            nonce: vec![1; membership::AUTH_NONCE_LEN],
            proof: Vec::new(),
        },
        Message::Auth {
            thread: thread.clone(),
            nonce: vec![2; membership::AUTH_NONCE_LEN],
            proof: vec![3; membership::PROOF_LEN],
        },
    ]
}

/// The attack of issue 17: a fresh identity that knows the Thread ID and a log ID asks a
/// writer, a reader and a follower for everything, answers their challenges as best it can, and
/// stays around for several head exchanges. It gets challenges and proofs only: no record, no
/// counter, no log ID, and nobody files it [SYNC-21].
#[test]
fn a_stranger_who_knows_the_tid_gets_no_record_counter_or_log_id() {
    let (thread, log, [mut writer, mut follower, mut reader]) = raw_thread(5);
    let mut stranger = peer(66);
    let s = stranger.id();
    let log_bytes = log.to_bytes();
    let envelopes = writer.envelopes(&thread, &log).expect("held")[..1].to_vec();
    let mut received = Vec::new();
    let mut net = Net::new(0);
    for round in 0..4u64 {
        let now = round * HEADS_INTERVAL_MS;
        for member in [&mut writer, &mut follower, &mut reader] {
            for probe in probes(&thread, log, envelopes.clone()) {
                deliver(member, now, s, &probe);
            }
            // The stranger answers what it got; it holds no thread, so its answers are its own
            // nonces and decoys.
            for bytes in Net::sent(member)
                .into_iter()
                .filter(|(to, _)| *to == s)
                .map(|(_, m)| m.to_bytes())
            {
                stranger
                    .handle_message(now, member.id(), &bytes)
                    .expect("stranger");
                received.push(bytes);
            }
            for (to, message) in Net::sent(&mut stranger) {
                assert_eq!(to, member.id());
                deliver(member, now, s, &message);
            }
            for (to, message) in Net::sent(member) {
                if to == s {
                    received.push(message.to_bytes());
                }
            }
        }
        net.run_until(
            &mut [&mut writer, &mut follower, &mut reader],
            now + HEADS_INTERVAL_MS,
        )
        .expect("run");
    }
    assert!(!received.is_empty(), "the stranger was challenged");
    for bytes in &received {
        let message = Message::from_bytes(bytes).expect("decodes");
        assert!(
            matches!(&message, Message::Auth { .. }),
            "only auth messages reach a stranger, got {message:?}"
        );
        assert!(
            !bytes
                .windows(log_bytes.len())
                .any(|w| w == log_bytes.as_slice()),
            "no log ID reaches a stranger"
        );
    }
    for member in [&writer, &follower, &reader] {
        assert!(
            !member.peers_of(&thread).contains(&s),
            "the stranger is not filed"
        );
        assert!(!member.is_proven(&thread, &s));
        assert!(member.counters().proofs_invalid > 0);
        assert_eq!(member.heads(&thread).expect("heads")[&log].1, 5);
    }
}

/// "Unknown thread" and "bad proof" look the same byte for byte in shape: a holder and a peer
/// that does not hold the thread answer a challenge with a nonce and a 32-byte proof, a bad proof
/// with nothing, and a pull or heads with one challenge of the same length [SYNC-3], [SYNC-20].
#[test]
fn an_unknown_thread_and_a_bad_proof_get_answers_of_the_same_shape() {
    let (thread, log, [mut holder, ..]) = raw_thread(1);
    let mut outsider = peer(77);
    let s = identity(78).log_id();
    let shape = |p: &mut TestPeer, probe: &Message| -> Vec<(usize, usize, usize)> {
        deliver(p, 10, s, probe);
        sent_to(p, s)
            .into_iter()
            .map(|m| match &m {
                Message::Auth { nonce, proof, .. } => {
                    (m.to_bytes().len(), nonce.len(), proof.len())
                }
                other => panic!("only auth answers, got {other:?}"),
            })
            .collect()
    };
    Net::sent(&mut holder);
    for probe in probes(&thread, log, Vec::new()) {
        let known = shape(&mut holder, &probe);
        let unknown = shape(&mut outsider, &probe);
        assert_eq!(known, unknown, "answers to {probe:?}");
        match probe {
            Message::Auth { proof, .. } if !proof.is_empty() => assert!(known.is_empty()),
            Message::Auth { .. } => assert_eq!(known[0].1..=known[0].2, 16..=32),
            _ => assert_eq!(known.len(), 1),
        }
    }
}

/// A member's heads name as many unstored logs as its bound allows; it answers one of them with
/// nothing. Only that log is forgotten: the others stay tracked and count against the sender's
/// bound, so of two more logs its next heads name, one is tracked and pulled and the other
/// refused with LOG_LIMIT. Forgetting one log never resets a sender's bound [SYNC-23].
#[test]
fn a_log_answered_with_nothing_is_forgotten_alone_and_the_bound_holds() {
    let (thread, _, [mut writer, mut follower, _]) = raw_thread(1);
    let rogue = rogue_member(92, &thread, &mut writer, &mut follower);
    let r = rogue.id();
    let mut rng = ChaCha20Rng::seed_from_u64(23);
    let mut forged = || -> Vec<(LogId, u64)> {
        (0..MAX_PENDING_LOGS_PER_PEER)
            .map(|_| (IdentityKey::generate(&mut rng).log_id(), 5))
            .collect()
    };
    let first = forged();
    let heads = |heads: &[(LogId, u64)]| Message::Heads {
        thread: thread.clone(),
        heads: heads.to_vec(),
    };
    deliver(&mut follower, 1, r, &heads(&first));
    assert_eq!(follower.pending_logs(), MAX_PENDING_LOGS_PER_PEER);
    sent_to(&mut follower, r);
    let empty = Message::Records {
        thread: thread.clone(),
        log: first[0].0,
        counter: 0,
        envelopes: Vec::new(),
    };
    deliver(&mut follower, 2, r, &empty);
    assert_eq!(
        follower.pending_logs(),
        MAX_PENDING_LOGS_PER_PEER - 1,
        "only the log answered with nothing is forgotten"
    );
    let refused = follower.counters().refused;
    let more = forged();
    deliver(&mut follower, 3, r, &heads(&more[..2]));
    assert_eq!(follower.pending_logs(), MAX_PENDING_LOGS_PER_PEER);
    let pulled: Vec<LogId> = sent_to(&mut follower, r)
        .into_iter()
        .filter_map(|m| match m {
            Message::Pull { log, .. } => Some(log),
            _ => None,
        })
        .collect();
    assert_eq!(pulled.len(), 1, "room for one more log only: {pulled:?}");
    assert!(more[..2].iter().any(|(log, _)| *log == pulled[0]));
    assert!(follower.counters().refused > refused, "the other refused");
}

/// A member's heads name as many unstored logs as its bound allows; it then answers one of them
/// with a record that does not verify and a counter of 0. That is not an answer with no record,
/// so the log stays tracked for that sender and a further log its heads name is refused: the
/// sender's bound is not reset by records it made up [SYNC-23].
#[test]
fn a_log_answered_with_a_bad_record_stays_tracked_and_the_bound_holds() {
    let (thread, log, [mut writer, mut follower, _]) = raw_thread(1);
    let rogue = rogue_member(93, &thread, &mut writer, &mut follower);
    let r = rogue.id();
    let mut rng = ChaCha20Rng::seed_from_u64(24);
    let forged: Vec<(LogId, u64)> = (0..=MAX_PENDING_LOGS_PER_PEER)
        .map(|_| (IdentityKey::generate(&mut rng).log_id(), 5))
        .collect();
    let heads = |heads: &[(LogId, u64)]| Message::Heads {
        thread: thread.clone(),
        heads: heads.to_vec(),
    };
    deliver(
        &mut follower,
        1,
        r,
        &heads(&forged[..MAX_PENDING_LOGS_PER_PEER]),
    );
    assert_eq!(follower.pending_logs(), MAX_PENDING_LOGS_PER_PEER);
    // The writer's genuine record, claimed for a forged log: it does not verify there.
    let made_up = Message::Records {
        thread: thread.clone(),
        log: forged[0].0,
        counter: 0,
        envelopes: writer.envelopes(&thread, &log).expect("held")[..1].to_vec(),
    };
    let rejected = follower.counters().records_rejected;
    deliver(&mut follower, 2, r, &made_up);
    assert_eq!(follower.counters().records_rejected, rejected + 1);
    assert_eq!(
        follower.pending_logs(),
        MAX_PENDING_LOGS_PER_PEER,
        "still tracked"
    );
    sent_to(&mut follower, r);
    deliver(
        &mut follower,
        3,
        r,
        &heads(&forged[MAX_PENDING_LOGS_PER_PEER..]),
    );
    assert_eq!(follower.pending_logs(), MAX_PENDING_LOGS_PER_PEER);
    assert!(
        sent_to(&mut follower, r)
            .iter()
            .all(|m| !matches!(m, Message::Pull { .. })),
        "the log past the bound is not pulled"
    );
}

/// The forged heads of issue 17, from a member this time (a stranger's are dropped whole): 20,000
/// random log IDs in one message are refused (HEADS_TOO_LONG), and the same IDs in messages of at
/// most `MAX_HEADS_ENTRIES` leave at most `MAX_PENDING_LOGS_PER_PEER` logs pending in memory,
/// none stored, no peer filed; the store reopened holds the real log only, and a later invite
/// still works [SYNC-23].
#[test]
fn forged_heads_store_nothing_cost_bounded_memory_and_invites_still_work() {
    let (thread, log, [mut writer, mut follower, _]) = raw_thread(3);
    // A member gone bad: joined as a follower, proven like any member.
    let rogue = rogue_member(90, &thread, &mut writer, &mut follower);
    let r = rogue.id();
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let forged: Vec<(LogId, u64)> = (0..20_000)
        .map(|_| {
            (
                IdentityKey::generate(&mut rng).log_id(),
                1 + rng.next_u64() % 1000,
            )
        })
        .collect();
    let whole = Message::Heads {
        thread: thread.clone(),
        heads: forged.clone(),
    };
    assert_eq!(
        Message::from_bytes(&whole.to_bytes()).map_err(|e| e.code),
        Err(ErrorCode::HeadsTooLong)
    );
    let malformed = follower.counters().messages_malformed;
    deliver(&mut follower, 1, r, &whole);
    assert_eq!(follower.counters().messages_malformed, malformed + 1);
    let mut pulls = 0;
    for chunk in forged.chunks(MAX_HEADS_ENTRIES) {
        deliver(
            &mut follower,
            1,
            r,
            &Message::Heads {
                thread: thread.clone(),
                heads: chunk.to_vec(),
            },
        );
        pulls += sent_to(&mut follower, r)
            .iter()
            .filter(|m| matches!(m, Message::Pull { .. }))
            .count();
        assert!(follower.pending_logs() <= MAX_PENDING_LOGS_PER_PEER);
    }
    assert_eq!(follower.pending_logs(), MAX_PENDING_LOGS_PER_PEER);
    assert_eq!(pulls, MAX_PENDING_LOGS_PER_PEER, "one pull per pending log");
    assert!(
        follower.counters().refused > 0,
        "the rest refused with LOG_LIMIT"
    );
    assert_eq!(
        follower.heads(&thread).expect("heads").len(),
        1,
        "no log stored"
    );
    // The rogue answers with nothing: every pending log is forgotten.
    for (forged_log, _) in forged.iter().take(MAX_PENDING_LOGS_PER_PEER) {
        let empty = Message::Records {
            thread: thread.clone(),
            log: *forged_log,
            counter: 0,
            envelopes: Vec::new(),
        };
        deliver(&mut follower, 2, r, &empty);
    }
    assert_eq!(follower.pending_logs(), 0);
    let peers = follower.peers_of(&thread);
    let reopened = Peer::open(
        identity(2),
        ChaCha20Rng::seed_from_u64(9),
        follower.into_store(),
        3,
    )
    .expect("reopen");
    assert_eq!(
        reopened
            .heads(&thread)
            .expect("heads")
            .keys()
            .collect::<Vec<_>>(),
        vec![&log],
        "the store holds the real log only"
    );
    assert_eq!(reopened.peers_of(&thread), peers);
    assert!(peers.iter().all(|p| *p == writer.id() || *p == r));
    let mut follower = reopened;
    let mut late = peer(91);
    let invite = follower
        .invite(&thread, InviteRole::Follower, late.id())
        .expect("invite");
    assert!(
        invite.len() < 4096,
        "the invite lists one log: {} bytes",
        invite.len()
    );
    late.join(4, &invite).expect("join");
    Net::new(4)
        .pump(&mut [&mut follower, &mut late])
        .expect("pump");
    assert_eq!(late.heads(&thread).expect("heads")[&log].1, 3);
}

/// A relayed proof, a reflected one and one replayed to another verifier or after its nonce
/// expired all fail [SYNC-18], [SYNC-19].
#[test]
fn relayed_reflected_and_replayed_proofs_fail() {
    let (thread, _, [mut verifier, mut member, _]) = raw_thread(1);
    let mitm = identity(55).log_id();
    let nonce_of = |m: &Message| match m {
        Message::Auth { nonce, .. } => nonce.clone(),
        _ => panic!("auth expected"),
    };
    let proof_of = |m: &Message| match m {
        Message::Auth { proof, .. } => proof.clone(),
        _ => panic!("auth expected"),
    };
    Net::sent(&mut verifier);
    Net::sent(&mut member);
    // The verifier challenges the man in the middle.
    let poke = Message::Heads {
        thread: thread.clone(),
        heads: Vec::new(),
    };
    deliver(&mut verifier, 100, mitm, &poke);
    let challenge = nonce_of(&sent_to(&mut verifier, mitm)[0]);
    // Relay: it passes the nonce to a member as its own challenge, and the member's proof back.
    let ask = Message::Auth {
        thread: thread.clone(),
        nonce: challenge.clone(),
        proof: Vec::new(),
    };
    deliver(&mut member, 100, mitm, &ask);
    let relayed = proof_of(&sent_to(&mut member, mitm)[0]);
    // Reflection: it sends the verifier its own nonce, and the verifier's proof back to it.
    deliver(&mut verifier, 100, mitm, &ask);
    let reflected = proof_of(&sent_to(&mut verifier, mitm)[0]);
    for proof in [relayed, reflected] {
        let answer = Message::Auth {
            thread: thread.clone(),
            nonce: Vec::new(),
            proof,
        };
        let invalid = verifier.counters().proofs_invalid;
        deliver(&mut verifier, 100, mitm, &answer);
        assert!(!verifier.is_proven(&thread, &mitm));
        assert_eq!(verifier.counters().proofs_invalid, invalid + 1);
        assert!(
            sent_to(&mut verifier, mitm).is_empty(),
            "no answer to a bad proof"
        );
    }
    // Replay: a member's genuine proof for one verifier, presented to another by the member
    // itself, and presented to the right verifier after its nonce expired.
    let mut other = peer(56);
    let invite = verifier
        .invite(&thread, InviteRole::Follower, other.id())
        .expect("invite");
    other.join(100, &invite).expect("join");
    let m = member.id();
    let poke_from_member = |v: &mut TestPeer, now: u64| -> [u8; 16] {
        deliver(v, now, m, &poke);
        nonce_of(&sent_to(v, m)[0]).try_into().expect("16 bytes")
    };
    let fresh = verifier_restart(&mut verifier, &thread);
    let key = membership::proof_key(&thread, &verifier.keys(&thread).expect("keys").follow);
    let present = |v: &mut TestPeer, now: u64, proof: [u8; 32]| {
        let answer = Message::Auth {
            thread: thread.clone(),
            nonce: Vec::new(),
            proof: proof.to_vec(),
        };
        deliver(v, now, m, &answer);
        v.is_proven(&thread, &m)
    };
    let start = 1_000_000;
    let nonce = poke_from_member(&mut verifier, start);
    let genuine = membership::prove(&key, &thread, &m, &fresh, &nonce);
    assert!(
        !present(&mut other, start, genuine),
        "replayed to another verifier"
    );
    let late = start + membership::NONCE_TTL_MS + membership::NONCE_BUCKET_MS;
    let nonce2 = poke_from_member(&mut verifier, late);
    assert!(
        !present(&mut verifier, late, genuine),
        "replayed after its nonce expired"
    );
    let in_time = membership::prove(&key, &thread, &m, &fresh, &nonce2);
    assert!(
        present(&mut verifier, late, in_time),
        "a proof over a live nonce"
    );
}

/// Restarts `verifier` from its store: it forgets every proof and nonce. Returns its ID.
fn verifier_restart(verifier: &mut TestPeer, thread: &ThreadId) -> LogId {
    let id = verifier.id();
    let store = std::mem::replace(verifier, peer(999)).into_store();
    *verifier = Peer::open(
        identity(1),
        ChaCha20Rng::seed_from_u64(4242),
        store,
        1_000_000,
    )
    .expect("reopen");
    assert_eq!(verifier.id(), id);
    assert!(
        verifier
            .peers_of(thread)
            .iter()
            .all(|p| !verifier.is_proven(thread, p))
    );
    id
}

/// An admin of an access-controlled thread (seed `seed`), a reader and a writer it will revoke
/// (seeds `seed + 1` and `seed + 2`), all synced and proven to each other. The one to be revoked
/// writes, so the reader learns of it through its log and syncs with it [SYNC-11].
fn member_to_revoke(seed: u64) -> (TestPeer, TestPeer, TestPeer, Net, ThreadId, LogId) {
    let (mut admin, mut reader, mut revoked) = (peer(seed), peer(seed + 1), peer(seed + 2));
    let mut net = Net::new(0);
    let (thread, log) = admin
        .create_thread(0, Variant::AccessControlled)
        .expect("create");
    for (p, role, as_) in [
        (&mut reader, Role::Read, InviteRole::Reader),
        (&mut revoked, Role::Write, InviteRole::Writer),
    ] {
        admin
            .set_roles(1, &thread, p.id(), Roles::of(role))
            .expect("grant");
        let invite = admin.invite(&thread, as_, p.id()).expect("invite");
        p.join(2, &invite).expect("join");
    }
    net.pump(&mut [&mut admin, &mut reader, &mut revoked])
        .expect("pump");
    let r = revoked.id();
    assert!(admin.is_proven(&thread, &r) && reader.is_proven(&thread, &r));
    (admin, reader, revoked, net, thread, log)
}

/// Revocation: once an admin sets a reader's role to no-access, the admin (and every reader and
/// writer, who read the ACL) refuse it at once; it gets nothing appended later [SYNC-22].
#[test]
fn a_revoked_peer_is_refused_by_readers_and_writers_at_once() {
    let (mut admin, mut reader, mut revoked, mut net, thread, log) = member_to_revoke(11);
    let r = revoked.id();
    admin
        .set_roles(3, &thread, r, Roles::of(Role::NoAccess))
        .expect("revoke");
    assert!(
        !admin.is_proven(&thread, &r),
        "the admin refuses it at once"
    );
    // The revoked peer is offline while the change spreads and a secret is appended.
    net.set_online(r, false);
    net.pump(&mut [&mut admin, &mut reader, &mut revoked])
        .expect("pump");
    assert!(!reader.is_proven(&thread, &r), "so does every reader");
    admin
        .append(4, &thread, b"after revocation")
        .expect("append");
    let counter = admin.heads(&thread).expect("heads")[&log].1;
    net.set_online(r, true);
    net.run_until(
        &mut [&mut admin, &mut reader, &mut revoked],
        4 * HEADS_INTERVAL_MS,
    )
    .expect("run");
    assert!(!admin.is_proven(&thread, &r) && !reader.is_proven(&thread, &r));
    assert!(
        revoked.heads(&thread).expect("heads")[&log].1 < counter,
        "nothing appended after the revocation reaches it"
    );
    assert_eq!(reader.heads(&thread).expect("heads")[&log].1, counter);
}

/// The ACL change that revokes a peer is applied before it leaves anyone: the admin does not
/// push it to the revoked peer, and a reader that receives it does not announce it to the
/// revoked peer (the simulator's scenario `revoked-member` found both) [SYNC-22].
#[test]
fn the_revoking_change_itself_never_reaches_the_revoked_peer() {
    let (mut admin, mut reader, revoked, _, thread, _) = member_to_revoke(21);
    let r = revoked.id();
    admin
        .set_roles(3, &thread, r, Roles::of(Role::NoAccess))
        .expect("revoke");
    let told_revoked = |transmits: &[Transmit]| {
        transmits
            .iter()
            .filter(|t| t.destination == Destination::Peer(r))
            .filter(|t| !matches!(Message::from_bytes(&t.bytes), Ok(Message::Auth { .. })))
            .count()
    };
    let from_admin: Vec<Transmit> = std::iter::from_fn(|| admin.poll_transmit()).collect();
    assert_eq!(
        told_revoked(&from_admin),
        0,
        "the admin pushed the change to it"
    );
    let to_reader: Vec<&Transmit> = from_admin
        .iter()
        .filter(|t| t.destination == Destination::Peer(reader.id()))
        .collect();
    assert!(!to_reader.is_empty(), "the reader gets the change");
    for t in to_reader {
        reader
            .handle_message(3, admin.id(), &t.bytes)
            .expect("handle");
    }
    assert!(!reader.is_proven(&thread, &r));
    let from_reader: Vec<Transmit> = std::iter::from_fn(|| reader.poll_transmit()).collect();
    assert_eq!(
        told_revoked(&from_reader),
        0,
        "the reader announced the change to it"
    );
}

/// A peer restarted from its store has forgotten every proof: it challenges what its peers send,
/// they prove themselves again, and sync resumes [SYNC-19], [SYNC-21].
#[test]
fn a_restarted_peer_re_proves_and_sync_resumes() {
    let (thread, log, [mut writer, follower, _]) = raw_thread(2);
    let mut follower = Peer::open(
        identity(2),
        ChaCha20Rng::seed_from_u64(31),
        follower.into_store(),
        100,
    )
    .expect("reopen");
    assert!(!follower.is_proven(&thread, &writer.id()));
    writer
        .append(100, &thread, b"while it was away")
        .expect("append");
    let mut net = Net::new(100);
    net.pump(&mut [&mut writer, &mut follower]).expect("pump");
    assert!(follower.is_proven(&thread, &writer.id()));
    assert_eq!(follower.heads(&thread).expect("heads")[&log].1, 3);
}

/// The handshake, a pull and its answer under any pattern of lost messages, followed by a
/// period without loss: both sides end up proven and the follower caught up [SYNC-20].
fn lossy_then_lossless(pattern: Vec<bool>) {
    let (mut writer, mut follower) = (peer(1), peer(2));
    let (thread, log) = writer.create_thread(0, Variant::Raw).expect("create");
    writer.append(0, &thread, b"one").expect("append");
    let invite = writer
        .invite(&thread, InviteRole::Follower, follower.id())
        .expect("invite");
    follower.join(0, &invite).expect("join");
    let mut now = 0;
    let mut loss = pattern.into_iter();
    while loss.len() > 0 {
        carry(&mut writer, &mut follower, &mut loss, now);
        carry(&mut follower, &mut writer, &mut loss, now);
        now += 300;
        for p in [&mut writer, &mut follower] {
            if p.poll_timeout().is_some_and(|t| t <= now) {
                p.handle_timeout(now).expect("timeout");
            }
        }
    }
    Net::new(now)
        .run_until(
            &mut [&mut writer, &mut follower],
            now + 2 * HEADS_INTERVAL_MS,
        )
        .expect("run");
    assert!(writer.is_proven(&thread, &follower.id()));
    assert!(follower.is_proven(&thread, &writer.id()));
    assert_eq!(follower.heads(&thread).expect("heads")[&log].1, 1);
}

/// Delivers what `from` wants sent to `to`, losing each message the pattern says to lose.
fn carry(from: &mut TestPeer, to: &mut TestPeer, loss: &mut impl Iterator<Item = bool>, now: u64) {
    while let Some(t) = from.poll_transmit() {
        let lost = loss.next().unwrap_or(false);
        if let (Destination::Peer(dest), false) = (t.destination, lost)
            && dest == to.id()
        {
            to.handle_message(now, from.id(), &t.bytes)
                .expect("deliver");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn the_handshake_completes_after_any_loss_followed_by_delivery(
        pattern in proptest::collection::vec(any::<bool>(), 0..40)
    ) {
        lossy_then_lossless(pattern);
    }
}

/// A thread files at most `MAX_PEERS_PER_THREAD` peers: the next member that proves itself is
/// refused with PEER_LIMIT, neither filed nor proven, and served nothing [SYNC-23].
#[test]
fn peers_beyond_the_limit_are_refused_with_peer_limit() {
    let mut writer = peer(1);
    let (thread, _) = writer.create_thread(0, Variant::Raw).expect("create");
    let mut net = Net::new(0);
    for i in 0..=threads::sync::MAX_PEERS_PER_THREAD as u64 {
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&(i + 10).to_be_bytes());
        let mut member = Peer::from_seed(seed);
        let invite = writer
            .invite(&thread, InviteRole::Follower, member.id())
            .expect("invite");
        member.join(0, &invite).expect("join");
        net.pump(&mut [&mut writer, &mut member]).expect("pump");
        let filed = writer.peers_of(&thread).contains(&member.id());
        if (i as usize) < threads::sync::MAX_PEERS_PER_THREAD {
            assert!(
                filed && writer.is_proven(&thread, &member.id()),
                "member {i}"
            );
        } else {
            assert!(!filed && !writer.is_proven(&thread, &member.id()));
            let refused = std::iter::from_fn(|| writer.poll_event()).any(|e| {
                matches!(e, threads::sync::Notification::Refused { code, .. } if code == ErrorCode::PeerLimit)
            });
            assert!(refused, "refused with PEER_LIMIT");
        }
        while writer.poll_event().is_some() {}
    }
    assert_eq!(
        writer.peers_of(&thread).len(),
        threads::sync::MAX_PEERS_PER_THREAD
    );
}

/// A proven member that forwards the first records of ever more logs (each a valid record of a
/// writer holding the thread's keys) fills a follower up to MAX_LOGS_PER_THREAD logs; the next
/// new log is refused with LOG_LIMIT and never stored, also across a restart, while the logs
/// already held still grow [SYNC-23].
#[test]
fn logs_beyond_the_limit_are_refused_with_log_limit() {
    let (thread, log, [mut writer, mut follower, _]) = raw_thread(1);
    let w = writer.id();
    assert!(follower.is_proven(&thread, &w));
    let mut author = common::Fixture {
        thread: thread.clone(),
        identity: identity(0),
        log,
        keys: writer.keys(&thread).expect("keys").clone(),
        rng: common::rng(7),
    };
    let mut first_of = |seed: u64| {
        author.identity = identity(100_000 + seed);
        author.log = author.identity.log_id();
        let envelope = author.first(b"one more log");
        (author.log, envelope)
    };
    let forward = |follower: &mut TestPeer, (log, envelope)| {
        let records = Message::Records {
            thread: thread.clone(),
            log,
            counter: 1,
            envelopes: vec![envelope],
        };
        deliver(follower, 10, w, &records);
    };
    for seed in 1..MAX_LOGS_PER_THREAD as u64 {
        forward(&mut follower, first_of(seed));
    }
    assert_eq!(
        follower.heads(&thread).expect("heads").len(),
        MAX_LOGS_PER_THREAD
    );
    while follower.poll_event().is_some() {}
    let refused = follower.counters().refused;
    let (extra, envelope) = first_of(0);
    forward(&mut follower, (extra, envelope));
    assert_eq!(follower.counters().refused, refused + 1);
    let events: Vec<Notification> = std::iter::from_fn(|| follower.poll_event()).collect();
    assert!(
        events.iter().any(|e| matches!(e,
            Notification::Refused { from, code: ErrorCode::LogLimit, .. } if *from == w)),
        "{events:?}"
    );
    let held = follower.heads(&thread).expect("heads");
    assert_eq!(held.len(), MAX_LOGS_PER_THREAD);
    assert!(!held.contains_key(&extra));
    // A log already held still grows.
    writer.append(20, &thread, b"second").expect("append");
    Net::new(20)
        .pump(&mut [&mut writer, &mut follower])
        .expect("pump");
    assert_eq!(follower.heads(&thread).expect("heads")[&log].1, 2);
    let reopened = Peer::open(
        identity(2),
        ChaCha20Rng::seed_from_u64(9),
        follower.into_store(),
        30,
    )
    .expect("reopen");
    let stored = reopened.heads(&thread).expect("heads");
    assert_eq!(stored.len(), MAX_LOGS_PER_THREAD);
    assert!(!stored.contains_key(&extra));
}
