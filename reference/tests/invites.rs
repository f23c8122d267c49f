//! Invites and joins (spec/invites.md): the worked example of 5.11, round trips, every refusal with
//! its exact code, the order of the checks of [INV-6], and a writer joining through an invite.

mod common;

use std::collections::BTreeMap;
use std::convert::Infallible;

use common::{code, rfc8032_seed, rng, unhex};
use ipld_core::ipld::Ipld;
use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_core::{TryCryptoRng, TryRng};
use threads::acl::{AclAnchor, AclDocument, Role, Roles};
use threads::id::{LogId, ThreadId, Variant};
use threads::invite::{
    self, HPKE_INFO, Invite, InviteRole, InviteTerms, Join, LogEntry, MAX_INVITE_SIZE, OpenedInvite,
};
use threads::keys::{FollowKey, IdentityKey, KeySet, ReadKey};
use threads::log::LogReplica;
use threads::verify;
use threads::{ErrorCode, Result};

/// An RNG that hands out fixed bytes, so the worked example's ikmE is exactly the spec's.
/// Panics when it runs dry: a test that draws more than it expected must fail.
struct FixedRng {
    bytes: Vec<u8>,
}

impl TryRng for FixedRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> std::result::Result<u32, Infallible> {
        panic!("FixedRng only fills byte buffers")
    }

    fn try_next_u64(&mut self) -> std::result::Result<u64, Infallible> {
        panic!("FixedRng only fills byte buffers")
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> std::result::Result<(), Infallible> {
        assert!(dst.len() <= self.bytes.len(), "FixedRng ran dry");
        let rest = self.bytes.split_off(dst.len());
        dst.copy_from_slice(&self.bytes);
        self.bytes = rest;
        Ok(())
    }
}

impl TryCryptoRng for FixedRng {}

/// RFC 8032 §7.1 TEST 2 secret seed: the worked example's recipient.
const RFC8032_TEST2_SEED: &str = "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb";
/// The log address of 5.11: the peer of [ADDR-1]'s example serving the RFC 8032 TEST 1 log.
const EXAMPLE_ADDR: &str = "/ip4/127.0.0.1/tcp/4006/p2p/12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq/ipel/12D3KooWQK1wnefoLrcVHbbnf5tLzbopUd3K3bFAoJpA7YJgL5pV";

fn seed(text: &str) -> [u8; 32] {
    unhex(text).try_into().expect("seeds have 32 bytes")
}

fn example_keys() -> KeySet {
    let follow: [u8; 32] = std::array::from_fn(|i| 0x40 + i as u8);
    let read: [u8; 32] = std::array::from_fn(|i| 0x60 + i as u8);
    KeySet {
        follow: FollowKey::from(follow),
        read: Some(ReadKey::from(read)),
    }
}

/// The worked example of spec/invites.md 5.11, computed independently (Python: hashlib, hmac,
/// a hand-written DAG-CBOR encoder, OpenSSL's X25519, ChaCha20-Poly1305 and Ed25519).
#[test]
fn worked_example_matches_the_spec() {
    let random: Vec<u8> = (0u8..32).collect();
    let thread = ThreadId::from_parts(Variant::Raw, &random).expect("valid TID");
    let inviter = IdentityKey::from_seed(&rfc8032_seed());
    let recipient = IdentityKey::from_seed(&seed(RFC8032_TEST2_SEED));
    assert_eq!(
        recipient.log_id().to_string(),
        "12D3KooWDwTirQce1RRKnasT5fPVFgzXCy6SiRgSwrwPGLC7zE91"
    );
    assert_eq!(
        hex::encode(invite::x25519_public_key(&recipient.log_id())),
        "25c704c594b88afc00a76b69d1ed2b984d7e22550f3ed0802d04fbcd07d38d47"
    );
    assert_eq!(
        hex::encode(invite::x25519_secret_key(&recipient)),
        "68bd9ed75882d52815a97585caf4790a7f6c6b3b7f821c5e259a24b02e502e51"
    );
    let terms = InviteTerms {
        thread,
        role: InviteRole::Reader,
        recipient: recipient.log_id(),
        logs: vec![LogEntry {
            log: inviter.log_id(),
            addrs: vec![EXAMPLE_ADDR.to_string()],
        }],
        acl: None,
    };
    let mut ikm = FixedRng {
        bytes: (0xe0..=0xff).collect(),
    };
    let invite = Invite::create(&inviter, terms, &example_keys(), &mut ikm).expect("creates");
    assert!(ikm.bytes.is_empty(), "create draws exactly ikmE");

    assert_eq!(hex::encode(invite.header()), EXAMPLE_AAD);
    assert_eq!(
        hex::encode(invite.enc),
        "729d6561d2f278f4d70a0410502f81249b75689a7b0dfeb4d489aed6d481e362"
    );
    assert_eq!(hex::encode(&invite.sealed_keys), EXAMPLE_SEALED_KEYS);
    assert_eq!(
        hex::encode(invite.signing_input()),
        format!(
            "{}{EXAMPLE_UNSIGNED}",
            hex::encode(b"threads/v1/invite-signature\0")
        )
    );
    assert_eq!(hex::encode(invite.sig), EXAMPLE_SIG);
    assert_eq!(hex::encode(invite.to_bytes()), EXAMPLE_INVITE);

    let opened = Invite::open(&unhex(EXAMPLE_INVITE), &recipient).expect("opens");
    assert_eq!(opened.keys, example_keys());
    assert_eq!(opened.inviter, inviter.log_id());
    assert_eq!(opened.logs, invite.logs);
}

