//! Access control (spec/acl.md): the merge rule converges whatever the delivery [ACL-6], and no
//! sequence of events lets a peer without the right role write [ACL-7], delete [ACL-8] or change
//! the ACL [ACL-6]. Example tests are named after the vector flags they stand for.

mod common;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use common::{Fixture, code, unhex};
use proptest::prelude::*;
use proptest::sample::Index;
use threads::acl::{
    Acl, AclChange, AclDocument, AclEvent, AclEventRef, AclOp, Action, EntityAcl, Genesis, Role,
    Roles,
};
use threads::id::{LogId, ThreadId, Variant};
use threads::keys::IdentityKey;
use threads::{Cid, ErrorCode, block};

/// Eight peers; in generated scenarios the first `admins` of them are the genesis admins and
/// peer 0 is the creator.
fn pool() -> &'static [LogId] {
    static POOL: OnceLock<Vec<LogId>> = OnceLock::new();
    POOL.get_or_init(|| {
        (1..=8u8)
            .map(|n| IdentityKey::from_seed(&[n; 32]).log_id())
            .collect()
    })
}

fn thread() -> ThreadId {
    let random: Vec<u8> = (0..32).collect();
    ThreadId::from_parts(Variant::AccessControlled, &random).expect("32 random bytes")
}

/// An event by `author` at `seq`, named by a CID over everything that makes it distinct.
fn event_ref(author: LogId, seq: u64, body: AclEvent) -> AclEventRef {
    let named = [
        author.to_bytes(),
        seq.to_be_bytes().to_vec(),
        body.to_bytes(),
    ]
    .concat();
    AclEventRef {
        author,
        seq,
        cid: block::cid_of(&named),
        body,
    }
}

fn change(author: LogId, seq: u64, clock: u64, op: AclOp) -> AclEventRef {
    let change = AclChange::new(clock, op).expect("a valid change");
    event_ref(author, seq, AclEvent::Change(change))
}

fn delete(author: LogId, seq: u64, target: Cid) -> AclEventRef {
    event_ref(author, seq, AclEvent::Delete { target })
}

fn genesis_of(author: LogId, document: AclDocument) -> Genesis {
    let event = event_ref(author, 1, AclEvent::Genesis { acl: document });
    Genesis::new(&thread(), &event).expect("a valid genesis")
}

// ---------------------------------------------------------------------------------------------
// Generated scenarios
// ---------------------------------------------------------------------------------------------

/// An op over pool indices, turned into a real op by [`Scenario::events`].
#[derive(Debug, Clone)]
enum OpSpec {
    Peer {
        peer: usize,
        role: Option<Role>,
        delete: bool,
        cut: u64,
    },
    Default(Role),
    Grant(usize),
    Revoke(usize),
    Delete(u8),
}

#[derive(Debug, Clone)]
struct Scenario {
    admins: usize,
    peers: usize,
    default: Role,
    /// (author index, clock, op), in the order the authors wrote them.
    writes: Vec<(usize, u64, OpSpec)>,
}

impl Scenario {
    fn genesis(&self) -> Genesis {
        let creator = pool()[0];
        let mut doc = AclDocument::for_thread(&thread(), creator).with_default(self.default);
        for &peer in &pool()[..self.peers] {
            doc = doc.with_peer(peer, Roles::of(Role::Write));
        }
        for &admin in &pool()[..self.admins] {
            doc = doc.with_admin(admin);
        }
        genesis_of(creator, doc)
    }

    fn is_admin_index(&self, index: usize) -> bool {
        index < self.admins
    }

    /// The events, each author's at consecutive seqs (the creator's seq 1 is the genesis).
    fn events(&self) -> Vec<AclEventRef> {
        let mut next_seq: BTreeMap<usize, u64> = BTreeMap::from([(0, 2)]);
        self.writes
            .iter()
            .map(|(author, clock, op)| {
                let seq = next_seq.entry(*author).or_insert(1);
                let event = make(pool()[*author], *seq, *clock, op);
                *seq += 1;
                event
            })
            .collect()
    }
}

