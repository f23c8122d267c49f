//! An in-memory network for tests, benches and examples: it carries the bytes [`Peer`]s want
//! sent between them, on a clock it keeps, and wakes them when they ask to be woken (spec/sync.md,
//! [SYNC-3]).

use std::collections::BTreeSet;

use rand_core::CryptoRng;

use super::{Destination, Message, Peer};
use crate::error::{Error, ErrorCode, Result};
use crate::id::LogId;
use crate::store::Store;

/// Rounds after which [`Net::pump`] gives up: peers that still talk then never stop.
const MAX_ROUNDS: usize = 1_000_000;

/// An in-memory network: a clock, and which peers are offline. The peers stay the caller's; each
/// call takes the ones to connect.
///
/// Publications on a topic [SYNC-4] are dropped unless [`Net::with_gossip`] asked for them: the
/// protocol works without publish/subscribe, and most tests want to see that.
#[derive(Debug, Clone, Default)]
pub struct Net {
    now: u64,
    offline: BTreeSet<LogId>,
    gossip: bool,
    carried: u64,
}

impl Net {
    /// A network whose clock reads `now`, every peer online.
    pub fn new(now: u64) -> Net {
        Net {
            now,
            ..Net::default()
        }
    }

    /// The same network, carrying each publication to every other peer that holds the thread.
    pub fn with_gossip(mut self) -> Net {
        self.gossip = true;
        self
    }

    /// The clock's reading.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// How many messages were delivered so far.
    pub fn carried(&self) -> u64 {
        self.carried
    }

    /// Takes `peer` offline (messages from and to it are lost) or back online.
    pub fn set_online(&mut self, peer: LogId, online: bool) {
        if online {
            self.offline.remove(&peer);
        } else {
            self.offline.insert(peer);
        }
    }

    /// Carries every message between the online `peers`, round by round, until none is left;
    /// returns the rounds. Messages to a peer not among `peers`, or from or to an offline one,
    /// are lost. Fails if a peer's store fails, or if the peers never stop talking.
    pub fn pump<R: CryptoRng, S: Store>(&mut self, peers: &mut [&mut Peer<R, S>]) -> Result<usize> {
        for round in 0..MAX_ROUNDS {
            let mut moved = false;
            for i in 0..peers.len() {
                let from = peers[i].id();
                while let Some(transmit) = peers[i].poll_transmit() {
                    moved = true;
                    for j in self.recipients(peers, i, &transmit.destination) {
                        match &transmit.destination {
                            Destination::Peer(_) => {
                                peers[j].handle_message(self.now, from, &transmit.bytes)?;
                            }
                            Destination::Topic(thread) => {
                                let topic = peers[j].topic(thread)?;
                                peers[j].handle_publication(
                                    self.now,
                                    from,
                                    &topic,
                                    &transmit.bytes,
                                )?;
                            }
                        }
                        self.carried += 1;
                    }
                }
            }
            if !moved {
                return Ok(round);
            }
        }
        Err(Error::new(
            ErrorCode::Internal,
            format!("peers still talking after {MAX_ROUNDS} rounds"),
        ))
    }

    fn recipients<R: CryptoRng, S: Store>(
        &self,
        peers: &[&mut Peer<R, S>],
        sender: usize,
        destination: &Destination,
    ) -> Vec<usize> {
        if self.offline.contains(&peers[sender].id()) {
            return Vec::new();
        }
        let online = |j: &usize| *j != sender && !self.offline.contains(&peers[*j].id());
        match destination {
            Destination::Peer(to) => (0..peers.len())
                .filter(|j| peers[*j].id() == *to)
                .filter(online)
                .collect(),
            Destination::Topic(thread) if self.gossip => (0..peers.len())
                .filter(|j| peers[*j].keys(thread).is_ok())
                .filter(online)
                .collect(),
            Destination::Topic(_) => Vec::new(),
        }
    }

    /// Everything `peer` wants sent to single peers, decoded, oldest first, for a test that looks
    /// at the messages: each with its recipient, or `None` for a publication [SYNC-4], opened
    /// with the thread's gossip key [SYNC-24]. Bytes that do not decode or open (the peer never
    /// sends any) are skipped.
    pub fn outbox<R: CryptoRng, S: Store>(peer: &mut Peer<R, S>) -> Vec<(Option<LogId>, Message)> {
        std::iter::from_fn(|| peer.poll_transmit())
            .collect::<Vec<_>>()
            .into_iter()
            .filter_map(|t| match t.destination {
                Destination::Peer(to) => Some((Some(to), Message::from_bytes(&t.bytes).ok()?)),
                Destination::Topic(thread) => {
                    let follow = &peer.keys(&thread).ok()?.follow;
                    let plain =
                        crate::membership::open_publication(&thread, follow, &t.bytes).ok()?;
                    Some((None, Message::from_bytes(&plain).ok()?))
                }
            })
            .collect()
    }

    /// The messages `peer` wants sent to single peers, decoded, oldest first; publications are
    /// dropped.
    pub fn sent<R: CryptoRng, S: Store>(peer: &mut Peer<R, S>) -> Vec<(LogId, Message)> {
        Net::outbox(peer)
            .into_iter()
            .filter_map(|(to, message)| Some((to?, message)))
            .collect()
    }

    /// Lets time run to `until`: wakes each online peer whenever its [`Peer::poll_timeout`]
    /// comes, pumping messages after every wake-up, then sets the clock to `until`.
    pub fn run_until<R: CryptoRng, S: Store>(
        &mut self,
        peers: &mut [&mut Peer<R, S>],
        until: u64,
    ) -> Result<()> {
        self.pump(peers)?;
        loop {
            let next = peers
                .iter()
                .filter(|p| !self.offline.contains(&p.id()))
                .filter_map(|p| p.poll_timeout())
                .min();
            match next {
                Some(at) if at <= until => {
                    self.now = self.now.max(at);
                    for peer in peers.iter_mut() {
                        if !self.offline.contains(&peer.id())
                            && peer.poll_timeout().is_some_and(|t| t <= self.now)
                        {
                            peer.handle_timeout(self.now)?;
                        }
                    }
                    self.pump(peers)?;
                }
                _ => break,
            }
        }
        self.now = self.now.max(until);
        Ok(())
    }
}
