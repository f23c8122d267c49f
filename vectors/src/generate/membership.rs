//! Suite `membership`: the membership proof, the `auth` message, the gossip topic and sealed
//! publications (spec/sync.md 7.12). The handshake over time (nonces, who is proven, what an
//! unproven peer gets) is checked by the tests `CHECKED_ELSEWHERE` in `src/lint.rs` names.

use rand_chacha::ChaCha20Rng;
use rand_core::Rng;
use serde_json::{Value, json};
use threads::ErrorCode as E;
use threads::id::{LogId, ThreadId, Variant};
use threads::keys::{FollowKey, IdentityKey};
use threads::membership::{self, AuthNonce};
use threads::seal;
use threads::sync::{MAX_HEADS_ENTRIES, Message};
use threads_fixtures::cbor::{bytes, map, text, uint};

use super::{Intent, SuiteBuilder};
use crate::format::SuiteFile;

/// Generates the `membership` suite.
pub fn generate() -> Result<SuiteFile, String> {
    let mut s = SuiteBuilder::new(
        "membership",
        &[
            "Membership proofs and sealed gossip (spec/sync.md 7.12): membership.deriveKeys derives",
            "the proof key, topic and gossip key from the follow key (SYNC-18, SYNC-24);",
            "membership.transcript and membership.prove build a proof, membership.checkProof checks",
            "one received from `prover` at `verifier` (SYNC-18); sync.decodeMessage decodes `auth`",
            "messages and refuses oversized heads (SYNC-17, SYNC-23); membership.sealPublication and",
            "membership.openPublication seal and open publications (SYNC-24). The first case of each",
            "group is the worked example of spec/sync.md 7.12.",
        ],
    );
    notes(&mut s);
    let fx = Fixture::new(&mut s.rng("fixture"));
    let worked = Fixture::worked_example();
    derive_keys(&mut s, &worked, &fx);
    proofs(&mut s, &worked, &fx);
    check_proofs(&mut s, &fx);
    auth_messages(&mut s, &worked, &fx);
    let mut rng = s.rng("publications");
    publications(&mut s, &worked, &fx, &mut rng);
    s.finish()
}

fn notes(s: &mut SuiteBuilder) {
    s.note(
        "NORMAL",
        "BASIC",
        "A well-formed value, computed or accepted as the spec says.",
    );
    s.note(
        "RELAYED_PROOF",
        "AUTH_BYPASS",
        "A member's genuine proof, made for the relay that forwarded the verifier's nonce, presented by the relay: the prover must be the authenticated sender.",
    );
    s.note(
        "WRONG_PROVER",
        "AUTH_BYPASS",
        "A proof that names another prover than the peer presenting it.",
    );
    s.note(
        "REFLECTED_PROOF",
        "AUTH_BYPASS",
        "The verifier's own proof sent back to it: prover and verifier swapped.",
    );
    s.note(
        "WRONG_VERIFIER",
        "AUTH_BYPASS",
        "A proof made for another verifier, replayed to this one.",
    );
    s.note(
        "WRONG_THREAD",
        "AUTH_BYPASS",
        "A proof for another thread (its proof key and transcript) under the same follow key.",
    );
    s.note(
        "WRONG_NONCE",
        "AUTH_BYPASS",
        "A proof over another nonce than the verifier's (an old or a guessed one).",
    );
    s.note(
        "WRONG_KEY",
        "AUTH_BYPASS",
        "A proof under the proof key of another follow key.",
    );
    s.note(
        "RAW_FOLLOW_KEY",
        "WRONG_PRIMITIVE",
        "HMAC under the follow key itself instead of the HKDF-derived proof key.",
    );
    s.note(
        "WRONG_EPOCH",
        "WRONG_PRIMITIVE",
        "A transcript with epoch 1: this version's epoch is 0.",
    );
    s.note(
        "TRUNCATED",
        "MISSING_CHECK",
        "A proof shorter or longer than 32 bytes, or empty.",
    );
    s.note(
        "BAD_LENGTH",
        "MISSING_CHECK",
        "An auth message whose nonce is not 0 or 16 bytes, or whose proof is not 0 or 32 bytes.",
    );
    s.note(
        "NON_CANONICAL",
        "MALLEABILITY",
        "An auth message whose map is not canonical DAG-CBOR, or that has a missing or unknown field.",
    );
    s.note(
        "HEADS_TOO_LONG",
        "RESOURCE_EXHAUSTION",
        "A heads message with more than 1,024 entries: the whole message is refused.",
    );
    s.note(
        "TAMPERED",
        "MISSING_CHECK",
        "A sealed publication with a flipped bit in its nonce, ciphertext or tag.",
    );
    s.note(
        "WRONG_THREAD_AD",
        "AUTH_BYPASS",
        "A publication sealed for another thread (its associated data) with this thread's gossip key.",
    );
    s.note(
        "WRONG_GOSSIP_KEY",
        "WRONG_PRIMITIVE",
        "A publication sealed with the follow key or the proof key instead of the gossip key.",
    );
}

