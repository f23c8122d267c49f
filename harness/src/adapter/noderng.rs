//! A node's randomness: ChaCha20 from its seed, drawn exactly as [`threads::sync::Peer::from_seed`]
//! draws it [HP-29], but shared with the adapter, so that the bug catalogue can plant a writer
//! whose appends reuse randomness [LOG-1], [HP-86]. Without the fault nothing rewinds it, and a
//! node draws the same bytes as one made by `Peer::from_seed`.

use std::convert::Infallible;
use std::sync::{Arc, Mutex, PoisonError};

use rand_chacha::ChaCha20Rng;
use rand_core::{SeedableRng, TryCryptoRng, TryRng};
use threads::keys::IdentityKey;
use threads::sync::Peer;

/// A writer bug of the catalogue [HP-86].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendFault {
    /// Every `log.append` of a node draws the randomness its first one drew: the same content
    /// key and the same header and body nonces (breaks [LOG-1]).
    ReplaysRandomness,
}

/// A node's RNG; clones share one stream.
#[derive(Clone)]
pub struct NodeRng(Arc<Mutex<ChaCha20Rng>>);

impl NodeRng {
    /// The stream of `seed` [HP-29].
    pub fn from_seed(seed: [u8; 32]) -> NodeRng {
        NodeRng(Arc::new(Mutex::new(ChaCha20Rng::from_seed(seed))))
    }

    /// How far the stream has been drawn, in 32-bit words.
    pub fn position(&self) -> u128 {
        self.with(|rng| rng.get_word_pos())
    }

    /// Moves the stream to `position`: what follows repeats or skips draws.
    pub fn seek(&self, position: u128) {
        self.with(|rng| rng.set_word_pos(position));
    }

    fn with<T>(&self, f: impl FnOnce(&mut ChaCha20Rng) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl TryRng for NodeRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        self.with(|rng| rng.try_next_u32())
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        self.with(|rng| rng.try_next_u64())
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.with(|rng| rng.try_fill_bytes(dst))
    }
}

impl TryCryptoRng for NodeRng {}

/// The node of `seed`: its identity is the stream's first draw, as in `Peer::from_seed` [HP-29];
/// also the handle on its stream.
pub fn node(seed: [u8; 32]) -> (Peer<NodeRng>, NodeRng) {
    let rng = NodeRng::from_seed(seed);
    let identity = IdentityKey::generate(&mut rng.clone());
    (Peer::new(identity, rng.clone()), rng)
}

#[cfg(test)]
mod tests {
    use super::*;
    use threads::id::Variant;

    #[test]
    fn a_node_draws_what_peer_from_seed_draws() {
        let seed = [3; 32];
        let (mut ours, _) = node(seed);
        let mut theirs = Peer::from_seed(seed);
        assert_eq!(ours.id(), theirs.id());
        let a = ours.create_thread(5, Variant::Raw).unwrap();
        let b = theirs.create_thread(5, Variant::Raw).unwrap();
        assert_eq!(a, b);
        let (ta, tb) = (a.0, b.0);
        assert_eq!(
            ours.append(6, &ta, b"x").unwrap(),
            theirs.append(6, &tb, b"x").unwrap()
        );
    }

    #[test]
    fn seeking_back_repeats_the_draws() {
        let mut rng = NodeRng::from_seed([4; 32]);
        let at = rng.position();
        let first = rng.try_next_u64().unwrap();
        rng.seek(at);
        assert_eq!(rng.try_next_u64().unwrap(), first);
    }
}
