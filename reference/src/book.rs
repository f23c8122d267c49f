//! The address book (spec/sync.md, [SYNC-9]): where each peer can be reached, with expiry.
//!
//! The key book is each thread's [`crate::keys::KeySet`] and the head book each log's
//! [`crate::log::Log`]; both live with the thread in [`crate::sync`]. Addresses are different:
//! they go stale as peers move, so each carries an expiry time and a [`AddrBook::expire`] on every
//! timeout forgets the old ones. Time is always an argument, in milliseconds.

use std::collections::BTreeMap;

use multiaddr::{Multiaddr, Protocol};

use crate::id::LogId;

/// How long an address is kept after it was last learned or confirmed [SYNC-9].
pub const ADDR_TTL_MS: u64 = 60 * 60 * 1000;

/// Peers' multiaddrs, each with the time it expires [SYNC-9].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddrBook {
    addrs: BTreeMap<LogId, BTreeMap<Multiaddr, u64>>,
}

impl AddrBook {
    /// Adds or refreshes `addr` for `peer` until `now + ADDR_TTL_MS`. The address is kept ending in `/p2p/<peer>`, the form a log address embeds
    /// [ADDR-1]; an address naming another peer is ignored. True if the address is new.
    pub fn add(&mut self, peer: LogId, addr: Multiaddr, now: u64) -> bool {
        let Some(addr) = with_peer(addr, &peer) else {
            return false;
        };
        let expires = now.saturating_add(ADDR_TTL_MS);
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

    /// Forgets every address whose expiry is at or before `now`.
    pub fn expire(&mut self, now: u64) {
        for addrs in self.addrs.values_mut() {
            addrs.retain(|_, expires| *expires > now);
        }
        self.addrs.retain(|_, addrs| !addrs.is_empty());
    }

    /// When the next address expires, if any: a peer wants a timeout then [SYNC-9].
    pub fn next_expiry(&self) -> Option<u64> {
        self.addrs.values().flat_map(|a| a.values().copied()).min()
    }
}

/// `addr` ending in `/p2p/<peer>`: appended when missing, `None` when it names another peer.
pub fn with_peer(addr: Multiaddr, peer: &LogId) -> Option<Multiaddr> {
    match addr.iter().last() {
        Some(Protocol::P2p(named)) => (named == peer.to_peer_id()).then_some(addr),
        _ => Some(addr.with(Protocol::P2p(peer.to_peer_id()))),
    }
}

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
        book.add(a, tcp.clone(), 0);
        book.add(b, tcp.clone(), ADDR_TTL_MS / 2);
        assert_eq!(
            book.get(&a),
            vec![tcp.clone().with(Protocol::P2p(a.to_peer_id()))]
        );
        assert_eq!(book.next_expiry(), Some(ADDR_TTL_MS));
        book.expire(ADDR_TTL_MS);
        assert!(book.get(&a).is_empty(), "a's address expired");
        assert_eq!(book.get(&b).len(), 1, "b's lives until half a TTL later");
        assert_eq!(book.next_expiry(), Some(ADDR_TTL_MS / 2 + ADDR_TTL_MS));
        book.expire(ADDR_TTL_MS / 2 + ADDR_TTL_MS);
        assert!(book.get(&b).is_empty());
        assert_eq!(book.next_expiry(), None);
    }

    /// The reference keeps an address for one hour after it was learned, as [SYNC-9] says: it is
    /// still there a millisecond before the hour and gone at it.
    #[test]
    fn an_address_is_kept_for_one_hour() {
        let a = peer(5);
        let tcp: Multiaddr = "/ip4/127.0.0.1/tcp/4001".parse().expect("multiaddr");
        let mut book = AddrBook::default();
        book.add(a, tcp, 0);
        let hour = 3_600_000;
        assert_eq!(book.next_expiry(), Some(hour));
        book.expire(hour - 1);
        assert_eq!(book.get(&a).len(), 1, "kept until the hour");
        book.expire(hour);
        assert!(book.get(&a).is_empty(), "gone at the hour");
    }

    #[test]
    fn an_address_naming_another_peer_is_not_filed_under_this_one() {
        let (a, b) = (peer(3), peer(4));
        let of_b: Multiaddr = format!("/ip4/10.0.0.1/tcp/1/p2p/{b}")
            .parse()
            .expect("multiaddr");
        let mut book = AddrBook::default();
        book.add(a, of_b, 0);
        assert!(book.get(&a).is_empty());
    }
}
