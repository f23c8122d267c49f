//! The address book (spec/sync.md, [SYNC-9]): where each peer can be reached, with expiry.
//!
//! The key book is each thread's [`crate::keys::KeySet`] and the head book each log's
//! [`crate::log::Log`]; both live with the thread in [`crate::sync`]. Addresses are different:
//! they go stale as peers move, so each carries an expiry time and a [`AddrBook::expire`] on every
//! tick forgets the old ones. Time is always an argument, in milliseconds; an address learned
//! before the peer's first tick (from its store, or an invite read at start-up) is timed from that
//! tick.

use std::collections::BTreeMap;

use multiaddr::{Multiaddr, Protocol};

use crate::id::LogId;

/// How long an address is kept after it was last learned or confirmed [SYNC-9].
pub const ADDR_TTL_MS: u64 = 60 * 60 * 1000;

/// Peers' multiaddrs, each with the time it expires (`None`: not timed yet) [SYNC-9].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddrBook {
    addrs: BTreeMap<LogId, BTreeMap<Multiaddr, Option<u64>>>,
}

impl AddrBook {
    /// Adds or refreshes `addr` for `peer` until `now + ADDR_TTL_MS` (`now` is `None` before the
    /// first tick). The address is kept ending in `/p2p/<peer>`, the form a log address embeds
    /// [ADDR-1]; an address naming another peer is ignored. True if the address is new.
    pub fn add(&mut self, peer: LogId, addr: Multiaddr, now: Option<u64>) -> bool {
        let Some(addr) = with_peer(addr, &peer) else {
            return false;
        };
        let expires = now.map(|now| now.saturating_add(ADDR_TTL_MS));
        self.addrs
            .entry(peer)
            .or_default()
            .insert(addr, expires)
            .is_none()
    }

    /// The live addresses of `peer`, in order.
    pub fn get(&self, peer: &LogId) -> Vec<Multiaddr> {
        self.addrs
            .get(peer)
            .map(|a| a.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Forgets every address whose expiry is at or before `now`; starts the clock of those not
    /// timed yet.
    pub fn expire(&mut self, now: u64) {
        for addrs in self.addrs.values_mut() {
            for expires in addrs.values_mut() {
                expires.get_or_insert(now.saturating_add(ADDR_TTL_MS));
            }
            addrs.retain(|_, expires| expires.is_some_and(|e| e > now));
        }
        self.addrs.retain(|_, addrs| !addrs.is_empty());
    }
}

/// `addr` ending in `/p2p/<peer>`: appended when missing, `None` when it names another peer.
pub fn with_peer(addr: Multiaddr, peer: &LogId) -> Option<Multiaddr> {
    match addr.iter().last() {
        Some(Protocol::P2p(named)) => (named == peer.to_peer_id()).then_some(addr),
        _ => Some(addr.with(Protocol::P2p(peer.to_peer_id()))),
    }
}

/// When a request not yet answered is sent again [SYNC-10]: after 1 s, then twice as long each
/// time up to 32 s; after [`MAX_ATTEMPTS`] the request is dropped and head exchange takes over.
pub fn retry_delay(attempt: u32) -> u64 {
    1000u64 << attempt.min(5)
}

/// Sends of one request before it is given up [SYNC-10].
pub const MAX_ATTEMPTS: u32 = 6;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::IdentityKey;

    fn peer(seed: u8) -> LogId {
        IdentityKey::from_seed(&[seed; 32]).log_id()
    }

    #[test]
    fn addresses_expire_after_their_ttl_unless_refreshed() {
        let (a, b) = (peer(1), peer(2));
        let tcp: Multiaddr = "/ip4/127.0.0.1/tcp/4001".parse().expect("multiaddr");
        let mut book = AddrBook::default();
        book.add(a, tcp.clone(), Some(0));
        book.add(b, tcp.clone(), None);
        assert_eq!(
            book.get(&a),
            vec![tcp.clone().with(Protocol::P2p(a.to_peer_id()))]
        );
        book.expire(ADDR_TTL_MS / 2);
        assert_eq!(
            book.get(&b).len(),
            1,
            "b's address is timed from the first expiry"
        );
        book.expire(ADDR_TTL_MS);
        assert!(book.get(&a).is_empty(), "a's address expired");
        assert_eq!(book.get(&b).len(), 1, "b's lives until half a TTL later");
        book.expire(ADDR_TTL_MS / 2 + ADDR_TTL_MS);
        assert!(book.get(&b).is_empty());
    }

    #[test]
    fn an_address_naming_another_peer_is_not_filed_under_this_one() {
        let (a, b) = (peer(3), peer(4));
        let of_b: Multiaddr = format!("/ip4/10.0.0.1/tcp/1/p2p/{b}")
            .parse()
            .expect("multiaddr");
        let mut book = AddrBook::default();
        book.add(a, of_b, Some(0));
        assert!(book.get(&a).is_empty());
    }

    #[test]
    fn retries_back_off_exponentially_to_a_cap() {
        let delays: Vec<u64> = (0..8).map(retry_delay).collect();
        assert_eq!(delays, [1000, 2000, 4000, 8000, 16000, 32000, 32000, 32000]);
    }
}
