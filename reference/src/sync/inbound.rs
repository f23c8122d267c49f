//! What a peer does with a message from another peer (spec/sync.md, [SYNC-2], [SYNC-5] to
//! [SYNC-8], [SYNC-11]).

use rand_core::CryptoRng;

use super::{Message, Notification, Peer};
use crate::envelope::Envelope;
use crate::error::Result;
use crate::id::{LogId, ThreadId};
use crate::log::{Decided, pull_after};
use crate::store::Store;

impl<R: CryptoRng, S: Store> Peer<R, S> {
    /// Handles the bytes of a message from `from` at time `now` [SYNC-2], [SYNC-6] to [SYNC-8].
    ///
    /// A message that does not decode is dropped and counted, never an error: it is the sender's
    /// problem [SYNC-2]. So are bad records, which are never stored [VERIFY-3], and messages
    /// about threads this peer does not hold. Fails only when the store fails (STORE_FAILED),
    /// after which the peer must be reopened.
    pub fn handle_message(&mut self, now: u64, from: LogId, bytes: &[u8]) -> Result<()> {
        self.check_alive()?;
        self.advance(now);
        self.counters.messages_in += 1;
        let Ok(message) = Message::from_bytes(bytes) else {
            self.counters.messages_malformed += 1;
            return Ok(());
        };
        // A peer never talks to itself: a message that arrives from this peer's own ID is
        // dropped [SYNC-3].
        if from == self.id() || !self.threads.contains_key(message.thread()) {
            return Ok(());
        }
        self.note_peer(message.thread(), from)?;
        match message {
            Message::Pull {
                thread,
                log,
                after,
                limit,
            } => {
                self.serve_pull(from, thread, log, after, limit);
                Ok(())
            }
            Message::Records {
                thread,
                log,
                counter,
                envelopes,
            } => self.ingest(from, &thread, log, counter, envelopes),
            Message::Heads { thread, heads } => self.on_heads(from, &thread, heads),
        }
    }

    /// Adds `peer` to the thread's peers (and stores that) the first time it talks about it.
    fn note_peer(&mut self, thread: &ThreadId, peer: LogId) -> Result<()> {
        let added = self
            .threads
            .get_mut(thread)
            .is_some_and(|s| s.peers.insert(peer));
        if added {
            self.save_thread(thread)?;
        }
        Ok(())
    }

    /// Answers a pull with the next contiguous batch after `after` — possibly empty — and this
    /// peer's counter for the log [SYNC-5].
    fn serve_pull(&mut self, from: LogId, thread: ThreadId, log: LogId, after: u64, limit: u64) {
        let Some(state) = self.threads.get(&thread) else {
            return;
        };
        let (counter, envelopes) = match state.logs.get(&log) {
            Some(replica) => (replica.counter(), replica.serve_pull(after, limit)),
            None => (0, Vec::new()),
        };
        let message = Message::Records {
            thread,
            log,
            counter,
            envelopes,
        };
        self.send(from, &message);
    }

    /// Verifies and appends records in order, stores the new ones in one write, announces them to
    /// the thread's other peers, and pulls the rest if the sender has more [SYNC-6], [SYNC-7].
    fn ingest(
        &mut self,
        from: LogId,
        thread: &ThreadId,
        log: LogId,
        counter: u64,
        envelopes: Vec<Envelope>,
    ) -> Result<()> {
        let me = self.id();
        let Some(state) = self.threads.get_mut(thread) else {
            return Ok(());
        };
        let new_log = !state.logs.contains_key(&log);
        // In an access-controlled thread a log's ID is its writer's peer ID: a new log names a new
        // writer to pull from directly, which also makes it push its later records here.
        let owner = (state.acl.is_some() && new_log && log != me).then_some(log);
        let before = state.counter(&log);
        let empty = envelopes.is_empty();
        let keys = state.keys.clone();
        let Decided {
            appended: fresh,
            duplicates,
            rejected,
            counter: after,
            gap,
        } = state.replica(thread, log).decide(&keys, envelopes);
        if let Some(owner) = owner {
            state.peers.insert(owner);
        }
        // Only an answer ends the wait of a pull: a push that arrives beyond a gap does not, or
        // every out-of-order push would send one more pull [SYNC-10].
        if empty || !fresh.is_empty() || duplicates > 0 {
            self.answered(thread, log, from);
        }
        self.counters.records_duplicate += duplicates;
        if new_log {
            self.save_thread(thread)?;
        }
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
            self.announce(thread, log, after, from);
        }
        if let Some(owner) = owner {
            self.pull(thread, log, owner);
        }
        if gap.is_some() && fresh.is_empty() {
            self.defer_pull(thread, log, from);
        } else if pull_after(counter, after).is_some() {
            self.pull(thread, log, from);
        }
        Ok(())
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
            self.send_bytes(peer, bytes.clone());
        }
    }

    /// Pulls every log on which `from` is ahead of this peer; learns logs it did not know
    /// [SYNC-8], [SYNC-11].
    fn on_heads(&mut self, from: LogId, thread: &ThreadId, heads: Vec<(LogId, u64)>) -> Result<()> {
        let me = self.id();
        let Some(state) = self.threads.get_mut(thread) else {
            return Ok(());
        };
        let mut learned = Vec::new();
        let mut behind = Vec::new();
        for (log, theirs) in heads {
            if !state.logs.contains_key(&log) {
                state.replica(thread, log);
                learned.push(log);
            }
            if state.counter(&log) < theirs {
                behind.push((log, from));
            }
        }
        // In an access-controlled thread a new log's writer is a new peer to sync with [SYNC-11].
        if state.acl.is_some() {
            for log in learned.iter().filter(|log| **log != me && **log != from) {
                state.peers.insert(*log);
                behind.push((*log, *log));
            }
        }
        if !learned.is_empty() {
            self.save_thread(thread)?;
        }
        for (log, peer) in behind {
            self.pull_behind(thread, log, peer);
        }
        Ok(())
    }
}