const EXAMPLE_AAD: &str = "a464726f6c65667265616465726674687265616458220155000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f67696e76697465725826002408011220d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a69726563697069656e7458260024080112203d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";
const EXAMPLE_SEALED_KEYS: &str = "4515c54be39fec88934382bfaa1633feb4f1856368fdb38fd18ccfabcfc3e2f01d1cea47ef016d7e12c79f8c0b6e2f1a181c4e6e30aae0dfdc4bfc27697eb22d7ef4cbe5c7af24a04e468e9193ecba948d08541e7e6fa64a485312a9019eb12d58";
const EXAMPLE_UNSIGNED: &str = "a86361636cf663656e635820729d6561d2f278f4d70a0410502f81249b75689a7b0dfeb4d489aed6d481e362646b65797358614515c54be39fec88934382bfaa1633feb4f1856368fdb38fd18ccfabcfc3e2f01d1cea47ef016d7e12c79f8c0b6e2f1a181c4e6e30aae0dfdc4bfc27697eb22d7ef4cbe5c7af24a04e468e9193ecba948d08541e7e6fa64a485312a9019eb12d58646c6f677381a2636c6f675826002408011220d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a65616464727381788a2f6970342f3132372e302e302e312f7463702f343030362f7032702f313244334b6f6f57427467336161524d6a78776564683833614769556b7753784477555a6b7a754a63666171556d6f37523370712f6970656c2f313244334b6f6f57514b31776e65666f4c7263564862626e6635744c7a626f705564334b336246416f4a704137594a674c35705664726f6c65667265616465726674687265616458220155000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f67696e76697465725826002408011220d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a69726563697069656e7458260024080112203d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";
const EXAMPLE_SIG: &str = "6fc41e62877f66af63b0fb73c192fbd11af9f0d66b17450e031254d3ac724748e9969de6a7398811838b586f0eba7b631443bb1388574f4c7acd7d724230d504";
const EXAMPLE_INVITE: &str = "a96361636cf663656e635820729d6561d2f278f4d70a0410502f81249b75689a7b0dfeb4d489aed6d481e3626373696758406fc41e62877f66af63b0fb73c192fbd11af9f0d66b17450e031254d3ac724748e9969de6a7398811838b586f0eba7b631443bb1388574f4c7acd7d724230d504646b65797358614515c54be39fec88934382bfaa1633feb4f1856368fdb38fd18ccfabcfc3e2f01d1cea47ef016d7e12c79f8c0b6e2f1a181c4e6e30aae0dfdc4bfc27697eb22d7ef4cbe5c7af24a04e468e9193ecba948d08541e7e6fa64a485312a9019eb12d58646c6f677381a2636c6f675826002408011220d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a65616464727381788a2f6970342f3132372e302e302e312f7463702f343030362f7032702f313244334b6f6f57427467336161524d6a78776564683833614769556b7753784477555a6b7a754a63666171556d6f37523370712f6970656c2f313244334b6f6f57514b31776e65666f4c7263564862626e6635744c7a626f705564334b336246416f4a704137594a674c35705664726f6c65667265616465726674687265616458220155000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f67696e76697465725826002408011220d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a69726563697069656e7458260024080112203d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";

/// An inviter, a recipient, a bystander and a thread's keys, all from a seeded RNG.
struct World {
    thread: ThreadId,
    inviter: IdentityKey,
    recipient: IdentityKey,
    bystander: IdentityKey,
    keys: KeySet,
    rng: ChaCha20Rng,
}

impl World {
    fn new(variant: Variant) -> World {
        let mut rng = rng(51);
        World {
            thread: ThreadId::generate(variant, &mut rng),
            inviter: IdentityKey::generate(&mut rng),
            recipient: IdentityKey::generate(&mut rng),
            bystander: IdentityKey::generate(&mut rng),
            keys: KeySet::generate(&mut rng),
            rng,
        }
    }

    fn raw() -> World {
        World::new(Variant::Raw)
    }

    /// An ACL anchor whose document grants the recipient write (and so read and follow).
    fn anchor(&self) -> AclAnchor {
        let document = AclDocument::for_thread(&self.thread, self.inviter.log_id())
            .with_peer(self.recipient.log_id(), Roles::of(Role::Write));
        AclAnchor {
            creator: self.inviter.log_id(),
            genesis: threads::block::cid_of(b"genesis"),
            document,
        }
    }

    fn terms(&self, role: InviteRole) -> InviteTerms {
        let acl = match self.thread.variant() {
            Variant::AccessControlled => Some(self.anchor().to_bytes()),
            Variant::Raw => None,
        };
        InviteTerms {
            thread: self.thread.clone(),
            role,
            recipient: self.recipient.log_id(),
            logs: vec![LogEntry {
                log: self.inviter.log_id(),
                addrs: vec![address(&self.bystander.log_id(), &self.inviter.log_id())],
            }],
            acl,
        }
    }

    fn create(&mut self, terms: InviteTerms) -> Result<Invite> {
        Invite::create(&self.inviter, terms, &self.keys, &mut self.rng)
    }

    fn invite(&mut self, role: InviteRole) -> Invite {
        let terms = self.terms(role);
        self.create(terms).expect("valid terms")
    }

    fn open(&self, bytes: &[u8]) -> Result<OpenedInvite> {
        Invite::open(bytes, &self.recipient)
    }

    /// Re-seals `plaintext` as the invite's key set under its own header, and re-signs, so only
    /// the sealed plaintext is wrong.
    fn reseal(&mut self, invite: &mut Invite, plaintext: &[u8]) {
        let (enc, sealed) = seal_raw(
            &invite.recipient,
            &invite.header(),
            plaintext,
            &mut self.rng,
        );
        invite.enc = enc;
        invite.sealed_keys = sealed;
        invite.sign_with(&self.inviter);
    }
}

