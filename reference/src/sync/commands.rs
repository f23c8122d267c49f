//! What the application asks of a peer (spec/sync.md, [SYNC-4], [SYNC-9]; chapters 5 and 6):
//! create and join threads, append events, change the ACL, write invites, file addresses.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use cid::Cid;
use multiaddr::Multiaddr;
use rand_core::CryptoRng;

use super::thread::{GenesisRef, ThreadState};
use super::{
    MAX_APPEND_BATCH, MAX_BATCH_BYTES, MAX_LOGS_PER_THREAD, MAX_PEERS_PER_THREAD, Message,
    PULL_LIMIT, Peer,
};
use crate::acl::{AclAnchor, AclDocument, AclEvent, AclOp, Action, Roles};
use crate::addr::LogAddr;
use crate::book;
use crate::envelope::Envelope;
use crate::error::{Error, ErrorCode, Result};
use crate::id::{LogId, ThreadId, Variant};
use crate::invite::{Invite, InviteRole, InviteTerms, Join, LogEntry};
use crate::keys::{IdentityKey, KeySet};
use crate::log::LogReplica;
use crate::store::Store;

impl<R: CryptoRng, S: Store> Peer<R, S> {
    /// This peer's own addresses, put into the invites it writes [INV-3], [SYNC-9].
    pub fn set_listen_addrs(&mut self, addrs: Vec<Multiaddr>) {
        let me = self.id();
        self.listen = addrs
            .into_iter()
            .filter_map(|a| book::with_peer(a, &me))
            .collect();
    }

    /// Files `addr` for `peer` in the address book at time `now`, for [`book::ADDR_TTL_MS`]
    /// [SYNC-9]. A new address of a peer of a thread is stored with the thread, so a restarted
    /// peer can still reach it [SYNC-12]; STORE_FAILED if that write fails.
    pub fn add_address(&mut self, now: u64, peer: LogId, addr: Multiaddr) -> Result<()> {
        self.check_alive()?;
        self.advance(now);
        if !self.addrs.add(peer, addr, self.now) {
            return Ok(());
        }
        let threads: Vec<ThreadId> = self
            .threads
            .iter()
            .filter(|(_, state)| state.peers.contains(&peer))
            .map(|(thread, _)| thread.clone())
            .collect();
        for thread in threads {
            self.save_thread(&thread)?;
        }
        Ok(())
    }

    /// Creates a thread at time `now` with fresh keys and a log this peer writes; returns the
    /// thread and the log.
    ///
    /// An access-controlled thread's log is the peer's own identity, and its first record is the
    /// genesis naming this peer the only admin [ACL-4].
    pub fn create_thread(&mut self, now: u64, variant: Variant) -> Result<(ThreadId, LogId)> {
        self.check_alive()?;
        self.advance(now);
        let thread = ThreadId::generate(variant, &mut self.rng);
        let keys = KeySet::generate(&mut self.rng);
        let writer = match variant {
            Variant::AccessControlled => self.identity.clone(),
            Variant::Raw => IdentityKey::generate(&mut self.rng),
        };
        let log = writer.log_id();
        let acl = (variant == Variant::AccessControlled).then_some(GenesisRef {
            creator: log,
            genesis: None,
        });
        let state = ThreadState {
            keys,
            writer: Some(writer),
            logs: BTreeMap::from([(log, LogReplica::new(thread.clone(), log))]),
            peers: BTreeSet::new(),
            acl,
            members: Default::default(),
        };
        self.insert_thread(thread.clone(), state);
        self.save_thread(&thread)?;
        if variant == Variant::AccessControlled {
            let genesis = AclEvent::Genesis {
                acl: AclDocument::for_thread(&thread, log),
            };
            let (_, _, cid) = self.append(now, &thread, &genesis.to_bytes())?;
            if let Some(acl) = self.state_mut(&thread)?.acl.as_mut() {
                acl.genesis = Some(cid);
            }
            self.save_thread(&thread)?;
        }
        Ok((thread, log))
    }

