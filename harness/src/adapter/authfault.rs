//! Membership bugs the bug catalogue plants in the reference's nodes [HP-86]: a verifier that
//! takes a proof over a nonce [SYNC-19] does not let it take.
//!
//! The node itself stays honest. Before an `auth` reaches it, a proof that checks over a nonce
//! the bug would accept, but not over one [SYNC-19] allows, is replaced by the prover's proof
//! over the node's current nonce for it: the node then marks the prover proven, as a node with
//! the bug would. Rewriting a proof needs the follow key (the node holds it) and the node's nonce,
//! which the node derives from a local secret: the second draw of its seed's RNG, after its
//! identity, as in [`threads::sync::Peer::from_seed`] [HP-29].

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use sha2::{Digest, Sha256};
use threads::id::{LogId, ThreadId};
use threads::keys::IdentityKey;
use threads::membership::{self, AuthNonce, NONCE_BUCKET_MS};
use threads::sync::{Message, Peer};

/// A membership bug of the catalogue [HP-86].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFault {
    /// Accepts a proof over the nonce it issued to another peer for the thread (breaks
    /// [SYNC-19]).
    OtherPeersNonce,
    /// Accepts a proof over the nonce it issued to the prover for another thread (breaks
    /// [SYNC-19]).
    OtherThreadsNonce,
    /// Accepts a nonce for ten minutes instead of at most 120 seconds (breaks [SYNC-19]).
    StaleNonce,
    /// Sends every peer, for every thread, the same nonce: one anyone can compute from its peer
    /// ID and the clock (breaks [SYNC-19]).
    PredictableNonce,
}

/// How many nonce buckets back [`AuthFault::StaleNonce`] still accepts: ten minutes.
const STALE_BUCKETS: u64 = 10;

/// The local secret of the node of `seed`: its RNG's second draw [HP-29].
pub fn secret_of(seed: [u8; 32]) -> [u8; 32] {
    let mut rng = ChaCha20Rng::from_seed(seed);
    let _identity = IdentityKey::generate(&mut rng);
    let mut secret = [0u8; 32];
    rng.fill_bytes(&mut secret);
    secret
}

/// The message `bytes` from `from` as the node `peer` (of seed `seed`) with `fault` would take
/// it at `time`, among the peers `known`: a proof only the fault accepts becomes one the node
/// accepts; anything else is unchanged.
pub fn rewrite(
    fault: AuthFault,
    peer: &Peer<impl rand_core::CryptoRng>,
    seed: [u8; 32],
    known: &[LogId],
    from: LogId,
    bytes: &[u8],
    time: u64,
) -> Vec<u8> {
    let Ok(Message::Auth {
        thread,
        nonce,
        proof,
    }) = Message::from_bytes(bytes)
    else {
        return bytes.to_vec();
    };
    let Ok(keys) = peer.keys(&thread) else {
        return bytes.to_vec();
    };
    if proof.is_empty() {
        return bytes.to_vec();
    }
    let key = membership::proof_key(&thread, &keys.follow);
    let (me, secret, bucket) = (peer.id(), secret_of(seed), time / NONCE_BUCKET_MS);
    let nonce_of = |b: u64, p: &LogId, t: &ThreadId| membership::stateless_nonce(&secret, b, p, t);
    let checks = |n: &AuthNonce| membership::check(&key, &thread, &from, &me, n, &proof).is_ok();
    let recent = [Some(bucket), bucket.checked_sub(1)];
    if recent
        .iter()
        .flatten()
        .any(|&b| checks(&nonce_of(b, &from, &thread)))
    {
        return bytes.to_vec();
    }
    let lax: Vec<AuthNonce> = match fault {
        AuthFault::OtherPeersNonce => known
            .iter()
            .filter(|p| **p != from)
            .flat_map(|p| recent.iter().flatten().map(|&b| nonce_of(b, p, &thread)))
            .collect(),
        AuthFault::OtherThreadsNonce => peer
            .threads()
            .iter()
            .filter(|t| **t != thread)
            .flat_map(|t| recent.iter().flatten().map(|&b| nonce_of(b, &from, t)))
            .collect(),
        AuthFault::PredictableNonce => recent
            .iter()
            .flatten()
            .map(|&b| predictable(&me, b))
            .collect(),
        AuthFault::StaleNonce => (2..=STALE_BUCKETS)
            .filter_map(|back| bucket.checked_sub(back))
            .map(|b| nonce_of(b, &from, &thread))
            .collect(),
    };
    if !lax.iter().any(checks) {
        return bytes.to_vec();
    }
    let current = nonce_of(bucket, &from, &thread);
    Message::Auth {
        thread: thread.clone(),
        nonce,
        proof: membership::prove(&key, &thread, &from, &me, &current).to_vec(),
    }
    .to_bytes()
}

/// The nonce of [`AuthFault::PredictableNonce`]: the first 16 bytes of SHA-256 of `nonce`, the
/// node's peer ID and the nonce bucket, which any peer can compute.
fn predictable(me: &LogId, bucket: u64) -> AuthNonce {
    let digest = Sha256::new()
        .chain_update(b"nonce")
        .chain_update(me.to_bytes())
        .chain_update(bucket.to_be_bytes())
        .finalize();
    let mut nonce = [0u8; 16];
    nonce.copy_from_slice(&digest[..16]);
    nonce
}

/// A message the node `me` sends at `time`, as the node with `fault` sends it: with
/// [`AuthFault::PredictableNonce`], an `auth` carries the predictable nonce in place of its own.
pub fn rewrite_sent(fault: AuthFault, me: &LogId, bytes: Vec<u8>, time: u64) -> Vec<u8> {
    if fault != AuthFault::PredictableNonce {
        return bytes;
    }
    match Message::from_bytes(&bytes) {
        Ok(Message::Auth {
            thread,
            nonce,
            proof,
        }) if !nonce.is_empty() => Message::Auth {
            thread,
            nonce: predictable(me, time / NONCE_BUCKET_MS).to_vec(),
            proof,
        }
        .to_bytes(),
        _ => bytes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use threads::id::Variant;

    /// The secret this module derives is the node's: a proof over the nonce it gives in a
    /// challenge is the proof the node accepts.
    #[test]
    fn the_derived_secret_gives_the_nodes_own_nonces() {
        let seed = [7; 32];
        let mut node = Peer::from_seed(seed);
        let (thread, _) = node.create_thread(1_000, Variant::Raw).unwrap();
        let prover = Peer::from_seed([8; 32]).id();
        let challenge = Message::Auth {
            thread: thread.clone(),
            nonce: vec![1; 16],
            proof: Vec::new(),
        };
        node.handle_message(2_000, prover, &challenge.to_bytes())
            .unwrap();
        let sent = node.poll_transmit().expect("the node answers a challenge");
        let Ok(Message::Auth { nonce, .. }) = Message::from_bytes(&sent.bytes) else {
            panic!("the answer is an auth");
        };
        let ours = membership::stateless_nonce(
            &secret_of(seed),
            2_000 / NONCE_BUCKET_MS,
            &prover,
            &thread,
        );
        assert_eq!(nonce, ours.to_vec());
    }
}
