//! Pulls and timers (spec/sync.md, [SYNC-7], [SYNC-8], [SYNC-10], [SYNC-32] to [SYNC-34]): the
//! window of pulls waiting for an answer from each peer on each log, the answers held until the
//! ones before them arrive, when each pull is sent again, and what [`Peer::handle_timeout`] does.

use std::collections::BTreeMap;

use rand_core::CryptoRng;

use super::{GAP_GRACE_MS, HEADS_INTERVAL_MS, Message, PULL_LIMIT, Peer};
use crate::envelope::Envelope;
use crate::error::Result;
use crate::id::{LogId, ThreadId};
use crate::record::{Record, open_block};
use crate::seal::Layer;
use crate::store::Store;

/// Sends of one pull before it is given up; head exchange then takes over [SYNC-10].
pub const MAX_ATTEMPTS: u32 = 6;

/// Pulls waiting for an answer, plus answers held, at most, per thread, log and peer asked
/// [SYNC-32]: one batch per round trip used a third of the cores a follower verifies on.
pub const PULL_WINDOW: usize = 4;

/// Bytes of answers a peer holds at most, over all threads, logs and peers, because an earlier
/// answer has not arrived yet [SYNC-33]: past it no pull is sent and an answer that arrives early
/// is decided at once, as if the pull's answer were lost. Four windows of full batches.
pub const MAX_HELD_BYTES: usize = 4 * PULL_WINDOW * super::MAX_BATCH_BYTES;

/// Bytes of answers from one peer held at most, over all its windows [SYNC-33]: one window of
/// full batches, so that one member alone cannot spend [`MAX_HELD_BYTES`] and stall the pulls to
/// every other peer; past it, no new pull goes to that peer.
pub const MAX_HELD_BYTES_PER_PEER: usize = PULL_WINDOW * super::MAX_BATCH_BYTES;

/// How long a pull waits for its answer before it is sent again [SYNC-10]: 1 s after the first
/// send, then twice as long each time up to 32 s.
pub fn retry_delay(attempt: u32) -> u64 {
    1000u64 << attempt.min(5)
}

/// A pull that has not been answered yet [SYNC-10], [SYNC-32]: it asks for the records after
/// its key in the window, at most `limit` of them.
pub(super) struct Pending {
    limit: u64,
    attempt: u32,
    /// False for a pull deferred after a gap [SYNC-7]: it goes out when due unless the missing
    /// records arrive first.
    sent: bool,
    /// When to send it (again).
    due: u64,
    /// When it was last sent (meaningless until `sent`).
    sent_at: u64,
}

/// An answer that arrived before the answers to the pulls ahead of it [SYNC-33].
pub(super) struct Held {
    counter: u64,
    envelopes: Vec<Envelope>,
    bytes: usize,
}

/// The pulls of one log from one peer [SYNC-32].
#[derive(Default)]
pub(super) struct Window {
    /// The peer's counter for the log, as it last said: pulls go out up to it [SYNC-7].
    target: u64,
    /// Waiting pulls by `after`; their ranges never overlap.
    pulls: BTreeMap<u64, Pending>,
    /// Answers held, by the `after` of the pull they answer.
    held: BTreeMap<u64, Held>,
}

impl Window {
    fn len(&self) -> usize {
        self.pulls.len() + self.held.len()
    }

    /// The ranges this window already covers, `(after, end)`, in order.
    fn covered(&self) -> Vec<(u64, u64)> {
        let pulls = self
            .pulls
            .iter()
            .map(|(a, p)| (*a, a.saturating_add(p.limit)));
        let held = self
            .held
            .iter()
            .map(|(a, h)| (*a, a + h.envelopes.len() as u64));
        let mut ranges: Vec<_> = pulls.chain(held).collect();
        ranges.sort_unstable();
        ranges
    }