    /// Appends an event to this peer's log in `thread`, with header time `now`: stored first,
    /// then pushed to the thread's peers and published on its topic [SYNC-4], [SYNC-12]. Returns
    /// the log, the record's seq and its CID; BLOCK_TOO_LARGE, with nothing appended, for a body
    /// too large for one block [REC-4].
    pub fn append(
        &mut self,
        now: u64,
        thread: &ThreadId,
        body: &[u8],
    ) -> Result<(LogId, u64, Cid)> {
        self.check_alive()?;
        self.advance(now);
        let state = self
            .threads
            .get_mut(thread)
            .ok_or_else(|| super::peer::unknown_thread(thread))?;
        let identity = state.writer.clone().ok_or_else(no_own_log)?;
        let log = identity.log_id();
        let keys = state.keys.clone();
        let replica = state
            .logs
            .entry(log)
            .or_insert_with(|| LogReplica::new(thread.clone(), log));
        let envelope = replica.append_own(&identity, &keys, body, now, &mut self.rng)?;
        let counter = replica.counter();
        let cid = envelope.record_cid();
        self.save_records(thread, log, counter, std::slice::from_ref(&envelope))?;
        self.counters.records_appended += 1;
        // An ACL change applies before the record leaves: a peer it revokes gets nothing more,
        // not even the change [SYNC-22].
        self.after_append(thread, log, 1);
        let bytes = Message::Records {
            thread: thread.clone(),
            log,
            counter,
            envelopes: vec![envelope],
        }
        .to_bytes();
        for peer in self.peers_of(thread) {
            self.send_about(thread, peer, bytes.clone());
        }
        self.publish(thread, bytes);
        Ok((log, counter, cid))
    }

    /// Appends `bodies` as consecutive events of this peer's log in `thread`, with header time
    /// `now`, in one durable store write [SYNC-30]: all are stored before any is pushed,
    /// published or returned, or none is. Returns each record's log, seq and CID, in order.
    ///
    /// The records are signed one after the other (each links the one before it); the writer's
    /// check of its own records uses [`Peer::set_verify_threads`] threads. At most
    /// [`MAX_APPEND_BATCH`] bodies (BAD_REQUEST beyond); none is a no-op. A body too large for
    /// one block is BLOCK_TOO_LARGE [REC-4], and none of the batch is appended.
    pub fn append_batch(
        &mut self,
        now: u64,
        thread: &ThreadId,
        bodies: &[Vec<u8>],
    ) -> Result<Vec<(LogId, u64, Cid)>> {
        self.check_alive()?;
        if bodies.len() > MAX_APPEND_BATCH {
            return Err(Error::new(
                ErrorCode::BadRequest,
                format!(
                    "a batch of {} events; at most {MAX_APPEND_BATCH} are appended at once",
                    bodies.len()
                ),
            ));
        }
        self.advance(now);
        let threads = self.verify_threads;
        let state = self
            .threads
            .get_mut(thread)
            .ok_or_else(|| super::peer::unknown_thread(thread))?;
        let identity = state.writer.clone().ok_or_else(no_own_log)?;
        if bodies.is_empty() {
            return Ok(Vec::new());
        }
        let log = identity.log_id();
        let keys = state.keys.clone();
        let replica = state
            .logs
            .entry(log)
            .or_insert_with(|| LogReplica::new(thread.clone(), log));
        let first = replica.counter() + 1;
        let appended =
            replica.append_own_batch(&identity, &keys, bodies, now, threads, &mut self.rng);
        // Records linked in memory but not stored would be served: a failure stops the peer.
        let envelopes = match appended {
            Ok(envelopes) => envelopes,
            // Refused before anything is linked: the log is as it was.
            Err(e) if matches!(e.code, ErrorCode::KeyUnavailable | ErrorCode::BlockTooLarge) => {
                return Err(e);
            }
            Err(e) => return self.stop_on_failure(Err(e)).map(|()| Vec::new()),
        };
        self.save_records(thread, log, first, &envelopes)?;
        self.counters.records_appended += envelopes.len() as u64;
        let done: Vec<(LogId, u64, Cid)> = envelopes
            .iter()
            .zip(first..)
            .map(|(envelope, seq)| (log, seq, envelope.record_cid()))
            .collect();
        self.after_append(thread, log, envelopes.len());
        for (part, last) in push_batches(&envelopes, first) {
            let bytes = Message::Records {
                thread: thread.clone(),
                log,
                counter: last,
                envelopes: part.to_vec(),
            }
            .to_bytes();
            for peer in self.peers_of(thread) {
                self.send_about(thread, peer, bytes.clone());
            }
            self.publish(thread, bytes);
        }
        Ok(done)
    }

