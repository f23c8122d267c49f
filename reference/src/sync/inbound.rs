//! What a peer does with a message from another peer (spec/sync.md, [SYNC-2], [SYNC-5] to
//! [SYNC-8], [SYNC-11], [SYNC-21]).

use rand_core::CryptoRng;

use cid::Cid;

use super::{MAX_BATCH_BYTES, Message, Notification, PULL_LIMIT, Peer};
use crate::acl::AclEvent;
use crate::envelope::Envelope;
use crate::error::{ErrorCode, Result};
use crate::id::{LogId, ThreadId};
use crate::log::ahead::{AheadJob, AheadVerdicts};
use crate::log::{Decided, LogReplica, pull_after, pull_batch};
use crate::store::Store;

/// At most this many verdicts computed ahead are kept for held answers [SYNC-31], [SYNC-33]:
/// the records of a full window of pulls, twice over.
const MAX_KEPT_VERDICTS: usize = 2 * super::PULL_WINDOW * PULL_LIMIT as usize;

impl<R: CryptoRng, S: Store> Peer<R, S> {
    /// Handles the bytes of a message from `from` at time `now` [SYNC-2], [SYNC-6] to [SYNC-8].
    ///
    /// A message that does not decode is dropped and counted, never an error: it is the sender's
    /// problem [SYNC-2]. So are bad records, which are never stored [VERIFY-3], and messages
    /// about threads this peer does not hold. Fails only when the store fails (STORE_FAILED),
    /// after which the peer must be reopened.
    pub fn handle_message(&mut self, now: u64, from: LogId, bytes: &[u8]) -> Result<()> {
        self.check_alive()?;
        match Message::from_bytes(bytes) {
            Ok(message) => self.handle_decoded(now, from, message),
            Err(_) => {
                self.advance(now);
                self.counters.messages_in += 1;
                self.counters.messages_malformed += 1;
                Ok(())
            }
        }
    }

    /// [`Peer::handle_message`] of a message the driver already decoded with
    /// [`Message::from_bytes`] (so that it decodes each message once).
    pub fn handle_decoded(&mut self, now: u64, from: LogId, message: Message) -> Result<()> {
        self.check_alive()?;
        self.advance(now);
        self.counters.messages_in += 1;
        // A peer never talks to itself: a message that arrives from this peer's own ID is
        // dropped [SYNC-3].
        if from == self.id() {
            return Ok(());
        }
        if let Message::Auth {
            thread,
            nonce,
            proof,
        } = &message
        {
            return self.on_auth(from, thread, nonce, proof);
        }
        // A thread this peer does not hold and a sender that has not proved membership get the
        // same answer, a challenge, and change nothing [SYNC-3], [SYNC-21].
        if !self.is_proven(message.thread(), &from) {
            self.challenge(from, message.thread());
            return Ok(());
        }
        match message {
            Message::Pull {
                thread,
                log,
                after,
                limit,
            } => self.serve_pull(from, thread, log, after, limit),
            Message::Records {
                thread,
                log,
                counter,
                envelopes,
            } => self.ingest(from, true, &thread, log, counter, envelopes),
            Message::Heads { thread, heads } => self.on_heads(from, &thread, heads),
            Message::Auth { .. } => Ok(()),
        }
    }

    /// The checks of the records of `message`, to run on another thread while earlier messages
    /// are handled, when it is a `records` message this peer would decide: from a proven peer,
    /// about a thread it holds [SYNC-21], [SYNC-31]. Hand the job's verdicts back with the same
    /// message to [`Peer::handle_message_verified`]. `None` for anything else, which costs
    /// nothing ahead: a stranger cannot make this peer verify records it would not look at.
    pub fn verify_ahead(&self, from: LogId, message: &Message) -> Option<AheadJob> {
        if self.check_alive().is_err() || from == self.id() {
            return None;
        }
        let Message::Records {
            thread,
            log,
            envelopes,
            ..
        } = message
        else {
            return None;
        };
        if envelopes.is_empty() || !self.is_proven(thread, &from) {
            return None;
        }
        let keys = self.threads.get(thread)?.keys.clone();
        Some(AheadJob::new(thread.clone(), *log, keys, envelopes.clone()))
    }

    /// [`Peer::handle_decoded`], taking the verdicts of `verified` (an [`AheadJob`]'s, from
    /// [`Peer::verify_ahead`]) for the records they cover, exactly as if they were computed
    /// here; verdicts left over are dropped when it returns, unless an answer is held [SYNC-31],
    /// [SYNC-33].
    pub fn handle_message_verified(
        &mut self,
        now: u64,
        from: LogId,
        message: Message,
        verified: AheadVerdicts,
    ) -> Result<()> {
        self.given.absorb(verified);
        let handled = self.handle_decoded(now, from, message);
        // An answer held for later [SYNC-33] keeps its verdicts until it is decided; with no
        // answer held, or more verdicts kept than the held answers can use, none is kept.
        if self.held_bytes == 0 || self.given.len() > MAX_KEPT_VERDICTS {
            self.given = AheadVerdicts::default();
        }
        handled
    }