    /// The pulls that would fill this window from `counter` towards its target: first the holes
    /// below answers held or pulls waiting (an answer cut short, a pull given up), then new
    /// ranges past them while there is room [SYNC-32]. A hole is always asked for, room or not:
    /// the answers held past it are decided only once it is filled, so at most one pull per
    /// held answer is added to the window.
    fn next_pulls(&self, counter: u64, size: usize) -> Vec<(u64, u64)> {
        let mut wanted = Vec::new();
        let mut next = counter;
        for (after, end) in self.covered() {
            if after > next {
                wanted.push((next, (after - next).min(PULL_LIMIT)));
            }
            next = next.max(end);
        }
        let mut room = size.saturating_sub(self.len() + wanted.len());
        while next < self.target && room > 0 {
            wanted.push((next, PULL_LIMIT));
            next = next.saturating_add(PULL_LIMIT);
            room -= 1;
        }
        wanted
    }
}

/// Which pulls a window is for: thread, log and the peer asked.
type Key = (ThreadId, LogId, LogId);

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
        self.pending
            .values()
            .flat_map(|w| w.pulls.values())
            .map(|p| p.due)
            .min()
    }

    /// The `seq` the first record of a `records` message about `log` claims: its record block
    /// opened with the follow key and decoded, not verified, since it only names the pull the
    /// message answers [SYNC-32]. `None` for an empty message or one whose first record does
    /// not open.
    pub(super) fn first_seq(
        &self,
        thread: &ThreadId,
        log: &LogId,
        envelopes: &[Envelope],
    ) -> Option<u64> {
        let first = envelopes.first()?;
        let follow = &self.threads.get(thread)?.keys.follow;
        let plain =
            open_block(Layer::Record, follow.as_bytes(), thread, log, &first.record).ok()?;
        Record::from_bytes(&plain).ok().map(|r| r.seq)
    }

    /// This peer's counter for `log`.
    fn own_counter(&self, thread: &ThreadId, log: &LogId) -> u64 {
        self.threads.get(thread).map_or(0, |s| s.counter(log))
    }

    /// `peer` holds `log` up to `target` (or has more, when it did not say how much: this peer's
    /// counter + 1): pulls what comes after this peer's counter, up to the window [SYNC-32].
    pub(super) fn pull(&mut self, thread: &ThreadId, log: LogId, peer: LogId, target: u64) {
        let key = (thread.clone(), log, peer);
        let window = self.pending.entry(key.clone()).or_default();
        window.target = window.target.max(target);
        self.refill(&key);
    }

    /// Sends the pulls the window of `key` has room for [SYNC-32], unless a pull deferred after a
    /// gap is still in its grace [SYNC-7] or the answers held are at their bound [SYNC-33].
    fn refill(&mut self, key: &Key) {
        let (thread, log, peer) = key;
        let counter = self.own_counter(thread, log);
        // A log not stored yet may not exist: heads naming it cost one pull, not a window
        // [SYNC-23].
        let stored = self
            .threads
            .get(thread)
            .is_some_and(|s| s.logs.contains_key(log));
        let size = if stored { self.pull_window } else { 1 };
        let Some(window) = self.pending.get_mut(key) else {
            return;
        };
        rebase(window, counter);
        let deferred = window.pulls.values().any(|p| !p.sent);
        let full = self.held_bytes >= MAX_HELD_BYTES
            || self.held_from.get(peer).copied().unwrap_or(0) >= MAX_HELD_BYTES_PER_PEER;
        let wanted = if deferred || full {
            Vec::new()
        } else {
            window.next_pulls(counter, size)
        };
        let now = self.now;
        for (after, limit) in &wanted {
            window.pulls.insert(
                *after,
                Pending {
                    limit: *limit,
                    attempt: 0,
                    sent: true,
                    due: now.saturating_add(retry_delay(0)),
                    sent_at: now,
                },
            );
        }
        if window.len() == 0 {
            self.pending.remove(key);
        }
        self.counters.pulls_sent += wanted.len() as u64;
        for (after, limit) in wanted {
            self.send_pull(thread, *log, *peer, after, limit);
        }
    }

    /// `peer`'s heads say it is ahead on `log`, at `theirs`: pulls as [`Peer::pull`] does, and
    /// sends again now, with their backoff restarted, the pulls to it that are waiting and were
    /// last sent at least [`retry_delay`]`(0)` ago [SYNC-10]. The heads prove that the link from
    /// `peer` works again; without this a pull lost while the link was down waited out a backoff
    /// grown to 32 s, while the heads that came every 5 s were ignored (simulator,
    /// flapping-links seed 2519). The delay keeps announcements, which come with every new
    /// record, from sending a pull each.
    pub(super) fn pull_behind(&mut self, thread: &ThreadId, log: LogId, peer: LogId, theirs: u64) {
        let key = (thread.clone(), log, peer);
        let counter = self.own_counter(thread, &log);
        let now = self.now;
        let Some(window) = self.pending.get_mut(&key) else {
            self.pull(thread, log, peer, theirs);
            return;
        };
        window.target = window.target.max(theirs);
        rebase(window, counter);
        let mut again = Vec::new();
        for (after, pending) in &mut window.pulls {
            if pending.sent && now >= pending.sent_at.saturating_add(retry_delay(0)) {
                pending.attempt = 0;
                pending.sent_at = now;
                pending.due = now.saturating_add(retry_delay(0));
                again.push((*after, pending.limit));
            }
        }
        self.counters.pulls_retried += again.len() as u64;
        for (after, limit) in again {
            self.send_pull(thread, log, peer, after, limit);
        }
        self.refill(&key);
    }

    /// A pull that waits [`GAP_GRACE_MS`] for records still in flight to fill a gap: pushes that
    /// overtook each other usually do, and pulling at once would fetch them twice [SYNC-7].
    pub(super) fn defer_pull(&mut self, thread: &ThreadId, log: LogId, peer: LogId, theirs: u64) {
        let counter = self.own_counter(thread, &log);
        let due = self.now.saturating_add(GAP_GRACE_MS);
        let window = self.pending.entry((thread.clone(), log, peer)).or_default();
        window.target = window.target.max(theirs);
        if window.pulls.is_empty() {
            window.pulls.insert(
                counter,
                Pending {
                    limit: PULL_LIMIT,
                    attempt: 0,
                    sent: false,
                    due,
                    sent_at: 0,
                },
            );
        }
    }

    /// A `records` message from `peer` about `log` ends the wait of the pull it answers
    /// [SYNC-10], [SYNC-32]: the one whose range holds its first record, `first`; a message with
    /// no records ends every pull at or past the sender's `counter`, which it has nothing after,
    /// or else the oldest.
    pub(super) fn answered(
        &mut self,
        thread: &ThreadId,
        log: LogId,
        peer: LogId,
        first: Option<u64>,
        counter: u64,
    ) {
        let key = (thread.clone(), log, peer);
        let Some(window) = self.pending.get_mut(&key) else {
            return;
        };
        match first {
            None => {
                window.target = counter;
                let done: Vec<u64> = window.pulls.range(counter..).map(|(a, _)| *a).collect();
                if done.is_empty() {
                    window.pulls.pop_first();
                }
                for after in done {
                    window.pulls.remove(&after);
                }
            }
            Some(seq) => {
                let hit = window
                    .pulls
                    .range(..seq)
                    .next_back()
                    .filter(|(a, p)| seq <= a.saturating_add(p.limit))
                    .map(|(a, _)| *a);
                if let Some(after) = hit {
                    window.pulls.remove(&after);
                }
            }
        }
        if window.len() == 0 {
            self.pending.remove(&key);
        }
    }

    /// Holds an answer from `peer` whose first record, `first`, lies beyond this peer's next
    /// position, when it answers a waiting pull and the bound allows: it is decided once the
    /// answers before it are [SYNC-33]. Gives the envelopes back when it is not held.
    pub(super) fn hold(
        &mut self,
        (thread, log, peer): (&ThreadId, LogId, LogId),
        first: u64,
        counter: u64,
        envelopes: Vec<Envelope>,
    ) -> Option<Vec<Envelope>> {
        let own = self.own_counter(thread, &log);
        let bytes: usize = envelopes.iter().map(Envelope::size).sum();
        let from_peer = self.held_from.get(&peer).copied().unwrap_or(0);
        let over = self.held_bytes.saturating_add(bytes) > MAX_HELD_BYTES
            || from_peer.saturating_add(bytes) > MAX_HELD_BYTES_PER_PEER;
        let key = (thread.clone(), log, peer);
        let window = match self.pending.get_mut(&key) {
            Some(window) if first > own.saturating_add(1) && !over => window,
            _ => return Some(envelopes),
        };
        // Only a message that starts where a waiting pull asked is its answer [SYNC-5]: a push
        // that overtook others is not, and holding it would leave the pull ahead of it unsent.
        let after = first - 1;
        if !window.pulls.get(&after).is_some_and(|p| p.sent) {
            return Some(envelopes);
        }
        window.pulls.remove(&after);
        window.target = window.target.max(counter);
        window.held.insert(
            after,
            Held {
                counter,
                envelopes,
                bytes,
            },
        );
        self.held_bytes += bytes;
        *self.held_from.entry(peer).or_default() += bytes;
        None
    }

    /// An answer held for `log` that this peer's counter has now reached, from any peer, with
    /// the peer it came from and that peer's counter [SYNC-33].
    pub(super) fn take_held(
        &mut self,
        thread: &ThreadId,
        log: LogId,
    ) -> Option<(LogId, u64, Vec<Envelope>)> {
        let own = self.own_counter(thread, &log);
        let own = own.saturating_sub(u64::from(crate::fault::on(
            "held-answer-missed-at-its-turn",
        )));
        let key = self
            .pending
            .iter()
            .find(|((t, l, _), w)| {
                t == thread && *l == log && w.held.keys().next().is_some_and(|a| *a <= own)
            })
            .map(|(key, _)| key.clone())?;
        let window = self.pending.get_mut(&key)?;
        let (_, held) = window.held.pop_first()?;
        if window.len() == 0 {
            self.pending.remove(&key);
        }
        self.release_held(key.2, held.bytes);
        Some((key.2, held.counter, held.envelopes))
    }

    fn send_pull(&mut self, thread: &ThreadId, log: LogId, peer: LogId, after: u64, limit: u64) {
        let bytes = Message::Pull {
            thread: thread.clone(),
            log,
            after,
            limit,
        }
        .to_bytes();
        self.send_about(thread, peer, bytes);
    }

    /// Sends every pull waiting on `peer` in `thread` again now, with its backoff restarted: the
    /// peer just proved membership, so what was held back can go [SYNC-21].
    pub(super) fn resend_pulls_to(&mut self, thread: &ThreadId, peer: LogId) {
        let now = self.now;
        let mut again = Vec::new();
        for ((t, log, p), window) in &mut self.pending {
            if t != thread || *p != peer {
                continue;
            }
            for (after, pending) in window.pulls.iter_mut().filter(|(_, p)| p.sent) {
                pending.attempt = 0;
                pending.sent_at = now;
                pending.due = now.saturating_add(retry_delay(0));
                again.push((*log, *after, pending.limit));
            }
        }
        for (log, after, limit) in again {
            self.send_pull(thread, log, peer, after, limit);
        }
    }

    /// Sends the deferred pulls whose grace is over and again the unanswered ones whose wait is
    /// over, each from this peer's counter when it is past the pull's start, with backoff; gives
    /// up a window after [`MAX_ATTEMPTS`] sends of one of its pulls [SYNC-10], [SYNC-34].
    fn send_due_pulls(&mut self, now: u64) {
        let due: Vec<(Key, u64)> = self
            .pending
            .iter()
            .flat_map(|(key, w)| {
                w.pulls
                    .iter()
                    .filter(|(_, p)| p.due <= now)
                    .map(move |(after, _)| (key.clone(), *after))
            })
            .collect();
        let mut touched = Vec::new();
        for (key, after) in due {
            let counter = self.own_counter(&key.0, &key.1);
            let Some(window) = self.pending.get_mut(&key) else {
                continue;
            };
            let Some(mut pending) = window.pulls.remove(&after) else {
                continue;
            };
            if touched.last() != Some(&key) {
                touched.push(key.clone());
            }
            let end = after.saturating_add(pending.limit);
            if end <= counter {
                continue;
            }
            let after = after.max(counter);
            pending.limit = end - after;
            pending.sent_at = now;
            if !pending.sent {
                pending.sent = true;
                pending.due = now.saturating_add(retry_delay(0));
                self.counters.pulls_sent += 1;
            } else {
                pending.attempt += 1;
                if pending.attempt >= MAX_ATTEMPTS {
                    self.drop_window(&key);
                    continue;
                }
                pending.due = now.saturating_add(retry_delay(pending.attempt));
                self.counters.pulls_retried += 1;
            }
            let limit = pending.limit;
            window.pulls.insert(after, pending);
            let (thread, log, peer) = &key;
            self.send_pull(thread, *log, *peer, after, limit);
        }
        for key in touched {
            self.refill(&key);
        }
    }

    /// Gives up the pulls of `key` and drops the answers it held: the next head exchange pulls
    /// the log again [SYNC-10].
    fn drop_window(&mut self, key: &Key) {
        if let Some(window) = self.pending.remove(key) {
            self.release_held(key.2, window.held.values().map(|h| h.bytes).sum());
        }
        let (thread, log, peer) = key;
        self.forget_pending(thread, Some(*peer), *log);
    }

    /// Gives back the budget of `bytes` held from `peer` [SYNC-33].
    fn release_held(&mut self, peer: LogId, bytes: usize) {
        self.held_bytes -= bytes;
        if let Some(from) = self.held_from.get_mut(&peer) {
            *from -= bytes;
            if *from == 0 {
                self.held_from.remove(&peer);
            }
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

/// Moves the start of a waiting pull that this peer's `counter` has passed up to it, and drops
/// the pulls it has passed entirely: a pull always asks for what comes after the counter
/// [SYNC-10].
fn rebase(window: &mut Window, counter: u64) {
    let passed: Vec<u64> = window.pulls.range(..counter).map(|(a, _)| *a).collect();
    for after in passed {
        if let Some(mut pending) = window.pulls.remove(&after) {
            let end = after.saturating_add(pending.limit);
            if end > counter {
                pending.limit = end - counter;
                window.pulls.insert(counter, pending);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::id::Variant;
    use crate::keys::IdentityKey;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    /// Checks [SYNC-33] at its bounds: answers that overtook the ones ahead of them are held up
    /// to exactly MAX_HELD_BYTES_PER_PEER from each peer and MAX_HELD_BYTES from all peers
    /// together; one byte more is not held (it is handed back to be decided at once).
    #[test]
    fn sync_33_answers_are_held_up_to_max_held_bytes_exactly() {
        let mut rng = ChaCha20Rng::seed_from_u64(33);
        let mut peer = Peer::<ChaCha20Rng>::from_seed([33; 32]);
        let (thread, log) = peer.create_thread(0, Variant::Raw).expect("create");
        let per = MAX_HELD_BYTES_PER_PEER;
        let members: Vec<LogId> = (0..=MAX_HELD_BYTES / per)
            .map(|_| IdentityKey::generate(&mut rng).log_id())
            .collect();
        for member in &members {
            // A window of pulls after 0, 256, 512 and 768: the first is still unanswered.
            peer.pull(&thread, log, *member, 4 * PULL_LIMIT);
        }
        for member in &members[..MAX_HELD_BYTES / per] {
            for (after, size) in [(256, per / 2), (512, per / 4), (768, per / 4)] {
                let held = peer.hold(
                    (&thread, log, *member),
                    after + 1,
                    4 * PULL_LIMIT,
                    vec![Envelope::of_size(size)],
                );
                assert!(held.is_none(), "held after {after}");
            }
        }
        assert_eq!(peer.held_bytes, MAX_HELD_BYTES);
        let last = *members.last().expect("members");
        let over = peer.hold(
            (&thread, log, last),
            257,
            4 * PULL_LIMIT,
            vec![Envelope::of_size(1)],
        );
        assert!(over.is_some(), "one byte past MAX_HELD_BYTES is not held");
        assert_eq!(peer.held_bytes, MAX_HELD_BYTES);
    }

    /// Checks [SYNC-33]'s bound per peer: once the answers held from one peer reach
    /// MAX_HELD_BYTES_PER_PEER, no new pull goes to that peer, for any log, while the others,
    /// far from MAX_HELD_BYTES together, are still pulled from.
    #[test]
    fn sync_33_no_pull_goes_to_a_peer_whose_held_answers_reach_its_bound() {
        let mut rng = ChaCha20Rng::seed_from_u64(34);
        let mut peer = Peer::<ChaCha20Rng>::from_seed([34; 32]);
        let (thread, log) = peer.create_thread(0, Variant::Raw).expect("create");
        let (full, other) = (
            IdentityKey::generate(&mut rng).log_id(),
            IdentityKey::generate(&mut rng).log_id(),
        );
        let per = MAX_HELD_BYTES_PER_PEER;
        peer.pull(&thread, log, full, 4 * PULL_LIMIT);
        for (after, size) in [(256, per / 2), (512, per / 4), (768, per / 4)] {
            let held = peer.hold(
                (&thread, log, full),
                after + 1,
                4 * PULL_LIMIT,
                vec![Envelope::of_size(size)],
            );
            assert!(held.is_none(), "held after {after}");
        }
        assert!(peer.held_bytes < MAX_HELD_BYTES);
        let sent = peer.counters().pulls_sent;
        let another_log = IdentityKey::generate(&mut rng).log_id();
        peer.pull(&thread, another_log, full, PULL_LIMIT);
        assert_eq!(peer.counters().pulls_sent, sent, "none to the full peer");
        peer.pull(&thread, another_log, other, PULL_LIMIT);
        assert_eq!(peer.counters().pulls_sent, sent + 1, "one to another peer");
    }

    /// A peer pulling `log` of its own thread from a member, holding one early answer (after
    /// 256, of 10 bytes); with the RNG it drew the member's ID from.
    fn holding_an_early_answer(
        seed: u8,
    ) -> (Peer<ChaCha20Rng>, ThreadId, LogId, LogId, ChaCha20Rng) {
        let mut rng = ChaCha20Rng::seed_from_u64(u64::from(seed));
        let mut peer = Peer::<ChaCha20Rng>::from_seed([seed; 32]);
        let (thread, log) = peer.create_thread(0, Variant::Raw).expect("create");
        let member = IdentityKey::generate(&mut rng).log_id();
        peer.pull(&thread, log, member, 4 * PULL_LIMIT);
        let answer = vec![Envelope::of_size(10)];
        let held = peer.hold((&thread, log, member), 257, 4 * PULL_LIMIT, answer);
        assert!(held.is_none(), "held after 256");
        (peer, thread, log, member, rng)
    }

    /// Checks [SYNC-33]: a held answer is taken only for its own log, once the counter reaches
    /// it: asking for another log of the same thread takes nothing, and the answer stays held.
    #[test]
    fn sync_33_a_held_answer_is_taken_only_for_its_own_log() {
        let (mut peer, thread, log, _, mut rng) = holding_an_early_answer(35);
        let bytes = peer.held_bytes;
        let other = IdentityKey::generate(&mut rng).log_id();
        assert!(peer.take_held(&thread, other).is_none(), "another log");
        assert!(peer.take_held(&thread, log).is_none(), "not its turn yet");
        assert_eq!(peer.held_bytes, bytes, "still held");
    }

    /// Checks [SYNC-10]: a window one of whose pulls went unanswered [`MAX_ATTEMPTS`] times is
    /// given up whole: its pulls go, the answers it held are dropped and their bytes given back,
    /// and nothing more is pulled from that peer for the log until heads name it again.
    #[test]
    fn sync_10_a_window_given_up_drops_its_pulls_and_gives_back_what_it_held() {
        let (mut peer, thread, log, member, _) = holding_an_early_answer(36);
        assert!(peer.held_bytes > 0);
        let mut now = 0;
        for _ in 0..=MAX_ATTEMPTS {
            now += retry_delay(MAX_ATTEMPTS) + 1;
            peer.send_due_pulls(now);
        }
        let key = (thread.clone(), log, member);
        assert!(!peer.pending.contains_key(&key), "the window was given up");
        assert_eq!(peer.held_bytes, 0, "its held answer's bytes given back");
        let counters = peer.counters();
        peer.send_due_pulls(now + 10 * retry_delay(MAX_ATTEMPTS));
        assert_eq!(peer.counters().pulls_sent, counters.pulls_sent);
        assert_eq!(peer.counters().pulls_retried, counters.pulls_retried);
    }

    /// A pull sent at 0 for `limit` records, not yet retried.
    fn pending(limit: u64) -> Pending {
        Pending {
            limit,
            attempt: 0,
            sent: true,
            due: 0,
            sent_at: 0,
        }
    }

    /// Checks [SYNC-10]: a waiting pull that this peer's counter passed asks only for what comes
    /// after the counter, and one the counter passed entirely is dropped.
    #[test]
    fn sync_10_a_passed_pull_asks_only_for_what_follows_the_counter() {
        let mut window = Window::default();
        window.pulls.insert(0, pending(10));
        window.pulls.insert(10, pending(5));
        window.pulls.insert(20, pending(PULL_LIMIT));
        rebase(&mut window, 12);
        let pulls: Vec<(u64, u64)> = window.pulls.iter().map(|(a, p)| (*a, p.limit)).collect();
        assert_eq!(pulls, [(12, 3), (20, PULL_LIMIT)]);
    }

    /// Checks [SYNC-10]: a waiting pull whose last record this peer's counter has just reached
    /// is dropped, not kept as a pull for nothing; one the counter stopped one short of still
    /// asks for that one record.
    #[test]
    fn sync_10_a_pull_the_counter_reached_exactly_is_dropped() {
        let mut window = Window::default();
        window.pulls.insert(0, pending(10));
        rebase(&mut window, 10);
        assert!(window.pulls.is_empty(), "{:?}", window.pulls.keys());
        window.pulls.insert(0, pending(10));
        rebase(&mut window, 9);
        let pulls: Vec<(u64, u64)> = window.pulls.iter().map(|(a, p)| (*a, p.limit)).collect();
        assert_eq!(pulls, [(9, 1)]);
    }

    /// Checks [SYNC-32]: the pull for a hole below a held answer asks for the hole and nothing
    /// the held answer already covers.
    #[test]
    fn sync_32_a_hole_below_a_held_answer_is_pulled_exactly() {
        let mut window = Window {
            target: 4 * PULL_LIMIT,
            ..Window::default()
        };
        let held = Held {
            counter: 4 * PULL_LIMIT,
            envelopes: vec![Envelope::of_size(1)],
            bytes: 1,
        };
        window.held.insert(256, held);
        assert_eq!(window.next_pulls(10, 1), [(10, 246)]);
    }

    /// Checks [SYNC-32]: the ranges of a window are disjoint and consecutive, and an answer
    /// held that is shorter than its range ([SYNC-5] cut it) covers only the records it holds: the
    /// new ranges past it start right after its last record, neither over it nor past a gap.
    #[test]
    fn sync_32_new_ranges_start_right_after_a_short_held_answer() {
        for len in [1, 10] {
            let mut window = Window {
                target: 4 * PULL_LIMIT,
                ..Window::default()
            };
            let held = Held {
                counter: 4 * PULL_LIMIT,
                envelopes: (0..len).map(|_| Envelope::of_size(1)).collect(),
                bytes: len as usize,
            };
            window.held.insert(PULL_LIMIT, held);
            let end = PULL_LIMIT + len;
            assert_eq!(
                window.next_pulls(0, PULL_WINDOW),
                [
                    (0, PULL_LIMIT),
                    (end, PULL_LIMIT),
                    (end + PULL_LIMIT, PULL_LIMIT)
                ],
                "a held answer of {len} records after {PULL_LIMIT}"
            );
        }
    }

    /// Checks [SYNC-33]: held bytes given back in parts leave the peer's own budget in parts; the
    /// peer's entry goes only once nothing it sent is held.
    #[test]
    fn sync_33_held_bytes_are_given_back_in_parts() {
        let mut rng = ChaCha20Rng::seed_from_u64(34);
        let mut peer = Peer::<ChaCha20Rng>::from_seed([34; 32]);
        let (thread, log) = peer.create_thread(0, Variant::Raw).expect("create");
        let member = IdentityKey::generate(&mut rng).log_id();
        peer.pull(&thread, log, member, 4 * PULL_LIMIT);
        for (after, size) in [(256, 100), (512, 200)] {
            let held = peer.hold(
                (&thread, log, member),
                after + 1,
                4 * PULL_LIMIT,
                vec![Envelope::of_size(size)],
            );
            assert!(held.is_none(), "held after {after}");
        }
        peer.release_held(member, 100);
        assert_eq!(
            (peer.held_bytes, peer.held_from.get(&member)),
            (200, Some(&200))
        );
        peer.release_held(member, 200);
        assert_eq!((peer.held_bytes, peer.held_from.get(&member)), (0, None));
    }

    /// Checks [SYNC-7]: a pull deferred after a gap is counted sent when it goes out.
    #[test]
    fn sync_7_a_deferred_pull_is_counted_when_it_goes_out() {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let mut peer = Peer::<ChaCha20Rng>::from_seed([7; 32]);
        let (thread, _) = peer.create_thread(0, Variant::Raw).expect("create");
        let member = IdentityKey::generate(&mut rng).log_id();
        peer.defer_pull(&thread, member, member, 10);
        assert_eq!(peer.counters().pulls_sent, 0);
        peer.send_due_pulls(GAP_GRACE_MS);
        assert_eq!(peer.counters().pulls_sent, 1);
    }

    /// Checks [SYNC-7] with [SYNC-32]: while a pull deferred after a gap waits out its grace,
    /// no other pull of its window is sent; once it goes out, the window is filled to
    /// PULL_WINDOW pulls at once.
    #[test]
    fn sync_7_a_deferred_pull_holds_its_window_back_until_it_goes_out() {
        let mut rng = ChaCha20Rng::seed_from_u64(77);
        let mut peer = Peer::<ChaCha20Rng>::from_seed([77; 32]);
        let (thread, log) = peer.create_thread(0, Variant::Raw).expect("create");
        let member = IdentityKey::generate(&mut rng).log_id();
        let target = 4 * PULL_LIMIT;
        peer.defer_pull(&thread, log, member, target);
        let key = (thread.clone(), log, member);
        peer.refill(&key);
        let sent = |peer: &Peer<ChaCha20Rng>| {
            peer.pending[&key]
                .pulls
                .iter()
                .map(|(after, p)| (*after, p.sent))
                .collect::<Vec<_>>()
        };
        assert_eq!(sent(&peer), [(0, false)], "nothing more during the grace");
        assert_eq!(peer.counters().pulls_sent, 0);
        peer.send_due_pulls(GAP_GRACE_MS);
        let window: Vec<(u64, bool)> = (0..PULL_WINDOW as u64)
            .map(|i| (i * PULL_LIMIT, true))
            .collect();
        assert_eq!(sent(&peer), window);
        assert_eq!(peer.counters().pulls_sent, PULL_WINDOW as u64);
    }

    #[test]
    fn retries_back_off_exponentially_to_a_cap() {
        let delays: Vec<u64> = (0..8).map(retry_delay).collect();
        assert_eq!(delays, [1000, 2000, 4000, 8000, 16000, 32000, 32000, 32000]);
    }
}