    /// Changes a peer's roles in an access-controlled thread at time `now`: a signed ACL change
    /// event in this peer's log [ACL-5]. Revoking write records the cut: the revoked peer's
    /// counter as known here.
    pub fn set_roles(
        &mut self,
        now: u64,
        thread: &ThreadId,
        peer: LogId,
        roles: Roles,
    ) -> Result<Cid> {
        let view = self.acl_view(thread)?;
        view.acl().may(&self.id(), Action::Admin)?;
        let counter = self.state(thread)?.counter(&peer);
        let change = view
            .acl()
            .next_change(AclOp::set_peer(peer, roles, counter))?;
        let (_, _, cid) = self.append(now, thread, &AclEvent::Change(change).to_bytes())?;
        Ok(cid)
    }

    /// A signed invite for `recipient` [INV-3]: the key set for `role` sealed to it, every log with
    /// the addresses of the peers that serve it [SYNC-9], and, in an access-controlled thread,
    /// the ACL anchor [INV-9].
    pub fn invite(
        &mut self,
        thread: &ThreadId,
        role: InviteRole,
        recipient: LogId,
    ) -> Result<Vec<u8>> {
        let state = self.state(thread)?;
        let servers: Vec<LogId> = std::iter::once(self.id())
            .chain(state.peers.iter().copied())
            .filter(|peer| *peer != recipient)
            .collect();
        let logs = state
            .logs
            .keys()
            .map(|log| LogEntry {
                log: *log,
                addrs: servers
                    .iter()
                    .flat_map(|peer| self.log_addrs(peer, log))
                    .collect(),
            })
            .collect();
        let acl = match &state.acl {
            Some(_) => Some(AclAnchor::of(self.acl_view(thread)?.acl()).to_bytes()),
            None => None,
        };
        let terms = InviteTerms {
            thread: thread.clone(),
            role,
            recipient,
            logs,
            acl,
        };
        let keys = state.keys.clone();
        Ok(Invite::create(&self.identity, terms, &keys, &mut self.rng)?.to_bytes())
    }

    /// The log addresses of `log` at `peer`: one per known address of the peer, or the bare
    /// `/p2p/<peer>/ipel/<log>` when none is known [ADDR-1].
    fn log_addrs(&self, peer: &LogId, log: &LogId) -> Vec<String> {
        let addrs = self.addresses(peer);
        if addrs.is_empty() {
            return vec![format!("/p2p/{peer}/ipel/{log}")];
        }
        addrs.iter().map(|a| format!("{a}/ipel/{log}")).collect()
    }

