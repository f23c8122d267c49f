//! Pulls and timers (spec/sync.md, [SYNC-7], [SYNC-8], [SYNC-10]): which pulls are waiting for an
//! answer, when each is sent again, and what [`Peer::handle_timeout`] does.

use rand_core::CryptoRng;

use super::{GAP_GRACE_MS, HEADS_INTERVAL_MS, Message, PULL_LIMIT, Peer};
use crate::error::Result;
use crate::id::{LogId, ThreadId};
use crate::store::Store;

/// Sends of one pull before it is given up; head exchange then takes over [SYNC-10].
pub const MAX_ATTEMPTS: u32 = 6;

/// How long a pull waits for its answer before it is sent again [SYNC-10]: 1 s after the first
/// send, then twice as long each time up to 32 s.
pub fn retry_delay(attempt: u32) -> u64 {
    1000u64 << attempt.min(5)
}

/// A pull that has not been answered yet [SYNC-10].
pub(super) struct Pending {
    attempt: u32,
    /// False for a pull deferred after a gap [SYNC-7]: it goes out when due unless the missing
    /// records arrive first.
    sent: bool,
    /// When to send it (again).
    due: u64,
    /// When it was last sent (meaningless until `sent`).
    sent_at: u64,
}

impl<R: CryptoRng, S: Store> Peer<R, S> {
    /// Tells the peer that time `now` has come (see [`Peer::poll_timeout`]): it forgets expired
    /// addresses [SYNC-9], sends the pulls that are due [SYNC-7], [SYNC-10], and sends its heads to
    /// every peer of every thread when the interval has passed [SYNC-8]. Calling it early, or more
    /// than once, does no harm. Fails only once the store has failed (STORE_FAILED).
    pub fn handle_timeout(&mut self, now: u64) -> Result<()> {
        self.check_alive()?;
        self.advance(now);
        let now = self.now;
        self.addrs.expire(now);
        self.send_due_pulls(now);
        if now >= self.next_heads {
            self.next_heads = now.saturating_add(HEADS_INTERVAL_MS);
            self.exchange_heads();
        }
        Ok(())
    }

    /// The earliest deadline of a pending pull.
    pub(super) fn pulls_due(&self) -> Option<u64> {
        self.pending.values().map(|p| p.due).min()
    }

    /// Sends a pull for what comes after this peer's counter, unless one to `peer` for the log is
    /// still unanswered [SYNC-10].
    pub(super) fn pull(&mut self, thread: &ThreadId, log: LogId, peer: LogId) {
        let key = (thread.clone(), log, peer);
        if self.pending.contains_key(&key) {
            return;
        }
        self.counters.pulls_sent += 1;
        let due = self.now.saturating_add(retry_delay(0));
        self.pending.insert(
            key,
            Pending {
                attempt: 0,
                sent: true,
                due,
                sent_at: self.now,
            },
        );
        self.send_pull(thread, log, peer);
    }

    /// `peer`'s heads say it is ahead on `log`: pulls as [`Peer::pull`] does, and if a pull to
    /// it is already waiting and was last sent at least [`retry_delay`]`(0)` ago, sends it again
    /// now and restarts its backoff [SYNC-10]. The heads prove that the link from `peer` works
    /// again; without this a pull lost while the link was down waited out a backoff grown to
    /// 32 s, while the heads that came every 5 s were ignored (simulator, flapping-links seed
    /// 2519). The delay keeps announcements, which come with every new record, from sending a
    /// pull each.
    pub(super) fn pull_behind(&mut self, thread: &ThreadId, log: LogId, peer: LogId) {
        let key = (thread.clone(), log, peer);
        let now = self.now;
        let Some(pending) = self.pending.get_mut(&key) else {
            self.pull(thread, log, peer);
            return;
        };
        if !pending.sent || now < pending.sent_at.saturating_add(retry_delay(0)) {
            return;
        }
        pending.attempt = 0;
        pending.sent_at = now;
        pending.due = now.saturating_add(retry_delay(0));
        self.counters.pulls_retried += 1;
        self.send_pull(thread, log, peer);
    }