/// A log address: `log` served by `peer` [ADDR-1].
fn address(peer: &LogId, log: &LogId) -> String {
    format!("/ip4/127.0.0.1/tcp/4006/p2p/{peer}/ipel/{log}")
}

/// Seals any plaintext to `recipient` the way an invite seals its key set [INV-2].
fn seal_raw(
    recipient: &LogId,
    aad: &[u8],
    plaintext: &[u8],
    rng: &mut ChaCha20Rng,
) -> ([u8; 32], Vec<u8>) {
    let mut ikm = [0u8; invite::IKM_LEN];
    rand_core::Rng::fill_bytes(rng, &mut ikm);
    invite::hpke_seal(
        &invite::x25519_public_key(recipient),
        HPKE_INFO,
        aad,
        plaintext,
        &ikm,
    )
    .expect("a peer ID's X25519 key seals")
}

// ---------------------------------------------------------------------------------------------
// RFC 9180 through the public API
// ---------------------------------------------------------------------------------------------

/// RFC 9180 Appendix A.2.1 (mode_base, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
/// ChaCha20Poly1305), sequence number 0: the published test vector opens, and sealing with its
/// ikmE reproduces enc and ct.
#[test]
fn rfc9180_a_2_1_opens_and_seals() {
    let sk_rm: [u8; 32] = seed("8057991eef8f1f1af18f4a9491d16a1ce333f695d4db8e38da75975c4478e0fb");
    let pk_rm: [u8; 32] = seed("4310ee97d88cc1f088a5576c77ab0cf5c3ac797f3d95139c6c84b5429c59662a");
    let ikm_e: [u8; 32] = seed("909a9b35d3dc4713a5e72a4da274b55d3d3821a37e5d099e74a647db583a904b");
    let enc: [u8; 32] = seed("1afa08d3dec047a643885163f1180476fa7ddb54c6a8029ea33f95796bf2ac4a");
    let info = unhex("4f6465206f6e2061204772656369616e2055726e");
    let aad = unhex("436f756e742d30");
    let pt = unhex("4265617574792069732074727574682c20747275746820626561757479");
    let ct = unhex(
        "1c5250d8034ec2b784ba2cfd69dbdb8af406cfe3ff938e131f0def8c8b60b4db21993c62ce81883d2dd1b51a28",
    );
    assert_eq!(
        invite::hpke_open(&sk_rm, &enc, &info, &aad, &ct),
        Ok(pt.clone())
    );
    assert_eq!(
        invite::hpke_seal(&pk_rm, &info, &aad, &pt, &ikm_e),
        Ok((enc, ct))
    );
}

// ---------------------------------------------------------------------------------------------
// Round trips and what each role receives
// ---------------------------------------------------------------------------------------------

#[test]
fn every_role_round_trips_in_raw_and_access_controlled_threads() {
    for variant in [Variant::Raw, Variant::AccessControlled] {
        let mut world = World::new(variant);
        for role in InviteRole::ALL {
            let invite = world.invite(role);
            let bytes = invite.to_bytes();
            assert_eq!(Invite::from_bytes(&bytes).as_ref(), Ok(&invite));
            let opened = world.open(&bytes).expect("opens");
            assert_eq!(opened.thread, world.thread);
            assert_eq!(opened.role, role);
            assert_eq!(opened.inviter, world.inviter.log_id());
            assert_eq!(opened.logs, invite.logs);
            assert_eq!(opened.acl, invite.acl);
            assert_eq!(opened.keys.read.is_some(), role.has_read_key());
            assert_eq!(opened.keys.follow, world.keys.follow);
        }
    }
}

/// [INV-4], [KEY-6]: a follower invite made from the full key set carries the follow key only.
#[test]
fn a_follower_invite_never_carries_the_read_key() {
    let mut world = World::raw();
    let invite = world.invite(InviteRole::Follower);
    // 42-byte follower key set (KEY-5) plus the 16-byte tag.
    assert_eq!(invite.sealed_keys.len(), 42 + 16);
    let plaintext = invite::hpke_open(
        &invite::x25519_secret_key(&world.recipient),
        &invite.enc,
        HPKE_INFO,
        &invite.header(),
        &invite.sealed_keys,
    )
    .expect("opens");
    assert_eq!(plaintext, world.keys.for_follower().to_bytes());
}

#[test]
fn create_sorts_logs_and_draws_only_ikm_e() {
    let mut world = World::raw();
    let mut logs: Vec<LogEntry> = (0..5)
        .map(|_| LogEntry {
            log: IdentityKey::generate(&mut world.rng).log_id(),
            addrs: vec![],
        })
        .collect();
    logs.sort_by_key(|entry| std::cmp::Reverse(entry.log));
    let terms = InviteTerms {
        logs: logs.clone(),
        ..world.terms(InviteRole::Reader)
    };
    let mut ikm = FixedRng {
        bytes: vec![7; invite::IKM_LEN],
    };
    let invite = Invite::create(&world.inviter, terms, &world.keys, &mut ikm).expect("creates");
    logs.reverse();
    assert_eq!(invite.logs, logs);
    assert!(ikm.bytes.is_empty());
}

