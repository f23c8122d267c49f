//! Storage bugs the bug catalogue plants in the reference's nodes [HP-86]: `node.stop`
//! restarts the node from its store ([`threads::sync::Peer::open`]), and the store it restarts
//! from is what a store with the bug would hold after a crash.

use ipld_core::ipld::Ipld;
use threads::error::Result;
use threads::store::{MemoryStore, Store};
use threads::sync::Peer;

/// A storage bug of the catalogue [HP-86].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartFault {
    /// The newest record of each log was acknowledged before it was durable, and is lost
    /// (breaks [SYNC-13]).
    LosesLastRecord,
    /// The thread's peers and their addresses were kept in memory only: the stored description
    /// names none (breaks [SYNC-12]).
    ForgetsPeers,
}

use super::noderng::NodeRng;

/// The node of `seed`, restarted at `now` on what `peer`'s store holds with `fault`, and the
/// handle on its new RNG.
pub fn restart(
    fault: RestartFault,
    peer: Peer<NodeRng>,
    seed: [u8; 32],
    now: u64,
) -> Result<(Peer<NodeRng>, NodeRng)> {
    let stored = peer.into_store().load()?;
    let mut store = MemoryStore::new();
    for (thread, contents) in stored {
        let meta = match fault {
            RestartFault::ForgetsPeers => without_peers(&contents.meta),
            RestartFault::LosesLastRecord => None,
        };
        store.put_thread(&thread, meta.as_deref().unwrap_or(&contents.meta))?;
        for (log, mut envelopes) in contents.logs {
            if fault == RestartFault::LosesLastRecord {
                envelopes.pop();
            }
            if !envelopes.is_empty() {
                store.put_records(&thread, &log, 1, &envelopes)?;
            }
        }
    }
    // The identity is the seed's first draw, as in `Peer::from_seed` [HP-29].
    let rng = NodeRng::from_seed(seed);
    let identity = threads::keys::IdentityKey::generate(&mut rng.clone());
    Ok((Peer::open(identity, rng.clone(), store, now)?, rng))
}

/// A stored thread description with its `peers` and `addrs` emptied; `None` if it is no map.
fn without_peers(meta: &[u8]) -> Option<Vec<u8>> {
    let Ipld::Map(mut map) = serde_ipld_dagcbor::from_slice::<Ipld>(meta).ok()? else {
        return None;
    };
    for key in ["addrs", "peers"] {
        map.insert(key.into(), Ipld::List(Vec::new()));
    }
    serde_ipld_dagcbor::to_vec(&Ipld::Map(map)).ok()
}