/// The thread, keys and peers every group draws from.
struct Fixture {
    thread: ThreadId,
    other_thread: ThreadId,
    follow: FollowKey,
    other_follow: FollowKey,
    prover: LogId,
    verifier: LogId,
    relay: LogId,
    other_verifier: LogId,
    nonce: AuthNonce,
    other_nonce: AuthNonce,
}

impl Fixture {
    fn new(rng: &mut ChaCha20Rng) -> Fixture {
        let mut nonce = [0u8; 16];
        let mut other_nonce = [0u8; 16];
        rng.fill_bytes(&mut nonce);
        rng.fill_bytes(&mut other_nonce);
        Fixture {
            thread: ThreadId::generate(Variant::Raw, rng),
            other_thread: ThreadId::generate(Variant::AccessControlled, rng),
            follow: FollowKey::generate(rng),
            other_follow: FollowKey::generate(rng),
            prover: IdentityKey::generate(rng).log_id(),
            verifier: IdentityKey::generate(rng).log_id(),
            relay: IdentityKey::generate(rng).log_id(),
            other_verifier: IdentityKey::generate(rng).log_id(),
            nonce,
            other_nonce,
        }
    }

    /// The worked example of spec/sync.md 7.12: the Thread ID of 1.6, follow key `20..3f`,
    /// RFC 8032 TEST 1 and TEST 2 keys as prover and verifier, nonce `a0..af`.
    fn worked_example() -> Fixture {
        let random: Vec<u8> = (0u8..32).collect();
        let key = |hex_key: &str| {
            let bytes: [u8; 32] = hex::decode(hex_key)
                .expect("hex")
                .try_into()
                .expect("32 bytes");
            LogId::from_public_key(
                ed25519_dalek::VerifyingKey::from_bytes(&bytes).expect("an RFC 8032 key"),
            )
            .expect("not of small order")
        };
        let follow: Vec<u8> = (0x20u8..0x40).collect();
        let nonce: Vec<u8> = (0xa0u8..0xb0).collect();
        Fixture {
            thread: ThreadId::from_parts(Variant::Raw, &random).expect("the TID of 1.6"),
            other_thread: ThreadId::from_parts(Variant::AccessControlled, &random).expect("a TID"),
            follow: FollowKey::from_slice(&follow).expect("32 bytes"),
            other_follow: FollowKey::from([0x5a; 32]),
            prover: key("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"),
            verifier: key("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"),
            relay: IdentityKey::from_seed(&[1; 32]).log_id(),
            other_verifier: IdentityKey::from_seed(&[2; 32]).log_id(),
            nonce: nonce.try_into().expect("16 bytes"),
            other_nonce: [0; 16],
        }
    }

    fn follow_hex(&self) -> String {
        hex::encode(self.follow.as_bytes())
    }