#[test]
fn create_refuses_what_a_recipient_would_refuse() {
    let mut world = World::raw();
    let follower_keys = world.keys.for_follower();
    for role in [InviteRole::Reader, InviteRole::Writer] {
        let terms = world.terms(role);
        let made = Invite::create(&world.inviter, terms, &follower_keys, &mut world.rng);
        assert_eq!(
            code(made),
            ErrorCode::KeyUnavailable,
            "{role:?} without read key"
        );
    }

    let other = world.bystander.log_id();
    let inviter = world.inviter.log_id();
    let cases: Vec<(&str, InviteTerms)> = vec![
        (
            "ACL in a raw thread",
            InviteTerms {
                acl: Some(b"acl".to_vec()),
                ..world.terms(InviteRole::Reader)
            },
        ),
        (
            "invalid address",
            InviteTerms {
                logs: vec![LogEntry {
                    log: inviter,
                    addrs: vec!["/ip4/1.2.3.4".into()],
                }],
                ..world.terms(InviteRole::Reader)
            },
        ),
        (
            "address of another log",
            InviteTerms {
                logs: vec![LogEntry {
                    log: inviter,
                    addrs: vec![address(&other, &other)],
                }],
                ..world.terms(InviteRole::Reader)
            },
        ),
        (
            "a log listed twice",
            InviteTerms {
                logs: vec![
                    LogEntry {
                        log: inviter,
                        addrs: vec![],
                    },
                    LogEntry {
                        log: inviter,
                        addrs: vec![address(&other, &inviter)],
                    },
                ],
                ..world.terms(InviteRole::Reader)
            },
        ),
    ];
    for (name, terms) in cases {
        assert_eq!(
            code(world.create(terms)),
            ErrorCode::InviteMalformed,
            "{name}"
        );
    }

    let mut acl_world = World::new(Variant::AccessControlled);
    let no_acl = InviteTerms {
        acl: None,
        ..acl_world.terms(InviteRole::Reader)
    };
    assert_eq!(code(acl_world.create(no_acl)), ErrorCode::InviteMalformed);
    let too_large = InviteTerms {
        acl: Some(vec![0; MAX_INVITE_SIZE]),
        ..acl_world.terms(InviteRole::Reader)
    };
    assert_eq!(
        code(acl_world.create(too_large)),
        ErrorCode::InviteMalformed
    );
}

/// [INV-3]: an invite of exactly 1 MiB is accepted, one byte more is INVITE_MALFORMED.
#[test]
fn the_size_limit_is_one_mebibyte_inclusive() {
    let mut world = World::new(Variant::AccessControlled);
    let mut invite = world.invite(InviteRole::Reader);
    let resized = |invite: &mut Invite, acl_len: usize, key: &IdentityKey| {
        invite.acl = Some(vec![0x61; acl_len]);
        invite.sign_with(key);
        invite.to_bytes()
    };
    // The ACL's byte-string head is 5 bytes for lengths of 65,536 and more, so the invite grows
    // one byte per ACL byte in this range.
    let probe = resized(&mut invite, 100_000, &world.inviter).len();
    let exact = 100_000 + MAX_INVITE_SIZE - probe;
    let bytes = resized(&mut invite, exact, &world.inviter);
    assert_eq!(bytes.len(), MAX_INVITE_SIZE);
    // At the limit the invite decodes (its filler ACL is then judged by INV-9, not the size).
    assert!(Invite::from_bytes(&bytes).is_ok());
    assert_eq!(code(world.open(&bytes)), ErrorCode::AclMalformed);
    let bytes = resized(&mut invite, exact + 1, &world.inviter);
    assert_eq!(bytes.len(), MAX_INVITE_SIZE + 1);
    assert_eq!(code(world.open(&bytes)), ErrorCode::InviteMalformed);
}

// ---------------------------------------------------------------------------------------------
// Step 1 of INV-6: decoding (INVITE_MALFORMED)
// ---------------------------------------------------------------------------------------------

type Fields = BTreeMap<String, Ipld>;

fn fields(bytes: &[u8]) -> Fields {
    serde_ipld_dagcbor::from_slice(bytes).expect("a valid invite decodes as a map")
}

/// Canonical DAG-CBOR of a map (the encoder sorts keys length-first).
fn encode(fields: &Fields) -> Vec<u8> {
    serde_ipld_dagcbor::to_vec(fields).expect("encodable")
}

fn with(bytes: &[u8], change: impl FnOnce(&mut Fields)) -> Vec<u8> {
    let mut map = fields(bytes);
    change(&mut map);
    encode(&map)
}

fn log_entry_ipld(log: &LogId, addrs: &[String]) -> Ipld {
    Ipld::Map(BTreeMap::from([
        ("log".to_string(), Ipld::Bytes(log.to_bytes())),
        (
            "addrs".to_string(),
            Ipld::List(addrs.iter().cloned().map(Ipld::String).collect()),
        ),
    ]))
}

#[test]
fn the_helpers_re_encode_a_valid_invite_unchanged() {
    let mut world = World::raw();
    let bytes = world.invite(InviteRole::Reader).to_bytes();
    assert_eq!(with(&bytes, |_| {}), bytes);
}