fn make(author: LogId, seq: u64, clock: u64, op: &OpSpec) -> AclEventRef {
    let op = match *op {
        OpSpec::Peer {
            peer,
            role,
            delete,
            cut,
        } => AclOp::set_peer(pool()[peer], Roles { role, delete }, cut),
        OpSpec::Default(role) => AclOp::SetDefault { role },
        OpSpec::Grant(admin) => AclOp::GrantAdmin {
            admin: pool()[admin],
        },
        OpSpec::Revoke(admin) => AclOp::RevokeAdmin {
            admin: pool()[admin],
        },
        OpSpec::Delete(target) => return delete(author, seq, block::cid_of(&[target])),
    };
    change(author, seq, clock, op)
}

fn role() -> impl Strategy<Value = Role> {
    prop::sample::select(Role::ALL.to_vec())
}

fn op(peers: usize) -> impl Strategy<Value = OpSpec> {
    prop_oneof![
        3 => (0..peers, prop::option::of(role()), any::<bool>(), 0u64..8).prop_map(
            |(peer, role, delete, cut)| OpSpec::Peer { peer, role, delete, cut }
        ),
        1 => role().prop_map(OpSpec::Default),
        1 => (0..peers).prop_map(OpSpec::Grant),
        2 => (0..peers).prop_map(OpSpec::Revoke),
        1 => (0u8..4).prop_map(OpSpec::Delete),
    ]
}

/// 2-4 admins and 1-3 other peers, up to 24 events with clocks 1-6 (so ties are common).
fn scenario() -> impl Strategy<Value = Scenario> {
    (2usize..=4, 1usize..=3, role()).prop_flat_map(|(admins, others, default)| {
        let peers = admins + others;
        let write = (0..peers, 1u64..=6, op(peers));
        prop::collection::vec(write, 0..24).prop_map(move |writes| Scenario {
            admins,
            peers,
            default,
            writes,
        })
    })
}

/// A scenario and one delivery of its events: shuffled, with some events delivered twice.
fn delivered() -> impl Strategy<Value = (Scenario, Vec<AclEventRef>)> {
    (scenario(), prop::collection::vec(any::<Index>(), 0..8)).prop_flat_map(|(s, again)| {
        let mut events = s.events();
        let replays: Vec<_> = match events.len() {
            0 => Vec::new(),
            n => again.iter().map(|i| events[i.index(n)].clone()).collect(),
        };
        events.extend(replays);
        (Just(s), Just(events).prop_shuffle())
    })
}