    /// A pull that waits [`GAP_GRACE_MS`] for records still in flight to fill a gap: pushes that
    /// overtook each other usually do, and pulling at once would fetch them twice [SYNC-7].
    pub(super) fn defer_pull(&mut self, thread: &ThreadId, log: LogId, peer: LogId) {
        let due = self.now.saturating_add(GAP_GRACE_MS);
        self.pending
            .entry((thread.clone(), log, peer))
            .or_insert(Pending {
                attempt: 0,
                sent: false,
                due,
                sent_at: 0,
            });
    }

    /// The wait of the pull of `log` from `peer` is over: an answer came [SYNC-10].
    pub(super) fn answered(&mut self, thread: &ThreadId, log: LogId, peer: LogId) {
        self.pending.remove(&(thread.clone(), log, peer));
    }

    fn send_pull(&mut self, thread: &ThreadId, log: LogId, peer: LogId) {
        let after = self.threads.get(thread).map_or(0, |s| s.counter(&log));
        let bytes = Message::Pull {
            thread: thread.clone(),
            log,
            after,
            limit: PULL_LIMIT,
        }
        .to_bytes();
        self.send_about(thread, peer, bytes);
    }

    /// Sends every pull waiting on `peer` in `thread` again now, with its backoff restarted: the
    /// peer just proved membership, so what was held back can go [SYNC-21].
    pub(super) fn resend_pulls_to(&mut self, thread: &ThreadId, peer: LogId) {
        let now = self.now;
        let waiting: Vec<LogId> = self
            .pending
            .iter_mut()
            .filter(|((t, _, p), pending)| t == thread && *p == peer && pending.sent)
            .map(|((_, log, _), pending)| {
                pending.attempt = 0;
                pending.sent_at = now;
                pending.due = now.saturating_add(retry_delay(0));
                *log
            })
            .collect();
        for log in waiting {
            self.send_pull(thread, log, peer);
        }
    }

    /// Sends the deferred pulls whose grace is over and again the unanswered ones whose wait is
    /// over, with backoff; gives up after [`MAX_ATTEMPTS`] [SYNC-10].
    fn send_due_pulls(&mut self, now: u64) {
        let due: Vec<_> = self
            .pending
            .iter()
            .filter(|(_, p)| p.due <= now)
            .map(|(key, _)| key.clone())
            .collect();
        for key in due {
            let Some(pending) = self.pending.get_mut(&key) else {
                continue;
            };
            pending.sent_at = now;
            if !pending.sent {
                pending.sent = true;
                pending.due = now.saturating_add(retry_delay(0));
                self.counters.pulls_sent += 1;
            } else {
                pending.attempt += 1;
                if pending.attempt >= MAX_ATTEMPTS {
                    self.pending.remove(&key);
                    let (thread, log, peer) = key;
                    self.forget_pending(&thread, Some(peer), log);
                    continue;
                }
                pending.due = now.saturating_add(retry_delay(pending.attempt));
                self.counters.pulls_retried += 1;
            }
            let (thread, log, peer) = key;
            self.send_pull(&thread, log, peer);
        }
    }

    /// Sends every filed peer of every thread this peer's heads, split into messages of at most
    /// [`super::MAX_HEADS_ENTRIES`] entries; a peer that has not proved membership gets a
    /// challenge instead [SYNC-8], [SYNC-21], [SYNC-23].
    fn exchange_heads(&mut self) {
        let mut messages = Vec::new();
        for (thread, state) in &self.threads {
            let bytes = self.heads_messages(thread);
            for peer in &state.peers {
                messages.push((thread.clone(), *peer, bytes.clone()));
            }
        }
        for (thread, peer, list) in messages {
            for bytes in list {
                self.send_about(&thread, peer, bytes);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_to_a_cap() {
        let delays: Vec<u64> = (0..8).map(retry_delay).collect();
        assert_eq!(delays, [1000, 2000, 4000, 8000, 16000, 32000, 32000, 32000]);
    }
}