#[test]
fn malformed_invites_are_refused_before_anything_else() {
    let mut world = World::raw();
    let valid = world.invite(InviteRole::Reader).to_bytes();
    let inviter = world.inviter.log_id();
    let other = world.bystander.log_id();
    let (low, high) = if inviter < other {
        (inviter, other)
    } else {
        (other, inviter)
    };
    let mut non_minimal = vec![0xb9, 0x00, 0x09];
    non_minimal.extend_from_slice(&valid[1..]);
    let mut trailing = valid.clone();
    trailing.push(0x00);
    let set = |key: &str, value: Ipld| {
        let key = key.to_string();
        with(&valid, move |m| {
            m.insert(key, value);
        })
    };
    let remove = |key: &str| {
        with(&valid, |m| {
            m.remove(key);
        })
    };
    let recipient = world.recipient.log_id().to_bytes();
    let mut tid_short = vec![0x01, 0x55];
    tid_short.extend_from_slice(&[0; 15]);
    let mut tid_variant = vec![0x01, 0x56];
    tid_variant.extend_from_slice(&[0; 32]);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty input", vec![]),
        ("not a map", vec![0x01]),
        ("empty map", vec![0xa0]),
        ("trailing byte", trailing),
        ("non-minimal map length", non_minimal),
        ("unknown field", set("note", Ipld::String("hi".into()))),
        ("missing acl", remove("acl")),
        ("missing logs", remove("logs")),
        ("missing sig", remove("sig")),
        ("unknown role", set("role", Ipld::String("admin".into()))),
        (
            "role in capitals",
            set("role", Ipld::String("Reader".into())),
        ),
        ("role not text", set("role", Ipld::Integer(1))),
        ("enc of 31 bytes", set("enc", Ipld::Bytes(vec![9; 31]))),
        ("enc of 33 bytes", set("enc", Ipld::Bytes(vec![9; 33]))),
        ("sig of 63 bytes", set("sig", Ipld::Bytes(vec![0; 63]))),
        ("keys as text", set("keys", Ipld::String("keys".into()))),
        (
            "inviter not a peer ID",
            set("inviter", Ipld::Bytes(vec![0; 38])),
        ),
        (
            "recipient truncated",
            set("recipient", Ipld::Bytes(recipient[..37].to_vec())),
        ),
        (
            "thread with 15 random bytes",
            set("thread", Ipld::Bytes(tid_short)),
        ),
        (
            "thread of unknown variant",
            set("thread", Ipld::Bytes(tid_variant)),
        ),
        (
            "ACL in a raw thread",
            set("acl", Ipld::Bytes(b"acl".to_vec())),
        ),
        ("acl as text", set("acl", Ipld::String("acl".into()))),
        ("logs not a list", set("logs", Ipld::Map(BTreeMap::new()))),
        (
            "logs out of order",
            set(
                "logs",
                Ipld::List(vec![log_entry_ipld(&high, &[]), log_entry_ipld(&low, &[])]),
            ),
        ),
        (
            "log listed twice",
            set(
                "logs",
                Ipld::List(vec![
                    log_entry_ipld(&inviter, &[]),
                    log_entry_ipld(&inviter, &[]),
                ]),
            ),
        ),
        (
            "invalid log ID",
            set(
                "logs",
                Ipld::List(vec![Ipld::Map(BTreeMap::from([
                    ("log".to_string(), Ipld::Bytes(vec![1; 38])),
                    ("addrs".to_string(), Ipld::List(vec![])),
                ]))]),
            ),
        ),
        (
            "log entry with an unknown field",
            set(
                "logs",
                Ipld::List(vec![Ipld::Map(BTreeMap::from([
                    ("log".to_string(), Ipld::Bytes(inviter.to_bytes())),
                    ("addrs".to_string(), Ipld::List(vec![])),
                    ("ttl".to_string(), Ipld::Integer(60)),
                ]))]),
            ),
        ),
        (
            "invalid address",
            set(
                "logs",
                Ipld::List(vec![log_entry_ipld(
                    &inviter,
                    &["/ip4/1.2.3.4/ipel/x".to_string()],
                )]),
            ),
        ),
        (
            "address of another log",
            set(
                "logs",
                Ipld::List(vec![log_entry_ipld(&inviter, &[address(&other, &other)])]),
            ),
        ),
        ("too large", vec![0; MAX_INVITE_SIZE + 1]),
    ];
    for (name, bytes) in cases {
        assert_eq!(
            code(Invite::from_bytes(&bytes)),
            ErrorCode::InviteMalformed,
            "{name}"
        );
        assert_eq!(
            code(world.open(&bytes)),
            ErrorCode::InviteMalformed,
            "{name}"
        );
        // Decoding comes first: even the wrong recipient gets INVITE_MALFORMED.
        let bystander = Invite::open(&bytes, &world.bystander);
        assert_eq!(code(bystander), ErrorCode::InviteMalformed, "{name}");
    }
}

#[test]
fn an_access_controlled_thread_invite_without_its_acl_is_malformed() {
    let mut world = World::new(Variant::AccessControlled);
    let valid = world.invite(InviteRole::Reader).to_bytes();
    let without = with(&valid, |m| {
        m.insert("acl".into(), Ipld::Null);
    });
    assert_eq!(code(world.open(&without)), ErrorCode::InviteMalformed);
}

// ---------------------------------------------------------------------------------------------
// Step 2: the recipient (INVITE_WRONG_RECIPIENT)
// ---------------------------------------------------------------------------------------------

#[test]
fn an_invite_for_someone_else_is_refused_before_its_signature() {
    let mut world = World::raw();
    let mut invite = world.invite(InviteRole::Writer);
    let bytes = invite.to_bytes();
    assert_eq!(
        code(Invite::open(&bytes, &world.bystander)),
        ErrorCode::InviteWrongRecipient
    );
    // Even the inviter cannot open it.
    assert_eq!(
        code(Invite::open(&bytes, &world.inviter)),
        ErrorCode::InviteWrongRecipient
    );
    // A broken signature and broken keys do not change the answer.
    invite.sig[0] ^= 1;
    invite.sealed_keys[0] ^= 1;
    assert_eq!(
        code(Invite::open(&invite.to_bytes(), &world.bystander)),
        ErrorCode::InviteWrongRecipient
    );
}

// ---------------------------------------------------------------------------------------------
// Step 3: the signature (INVITE_SIGNATURE_INVALID)
// ---------------------------------------------------------------------------------------------

/// L, the order of the Ed25519 prime-order subgroup, little-endian.
const GROUP_ORDER: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
];

/// `S + L`: the same signature under lenient verification, refused by strict verification.
fn malleate(sig: &mut [u8; 64]) {
    let mut carry = 0u16;
    for (s, l) in sig[32..].iter_mut().zip(GROUP_ORDER) {
        let sum = u16::from(*s) + u16::from(l) + carry;
        *s = sum as u8;
        carry = sum >> 8;
    }
}

/// A change made to an invite after it was signed.
type Change = Box<dyn Fn(&mut Invite)>;