/// Every peer's record decision for seqs 0..12: the cut state in comparable form.
fn decisions(acl: &Acl) -> Vec<bool> {
    let mut out = Vec::new();
    for peer in pool() {
        out.extend((0..12).map(|seq| acl.accepts_record(peer, seq).is_ok()));
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// [ACL-6]: the ACL is a function of the set of events. Any order, any duplicates, and any
    /// split into two merged halves give the same state as writing order.
    #[test]
    fn acl_6_every_delivery_gives_the_same_acl((s, delivery) in delivered(), split in any::<Index>()) {
        let expected = Acl::from_events(s.genesis(), s.events());
        let got = Acl::from_events(s.genesis(), delivery.clone());
        prop_assert_eq!(&got, &expected);
        let mut reversed = delivery.clone();
        reversed.reverse();
        prop_assert_eq!(&Acl::from_events(s.genesis(), reversed), &expected);
        let (first, second) = delivery.split_at(split.index(delivery.len() + 1));
        let merged = Acl::from_events(s.genesis(), first.to_vec()).with_events(second.to_vec());
        prop_assert_eq!(&merged, &expected);
    }

    /// [ACL-6]: changes by peers that never become admins never alter the ACL; each is ignored
    /// with ACL_BYPASS.
    #[test]
    fn acl_6_non_admin_changes_never_alter_the_acl(s in scenario()) {
        // Admins may only grant admin to admins, so the others stay outside `admins`.
        let mut s = s;
        for (_, _, op) in &mut s.writes {
            if let OpSpec::Grant(target) = op {
                *target %= s.admins;
            }
        }
        let events = s.events();
        let by_admins: Vec<_> = events.iter().zip(&s.writes)
            .filter(|(_, (author, _, _))| s.is_admin_index(*author))
            .map(|(event, _)| event.clone())
            .collect();
        let all = Acl::from_events(s.genesis(), events.clone());
        let admins_only = Acl::from_events(s.genesis(), by_admins);
        prop_assert_eq!(all.document(), admins_only.document());
        prop_assert_eq!(all.applied(), admins_only.applied());
        prop_assert_eq!(decisions(&all), decisions(&admins_only));
        for (event, (author, _, _)) in events.iter().zip(&s.writes) {
            if !s.is_admin_index(*author) && matches!(event.body, AclEvent::Change(_)) {
                prop_assert_eq!(all.outcome(&event.cid).map(code), Some(ErrorCode::AclBypass));
                prop_assert_eq!(code(all.check_change(event)), ErrorCode::AclBypass);
            }
        }
    }

    /// [ACL-7]: after the creator lowers a writer below write with cut c, and while nothing raises
    /// it again, its records with seq ≤ c are accepted and every later one is ACL_DENIED.
    #[test]
    fn acl_7_revocation_refuses_exactly_the_records_after_the_cut(
        s in scenario(),
        lowered in prop::sample::select(vec![Role::NoAccess, Role::Follow, Role::Read]),
        delete in any::<bool>(),
        cut in 0u64..20,
        clock in 1u64..=6,
    ) {
        let target = s.peers - 1;
        // Nothing else touches the target's entry, and the creator stays an admin.
        let mut s = s;
        s.writes.retain(|(_, _, op)| !matches!(op, OpSpec::Peer { peer, .. } if *peer == target));
        s.writes.retain(|(_, _, op)| !matches!(op, OpSpec::Revoke(0)));
        let revoke = OpSpec::Peer { peer: target, role: Some(lowered), delete, cut };
        s.writes.push((0, clock, revoke));
        let acl = Acl::from_events(s.genesis(), s.events());
        let peer = &pool()[target];
        prop_assert_eq!(acl.cut(peer), Some(cut));
        for seq in 0..cut + 8 {
            match acl.accepts_record(peer, seq) {
                Ok(()) => prop_assert!(seq <= cut),
                Err(e) => prop_assert!(seq > cut && e.code == ErrorCode::AclDenied),
            }
        }
        prop_assert_eq!(code(acl.may(peer, Action::Write)), ErrorCode::AclDenied);
    }

    /// [ACL-6]: a change by an admin that falls after its revocation in the order is ignored
    /// with ACL_BYPASS, however many other changes there are.
    #[test]
    fn acl_6_a_revoked_admins_later_changes_are_ignored(
        s in scenario(),
        revoke_clock in 1u64..=6,
        later in 0u64..3,
        op in op(4),
    ) {
        let revoked = 1;
        // Nobody gives the revoked admin its rights back, and the creator stays an admin.
        let mut s = s;
        s.writes.retain(|(_, _, op)| !matches!(op, OpSpec::Grant(1) | OpSpec::Revoke(0)));
        s.writes.push((0, revoke_clock, OpSpec::Revoke(revoked)));
        let base = s.events();
        // Clock ties sort by author bytes, so the later clock must also beat the creator's bytes.
        let tie_after = pool()[revoked] > pool()[0];
        let clock = revoke_clock + later + u64::from(later == 0 && !tie_after);
        let seq = base.iter().filter(|e| e.author == pool()[revoked]).count() as u64 + 1;
        let grant = make(pool()[revoked], seq, clock, &op);
        prop_assume!(matches!(grant.body, AclEvent::Change(_)));
        let before = Acl::from_events(s.genesis(), base.clone());
        let after = before.with_events([grant.clone()]);
        prop_assert_eq!(code(before.check_change(&grant)), ErrorCode::AclBypass);
        prop_assert_eq!(after.outcome(&grant.cid).map(code), Some(ErrorCode::AclBypass));
        prop_assert_eq!(after.document(), before.document());
        prop_assert_eq!(decisions(&after), decisions(&before));
    }

    /// No input makes the ACL decoders panic [ACL-3], [ACL-12].
    #[test]
    fn acl_decoders_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = AclDocument::from_bytes(&bytes);
        let _ = AclEvent::classify(&bytes);
        let _ = EntityAcl::from_bytes(&bytes);
    }
}

// ---------------------------------------------------------------------------------------------
// Example tests, one per attack or rule
// ---------------------------------------------------------------------------------------------

/// Admins A and B (A is the creator), writers A, B and C; D has nothing.
struct Cast {
    a: LogId,
    b: LogId,
    c: LogId,
    d: LogId,
}

