//! Membership (spec/sync.md, 7.12, [SYNC-17] to [SYNC-24]): the `auth` handshake, which peers are
//! proven, what an unproven peer gets (a challenge, nothing else), the limits on logs and peers,
//! and sealed publications.
//!
//! Nothing here is stored: a restarted peer has a new local secret, so its outstanding nonces are
//! void, and its peers prove themselves again when it challenges them.

use std::collections::{BTreeMap, BTreeSet};

use rand_core::CryptoRng;

use super::{MAX_HEADS_ENTRIES, Message, Notification, Peer};
use crate::acl::Action;
use crate::error::{ErrorCode, Result};
use crate::id::{LogId, ThreadId};
use crate::membership::{self, AuthNonce, NONCE_BUCKET_MS};
use crate::store::Store;

/// Most logs a peer holds in one thread; a new one beyond is refused with LOG_LIMIT [SYNC-23].
pub const MAX_LOGS_PER_THREAD: usize = 4096;

/// Most peers a peer files for one thread; a new one beyond is refused with PEER_LIMIT [SYNC-23].
pub const MAX_PEERS_PER_THREAD: usize = 256;

/// Most logs named only by `heads` that a peer tracks for one sender in one thread [SYNC-23].
pub const MAX_PENDING_LOGS_PER_PEER: usize = MAX_HEADS_ENTRIES;

/// Most logs named only by `heads` that a peer tracks in all (reference, [SYNC-23]).
pub const MAX_PENDING_LOGS: usize = 16 * MAX_HEADS_ENTRIES;

/// Least time between two challenges a peer sends on its own to one peer about one thread
/// [SYNC-21].
pub const CHALLENGE_INTERVAL_MS: u64 = 1_000;

/// What a peer knows, in memory only, about who proved membership of one thread [SYNC-20].
#[derive(Debug, Default)]
pub(super) struct Members {
    /// Peers whose proof verified (and, where this peer reads the ACL, whose role allows it).
    pub proven: BTreeSet<LogId>,
    /// Filed peers the ACL refuses (role below follow): nothing is sent to them [SYNC-22].
    pub denied: BTreeSet<LogId>,
    /// When this peer last challenged a peer on its own [SYNC-21].
    pub challenged: BTreeMap<LogId, u64>,
    /// When this peer last sent its heads to a proven peer that challenged it [SYNC-21].
    pub reheaded: BTreeMap<LogId, u64>,
    /// Logs named only by a proven sender's heads, by sender, not stored [SYNC-23].
    pub pending_logs: BTreeMap<LogId, BTreeSet<LogId>>,
}

impl<R: CryptoRng, S: Store> Peer<R, S> {
    /// The gossip topic of `thread` [SYNC-24]: derived from its follow key, so a peer that only
    /// knows the Thread ID cannot name it. KEY_UNAVAILABLE for a thread this peer does not hold.
    pub fn topic(&self, thread: &ThreadId) -> Result<String> {
        if crate::fault::on("gossip-topic-from-tid") {
            return Ok(thread.to_string());
        }
        Ok(membership::topic(thread, &self.state(thread)?.keys.follow))
    }

    /// Whether `peer` proved membership of `thread` to this peer [SYNC-20].
    pub fn is_proven(&self, thread: &ThreadId, peer: &LogId) -> bool {
        self.threads
            .get(thread)
            .is_some_and(|s| s.members.proven.contains(peer))
    }

    /// How many logs named only by `heads` this peer tracks, in all threads [SYNC-23].
    pub fn pending_logs(&self) -> usize {
        self.threads
            .values()
            .flat_map(|s| s.members.pending_logs.values())
            .map(BTreeSet::len)
            .sum()
    }