    /// The proof of `prover` for `verifier` over `nonce` in `thread` under `follow`'s proof key.
    fn proof(
        &self,
        thread: &ThreadId,
        follow: &FollowKey,
        prover: &LogId,
        verifier: &LogId,
        nonce: &AuthNonce,
    ) -> Vec<u8> {
        let key = membership::proof_key(thread, follow);
        membership::prove(&key, thread, prover, verifier, nonce).to_vec()
    }

    /// The genuine proof of the fixture's prover for its verifier.
    fn genuine(&self) -> Vec<u8> {
        self.proof(
            &self.thread,
            &self.follow,
            &self.prover,
            &self.verifier,
            &self.nonce,
        )
    }

    fn context(&self, prover: &LogId, verifier: &LogId, nonce: &AuthNonce) -> Value {
        json!({
            "thread": self.thread.to_string(),
            "prover": prover.to_string(),
            "verifier": verifier.to_string(),
            "nonce": hex::encode(nonce),
        })
    }
}

fn derive_keys(s: &mut SuiteBuilder, worked: &Fixture, fx: &Fixture) {
    s.group("MembershipDeriveKeys", "membership.deriveKeys", Value::Null);
    let cases = [
        (
            worked,
            &worked.thread,
            &worked.follow,
            "the worked example of spec/sync.md 7.12",
        ),
        (fx, &fx.thread, &fx.follow, "a raw thread"),
        (
            fx,
            &fx.other_thread,
            &fx.follow,
            "another thread, the same follow key: other keys",
        ),
        (
            fx,
            &fx.thread,
            &fx.other_follow,
            "the same thread, another follow key: other keys",
        ),
    ];
    for (_, thread, follow, comment) in cases {
        s.case(
            "SYNC-18",
            &["NORMAL"],
            comment,
            json!({"thread": thread.to_string(), "followKey": hex::encode(follow.as_bytes())}),
            Intent::Valid,
        );
    }
    s.case(
        "SYNC-24",
        &["NORMAL"],
        "an access-controlled thread: the topic is not the Thread ID's text",
        json!({"thread": worked.other_thread.to_string(), "followKey": worked.follow_hex()}),
        Intent::Valid,
    );
}

fn proofs(s: &mut SuiteBuilder, worked: &Fixture, fx: &Fixture) {
    s.group("MembershipTranscript", "membership.transcript", Value::Null);
    for (f, comment) in [
        (worked, "the worked example of spec/sync.md 7.12"),
        (fx, "a random prover, verifier and nonce"),
    ] {
        s.case(
            "SYNC-18",
            &["NORMAL"],
            comment,
            f.context(&f.prover, &f.verifier, &f.nonce),
            Intent::Valid,
        );
    }
    s.group("MembershipProve", "membership.prove", Value::Null);
    for (f, prover, verifier, comment) in [
        (
            worked,
            &worked.prover,
            &worked.verifier,
            "the worked example of spec/sync.md 7.12",
        ),
        (fx, &fx.prover, &fx.verifier, "a random prover and verifier"),
        (
            fx,
            &fx.verifier,
            &fx.prover,
            "the same peers, roles swapped: another proof",
        ),
    ] {
        let mut inputs = f.context(prover, verifier, &f.nonce);
        inputs["followKey"] = f.follow_hex().into();
        s.case("SYNC-18", &["NORMAL"], comment, inputs, Intent::Valid);
    }
}

/// The epoch-1 transcript of the fixture: the same map with `epoch` 1.
fn epoch_one(fx: &Fixture) -> Vec<u8> {
    map(&[
        ("epoch", uint(1)),
        ("label", text(membership::MEMBERSHIP_LABEL)),
        ("nonce", bytes(&fx.nonce)),
        ("prover", bytes(&fx.prover.to_bytes())),
        ("thread", bytes(fx.thread.as_bytes())),
        ("verifier", bytes(&fx.verifier.to_bytes())),
    ])
}