    /// Joins a thread at time `now` from an invite addressed to this peer [INV-6]: files the
    /// addresses it lists [SYNC-9], asks every listed peer for every listed log; a writer also
    /// starts its own log with a join event [INV-7].
    pub fn join(&mut self, now: u64, invite: &[u8]) -> Result<(ThreadId, InviteRole)> {
        self.check_alive()?;
        self.advance(now);
        let opened = Invite::open(invite, &self.identity)?;
        let me = self.id();
        let mut peers = BTreeSet::from([opened.inviter]);
        for entry in &opened.logs {
            for addr in entry.addrs.iter().filter_map(|a| LogAddr::from_str(a).ok()) {
                peers.insert(addr.peer());
                // A bare `/p2p/<peer>` names the peer but says nothing about where it is.
                if addr.peer_addr().iter().count() > 1 {
                    self.addrs
                        .add(addr.peer(), addr.peer_addr().clone(), self.now);
                }
            }
        }
        let acl = match &opened.acl {
            Some(bytes) => {
                let anchor = AclAnchor::from_bytes(bytes)?;
                // In an access-controlled thread a log's owner serves it too.
                peers.extend(opened.logs.iter().map(|e| e.log));
                Some(GenesisRef {
                    creator: anchor.creator,
                    genesis: Some(anchor.genesis),
                })
            }
            None => None,
        };
        peers.remove(&me);
        let writer = (opened.role == InviteRole::Writer).then(|| match acl {
            Some(_) => self.identity.clone(),
            None => IdentityKey::generate(&mut self.rng),
        });
        let thread = opened.thread;
        let state = ThreadState {
            keys: opened.keys,
            writer,
            logs: opened
                .logs
                .iter()
                .take(MAX_LOGS_PER_THREAD)
                .map(|e| (e.log, LogReplica::new(thread.clone(), e.log)))
                .collect(),
            peers: within_limit(opened.inviter, peers),
            acl,
            members: Default::default(),
        };
        self.insert_thread(thread.clone(), state);
        self.save_thread(&thread)?;
        self.pull_all(&thread);
        if opened.role == InviteRole::Writer {
            self.append(now, &thread, &Join { addrs: Vec::new() }.to_bytes())?;
        }
        Ok((thread, opened.role))
    }

    /// Asks every peer of the thread for everything after this peer's counter, for every log.
    fn pull_all(&mut self, thread: &ThreadId) {
        let Some(state) = self.threads.get(thread) else {
            return;
        };
        // How far each peer is ahead is unknown until it answers: one pull each, then its
        // answer's counter fills the window [SYNC-32].
        let wanted: Vec<(LogId, LogId, u64)> = state
            .peers
            .iter()
            .flat_map(|peer| {
                state
                    .logs
                    .iter()
                    .map(|(log, replica)| (*peer, *log, replica.counter().saturating_add(1)))
            })
            .collect();
        for (peer, log, more) in wanted {
            self.pull(thread, log, peer, more);
        }
    }
}

/// The peers an invite names, at most [`MAX_PEERS_PER_THREAD`], the inviter always among them
/// [SYNC-23].
fn within_limit(inviter: LogId, peers: BTreeSet<LogId>) -> BTreeSet<LogId> {
    let mut kept: BTreeSet<LogId> = peers
        .contains(&inviter)
        .then_some(inviter)
        .into_iter()
        .collect();
    kept.extend(
        peers
            .into_iter()
            .filter(|p| *p != inviter)
            .take(MAX_PEERS_PER_THREAD - kept.len()),
    );
    kept
}

/// `envelopes`, the records from seq `first` on, cut into the batches a pull may answer with
/// [SYNC-5] (at most [`PULL_LIMIT`] records and [`MAX_BATCH_BYTES`] unless one alone is larger),
/// each with the seq of its last record: what a receiver accepts in one `records` message.
pub(super) fn push_batches(envelopes: &[Envelope], first: u64) -> Vec<(&[Envelope], u64)> {
    let limit = usize::try_from(PULL_LIMIT).unwrap_or(usize::MAX);
    let mut out = Vec::new();
    let mut start = 0;
    while start < envelopes.len() {
        let mut end = start;
        let mut bytes = 0usize;
        while end < envelopes.len() && end - start < limit {
            bytes = bytes.saturating_add(envelopes[end].size());
            if end > start && bytes > MAX_BATCH_BYTES {
                break;
            }
            end += 1;
        }
        out.push((&envelopes[start..end], first + end as u64 - 1));
        start = end;
    }
    out
}