    /// Answers a pull with the next contiguous batch after `after` — possibly empty — and this
    /// peer's counter for the log [SYNC-5]: from memory when the batch starts in the window the
    /// replica keeps, from the store otherwise. A store that cannot be read stops the peer
    /// (STORE_FAILED, STORE_CORRUPT) and nothing is sent.
    fn serve_pull(
        &mut self,
        from: LogId,
        thread: ThreadId,
        log: LogId,
        after: u64,
        limit: u64,
    ) -> Result<()> {
        let after = after.max(crate::fault::compacted_floor(self, &thread, &log));
        let Some(state) = self.threads.get(&thread) else {
            return Ok(());
        };
        let answer = match state.logs.get(&log) {
            Some(replica) => match replica.serve_held(after, limit) {
                Some(held) => Ok((replica.counter(), held)),
                None => read_batch(&self.store, &thread, log, after, limit)
                    .map(|read| (replica.counter(), read)),
            },
            None => Ok((0, Vec::new())),
        };
        let (counter, envelopes) = match answer {
            Ok(answer) => answer,
            Err(e) => return self.stop_on_failure(Err(e)),
        };
        let bytes = Message::Records {
            thread: thread.clone(),
            log,
            counter,
            envelopes,
        }
        .to_bytes();
        self.send_about(&thread, from, bytes);
        Ok(())
    }

    /// Verifies and appends records in order, stores the new ones in one write, announces them to
    /// the thread's other peers, and pulls the rest if the sender has more [SYNC-6], [SYNC-7].
    ///
    /// A log this peer does not hold is stored only once one of its records verifies, and only
    /// while the thread holds fewer than [`super::MAX_LOGS_PER_THREAD`] logs [SYNC-11],
    /// [SYNC-23]. `proven` is false for records that came in a publication relayed by a peer
    /// that did not prove membership: they are decided, but the relay is not pulled from
    /// [SYNC-24].
    pub(super) fn ingest(
        &mut self,
        from: LogId,
        proven: bool,
        thread: &ThreadId,
        log: LogId,
        counter: u64,
        envelopes: Vec<Envelope>,
    ) -> Result<()> {
        let first = self.first_seq(thread, &log, &envelopes);
        let envelopes = match first {
            Some(seq) if proven => match self.hold((thread, log, from), seq, counter, envelopes) {
                Some(envelopes) => envelopes,
                None => return Ok(()),
            },
            _ => envelopes,
        };
        self.decide_message(from, proven, (thread, log), counter, envelopes, first)?;
        // Answers held because they came before the ones ahead of them are decided as soon as
        // the counter reaches them, in log order [SYNC-33].
        while let Some((peer, counter, envelopes)) = self.take_held(thread, log) {
            let first = self.first_seq(thread, &log, &envelopes);
            self.decide_message(peer, true, (thread, log), counter, envelopes, first)?;
        }
        Ok(())
    }

