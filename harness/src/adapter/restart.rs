//! A storage bug the bug catalogue plants in the reference's nodes [HP-86]: `node.stop` restarts
//! the node from its store, and the store it restarts from lacks the newest record of each log,
//! as a store that acknowledged a write before it was durable would after a crash (breaks
//! [SYNC-13], by way of [SYNC-12]).

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use threads::error::Result;
use threads::keys::IdentityKey;
use threads::store::{MemoryStore, Store};
use threads::sync::Peer;

/// The node of `seed`, restarted at `now` on a copy of `peer`'s store without the last record of
/// each log [SYNC-13].
pub fn restart_losing_last(
    peer: Peer<ChaCha20Rng>,
    seed: [u8; 32],
    now: u64,
) -> Result<Peer<ChaCha20Rng>> {
    let stored = peer.into_store().load()?;
    let mut store = MemoryStore::new();
    for (thread, contents) in stored {
        store.put_thread(&thread, &contents.meta)?;
        for (log, mut envelopes) in contents.logs {
            envelopes.pop();
            if !envelopes.is_empty() {
                store.put_records(&thread, &log, 1, &envelopes)?;
            }
        }
    }
    // The identity is the seed's first draw, as in `Peer::from_seed` [HP-29].
    let mut rng = ChaCha20Rng::from_seed(seed);
    let identity = IdentityKey::generate(&mut rng);
    Peer::open(identity, rng, store, now)
}