#[test]
fn every_change_the_inviter_did_not_sign_is_refused() {
    let mut world = World::raw();
    let invite = world.invite(InviteRole::Reader);
    let bystander = world.bystander.log_id();
    let changes: Vec<(&str, Change)> = vec![
        ("a flipped signature bit", Box::new(|i| i.sig[5] ^= 0x10)),
        ("an all-zero signature", Box::new(|i| i.sig = [0; 64])),
        ("S + L", Box::new(|i| malleate(&mut i.sig))),
        (
            "reader promoted to writer",
            Box::new(|i| i.role = InviteRole::Writer),
        ),
        (
            "another inviter named",
            Box::new(move |i| i.inviter = bystander),
        ),
        ("another enc", Box::new(|i| i.enc[0] ^= 1)),
        ("other sealed keys", Box::new(|i| i.sealed_keys[3] ^= 1)),
        (
            "an extra address",
            Box::new(move |i| {
                let log = i.logs[0].log;
                i.logs[0].addrs.push(address(&bystander, &log));
            }),
        ),
        ("a log dropped", Box::new(|i| i.logs.clear())),
    ];
    for (name, change) in changes {
        let mut changed = invite.clone();
        change(&mut changed);
        assert_eq!(
            code(world.open(&changed.to_bytes())),
            ErrorCode::InviteSignatureInvalid,
            "{name}"
        );
    }
    let mut forged = invite.clone();
    forged.sign_with(&world.bystander);
    assert_eq!(
        code(world.open(&forged.to_bytes())),
        ErrorCode::InviteSignatureInvalid
    );
}

// ---------------------------------------------------------------------------------------------
// Step 4: opening the key set (INVITE_DECRYPT_FAILED)
// ---------------------------------------------------------------------------------------------