    /// Decides the records of one message in order and acts on the outcome, as
    /// [`Peer::ingest`] says; `first` is the `seq` its first record claims, which names the
    /// pull it answers [SYNC-32].
    fn decide_message(
        &mut self,
        from: LogId,
        proven: bool,
        (thread, log): (&ThreadId, LogId),
        counter: u64,
        envelopes: Vec<Envelope>,
        first: Option<u64>,
    ) -> Result<()> {
        let me = self.id();
        let Some(state) = self.threads.get_mut(thread) else {
            return Ok(());
        };
        let new_log = !state.logs.contains_key(&log);
        if new_log && state.logs.len() >= super::MAX_LOGS_PER_THREAD {
            self.answered(thread, log, from, first, counter);
            self.forget_pending(thread, None, log);
            self.refuse(from, thread, ErrorCode::LogLimit);
            return Ok(());
        }
        let before = state.counter(&log);
        let empty = envelopes.is_empty();
        let keys = state.keys.clone();
        let threads = self.verify_threads;
        let mut replica = state
            .logs
            .remove(&log)
            .unwrap_or_else(|| LogReplica::new(thread.clone(), log));
        let store = &self.store;
        let older = |seq: u64| stored_cid(store, thread, log, seq);
        let Decided {
            appended: fresh,
            duplicates,
            rejected,
            counter: after,
            gap,
        } = replica.decide_given(&keys, envelopes, threads, &older, &mut self.given);
        // A log nobody has shown a verified record of is not stored [SYNC-23].
        let stored = !new_log || !fresh.is_empty();
        if stored {
            state.logs.insert(log, replica);
        }
        // Only an answer ends the wait of a pull: a push that arrives beyond a gap does not, or
        // every out-of-order push would send one more pull [SYNC-10].
        if empty || !fresh.is_empty() || duplicates > 0 {
            self.answered(thread, log, from, first, counter);
        }
        if new_log && stored {
            self.forget_pending(thread, None, log);
            self.save_thread(thread)?;
        } else if new_log && empty {
            self.forget_pending(thread, Some(from), log);
        }
        self.counters.records_duplicate += duplicates;
        self.counters.records_rejected += rejected.len() as u64;
        for (_, error) in rejected {
            self.notify(Notification::Rejected {
                from,
                thread: thread.clone(),
                log,
                code: error.code,
            });
        }
        if !fresh.is_empty() {
            self.save_records(thread, log, before + 1, &fresh)?;
            self.counters.records_appended += fresh.len() as u64;
            self.notify(Notification::Appended {
                thread: thread.clone(),
                log,
                counter: after,
                sender_counter: counter,
            });
            // Before the announcement: a peer an ACL change among them revokes is told nothing
            // more [SYNC-22].
            self.after_append(thread, log, fresh.len());
            self.announce(thread, log, after, from);
        }
        // In an access-controlled thread a log's ID is its writer's peer ID: a new log names a new
        // writer to pull from directly, which also makes it push its later records here [SYNC-11].
        let acl = self.threads.get(thread).is_some_and(|s| s.acl.is_some());
        if acl && new_log && stored && log != me && log != from && self.file_peer(thread, log)? {
            self.pull(thread, log, log, after.saturating_add(1));
        }
        if !proven {
            return Ok(());
        }
        if !stored {
            // Records of an unknown log that did not verify, or lie beyond a gap: the sender says
            // it holds more, which is worth a pull, within the same limits as heads [SYNC-23].
            if counter > 0 && self.track_pending(thread, from, log) {
                self.pull_behind(thread, log, from, counter);
            }
            return Ok(());
        }
        if gap.is_some() && fresh.is_empty() {
            self.defer_pull(thread, log, from, counter);
        } else if pull_after(counter, after).is_some() {
            self.pull(thread, log, from, counter);
        }
        Ok(())
    }

    /// After records of `log` were appended: in an access-controlled thread, an ACL event among
    /// them may change who is a member, so the proven peers are checked again [SYNC-22].
    pub(super) fn after_append(&mut self, thread: &ThreadId, log: LogId, count: usize) {
        let Some(state) = self.threads.get(thread) else {
            return;
        };
        if state.acl.is_none() || state.keys.read.is_none() {
            return;
        }
        let opened = state.logs.get(&log).map_or(&[][..], |r| r.opened());
        let changed = opened[opened.len().saturating_sub(count)..]
            .iter()
            .filter_map(|o| o.event())
            .any(|e| AclEvent::classify(&e.body).is_ok_and(|a| a.is_some()));
        if changed {
            self.recheck_members(thread);
        }
    }

    /// Tells the thread's other peers this peer's new counter for `log`, so that those behind
    /// pull [SYNC-8]. Only new records are announced, so announcements die out.
    fn announce(&mut self, thread: &ThreadId, log: LogId, counter: u64, from: LogId) {
        let bytes = Message::Heads {
            thread: thread.clone(),
            heads: vec![(log, counter)],
        }
        .to_bytes();
        for peer in self.peers_of(thread).into_iter().filter(|p| *p != from) {
            self.send_about(thread, peer, bytes.clone());
        }
    }

    /// Pulls every log on which `from` is ahead of this peer [SYNC-8]. A log this peer does not
    /// hold is tracked in memory as pending from `from`, within the limits, and pulled from it;
    /// it is stored only when one of its records verifies [SYNC-11], [SYNC-23].
    fn on_heads(&mut self, from: LogId, thread: &ThreadId, heads: Vec<(LogId, u64)>) -> Result<()> {
        let Some(state) = self.threads.get(thread) else {
            return Ok(());
        };
        let mut behind = Vec::new();
        let mut unknown = Vec::new();
        for (log, theirs) in heads {
            if state.logs.contains_key(&log) {
                if state.counter(&log) < theirs {
                    behind.push((log, theirs));
                }
            } else if theirs > 0 {
                unknown.push((log, theirs));
            }
        }
        let mut refused = false;
        for (log, theirs) in unknown {
            if self.track_pending(thread, from, log) {
                behind.push((log, theirs));
            } else {
                refused = true;
            }
        }
        if refused {
            self.refuse(from, thread, ErrorCode::LogLimit);
        }
        for (log, theirs) in behind {
            self.pull_behind(thread, log, from, theirs);
        }
        Ok(())
    }
}