fn hmac(key: &[u8], message: &[u8]) -> Vec<u8> {
    use hmac::{KeyInit, Mac};
    let mut mac = <hmac::Hmac<sha2::Sha256>>::new_from_slice(key).expect("any key length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

fn check_proofs(s: &mut SuiteBuilder, fx: &Fixture) {
    s.group(
        "MembershipCheckProof",
        "membership.checkProof",
        json!({"thread": fx.thread.to_string(), "followKey": fx.follow_hex()}),
    );
    let case = |prover: &LogId, verifier: &LogId, proof: Vec<u8>| {
        let mut inputs = fx.context(prover, verifier, &fx.nonce);
        inputs["proof"] = hex::encode(proof).into();
        inputs
    };
    s.case(
        "SYNC-18",
        &["NORMAL"],
        "the prover's genuine proof for this verifier over its nonce",
        case(&fx.prover, &fx.verifier, fx.genuine()),
        Intent::Valid,
    );
    let genuine = fx.genuine();
    let (t, k) = (&fx.thread, &fx.follow);
    let transcript = membership::transcript(t, &fx.prover, &fx.verifier, &fx.nonce);
    let proof_key = membership::proof_key(t, k);
    let rows: Vec<(&[&str], &str, LogId, Vec<u8>)> = vec![
        (
            &["RELAYED_PROOF"],
            "a relay forwarded the verifier's nonce to a member and presents the member's proof (made for the relay)",
            fx.relay,
            fx.proof(t, k, &fx.prover, &fx.relay, &fx.nonce),
        ),
        (
            &["WRONG_PROVER"],
            "a proof that names the relay as prover, presented by the prover",
            fx.prover,
            fx.proof(t, k, &fx.relay, &fx.verifier, &fx.nonce),
        ),
        (
            &["REFLECTED_PROOF"],
            "the verifier's own proof over the nonce, sent back to it",
            fx.prover,
            fx.proof(t, k, &fx.verifier, &fx.prover, &fx.nonce),
        ),
        (
            &["WRONG_VERIFIER"],
            "the prover's genuine proof for another verifier, replayed here",
            fx.prover,
            fx.proof(t, k, &fx.prover, &fx.other_verifier, &fx.nonce),
        ),
        (
            &["WRONG_THREAD"],
            "the prover's proof for another thread under the same follow key",
            fx.prover,
            fx.proof(&fx.other_thread, k, &fx.prover, &fx.verifier, &fx.nonce),
        ),
        (
            &["WRONG_NONCE"],
            "the prover's proof over another nonce",
            fx.prover,
            fx.proof(t, k, &fx.prover, &fx.verifier, &fx.other_nonce),
        ),
        (
            &["WRONG_KEY"],
            "a proof under another follow key's proof key",
            fx.prover,
            fx.proof(t, &fx.other_follow, &fx.prover, &fx.verifier, &fx.nonce),
        ),
        (
            &["RAW_FOLLOW_KEY"],
            "HMAC of the right transcript under the follow key itself",
            fx.prover,
            hmac(k.as_bytes(), &transcript),
        ),
        (
            &["WRONG_EPOCH"],
            "HMAC under the proof key of the transcript with epoch 1",
            fx.prover,
            hmac(&proof_key, &epoch_one(fx)),
        ),
        (
            &["TRUNCATED"],
            "the genuine proof without its last byte",
            fx.prover,
            genuine[..31].to_vec(),
        ),
        (
            &["TRUNCATED"],
            "the genuine proof's first 16 bytes",
            fx.prover,
            genuine[..16].to_vec(),
        ),
        (
            &["TRUNCATED"],
            "the genuine proof with a byte appended",
            fx.prover,
            [genuine.clone(), vec![0]].concat(),
        ),
        (&["TRUNCATED"], "an empty proof", fx.prover, Vec::new()),
    ];
    for (flags, comment, prover, proof) in rows {
        s.case(
            "SYNC-18",
            flags,
            comment,
            case(&prover, &fx.verifier, proof),
            Intent::Invalid(E::ProofInvalid),
        );
    }
}

/// The fields of an `auth` message, canonical order aside.
fn auth_fields(thread: &ThreadId, nonce: &[u8], proof: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("type", text("auth")),
        ("nonce", bytes(nonce)),
        ("proof", bytes(proof)),
        ("thread", bytes(thread.as_bytes())),
    ]
}

fn auth_messages(s: &mut SuiteBuilder, worked: &Fixture, fx: &Fixture) {
    s.group("MembershipDecodeAuth", "sync.decodeMessage", Value::Null);
    let b = |message: Vec<u8>| json!({"bytes": hex::encode(message)});
    let auth = |f: &Fixture, nonce: &[u8], proof: &[u8]| {
        Message::Auth {
            thread: f.thread.clone(),
            nonce: nonce.to_vec(),
            proof: proof.to_vec(),
        }
        .to_bytes()
    };
    let proof = fx.genuine();
    let worked_proof = worked.genuine();
    let valid: Vec<(&str, Vec<u8>)> = vec![
        (
            "the worked example of spec/sync.md 7.12: a nonce and a proof",
            auth(worked, &worked.nonce, &worked_proof),
        ),
        ("a challenge: a nonce, no proof", auth(fx, &fx.nonce, &[])),
        ("a proof, no nonce", auth(fx, &[], &proof)),
        ("neither: valid, and does nothing", auth(fx, &[], &[])),
    ];
    for (comment, bytes) in valid {
        s.case("SYNC-17", &["NORMAL"], comment, b(bytes), Intent::Valid);
    }
    let malformed: Vec<(&str, &str, Vec<u8>)> = vec![
        (
            "BAD_LENGTH",
            "a nonce of 15 bytes",
            auth(fx, &fx.nonce[..15], &[]),
        ),
        (
            "BAD_LENGTH",
            "a nonce of 17 bytes",
            auth(fx, &[fx.nonce.to_vec(), vec![0]].concat(), &proof),
        ),
        (
            "BAD_LENGTH",
            "a proof of 31 bytes",
            auth(fx, &[], &proof[..31]),
        ),
        (
            "BAD_LENGTH",
            "a proof of 33 bytes",
            auth(fx, &fx.nonce, &[proof.clone(), vec![0]].concat()),
        ),
        (
            "BAD_LENGTH",
            "nonce and proof swapped: a 32-byte nonce and a 16-byte proof",
            auth(fx, &proof, &fx.nonce),
        ),
        (
            "NON_CANONICAL",
            "keys in alphabetical order (nonce, proof, thread, type)",
            {
                let mut fields = auth_fields(&fx.thread, &fx.nonce, &[]);
                fields.sort_by(|a, b| a.0.cmp(b.0));
                map(&fields)
            },
        ),
        ("NON_CANONICAL", "the proof field missing", {
            let fields = auth_fields(&fx.thread, &fx.nonce, &[]);
            map(&[fields[0].clone(), fields[1].clone(), fields[3].clone()])
        }),
        ("NON_CANONICAL", "an unknown field `epoch`", {
            let fields = auth_fields(&fx.thread, &fx.nonce, &[]);
            map(&[
                fields[0].clone(),
                ("epoch", uint(0)),
                fields[1].clone(),
                fields[2].clone(),
                fields[3].clone(),
            ])
        }),
        ("NON_CANONICAL", "the nonce as a text string", {
            let mut fields = auth_fields(&fx.thread, &[], &[]);
            fields[1].1 = text("0123456789abcdef");
            map(&fields)
        }),
    ];
    for (flag, comment, bytes) in malformed {
        s.case(
            "SYNC-17",
            &[flag],
            comment,
            b(bytes),
            Intent::Invalid(E::MessageMalformed),
        );
    }
    let mut rng = s.rng("heads");
    let heads: Vec<_> = (0..=MAX_HEADS_ENTRIES as u64)
        .map(|i| (IdentityKey::generate(&mut rng).log_id(), i + 1))
        .collect();
    let too_long = Message::Heads {
        thread: fx.thread.clone(),
        heads,
    }
    .to_bytes();
    s.case(
        "SYNC-23",
        &["HEADS_TOO_LONG"],
        "a heads message with 1,025 entries",
        b(too_long),
        Intent::Invalid(E::HeadsTooLong),
    );
}

fn publications(s: &mut SuiteBuilder, worked: &Fixture, fx: &Fixture, rng: &mut ChaCha20Rng) {
    let mut nonce = [0u8; seal::NONCE_LEN];
    rng.fill_bytes(&mut nonce);
    let message = Message::Records {
        thread: fx.thread.clone(),
        log: fx.prover,
        counter: 7,
        envelopes: Vec::new(),
    }
    .to_bytes();
    s.group(
        "MembershipSealPublication",
        "membership.sealPublication",
        Value::Null,
    );
    for (f, nonce, message, comment) in [
        (
            worked,
            [0x11u8; seal::NONCE_LEN],
            b"hi".to_vec(),
            "the worked example of spec/sync.md 7.12: \"hi\" with the nonce 11 x 24",
        ),
        (fx, nonce, message.clone(), "a records message"),
    ] {
        s.case(
            "SYNC-24",
            &["NORMAL"],
            comment,
            json!({
                "thread": f.thread.to_string(),
                "followKey": f.follow_hex(),
                "nonce": hex::encode(nonce),
                "message": hex::encode(message),
            }),
            Intent::Valid,
        );
    }
    let seal_with = |key: &[u8; 32], thread: &ThreadId| {
        seal::seal_with_nonce(key, &nonce, &membership::publication_ad(thread), &message)
    };
    let gossip = membership::gossip_key(&fx.thread, &fx.follow);
    let sealed = seal_with(&gossip, &fx.thread);
    s.group(
        "MembershipOpenPublication",
        "membership.openPublication",
        json!({"thread": fx.thread.to_string(), "followKey": fx.follow_hex()}),
    );
    let x = |sealed: Vec<u8>| json!({"sealed": hex::encode(sealed)});
    s.case(
        "SYNC-24",
        &["NORMAL"],
        "a records message sealed with the thread's gossip key",
        x(sealed.clone()),
        Intent::Valid,
    );
    let flip = |at: usize| {
        let mut bytes = sealed.clone();
        bytes[at] ^= 0x01;
        bytes
    };
    let last = sealed.len() - 1;
    let rows: Vec<(&str, &str, Vec<u8>)> = vec![
        ("TAMPERED", "a bit of the nonce flipped", flip(0)),
        (
            "TAMPERED",
            "a bit of the ciphertext flipped",
            flip(seal::NONCE_LEN),
        ),
        ("TAMPERED", "a bit of the tag flipped", flip(last)),
        (
            "WRONG_THREAD_AD",
            "sealed with this thread's gossip key but another thread in the associated data",
            seal_with(&gossip, &fx.other_thread),
        ),
        (
            "WRONG_GOSSIP_KEY",
            "sealed with the follow key itself",
            seal_with(fx.follow.as_bytes(), &fx.thread),
        ),
        (
            "WRONG_GOSSIP_KEY",
            "sealed with the proof key",
            seal_with(&membership::proof_key(&fx.thread, &fx.follow), &fx.thread),
        ),
        (
            "TRUNCATED",
            "39 bytes: shorter than a nonce and a tag",
            sealed[..39].to_vec(),
        ),
        (
            "TRUNCATED",
            "the message unsealed: the plain records message",
            message.clone(),
        ),
    ];
    for (flag, comment, bytes) in rows {
        s.case(
            "SYNC-24",
            &[flag],
            comment,
            x(bytes),
            Intent::Invalid(E::PublicationInvalid),
        );
    }
}