fn cast() -> Cast {
    let p = pool();
    Cast {
        a: p[0],
        b: p[1],
        c: p[2],
        d: p[3],
    }
}

fn two_admins() -> Genesis {
    let Cast { a, b, c, .. } = cast();
    genesis_of(
        a,
        AclDocument::for_thread(&thread(), a)
            .with_admin(b)
            .with_peer(b, Roles::of(Role::Write))
            .with_peer(c, Roles::of(Role::Write)),
    )
}

/// ACL_BYPASS: a writer who is not an admin grants itself admin; the change is ignored.
#[test]
fn acl_bypass_by_a_non_admin_is_ignored() {
    let Cast { c, .. } = cast();
    let attack = change(c, 1, 1, AclOp::GrantAdmin { admin: c });
    let acl = Acl::new(two_admins());
    assert_eq!(code(acl.check_change(&attack)), ErrorCode::AclBypass);
    let after = acl.with_events([attack.clone()]);
    assert_eq!(after.document(), acl.document());
    assert_eq!(
        after.outcome(&attack.cid).map(code),
        Some(ErrorCode::AclBypass)
    );
    assert_eq!(code(after.may(&c, Action::Admin)), ErrorCode::AclDenied);
}

/// ACL_BYPASS: a second acl-genesis, even by an admin, does not reset the ACL.
#[test]
fn acl_bypass_by_a_second_genesis_is_ignored() {
    let Cast { b, d, .. } = cast();
    let open = AclDocument::for_thread(&thread(), b).with_default(Role::Write);
    let second = event_ref(b, 1, AclEvent::Genesis { acl: open });
    let acl = Acl::from_events(two_admins(), [second.clone()]);
    assert_eq!(acl.document(), two_admins().document());
    assert_eq!(code(acl.check_change(&second)), ErrorCode::AclBypass);
    assert_eq!(code(acl.may(&d, Action::Write)), ErrorCode::AclDenied);
}

/// FORGED_AUTHOR: the ACL trusts an event's author, so a forged author must never reach it. A
/// record C signs cannot pass as A's: [VERIFY-1] binds every record to its log (associated data and
/// signature), so the envelope fails before any ACL rule runs, and as C's own it is ACL_BYPASS.
#[test]
fn forged_author_is_stopped_by_the_signature_layer() {
    let a = cast().a;
    let mut writer_c = Fixture {
        thread: thread(),
        ..Fixture::new(11)
    };
    let as_a = Fixture {
        log: a,
        ..writer_c.second_writer(12)
    };
    let body = AclEvent::Change(
        AclChange::new(
            1,
            AclOp::GrantAdmin {
                admin: writer_c.log,
            },
        )
        .expect("valid"),
    );
    let envelope = writer_c.first(&body.to_bytes());
    assert!(
        as_a.verify(&envelope).is_err(),
        "C's record must not verify as A's log"
    );
    let opened = writer_c.read(&envelope).expect("C's own record verifies");
    let event = AclEventRef::from_opened(&opened)
        .expect("a well-formed body")
        .expect("an ACL event");
    assert_eq!((event.author, event.seq), (writer_c.log, 1));
    assert_eq!(event.cid, envelope.record_cid());
    let genesis = genesis_of(
        a,
        AclDocument::for_thread(&thread(), a).with_peer(writer_c.log, Roles::of(Role::Write)),
    );
    assert_eq!(
        code(Acl::new(genesis).check_change(&event)),
        ErrorCode::AclBypass
    );
}

/// WRITE_AFTER_REVOCATION: C's records up to the cut stay, every later one is ACL_DENIED, and a
/// later raise to write accepts them again.
#[test]
fn write_after_revocation_is_denied() {
    let Cast { a, c, .. } = cast();
    let revoke = change(a, 2, 1, AclOp::set_peer(c, Roles::of(Role::Read), 4));
    let acl = Acl::from_events(two_admins(), [revoke.clone()]);
    for seq in 1..=4 {
        assert_eq!(acl.accepts_record(&c, seq), Ok(()));
    }
    for seq in 5..=9 {
        assert_eq!(code(acl.accepts_record(&c, seq)), ErrorCode::AclDenied);
    }
    // C still reads: revocation cannot take back keys; the read key should be rotated [ACL-15].
    assert_eq!(acl.may(&c, Action::Read), Ok(()));
    let regrant = change(a, 3, 2, AclOp::set_peer(c, Roles::of(Role::Write), 9));
    let acl = acl.with_events([regrant]);
    assert_eq!(acl.accepts_record(&c, 9), Ok(()));
    assert_eq!(acl.cut(&c), None);
}