    /// Handles a publication relayed by `relay` on `topic` [SYNC-24]: opens it with the gossip
    /// key of the thread whose topic it is, and decides its records like those of a push. A
    /// publication on no topic of this peer, or that does not open, is dropped and counted; one
    /// that opens came from a holder of the follow key, but the relay becomes a peer to pull from
    /// only if it proved membership. Fails only when the store fails (STORE_FAILED).
    pub fn handle_publication(
        &mut self,
        now: u64,
        relay: LogId,
        topic: &str,
        bytes: &[u8],
    ) -> Result<()> {
        self.check_alive()?;
        self.advance(now);
        self.counters.publications_in += 1;
        let Some(thread) = self.topics.get(topic).cloned() else {
            self.counters.publications_invalid += 1;
            return Ok(());
        };
        let follow = self.state(&thread)?.keys.follow.clone();
        let Ok(plain) = membership::open_publication(&thread, &follow, bytes) else {
            self.counters.publications_invalid += 1;
            return Ok(());
        };
        match super::Message::from_bytes(&plain) {
            Ok(Message::Records {
                thread: named,
                log,
                counter,
                envelopes,
            }) if named == thread && relay != self.id() => {
                let proven = self.is_proven(&thread, &relay);
                self.ingest(relay, proven, &thread, log, counter, envelopes)
            }
            _ => {
                self.counters.publications_invalid += 1;
                Ok(())
            }
        }
    }

    /// This peer's nonce for `peer` and `thread` in nonce bucket `bucket` [SYNC-19].
    fn nonce_in(&self, bucket: u64, peer: &LogId, thread: &ThreadId) -> AuthNonce {
        membership::stateless_nonce(&self.secret, bucket, peer, thread)
    }

    fn bucket(&self) -> u64 {
        self.now / NONCE_BUCKET_MS
    }

    /// A challenge: `auth{thread, nonce, proof: ∅}` [SYNC-21].
    fn challenge_bytes(&self, to: &LogId, thread: &ThreadId) -> Vec<u8> {
        Message::Auth {
            thread: thread.clone(),
            nonce: self.nonce_in(self.bucket(), to, thread).to_vec(),
            proof: Vec::new(),
        }
        .to_bytes()
    }

    /// Answers a message that needs a proof from a peer without one, or about a thread this peer
    /// does not hold, with a challenge; the two look the same [SYNC-3], [SYNC-21].
    pub(super) fn challenge(&mut self, to: LogId, thread: &ThreadId) {
        self.counters.messages_unproven += 1;
        let bytes = self.challenge_bytes(&to, thread);
        self.send_bytes(to, bytes);
    }

    /// Sends `bytes`, a message about `thread`, to `to` if it proved membership; otherwise sends
    /// it a challenge instead, at most once per [`CHALLENGE_INTERVAL_MS`], and nothing at all to
    /// a peer the ACL refuses [SYNC-21], [SYNC-22].
    pub(super) fn send_about(&mut self, thread: &ThreadId, to: LogId, bytes: Vec<u8>) {
        let now = self.now;
        let Some(members) = self.threads.get_mut(thread).map(|s| &mut s.members) else {
            return;
        };
        if members.proven.contains(&to) {
            return self.send_bytes(to, bytes);
        }
        if members.denied.contains(&to) {
            return;
        }
        let last = members.challenged.get(&to).copied();
        if last.is_some_and(|at| now < at.saturating_add(CHALLENGE_INTERVAL_MS)) {
            return;
        }
        members.challenged.insert(to, now);
        let bytes = self.challenge_bytes(&to, thread);
        self.send_bytes(to, bytes);
    }

    /// The handshake [SYNC-20]: takes a proof if it verifies, then answers a nonce with a proof
    /// (a decoy when this peer does not hold the thread or refuses the peer) and, while the
    /// sender is not proven, a nonce of its own. A message whose proof this peer does not accept
    /// gets no answer at all, so two peers that refuse each other's proofs never loop.
    pub(super) fn on_auth(
        &mut self,
        from: LogId,
        thread: &ThreadId,
        nonce: &[u8],
        proof: &[u8],
    ) -> Result<()> {
        let mut newly = false;
        if !proof.is_empty() {
            let held = self.threads.contains_key(thread);
            if !(held && self.proof_verifies(from, thread, proof) && self.admit(thread, from)?) {
                self.counters.proofs_invalid += 1;
                return Ok(());
            }
            newly = self.threads.get_mut(thread).is_some_and(|s| {
                s.members.challenged.remove(&from);
                s.members.proven.insert(from)
            });
        }
        let Ok(nonce) = AuthNonce::try_from(nonce) else {
            if newly {
                self.on_proven(thread, from);
            }
            return Ok(());
        };
        let reply = self.answer(from, thread, &nonce);
        self.send(from, &reply);
        if newly {
            self.on_proven(thread, from);
        } else if self.reheads(thread, from) {
            // A proven peer that challenges this one has lost its proof, typically because it
            // restarted: it gets this peer's heads with the proof, so it can pull at once.
            for bytes in self.heads_messages(thread) {
                self.send_bytes(from, bytes);
            }
        }
        Ok(())
    }