#[test]
fn sealed_keys_that_do_not_open_are_refused_even_when_signed() {
    let mut world = World::raw();
    let invite = world.invite(InviteRole::Reader);
    let keys = world.keys.to_bytes();
    let aad = invite.header();
    let writer_aad = invite::header_bytes(
        &invite.thread,
        InviteRole::Writer,
        &invite.inviter,
        &invite.recipient,
    );
    let bystander = world.bystander.log_id();
    let to_bystander = seal_raw(&bystander, &aad, &keys, &mut world.rng);
    let other_role = seal_raw(&invite.recipient, &writer_aad, &keys, &mut world.rng);
    let other_info = invite::hpke_seal(
        &invite::x25519_public_key(&invite.recipient),
        b"threads/v1/other",
        &aad,
        &keys,
        &[3; 32],
    )
    .expect("seals");
    let cases: Vec<(&str, [u8; 32], Vec<u8>)> = vec![
        ("sealed to another peer", to_bystander.0, to_bystander.1),
        (
            "sealed with another role's header",
            other_role.0,
            other_role.1,
        ),
        ("sealed with another info", other_info.0, other_info.1),
        ("another enc", [9; 32], invite.sealed_keys.clone()),
        ("a small-order enc", [0; 32], invite.sealed_keys.clone()),
        ("a flipped ciphertext bit", invite.enc, {
            let mut s = invite.sealed_keys.clone();
            s[0] ^= 1;
            s
        }),
        ("a flipped tag bit", invite.enc, {
            let mut s = invite.sealed_keys.clone();
            let last = s.len() - 1;
            s[last] ^= 1;
            s
        }),
        (
            "shorter than a tag",
            invite.enc,
            invite.sealed_keys[..15].to_vec(),
        ),
        ("empty", invite.enc, vec![]),
    ];
    for (name, enc, sealed) in cases {
        let mut changed = invite.clone();
        changed.enc = enc;
        changed.sealed_keys = sealed;
        changed.sign_with(&world.inviter);
        assert_eq!(
            code(world.open(&changed.to_bytes())),
            ErrorCode::InviteDecryptFailed,
            "{name}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Step 5: the key set (KEYSET_MALFORMED, KEY_BAD_LENGTH)
// ---------------------------------------------------------------------------------------------

fn key_set_map(entries: &[(&str, Ipld)]) -> Vec<u8> {
    let map: Fields = entries
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    encode(&map)
}

#[test]
fn a_sealed_plaintext_that_is_not_a_key_set_is_refused() {
    let mut world = World::raw();
    let invite = world.invite(InviteRole::Reader);
    let key = |n: usize| Ipld::Bytes(vec![0x42; n]);
    let mut non_canonical = vec![0xb8, 0x02];
    non_canonical.extend_from_slice(&world.keys.to_bytes()[1..]);
    let cases: Vec<(&str, Vec<u8>, ErrorCode)> = vec![
        ("empty plaintext", vec![], ErrorCode::KeysetMalformed),
        ("text", b"\x64keys".to_vec(), ErrorCode::KeysetMalformed),
        ("empty map", vec![0xa0], ErrorCode::KeysetMalformed),
        (
            "non-canonical key set",
            non_canonical,
            ErrorCode::KeysetMalformed,
        ),
        (
            "extra field",
            key_set_map(&[("follow", key(32)), ("read", key(32)), ("x", key(1))]),
            ErrorCode::KeysetMalformed,
        ),
        (
            "read key as text",
            key_set_map(&[("follow", key(32)), ("read", Ipld::String("r".into()))]),
            ErrorCode::KeysetMalformed,
        ),
        (
            "31-byte follow key",
            key_set_map(&[("follow", key(31)), ("read", key(32))]),
            ErrorCode::KeyBadLength,
        ),
        (
            "33-byte read key",
            key_set_map(&[("follow", key(32)), ("read", key(33))]),
            ErrorCode::KeyBadLength,
        ),
    ];
    for (name, plaintext, expected) in cases {
        let mut changed = invite.clone();
        world.reseal(&mut changed, &plaintext);
        assert_eq!(code(world.open(&changed.to_bytes())), expected, "{name}");
    }
}

// ---------------------------------------------------------------------------------------------
// Step 6: role and key set agree (INVITE_MALFORMED)
// ---------------------------------------------------------------------------------------------

#[test]
fn a_key_set_that_does_not_fit_the_role_is_malformed() {
    let mut world = World::raw();
    let full = world.keys.to_bytes();
    let follower = world.keys.for_follower().to_bytes();
    for (role, plaintext) in [
        (InviteRole::Follower, &full),
        (InviteRole::Reader, &follower),
        (InviteRole::Writer, &follower),
    ] {
        let mut invite = world.invite(role);
        world.reseal(&mut invite, plaintext);
        assert_eq!(
            code(world.open(&invite.to_bytes())),
            ErrorCode::InviteMalformed,
            "{role:?}"
        );
    }
    // A key-set error comes first: a follower invite whose key set is broken is KEY_BAD_LENGTH.
    let mut invite = world.invite(InviteRole::Follower);
    let bad = key_set_map(&[
        ("follow", Ipld::Bytes(vec![1; 31])),
        ("read", Ipld::Bytes(vec![1; 32])),
    ]);
    world.reseal(&mut invite, &bad);
    assert_eq!(
        code(world.open(&invite.to_bytes())),
        ErrorCode::KeyBadLength
    );
}

/// [INV-6]: the first failing check names the error, whatever else is wrong.
#[test]
fn the_checks_run_in_the_order_of_inv_6() {
    let mut world = World::raw();
    let invite = world.invite(InviteRole::Reader);
    // Signature broken and keys undecryptable: the signature is checked first.
    let mut both = invite.clone();
    both.sealed_keys[0] ^= 1;
    assert_eq!(
        code(world.open(&both.to_bytes())),
        ErrorCode::InviteSignatureInvalid
    );
    // Undecryptable and (if it opened) wrong for the role: decryption first.
    let mut invite = world.invite(InviteRole::Follower);
    world.reseal(&mut invite, &world.keys.to_bytes());
    invite.sealed_keys[0] ^= 1;
    invite.sign_with(&world.inviter);
    assert_eq!(
        code(world.open(&invite.to_bytes())),
        ErrorCode::InviteDecryptFailed
    );
}

// ---------------------------------------------------------------------------------------------
// Joins [INV-7], [INV-8]
// ---------------------------------------------------------------------------------------------

/// An invited writer opens its invite, starts a log whose first event is a join, and the
/// inviter reads it with the thread's keys; in an access-controlled thread the new log's ID is
/// the writer's peer ID.
#[test]
fn an_invited_writer_joins_and_the_inviter_reads_its_join() {
    for variant in [Variant::Raw, Variant::AccessControlled] {
        let mut world = World::new(variant);
        let bytes = world.invite(InviteRole::Writer).to_bytes();
        let opened = world.open(&bytes).expect("opens");
        let identity = match variant {
            Variant::AccessControlled => world.recipient.clone(),
            Variant::Raw => IdentityKey::generate(&mut world.rng),
        };
        let log = identity.log_id();
        let mut writer = LogReplica::new(opened.thread.clone(), log);
        let join = Join {
            addrs: vec![address(&world.recipient.log_id(), &log)],
        };
        let envelope = writer
            .append_own(
                &identity,
                &opened.keys,
                &join.to_bytes(),
                1_700_000_000_000,
                &mut world.rng,
            )
            .expect("appends");
        let read = verify::verify_reader(&envelope, &world.thread, &log, &world.keys)
            .expect("the inviter reads the new log");
        assert_eq!(read.record.seq(), 1);
        assert_eq!(Join::from_bytes(&read.body, &log), Ok(join));
    }
}

#[test]
fn a_follower_verifies_but_cannot_read() {
    let mut world = World::raw();
    let bytes = world.invite(InviteRole::Follower).to_bytes();
    let opened = world.open(&bytes).expect("opens");
    let mut writer = LogReplica::new(world.thread.clone(), world.inviter.log_id());
    let envelope = writer
        .append_own(
            &world.inviter,
            &world.keys,
            b"hello",
            1_700_000_000_000,
            &mut world.rng,
        )
        .expect("appends");
    let log = world.inviter.log_id();
    assert!(verify::verify_follower(&envelope, &world.thread, &log, &opened.keys.follow).is_ok());
    assert_eq!(
        code(verify::verify_reader(
            &envelope,
            &world.thread,
            &log,
            &opened.keys
        )),
        ErrorCode::KeyUnavailable
    );
}

#[test]
fn malformed_join_bodies_are_refused() {
    let world = World::raw();
    let log = world.inviter.log_id();
    let other = world.bystander.log_id();
    let body = |entries: &[(&str, Ipld)]| key_set_map(entries);
    let addrs = |list: Vec<String>| Ipld::List(list.into_iter().map(Ipld::String).collect());
    let good = Join {
        addrs: vec![address(&other, &log)],
    };
    assert_eq!(Join::from_bytes(&good.to_bytes(), &log), Ok(good));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        (
            "wrong type",
            body(&[
                ("type", Ipld::String("acl".into())),
                ("addrs", addrs(vec![])),
            ]),
        ),
        ("missing type", body(&[("addrs", addrs(vec![]))])),
        (
            "extra field",
            body(&[
                ("type", Ipld::String("join".into())),
                ("addrs", addrs(vec![])),
                ("x", Ipld::Null),
            ]),
        ),
        (
            "address of another log",
            body(&[
                ("type", Ipld::String("join".into())),
                ("addrs", addrs(vec![address(&log, &other)])),
            ]),
        ),
        (
            "invalid address",
            body(&[
                ("type", Ipld::String("join".into())),
                ("addrs", addrs(vec!["/ipel/x".into()])),
            ]),
        ),
    ];
    for (name, bytes) in cases {
        assert_eq!(
            code(Join::from_bytes(&bytes, &log)),
            ErrorCode::BlockMalformed,
            "{name}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

fn role_strategy() -> impl Strategy<Value = InviteRole> {
    prop::sample::select(InviteRole::ALL.to_vec())
}

/// Terms with up to 4 logs of up to 3 addresses each; `acl` only in access-controlled threads.
fn terms_strategy() -> impl Strategy<Value = (u64, InviteRole, bool, Vec<(u64, u8)>, Vec<u8>)> {
    (
        any::<u64>(),
        role_strategy(),
        any::<bool>(),
        prop::collection::vec((any::<u64>(), 0u8..4), 0..5),
        prop::collection::vec(any::<u8>(), 0..64),
    )
}

fn build_terms(world: &World, role: InviteRole, logs: &[(u64, u8)], acl: Vec<u8>) -> InviteTerms {
    let mut entries: Vec<LogEntry> = logs
        .iter()
        .map(|&(seed, addrs)| {
            let log = IdentityKey::generate(&mut rng(seed)).log_id();
            let addrs = (0..addrs)
                .map(|n| {
                    format!(
                        "/ip4/10.0.0.{n}/tcp/4006/p2p/{}/ipel/{log}",
                        world.bystander.log_id()
                    )
                })
                .collect();
            LogEntry { log, addrs }
        })
        .collect();
    entries.sort_by_key(|entry| entry.log);
    entries.dedup_by(|a, b| a.log == b.log);
    InviteTerms {
        logs: entries,
        // Arbitrary bytes would not be an ACL anchor; the generated ones only vary its presence.
        acl: (world.thread.variant() == Variant::AccessControlled && acl.len() < 64)
            .then(|| world.anchor().to_bytes()),
        ..world.terms(role)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// create → to_bytes → from_bytes is the identity, and open returns exactly the terms.
    #[test]
    fn invites_round_trip((seed, role, acl_thread, logs, acl) in terms_strategy()) {
        let variant = if acl_thread { Variant::AccessControlled } else { Variant::Raw };
        let mut world = World::new(variant);
        world.rng = rng(seed);
        let terms = build_terms(&world, role, &logs, acl);
        let invite = world.create(terms.clone()).expect("valid terms");
        let bytes = invite.to_bytes();
        prop_assert_eq!(Invite::from_bytes(&bytes), Ok(invite.clone()));
        let opened = world.open(&bytes).expect("opens");
        prop_assert_eq!(&opened.logs, &terms.logs);
        prop_assert_eq!(&opened.acl, &terms.acl);
        prop_assert_eq!(opened.role, role);
        prop_assert_eq!(opened.keys.read.is_some(), role.has_read_key());
    }

    /// Without the inviter's key, changing any byte gets INVITE_MALFORMED, _WRONG_RECIPIENT or
    /// _SIGNATURE_INVALID: never a key set, never a panic.
    #[test]
    fn any_changed_byte_is_refused_before_decryption(index in any::<prop::sample::Index>(), flip in 1u8..) {
        let mut world = World::raw();
        let mut bytes = world.invite(InviteRole::Reader).to_bytes();
        let at = index.index(bytes.len());
        bytes[at] ^= flip;
        let refused = code(world.open(&bytes));
        prop_assert!(
            matches!(
                refused,
                ErrorCode::InviteMalformed
                    | ErrorCode::InviteWrongRecipient
                    | ErrorCode::InviteSignatureInvalid
            ),
            "byte {} ^ {:#x}: {:?}", at, flip, refused
        );
    }

    /// Every proper prefix of an invite is INVITE_MALFORMED.
    #[test]
    fn truncated_invites_are_malformed(index in any::<prop::sample::Index>()) {
        let mut world = World::raw();
        let bytes = world.invite(InviteRole::Writer).to_bytes();
        let len = index.index(bytes.len());
        prop_assert_eq!(code(world.open(&bytes[..len])), ErrorCode::InviteMalformed);
    }

    /// Arbitrary input never panics the decoder, the opener or the join decoder.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let world = World::raw();
        let _ = Invite::from_bytes(&bytes);
        let _ = world.open(&bytes);
        let _ = Join::from_bytes(&bytes, &world.inviter.log_id());
        let _ = invite::hpke_open(&[1; 32], &[9; 32], &bytes, &bytes, &bytes);
    }
}

/// [INV-9]: in an access-controlled thread neither side lets an invite exceed what the ACL grants.
#[test]
fn an_invite_for_a_role_the_acl_does_not_grant_is_refused_on_both_sides() {
    let mut world = World::new(Variant::AccessControlled);
    let follow_only = AclAnchor {
        document: AclDocument::for_thread(&world.thread, world.inviter.log_id())
            .with_peer(world.recipient.log_id(), Roles::of(Role::Follow)),
        ..world.anchor()
    };
    let terms = InviteTerms {
        acl: Some(follow_only.to_bytes()),
        ..world.terms(InviteRole::Reader)
    };
    assert_eq!(code(world.create(terms.clone())), ErrorCode::AclDenied);
    // A follower invite under the same ACL is fine.
    let follower = InviteTerms {
        role: InviteRole::Follower,
        ..terms
    };
    assert!(world.create(follower).is_ok());
    // An inviter that skips its own check is caught by the recipient.
    let mut invite = world.invite(InviteRole::Reader);
    invite.acl = Some(follow_only.to_bytes());
    invite.sign_with(&world.inviter);
    assert_eq!(code(world.open(&invite.to_bytes())), ErrorCode::AclDenied);
}