/// REPLAYED_EVENT: delivering an old grant again (same record CID) after its revocation changes
/// nothing; the event counts once.
#[test]
fn replayed_grant_has_no_effect() {
    let Cast { a, d, .. } = cast();
    let grant = change(a, 2, 1, AclOp::set_peer(d, Roles::of(Role::Write), 0));
    let revoke = change(a, 3, 2, AclOp::set_peer(d, Roles::of(Role::NoAccess), 3));
    let once = Acl::from_events(two_admins(), [grant.clone(), revoke.clone()]);
    let replayed = Acl::from_events(two_admins(), [grant.clone(), revoke, grant.clone()]);
    assert_eq!(replayed, once);
    assert_eq!(once.with_events([grant.clone()]), once);
    assert_eq!(
        once.check_change(&grant),
        Ok(()),
        "the grant itself did apply, once"
    );
    assert_eq!(code(replayed.accepts_record(&d, 4)), ErrorCode::AclDenied);
}

/// REVOKED_ADMIN: B's grant after A revoked B's admin is ignored; one that sorts before the
/// revocation (an earlier clock) was applied while B was still an admin.
#[test]
fn revoked_admins_grant_is_ignored_only_after_the_revocation() {
    let Cast { a, b, d, .. } = cast();
    let revoke = change(a, 2, 3, AclOp::RevokeAdmin { admin: b });
    let late = change(b, 2, 4, AclOp::set_peer(d, Roles::of(Role::Write), 0));
    let acl = Acl::from_events(two_admins(), [revoke.clone(), late.clone()]);
    assert_eq!(acl.outcome(&late.cid).map(code), Some(ErrorCode::AclBypass));
    assert_eq!(code(acl.accepts_record(&d, 1)), ErrorCode::AclDenied);
    let early = change(b, 2, 2, AclOp::set_peer(d, Roles::of(Role::Write), 0));
    let acl = Acl::from_events(two_admins(), [revoke, early.clone()]);
    assert_eq!(acl.outcome(&early.cid), Some(Ok(())));
    assert_eq!(acl.accepts_record(&d, 1), Ok(()));
}

/// [ACL-7]: two admins revoke C concurrently with different cuts; the smaller cut holds, in
/// either order.
#[test]
fn concurrent_revocations_keep_the_smaller_cut() {
    let Cast { a, b, c, .. } = cast();
    let by_a = change(a, 2, 1, AclOp::set_peer(c, Roles::of(Role::Read), 7));
    let by_b = change(b, 2, 1, AclOp::set_peer(c, Roles::of(Role::Follow), 5));
    let acl = Acl::from_events(two_admins(), [by_a.clone(), by_b.clone()]);
    assert_eq!(acl.cut(&c), Some(5));
    let by_b_first = change(b, 2, 1, AclOp::set_peer(c, Roles::of(Role::Follow), 9));
    let acl = Acl::from_events(two_admins(), [by_b_first, by_a]);
    assert_eq!(acl.cut(&c), Some(7));
}

/// [ACL-8]: a delete counts only from a peer holding delete whose record is accepted; marks never
/// undo ACL events.
#[test]
fn deletes_need_the_capability_and_an_accepted_record() {
    let Cast { a, b, c, .. } = cast();
    let target = block::cid_of(b"some record");
    let moderator = change(
        a,
        2,
        1,
        AclOp::set_peer(b, Roles::of(Role::Write).with_delete(), 0),
    );
    let by_c = delete(c, 1, target);
    let acl = Acl::from_events(two_admins(), [moderator.clone(), by_c.clone()]);
    assert!(!acl.is_deleted(&target));
    assert_eq!(acl.outcome(&by_c.cid).map(code), Some(ErrorCode::AclDenied));
    let by_b = delete(b, 5, target);
    let acl = acl.with_events([by_b.clone()]);
    assert!(acl.is_deleted(&target));
    // B loses write with cut 4: its delete at seq 5 is a refused record and no longer counts.
    let demote = change(
        a,
        3,
        2,
        AclOp::set_peer(b, Roles::of(Role::Read).with_delete(), 4),
    );
    let acl = acl.with_events([demote]);
    assert!(!acl.is_deleted(&target));
    assert_eq!(code(acl.check_change(&by_b)), ErrorCode::AclDenied);
    // Marking an ACL change deleted does not undo it.
    let undo = delete(b, 3, moderator.cid);
    let acl = acl.with_events([undo]);
    assert!(acl.is_deleted(&moderator.cid));
    assert_eq!(acl.may(&b, Action::Delete), Ok(()));
}