    /// Whether `proof` is `from`'s proof for this peer over its nonce for `from` and `thread` of
    /// the current or the previous bucket [SYNC-18], [SYNC-19].
    fn proof_verifies(&self, from: LogId, thread: &ThreadId, proof: &[u8]) -> bool {
        let Some(state) = self.threads.get(thread) else {
            return false;
        };
        let key = membership::proof_key(thread, &state.keys.follow);
        let me = self.id();
        let bucket = self.bucket();
        [Some(bucket), bucket.checked_sub(1)]
            .into_iter()
            .flatten()
            .any(|b| {
                let nonce = self.nonce_in(b, &from, thread);
                membership::check(&key, thread, &from, &me, &nonce, proof).is_ok()
            })
    }

    /// The reply to a nonce from `from` [SYNC-20]: this peer's proof, or a decoy where it does
    /// not hold the thread or the ACL refuses `from`, and its own nonce while `from` is not
    /// proven.
    fn answer(&self, from: LogId, thread: &ThreadId, nonce: &AuthNonce) -> Message {
        let me = self.id();
        let proven = self.is_proven(thread, &from);
        // A peer refused only for the peer limit still gets a real proof: only a holder of the
        // follow key can tell it from a decoy, and its proof in return is what this peer refuses
        // with PEER_LIMIT [SYNC-23].
        let serves = self
            .threads
            .get(thread)
            .filter(|s| !s.members.denied.contains(&from));
        let proof = match serves {
            Some(state) => {
                let key = membership::proof_key(thread, &state.keys.follow);
                membership::prove(&key, thread, &me, &from, nonce)
            }
            None => membership::decoy_proof(&self.secret, &from, thread, nonce),
        };
        let own = if proven {
            Vec::new()
        } else {
            self.nonce_in(self.bucket(), &from, thread).to_vec()
        };
        Message::Auth {
            thread: thread.clone(),
            nonce: own,
            proof: proof.to_vec(),
        }
    }

    /// Whether to send heads to a proven peer that challenged this one: at most once per
    /// [`CHALLENGE_INTERVAL_MS`], or a proven peer that refuses this one's proofs (it revoked this
    /// peer) and this peer would answer each other's heads and challenges for ever.
    fn reheads(&mut self, thread: &ThreadId, from: LogId) -> bool {
        let now = self.now;
        let Some(members) = self.threads.get_mut(thread).map(|s| &mut s.members) else {
            return false;
        };
        if !members.proven.contains(&from) {
            return false;
        }
        let last = members.reheaded.get(&from).copied();
        if last.is_some_and(|at| now < at.saturating_add(CHALLENGE_INTERVAL_MS)) {
            return false;
        }
        members.reheaded.insert(from, now);
        true
    }

    /// Whether a peer whose proof verified may become proven: the ACL, where this peer reads it,
    /// gives it role ≥ follow [SYNC-22], and it is filed or there is room to file it [SYNC-23].
    /// Files it; STORE_FAILED if that write fails.
    fn admit(&mut self, thread: &ThreadId, peer: LogId) -> Result<bool> {
        if !self.acl_allows(thread, &peer) {
            if let Some(state) = self.threads.get_mut(thread)
                && state.peers.contains(&peer)
            {
                state.members.denied.insert(peer);
            }
            return Ok(false);
        }
        self.file_peer(thread, peer)
    }

    /// Whether the ACL lets `peer` replicate `thread`: always true where this peer cannot read
    /// the ACL (a raw thread, a follower, a reader before the genesis arrived) [SYNC-22].
    fn acl_allows(&self, thread: &ThreadId, peer: &LogId) -> bool {
        let readable = self
            .threads
            .get(thread)
            .is_some_and(|s| s.acl.is_some() && s.keys.read.is_some());
        if !readable {
            return true;
        }
        match self.acl_view(thread) {
            Ok(view) => view.acl().may(peer, Action::Follow).is_ok(),
            Err(_) => true,
        }
    }