/// Records of `log` a store holds read at a time while a pull answer is gathered: few enough that
/// the bytes read beyond [`MAX_BATCH_BYTES`] stay small.
const READ_CHUNK: usize = 32;

/// The answer to a pull read from the store [SYNC-5]: the same records, by the same rule, as
/// [`crate::log::pull_batch`] takes from memory. STORE_CORRUPT if a stored record does not decode.
pub(super) fn read_batch<S: Store>(
    store: &S,
    thread: &ThreadId,
    log: LogId,
    after: u64,
    limit: u64,
) -> Result<Vec<Envelope>> {
    let wanted = usize::try_from(limit.min(PULL_LIMIT)).unwrap_or(usize::MAX);
    let mut read = Vec::new();
    let mut bytes = 0usize;
    let mut from = after.saturating_add(1);
    while read.len() < wanted && bytes <= MAX_BATCH_BYTES {
        let count = READ_CHUNK.min(wanted - read.len());
        let chunk = store.records(thread.as_bytes(), &log.to_bytes(), from, count)?;
        let got = chunk.len();
        for stored in chunk {
            let envelope = Envelope::from_bytes(&stored).map_err(stored_corrupt)?;
            bytes = bytes.saturating_add(envelope.size());
            read.push(envelope);
        }
        if got < count {
            break;
        }
        from += got as u64;
    }
    Ok(pull_batch(read, limit))
}

/// The CID of the record the store holds at `seq` of `log`, if any [LOG-4].
pub(super) fn stored_cid<S: Store>(
    store: &S,
    thread: &ThreadId,
    log: LogId,
    seq: u64,
) -> Result<Option<Cid>> {
    let stored = store.records(thread.as_bytes(), &log.to_bytes(), seq, 1)?;
    stored
        .first()
        .map(|bytes| {
            Envelope::from_bytes(bytes)
                .map(|e| e.record_cid())
                .map_err(stored_corrupt)
        })
        .transpose()
}

fn stored_corrupt(e: crate::Error) -> crate::Error {
    crate::Error::new(ErrorCode::StoreCorrupt, format!("a stored record: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::id::Variant;
    use crate::keys::IdentityKey;
    use crate::log::ahead::AheadJob;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    /// Checks the memory bound of [SYNC-31] with [SYNC-33]: verdicts computed ahead are kept
    /// past their message only while an answer is held, and never more of them than
    /// MAX_KEPT_VERDICTS, however many a message brought.
    #[test]
    fn sync_31_no_more_verdicts_are_kept_than_held_answers_can_use() {
        let mut rng = ChaCha20Rng::seed_from_u64(31);
        let mut peer = Peer::<ChaCha20Rng>::from_seed([31; 32]);
        let (thread, log) = peer.create_thread(0, Variant::Raw).expect("create");
        let member = IdentityKey::generate(&mut rng).log_id();
        peer.pull(&thread, log, member, 4 * PULL_LIMIT);
        let held = peer.hold(
            (&thread, log, member),
            257,
            4 * PULL_LIMIT,
            vec![Envelope::of_size(1)],
        );
        assert!(held.is_none(), "an answer is held");
        let keys = peer.threads[&thread].keys.clone();
        let envelopes: Vec<Envelope> = (1..=MAX_KEPT_VERDICTS + 1).map(Envelope::of_size).collect();
        let empty = AheadJob::new(thread.clone(), log, keys.clone(), Vec::new());
        assert_eq!(
            (empty.is_empty(), empty.len()),
            (true, 0),
            "nothing to check"
        );
        let job = AheadJob::new(thread.clone(), log, keys, envelopes);
        assert!(!job.is_empty() && job.len() == MAX_KEPT_VERDICTS + 1);
        let verdicts = job.run();
        assert_eq!(verdicts.len(), MAX_KEPT_VERDICTS + 1);
        let heads = Message::Heads {
            thread: thread.clone(),
            heads: Vec::new(),
        };
        let _ = peer.handle_message_verified(1, member, heads, verdicts);
        assert!(peer.held_bytes > 0, "the answer is still held");
        assert_eq!(peer.given.len(), 0, "verdicts past the bound are dropped");
        // Exactly as many as may be kept are kept.
        let keys = peer.threads[&thread].keys.clone();
        let envelopes: Vec<Envelope> = (1..=MAX_KEPT_VERDICTS).map(Envelope::of_size).collect();
        let verdicts = AheadJob::new(thread.clone(), log, keys, envelopes).run();
        let heads = Message::Heads {
            thread: thread.clone(),
            heads: Vec::new(),
        };
        let _ = peer.handle_message_verified(2, member, heads, verdicts);
        assert_eq!(peer.given.len(), MAX_KEPT_VERDICTS, "up to the bound");
    }
}