/// [ACL-14]: an entity ACL replaces peers and default for its entity; admins stay the thread's.
#[test]
fn entity_acls_decide_for_their_entity() {
    let Cast { a, c, d, .. } = cast();
    let doc = AclDocument::new("notes/42", Role::Read)
        .expect("an id")
        .with_peer(c, Roles::of(Role::NoAccess));
    let entity = EntityAcl::new(doc.clone()).expect("no admins");
    assert_eq!(
        EntityAcl::from_bytes(&entity.to_bytes()),
        Ok(entity.clone())
    );
    let acl = Acl::new(two_admins());
    assert_eq!(acl.may_entity(&entity, &d, Action::Read), Ok(()));
    assert_eq!(code(acl.may(&d, Action::Read)), ErrorCode::AclDenied);
    assert_eq!(
        code(acl.may_entity(&entity, &c, Action::Read)),
        ErrorCode::AclDenied
    );
    assert_eq!(acl.may_entity(&entity, &a, Action::Admin), Ok(()));
    assert_eq!(
        code(EntityAcl::new(doc.with_admin(a))),
        ErrorCode::AclMalformed
    );
}

/// [ACL-3]: the JSON form for humans is the same map, checked the same way.
#[test]
fn json_form_is_the_same_map() {
    let doc = two_admins().document().clone();
    let json = serde_json::to_value(&doc).expect("serialisable");
    let Cast { a, b, c, .. } = cast();
    let expected = serde_json::json!({
        "_id": thread().to_string(),
        "admins": doc.admin_names(),
        "default": "no-access",
        "peers": {
            a.to_string(): ["write"],
            b.to_string(): ["write"],
            c.to_string(): ["write"],
        },
    });
    assert_eq!(json, expected);
    let back: AclDocument = serde_json::from_value(json).expect("valid JSON form");
    assert_eq!(back, doc);
    let mut bad = expected.clone();
    bad["peers"][a.to_string()] = serde_json::json!(["write", "read"]);
    assert!(serde_json::from_value::<AclDocument>(bad).is_err());
}

/// [ACL-3]: a "cut": null is not the canonical form of a missing cut.
#[test]
fn null_fields_are_not_canonical() {
    let Cast { c, .. } = cast();
    let body = AclEvent::Change(
        AclChange::new(1, AclOp::set_peer(c, Roles::of(Role::Write), 0)).expect("valid"),
    );
    let bytes = body.to_bytes();
    // Insert `"cut": null` (63 "cut" f6) as the op's first key and bump its map length.
    let op_at = bytes
        .windows(3)
        .position(|w| w == [0x62, b'o', b'p'])
        .expect("the op key")
        + 3;
    let mut forged = bytes[..op_at].to_vec();
    forged.push(bytes[op_at] + 1);
    forged.extend([0x63, b'c', b'u', b't', 0xf6]);
    forged.extend(&bytes[op_at + 1..]);
    assert_eq!(code(AclEvent::from_bytes(&forged)), ErrorCode::AclMalformed);
}

// ---------------------------------------------------------------------------------------------
// The worked example of spec/acl.md §6.12
// ---------------------------------------------------------------------------------------------

fn rfc8032(seed: &str) -> LogId {
    let seed: [u8; 32] = unhex(seed).try_into().expect("32 bytes");
    IdentityKey::from_seed(&seed).log_id()
}

