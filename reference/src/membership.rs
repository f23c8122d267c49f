//! Membership proofs, the gossip topic and sealed publications (spec/sync.md, 7.12,
//! [SYNC-18], [SYNC-19], [SYNC-24]): the pure functions; the handshake that uses them is the
//! sync [`Peer`](crate::sync::Peer)'s.
//!
//! Every key here is derived from the thread's follow key with HKDF-SHA256, salted with the Thread
//! ID, under its own label: a proof, a topic or a sealed publication never shows the follow key,
//! and none of the three keys opens anything the others protect.

use hmac::{Hmac, KeyInit, Mac};
use rand_core::CryptoRng;
use serde::Serialize;
use serde_bytes::Bytes;
use sha2::Sha256;

use crate::block;
use crate::error::{Error, ErrorCode, Result};
use crate::id::{LogId, ThreadId};
use crate::keys::{FollowKey, KEY_LEN};
use crate::seal;

/// HKDF info and transcript label of the membership proof [SYNC-18].
pub const MEMBERSHIP_LABEL: &str = "threads/membership/v1";
/// HKDF info of the topic key [SYNC-24].
pub const TOPIC_LABEL: &str = "threads/topic/v1";
/// HKDF info of the gossip key, and the prefix of a publication's associated data [SYNC-24].
pub const GOSSIP_LABEL: &str = "threads/gossip/v1";
/// The follow key's epoch in the transcript: always 0, the follow key is never rotated in this
/// version [SYNC-18].
pub const EPOCH: u64 = 0;
/// Length of a challenge nonce [SYNC-17].
pub const AUTH_NONCE_LEN: usize = 16;
/// Length of a proof [SYNC-17].
pub const PROOF_LEN: usize = 32;
/// How long after issuing a nonce a verifier may accept a proof over it [SYNC-19].
pub const NONCE_TTL_MS: u64 = 120_000;
/// The reference's nonce bucket: a nonce is the same for one peer and thread within a bucket,
/// and a proof over the current or the previous bucket's nonce is accepted [SYNC-19].
pub const NONCE_BUCKET_MS: u64 = NONCE_TTL_MS / 2;

/// A challenge nonce [SYNC-17].
pub type AuthNonce = [u8; AUTH_NONCE_LEN];
/// A membership proof [SYNC-17].
pub type Proof = [u8; PROOF_LEN];

/// HKDF-SHA256 (RFC 5869) with a 32-byte output: `salt` the Thread ID's binary form, `ikm` the
/// follow key, `info` the label [SYNC-18], [SYNC-24].
fn derive(thread: &ThreadId, follow: &FollowKey, info: &str) -> [u8; KEY_LEN] {
    let mut out = [0u8; KEY_LEN];
    hkdf::Hkdf::<Sha256>::new(Some(thread.as_bytes()), follow.as_bytes())
        .expand(info.as_bytes(), &mut out)
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    out
}

/// The thread's proof key [SYNC-18]: never the follow key itself, so a proof reveals nothing that
/// opens a record.
pub fn proof_key(thread: &ThreadId, follow: &FollowKey) -> [u8; KEY_LEN] {
    derive(thread, follow, MEMBERSHIP_LABEL)
}

/// The thread's topic key, whose text form names its gossip topic [SYNC-24].
pub fn topic_key(thread: &ThreadId, follow: &FollowKey) -> [u8; KEY_LEN] {
    derive(thread, follow, TOPIC_LABEL)
}

/// The key that seals the thread's publications [SYNC-24].
pub fn gossip_key(thread: &ThreadId, follow: &FollowKey) -> [u8; KEY_LEN] {
    derive(thread, follow, GOSSIP_LABEL)
}

/// The gossip topic of a thread: the multibase base32 (lower case, `b…`) text of its topic key
/// [SYNC-24]. A peer without the follow key cannot compute it from the Thread ID.
pub fn topic(thread: &ThreadId, follow: &FollowKey) -> String {
    multibase::encode(multibase::Base::Base32Lower, topic_key(thread, follow))
}