/// The error of an append to a thread in which this peer holds no log of its own [SYNC-4].
fn no_own_log() -> Error {
    Error::new(
        ErrorCode::KeyUnavailable,
        "this peer holds no log of its own in the thread",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::IdentityKey;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    /// Checks [SYNC-5] for pushes: a batch append is pushed in batches a pull may answer with,
    /// each at most MAX_BATCH_BYTES: three records of a third of it fill one batch exactly, and
    /// a fourth goes in the next.
    #[test]
    fn sync_5_pushed_batches_keep_within_max_batch_bytes() {
        let third = MAX_BATCH_BYTES / 3;
        let envelopes: Vec<Envelope> = (0..4).map(|_| Envelope::of_size(third)).collect();
        let cut: Vec<(usize, u64)> = push_batches(&envelopes, 1)
            .iter()
            .map(|(part, last)| (part.len(), *last))
            .collect();
        assert_eq!(cut, [(3, 3), (1, 4)]);
    }

    /// Checks [SYNC-5] at its bound: records that add up to exactly MAX_BATCH_BYTES are pushed
    /// in one batch; a byte more starts the next.
    #[test]
    fn sync_5_pushed_records_of_exactly_max_batch_bytes_share_one_batch() {
        let half = MAX_BATCH_BYTES / 2;
        let exact = [Envelope::of_size(half), Envelope::of_size(half)];
        let cut: Vec<(usize, u64)> = push_batches(&exact, 5)
            .iter()
            .map(|(part, last)| (part.len(), *last))
            .collect();
        assert_eq!(cut, [(2, 6)]);
        let over = [Envelope::of_size(half), Envelope::of_size(half + 1)];
        let cut: Vec<(usize, u64)> = push_batches(&over, 5)
            .iter()
            .map(|(part, last)| (part.len(), *last))
            .collect();
        assert_eq!(cut, [(1, 5), (1, 6)]);
    }

    /// Checks [SYNC-5]: a record larger than MAX_BATCH_BYTES alone is pushed alone, in a batch
    /// of its own, and the records after it follow; no batch is empty.
    #[test]
    fn sync_5_a_record_larger_than_max_batch_bytes_is_pushed_alone() {
        let envelopes = [Envelope::of_size(MAX_BATCH_BYTES + 1), Envelope::of_size(1)];
        let cut: Vec<(usize, u64)> = push_batches(&envelopes, 1)
            .iter()
            .map(|(part, last)| (part.len(), *last))
            .collect();
        assert_eq!(cut, [(1, 1), (1, 2)]);
    }

    /// Checks [SYNC-23]: an invite naming more than MAX_PEERS_PER_THREAD peers is cut to exactly
    /// that many, the inviter kept among them whatever its place in the order.
    #[test]
    fn sync_23_an_invite_keeps_at_most_max_peers_with_the_inviter_among_them() {
        let mut rng = ChaCha20Rng::seed_from_u64(23);
        let peers: BTreeSet<LogId> = (0..MAX_PEERS_PER_THREAD + 40)
            .map(|_| IdentityKey::generate(&mut rng).log_id())
            .collect();
        // The largest ID sorts last: it would be cut if taken in order.
        let inviter = *peers.last().expect("peers");
        let kept = within_limit(inviter, peers.clone());
        assert_eq!(kept.len(), MAX_PEERS_PER_THREAD);
        assert!(kept.contains(&inviter));
        assert!(kept.is_subset(&peers));
        let outsider = IdentityKey::generate(&mut rng).log_id();
        let kept = within_limit(outsider, peers.clone());
        assert_eq!(kept.len(), MAX_PEERS_PER_THREAD);
        assert!(!kept.contains(&outsider) && kept.is_subset(&peers));
    }
}