/// Reproduces §6.12 step by step: A and B change C concurrently, then disagree.
#[test]
fn worked_example_two_admins() {
    use threads_fixtures::acl_worked_example as worked;

    // RFC 8032 §7.1 TEST 2, TEST 1 and TEST 3 keys; their log ID bytes sort A < B < C.
    let a = rfc8032(worked::SEED_A);
    let b = rfc8032(worked::SEED_B);
    let c = rfc8032(worked::SEED_C);
    assert_eq!(
        [a, b, c].map(|peer| peer.to_string()),
        worked::PEER_IDS,
        "the peer IDs spec/acl.md 6.12 prints"
    );
    assert!(a < b && b < c);
    let example_thread =
        ThreadId::from_parts(Variant::AccessControlled, &worked::THREAD_RANDOM).expect("32 bytes");
    let genesis = genesis_of(
        a,
        AclDocument::for_thread(&example_thread, a)
            .with_admin(b)
            .with_peer(b, Roles::of(Role::Write))
            .with_peer(c, Roles::of(Role::Write)),
    );
    let a1 = change(a, 2, 1, AclOp::set_peer(c, Roles::of(Role::Read), 4));
    let b1 = change(
        b,
        2,
        1,
        AclOp::set_peer(c, Roles::of(Role::Write).with_delete(), 0),
    );
    let a2 = change(a, 3, 2, AclOp::set_peer(c, Roles::of(Role::Read), 9));
    let b2 = change(b, 3, 2, AclOp::RevokeAdmin { admin: a });
    let a3 = change(a, 4, 3, AclOp::SetDefault { role: Role::Read });

    // Step 1: a1 and b1 have equal clocks; A's bytes sort first, so b1 applies last.
    let step1 = Acl::from_events(genesis.clone(), [b1.clone(), a1.clone()]);
    assert_eq!(
        step1.document().entry(&c),
        Some(Roles::of(Role::Write).with_delete())
    );
    assert_eq!(step1.cut(&c), None);
    assert_eq!(step1.next_clock(), Some(2));

    // A peer that sees b2 before a2 first computes C still writing, with A no longer an admin...
    let early = step1.with_events([b2.clone()]);
    assert!(!early.document().is_admin(&a));
    assert_eq!(early.accepts_record(&c, 12), Ok(()));
    // ...and when a2 arrives it sorts before b2, so the fold applies it while A is an admin.
    let step2 = early.with_events([a2.clone()]);
    assert_eq!(step2, Acl::from_events(genesis.clone(), [a2, b2, a1, b1]));
    assert_eq!(step2.document().entry(&c), Some(Roles::of(Role::Read)));
    assert_eq!(step2.cut(&c), Some(9));
    assert_eq!(step2.accepts_record(&c, 9), Ok(()));
    assert_eq!(code(step2.accepts_record(&c, 10)), ErrorCode::AclDenied);
    assert_eq!(step2.document().admins().iter().collect::<Vec<_>>(), [&b]);

    // Step 3: A, not yet aware of b2, changes the default; the change falls after b2.
    let step3 = step2.with_events([a3.clone()]);
    assert_eq!(step3.outcome(&a3.cid).map(code), Some(ErrorCode::AclBypass));
    assert_eq!(step3.document(), step2.document());

    let json = serde_json::to_value(step3.document()).expect("serialisable");
    let printed: serde_json::Value =
        serde_json::from_str(worked::FINAL_DOCUMENT).expect("the fixture is JSON");
    assert_eq!(json, printed);
}

/// The bodies §6.6 shows, byte for byte.
#[test]
fn spec_body_examples() {
    let c = rfc8032("c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7");
    let set_peer = AclEvent::Change(
        AclChange::new(1, AclOp::set_peer(c, Roles::of(Role::Read), 4)).expect("valid"),
    );
    let expected = [
        "a3626f70a4636375740463736574647065657264706565727834",
        &hex::encode(c.to_string()),
        "65726f6c657381647265616464747970656361636c65636c6f636b01",
    ]
    .concat();
    assert_eq!(hex::encode(set_peer.to_bytes()), expected);
    let delete = AclEvent::Delete {
        target: block::cid_of(&[0xa0]),
    };
    assert_eq!(
        hex::encode(delete.to_bytes()),
        "a264747970656664656c65746566746172676574d82a58250001711220\
         c19a797fa1fd590cd2e5b42d1cf5f246e29b91684e2f87404b81dc345c7a56a0"
    );
}