/// The transcript a proof covers [SYNC-18]: the canonical DAG-CBOR map
/// `{"epoch": 0, "label": "threads/membership/v1", "nonce", "prover", "thread", "verifier"}`.
pub fn transcript(
    thread: &ThreadId,
    prover: &LogId,
    verifier: &LogId,
    nonce: &AuthNonce,
) -> Vec<u8> {
    #[derive(Serialize)]
    struct Transcript<'a> {
        epoch: u64,
        label: &'a str,
        nonce: &'a Bytes,
        prover: &'a Bytes,
        thread: &'a Bytes,
        verifier: &'a Bytes,
    }
    block::encode(&Transcript {
        epoch: EPOCH,
        label: MEMBERSHIP_LABEL,
        nonce: Bytes::new(nonce),
        prover: Bytes::new(&prover.to_bytes()),
        thread: Bytes::new(thread.as_bytes()),
        verifier: Bytes::new(&verifier.to_bytes()),
    })
}

/// HMAC-SHA256 of `message` under `key`.
pub(crate) fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256>>::new_from_slice(key).expect("HMAC takes keys of any length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// The proof that `prover` holds the thread's follow key, for `verifier`, over `nonce`: HMAC-SHA256
/// under the proof key of the [`transcript`] [SYNC-18].
pub fn prove(
    key: &[u8; KEY_LEN],
    thread: &ThreadId,
    prover: &LogId,
    verifier: &LogId,
    nonce: &AuthNonce,
) -> Proof {
    hmac(key, &[&transcript(thread, prover, verifier, nonce)])
}

/// Checks a proof in constant time [SYNC-18]; PROOF_INVALID if it is not the proof of `prover`
/// for `verifier` over `nonce` under `key`, or is not 32 bytes.
pub fn check(
    key: &[u8; KEY_LEN],
    thread: &ThreadId,
    prover: &LogId,
    verifier: &LogId,
    nonce: &AuthNonce,
    proof: &[u8],
) -> Result<()> {
    let mut mac = <Hmac<Sha256>>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(&transcript(thread, prover, verifier, nonce));
    mac.verify_slice(proof).map_err(|_| {
        Error::new(
            ErrorCode::ProofInvalid,
            format!("the proof of {prover} for {verifier} in thread {thread} does not verify"),
        )
    })
}

/// `"threads/gossip/v1" ‖ TID`: the associated data of a sealed publication [SYNC-24].
pub fn publication_ad(thread: &ThreadId) -> Vec<u8> {
    [GOSSIP_LABEL.as_bytes(), thread.as_bytes()].concat()
}

/// Seals a sync message for the thread's topic: `nonce(24) ‖ XChaCha20-Poly1305(gossip key)`
/// with a fresh random nonce [SYNC-24].
pub fn seal_publication(
    thread: &ThreadId,
    follow: &FollowKey,
    message: &[u8],
    rng: &mut impl CryptoRng,
) -> Vec<u8> {
    seal::seal(
        &gossip_key(thread, follow),
        &publication_ad(thread),
        message,
        rng,
    )
}

/// Opens a publication on the thread's topic [SYNC-24]; PUBLICATION_INVALID if it is shorter
/// than a nonce and a tag or does not open (another key, another thread, tampered bytes).
pub fn open_publication(thread: &ThreadId, follow: &FollowKey, sealed: &[u8]) -> Result<Vec<u8>> {
    seal::open(
        seal::Layer::Record,
        &gossip_key(thread, follow),
        &publication_ad(thread),
        sealed,
    )
    .map_err(|_| {
        Error::new(
            ErrorCode::PublicationInvalid,
            format!(
                "a publication of {} bytes does not open with thread {thread}'s gossip key",
                sealed.len()
            ),
        )
    })
}

/// The reference's stateless nonce for `peer` and `thread` in nonce bucket `bucket`
/// (informative, [SYNC-19]): the first 16 bytes of
/// `HMAC-SHA256(secret, "nonce" ‖ u64be(bucket) ‖ peer ‖ thread)`.
pub fn stateless_nonce(
    secret: &[u8; 32],
    bucket: u64,
    peer: &LogId,
    thread: &ThreadId,
) -> AuthNonce {
    let mac = hmac(
        secret,
        &[
            b"nonce",
            &bucket.to_be_bytes(),
            &peer.to_bytes(),
            thread.as_bytes(),
        ],
    );
    let mut nonce = [0u8; AUTH_NONCE_LEN];
    nonce.copy_from_slice(&mac[..AUTH_NONCE_LEN]);
    nonce
}

/// The reference's decoy proof (informative, [SYNC-20]): what a peer that does not hold the
/// thread, or must refuse the peer, sends where a proof goes; pseudo-random to anyone without
/// `secret`, so it looks like a proof to anyone without the proof key.
pub fn decoy_proof(secret: &[u8; 32], peer: &LogId, thread: &ThreadId, nonce: &[u8]) -> Proof {
    hmac(
        secret,
        &[b"decoy", &peer.to_bytes(), nonce, thread.as_bytes()],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::Variant;
    use crate::keys::IdentityKey;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    fn setup() -> (ThreadId, FollowKey, LogId, LogId) {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let thread = ThreadId::generate(Variant::Raw, &mut rng);
        let follow = FollowKey::generate(&mut rng);
        let a = IdentityKey::generate(&mut rng).log_id();
        let b = IdentityKey::generate(&mut rng).log_id();
        (thread, follow, a, b)
    }

    #[test]
    fn a_proof_checks_only_for_its_prover_verifier_nonce_and_key() {
        let (thread, follow, a, b) = setup();
        let key = proof_key(&thread, &follow);
        let nonce = [9u8; AUTH_NONCE_LEN];
        let proof = prove(&key, &thread, &a, &b, &nonce);
        assert_eq!(check(&key, &thread, &a, &b, &nonce, &proof), Ok(()));
        let code = |r: Result<()>| r.map_err(|e| e.code);
        let bad = Err(ErrorCode::ProofInvalid);
        // Reflected: the roles swapped.
        assert_eq!(code(check(&key, &thread, &b, &a, &nonce, &proof)), bad);
        assert_eq!(code(check(&key, &thread, &a, &b, &[8; 16], &proof)), bad);
        assert_eq!(code(check(&[0; 32], &thread, &a, &b, &nonce, &proof)), bad);
        assert_eq!(
            code(check(&key, &thread, &a, &b, &nonce, &proof[..31])),
            bad
        );
        // The proof key is not the follow key.
        assert_ne!(key, *follow.as_bytes());
    }

    /// Checks the decoy of [SYNC-20]: it must look like a proof to anyone without the proof key,
    /// so, as a proof does, it is the same for the same question and changes with the nonce, the
    /// asking peer and the thread; and it does not check as a proof.
    #[test]
    fn sync_20_a_decoy_changes_with_nonce_peer_and_thread_as_a_proof_does() {
        let (thread, follow, a, b) = setup();
        let secret = [5u8; 32];
        let nonce = [9u8; AUTH_NONCE_LEN];
        let decoy = decoy_proof(&secret, &a, &thread, &nonce);
        assert_eq!(decoy, decoy_proof(&secret, &a, &thread, &nonce));
        let other_thread = ThreadId::generate(Variant::Raw, &mut ChaCha20Rng::seed_from_u64(8));
        for other in [
            decoy_proof(&secret, &b, &thread, &nonce),
            decoy_proof(&secret, &a, &thread, &[8; AUTH_NONCE_LEN]),
            decoy_proof(&secret, &a, &other_thread, &nonce),
            decoy_proof(&[6; 32], &a, &thread, &nonce),
        ] {
            assert_ne!(other, decoy);
        }
        let key = proof_key(&thread, &follow);
        let code = check(&key, &thread, &b, &a, &nonce, &decoy).map_err(|e| e.code);
        assert_eq!(code, Err(ErrorCode::ProofInvalid));
    }

    #[test]
    fn a_publication_opens_only_in_its_thread_and_untampered() {
        let (thread, follow, _, _) = setup();
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let sealed = seal_publication(&thread, &follow, b"records", &mut rng);
        assert_eq!(
            open_publication(&thread, &follow, &sealed),
            Ok(b"records".to_vec())
        );
        let other = ThreadId::generate(Variant::Raw, &mut rng);
        let mut tampered = sealed.clone();
        tampered[30] ^= 1;
        for (t, bytes) in [
            (&other, &sealed[..]),
            (&thread, &tampered[..]),
            (&thread, &[0u8; 39][..]),
        ] {
            assert_eq!(
                open_publication(t, &follow, bytes).map_err(|e| e.code),
                Err(ErrorCode::PublicationInvalid)
            );
        }
        assert!(topic(&thread, &follow).starts_with('b'));
        assert_ne!(topic(&thread, &follow), thread.to_string());
    }
}

/// The worked example of spec/sync.md 7.12, pinned: the text there shows these bytes.
#[cfg(test)]
mod worked_example {
    use super::*;
    use crate::id::Variant;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
            .collect()
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    fn log_id(key: &str) -> LogId {
        let key: [u8; 32] = unhex(key).try_into().expect("32 bytes");
        LogId::from_public_key(ed25519_dalek::VerifyingKey::from_bytes(&key).expect("a point"))
            .expect("not small order")
    }

    #[test]
    fn the_spec_worked_example_is_what_the_code_computes() {
        let random: Vec<u8> = (0u8..32).collect();
        let thread = ThreadId::from_parts(Variant::Raw, &random).expect("tid");
        let follow = FollowKey::from_slice(&(0x20u8..0x40).collect::<Vec<_>>()).expect("key");
        // RFC 8032 section 7.1, TEST 1 and TEST 2 public keys.
        let prover = log_id("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
        let verifier = log_id("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c");
        let nonce: AuthNonce = (0xa0u8..0xb0).collect::<Vec<_>>().try_into().expect("16");
        let key = proof_key(&thread, &follow);
        assert_eq!(
            hex(&key),
            "541692596243de149b2efd83ffc8a81f6113fbd66c01b70b17b209f23d0d0a2e"
        );
        assert_eq!(
            hex(&transcript(&thread, &prover, &verifier, &nonce)),
            concat!(
                "a66565706f636800656c6162656c75746872656164732f6d656d626572736869702f7631",
                "656e6f6e636550a0a1a2a3a4a5a6a7a8a9aaabacadaeaf",
                "6670726f7665725826002408011220d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
                "6674687265616458220155000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
                "68766572696669657258260024080112203d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"
            )
        );
        assert_eq!(
            hex(&prove(&key, &thread, &prover, &verifier, &nonce)),
            "6a92c1781bc40e961d6f5435853d1ec508ed4b65eec9c9cdb050e23d210be7bd"
        );
        assert_eq!(
            topic(&thread, &follow),
            "bawb6tflpfsmzm6ux7q5nz5v3fet576acnsr5lwyhireotyedrevq"
        );
        assert_eq!(
            hex(&gossip_key(&thread, &follow)),
            "a1cbc119ca780a96b1834fbf072afbd6160bb4326d551d99ee04786e6ef389d0"
        );
        assert_eq!(
            hex(&seal::seal_with_nonce(
                &gossip_key(&thread, &follow),
                &[0x11; 24],
                &publication_ad(&thread),
                b"hi"
            )),
            "1111111111111111111111111111111111111111111111118faeae5bc4ff3e72c4afee68ebca5859d891"
        );
    }
}