    /// Files `peer` as a peer of `thread` (and stores that) unless the thread has
    /// [`MAX_PEERS_PER_THREAD`] already: then refuses it with PEER_LIMIT and returns false
    /// [SYNC-9], [SYNC-23].
    pub(super) fn file_peer(&mut self, thread: &ThreadId, peer: LogId) -> Result<bool> {
        let Some(state) = self.threads.get_mut(thread) else {
            return Ok(false);
        };
        if state.peers.contains(&peer) {
            return Ok(true);
        }
        if state.peers.len() >= MAX_PEERS_PER_THREAD {
            self.refuse(peer, thread, ErrorCode::PeerLimit);
            return Ok(false);
        }
        state.peers.insert(peer);
        self.save_thread(thread)?;
        Ok(true)
    }

    /// Counts and reports something refused at a limit [SYNC-23].
    pub(super) fn refuse(&mut self, from: LogId, thread: &ThreadId, code: ErrorCode) {
        self.counters.refused += 1;
        self.notify(Notification::Refused {
            from,
            thread: thread.clone(),
            code,
        });
    }

    /// `peer` just became proven for `thread`: it gets this peer's full heads at once, and the
    /// pulls waiting on it go out again now, instead of at their next retry [SYNC-21].
    fn on_proven(&mut self, thread: &ThreadId, peer: LogId) {
        for bytes in self.heads_messages(thread) {
            self.send_bytes(peer, bytes);
        }
        self.resend_pulls_to(thread, peer);
    }

    /// The `heads` messages that list every log of `thread`, at most [`MAX_HEADS_ENTRIES`] each
    /// [SYNC-8], [SYNC-23].
    pub(super) fn heads_messages(&self, thread: &ThreadId) -> Vec<Vec<u8>> {
        let Some(state) = self.threads.get(thread) else {
            return Vec::new();
        };
        state
            .counters()
            .chunks(MAX_HEADS_ENTRIES)
            .map(|chunk| {
                Message::Heads {
                    thread: thread.clone(),
                    heads: chunk.to_vec(),
                }
                .to_bytes()
            })
            .collect()
    }

    /// After an ACL change: un-proves every peer the ACL now refuses, and lets those it allows
    /// again be challenged [SYNC-22].
    pub(super) fn recheck_members(&mut self, thread: &ThreadId) {
        let Some(state) = self.threads.get(thread) else {
            return;
        };
        let known: Vec<LogId> = state
            .peers
            .iter()
            .chain(state.members.proven.iter())
            .copied()
            .collect();
        let refused: BTreeSet<LogId> = known
            .into_iter()
            .filter(|peer| !self.acl_allows(thread, peer))
            .collect();
        let Some(state) = self.threads.get_mut(thread) else {
            return;
        };
        for peer in &refused {
            state.members.proven.remove(peer);
            state.members.reheaded.remove(peer);
            state.members.pending_logs.remove(peer);
        }
        state.members.denied = refused;
    }

    /// `log`, named by `sender`'s heads and not stored, is tracked as pending unless a limit says
    /// no [SYNC-23]; true if it is (or was already).
    pub(super) fn track_pending(&mut self, thread: &ThreadId, sender: LogId, log: LogId) -> bool {
        let total = self.pending_logs();
        let Some(state) = self.threads.get_mut(thread) else {
            return false;
        };
        let logs = state.logs.len();
        let mine = state.members.pending_logs.entry(sender).or_default();
        if mine.contains(&log) {
            return true;
        }
        if mine.len() >= MAX_PENDING_LOGS_PER_PEER
            || total >= MAX_PENDING_LOGS
            || logs >= MAX_LOGS_PER_THREAD
        {
            if mine.is_empty() {
                state.members.pending_logs.remove(&sender);
            }
            return false;
        }
        mine.insert(log);
        true
    }

    /// Stops tracking `log` as pending from `sender`: it was stored, or `sender` had nothing
    /// [SYNC-23].
    pub(super) fn forget_pending(&mut self, thread: &ThreadId, sender: Option<LogId>, log: LogId) {
        let Some(state) = self.threads.get_mut(thread) else {
            return;
        };
        let pending = &mut state.members.pending_logs;
        pending.retain(|who, logs| {
            if sender.is_none_or(|s| s == *who) {
                logs.remove(&log);
            }
            !logs.is_empty()
        });
    }
}
