//! Criterion benchmarks of the Threads protocol, each reported beside its physical bound.
//!
//! Every event a follower stores carries one Ed25519 signature that must be verified strictly
//! [SIG-2], so no implementation on one core can follow a log faster than that core verifies
//! signatures. The benches measure that rate in the same run and print each result as a fraction
//! of it (see [`Bound`]).
//!
//! This library holds what both benches share, so `cargo test` checks the setup they measure:
//!
//! - [`writer_with_log`]: a writer [`Peer`] and a log of N events, all from a seeded RNG;
//! - [`EventFixture`]: one event's keys and envelope, for the per-event costs;
//! - [`pump`]: carries messages between two peers on the core's in-memory [`Net`];
//! - [`join`] and [`catch_up`]: a new follower or reader, caught up from the writer;
//! - [`Recorder`], [`Bound`]: the timings criterion asked for, and the bound lines;
//! - [`loopback`]: a writer `threads-node` serving a long log, and fresh nodes that join it over
//!   127.0.0.1.
//!
//! The benches themselves are in `benches/`; how to run them and what one machine measured is in
//! the package's README.

pub mod loopback;

use std::hint::black_box;
use std::time::{Duration, Instant};

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use threads::envelope::Envelope;
use threads::id::{LogId, ThreadId, Variant};
use threads::invite::InviteRole;
use threads::keys::{IdentityKey, KeySet};
use threads::record::{self, Author, Position};
use threads::sync::{Net, Peer};

/// The peers the benches drive: deterministic, seeded randomness.
pub type BenchPeer = Peer<ChaCha20Rng>;

/// Length of the message the Ed25519 bound signs: about a record's signing input [SIG-1]
/// (context, block and prev CIDs, log ID, seq, Thread ID), which is what a follower verifies.
pub const BOUND_MESSAGE_LEN: usize = 200;

/// A peer whose identity and all later randomness come from `seed`.
pub fn peer(seed: u64) -> BenchPeer {
    Peer::from_seed(ChaCha20Rng::seed_from_u64(seed).get_seed())
}

/// The body of event `index`: `len` bytes, the index in the first eight (when they fit), so
/// every body differs and a reader's output can be checked.
pub fn body(index: u64, len: usize) -> Vec<u8> {
    let mut body = vec![0x5a; len];
    let tag = index.to_be_bytes();
    let n = tag.len().min(len);
    body[..n].copy_from_slice(&tag[..n]);
    body
}

/// A writer and the raw thread and log it wrote.
pub struct WriterLog {
    /// The writer; it serves the log to whoever pulls.
    pub writer: BenchPeer,
    /// The thread.
    pub thread: ThreadId,
    /// The writer's log in it.
    pub log: LogId,
}

/// A writer (seeded with `seed`) that created a raw thread and appended `events` events of
/// `body_len` bytes ([`body`]), at times `1_000 + i`.
pub fn writer_with_log(events: u64, body_len: usize, seed: u64) -> WriterLog {
    let mut writer = peer(seed);
    let (thread, log) = writer
        .create_thread(0, Variant::Raw)
        .expect("a new peer creates a thread");
    for i in 0..events {
        writer
            .append(1_000 + i, &thread, &body(i, body_len))
            .expect("the writer appends to its own log");
    }
    WriterLog {
        writer,
        thread,
        log,
    }
}

/// Carries every message between `a` and `b` as bytes, on the core's in-memory [`Net`], until
/// neither has anything to send. Messages for any other peer are dropped. Returns how many
/// messages were carried.
///
/// # Panics
///
/// If a peer's memory store fails, or the peers never stop talking.
pub fn pump(a: &mut BenchPeer, b: &mut BenchPeer) -> u64 {
    let mut net = Net::new(0);
    net.pump(&mut [a, b]).expect("two peers on a memory store");
    net.carried()
}

/// A new peer (seeded with `seed`) joined to the writer's thread with `role`; it has sent nothing
/// yet, so its pulls wait in its outbox for [`pump`].
///
/// The same seed gives the same peer ID, so a bench can join afresh in every iteration without
/// the writer's list of peers growing.
pub fn join(log: &mut WriterLog, role: InviteRole, seed: u64) -> BenchPeer {
    let mut joiner = peer(seed);
    let invite = log
        .writer
        .invite(&log.thread, role, joiner.id())
        .expect("the writer invites");
    let (thread, joined) = joiner.join(0, &invite).expect("the invite opens");
    assert_eq!((&thread, joined), (&log.thread, role));
    joiner
}

/// [`join`] then [`pump`]: a follower or reader that holds the writer's whole log.
pub fn catch_up(log: &mut WriterLog, role: InviteRole, seed: u64) -> BenchPeer {
    let mut joiner = join(log, role, seed);
    pump(&mut log.writer, &mut joiner);
    joiner
}

/// Whether `peer` holds the writer's log up to the same head and counter.
pub fn caught_up(log: &WriterLog, peer: &BenchPeer) -> bool {
    let theirs = log.writer.heads(&log.thread).expect("the writer's thread");
    peer.heads(&log.thread)
        .is_ok_and(|ours| ours.get(&log.log) == theirs.get(&log.log))
}

/// One writer's keys and an event it sealed at seq 2 (so the record links a prev, as nearly
/// every record does), for the per-event benches.
pub struct EventFixture {
    /// The thread.
    pub thread: ThreadId,
    /// The writer's identity key.
    pub identity: IdentityKey,
    /// The writer's log.
    pub log: LogId,
    /// The thread's follow and read keys.
    pub keys: KeySet,
    /// Where the sealed event sits: seq 2, after a first record.
    pub position: Position,
    /// The event's plaintext body.
    pub body: Vec<u8>,
    /// The sealed event.
    pub envelope: Envelope,
    /// The randomness [`EventFixture::create`] draws from.
    pub rng: ChaCha20Rng,
}

impl EventFixture {
    /// Keys, a first record, and the event at seq 2 with a `body_len`-byte body, from `seed`.
    pub fn new(body_len: usize, seed: u64) -> EventFixture {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let thread = ThreadId::generate(Variant::Raw, &mut rng);
        let identity = IdentityKey::generate(&mut rng);
        let keys = KeySet::generate(&mut rng);
        let mut fixture = EventFixture {
            log: identity.log_id(),
            thread,
            identity,
            keys,
            position: Position::FIRST,
            body: body(1, body_len),
            envelope: Envelope {
                body: Vec::new(),
                event: Vec::new(),
                header: Vec::new(),
                record: Vec::new(),
            },
            rng,
        };
        let first = fixture.create();
        fixture.position = Position {
            seq: 2,
            prev: Some(first.record_cid()),
        };
        fixture.envelope = fixture.create();
        fixture
    }

    /// Seals the fixture's body at its position: what a writer does per event ([`record::create`]).
    pub fn create(&mut self) -> Envelope {
        let author = Author {
            thread: &self.thread,
            identity: &self.identity,
            follow: &self.keys.follow,
            read: self.keys.read_key().expect("a writer holds the read key"),
        };
        record::create(&author, self.position, &self.body, 1_000, &mut self.rng)
    }
}

/// A key, a [`BOUND_MESSAGE_LEN`]-byte message and its signature: the bound's unit of work.
pub struct Ed25519Fixture {
    signing: SigningKey,
    key: VerifyingKey,
    message: Vec<u8>,
    signature: Signature,
}

impl Ed25519Fixture {
    /// A key and signed message from `seed`.
    pub fn new(seed: u64) -> Ed25519Fixture {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let signing = SigningKey::generate(&mut rng);
        let message = body(seed, BOUND_MESSAGE_LEN);
        Ed25519Fixture {
            key: signing.verifying_key(),
            signature: signing.sign(&message),
            signing,
            message,
        }
    }

    /// One strict verification [SIG-2], as a follower does per record; true if it verifies.
    pub fn verify(&self) -> bool {
        self.key
            .verify_strict(black_box(&self.message), black_box(&self.signature))
            .is_ok()
    }

    /// One Ed25519 signature of the same message, as a writer makes per record [SIG-1].
    pub fn sign(&self) -> Signature {
        self.signing.sign(black_box(&self.message))
    }
}

/// What one benchmark's timed calls took, for the bound lines.
///
/// Criterion times a routine by calling it with an iteration count, first while warming up, then
/// exactly once per sample. Benches time through [`Recorder::time`] inside
/// `Bencher::iter_custom`, so the recorder sees the same calls, and its rate is taken over the
/// last `samples` of them: the measurement phase criterion analyses, without the warm-up.
pub struct Recorder {
    samples: usize,
    calls: Vec<(u64, Duration)>,
}

impl Recorder {
    /// A recorder for a benchmark configured with `samples` samples.
    pub fn new(samples: usize) -> Recorder {
        Recorder {
            samples,
            calls: Vec::new(),
        }
    }

    /// Runs `routine` `iters` times and records the time taken.
    pub fn time<O>(&mut self, iters: u64, mut routine: impl FnMut() -> O) -> Duration {
        let start = Instant::now();
        for _ in 0..iters {
            black_box(routine());
        }
        let elapsed = start.elapsed();
        self.calls.push((iters, elapsed));
        elapsed
    }

    /// Runs `setup` then `routine` `iters` times, timing only `routine`, and records that time.
    /// Both get `state` (say, the writer), which the routine may change.
    pub fn time_with_setup<S, I, O>(
        &mut self,
        iters: u64,
        state: &mut S,
        mut setup: impl FnMut(&mut S) -> I,
        mut routine: impl FnMut(&mut S, I) -> O,
    ) -> Duration {
        let mut elapsed = Duration::ZERO;
        for _ in 0..iters {
            let input = setup(state);
            let start = Instant::now();
            let output = black_box(routine(state, input));
            elapsed += start.elapsed();
            drop(output);
        }
        self.calls.push((iters, elapsed));
        elapsed
    }

    /// Routine runs per second over the measurement phase; `None` if criterion only ran the
    /// routine once (`--test`) or not at all (filtered out).
    pub fn per_second(&self) -> Option<f64> {
        if self.calls.len() < 2 {
            return None;
        }
        let last = &self.calls[self.calls.len().saturating_sub(self.samples)..];
        let iters: u64 = last.iter().map(|(n, _)| n).sum();
        let time: Duration = last.iter().map(|(_, t)| *t).sum();
        Some(iters as f64 / time.as_secs_f64())
    }
}

/// The physical bound: strict Ed25519 verifications per second on one core, measured in the same
/// run as the benchmark it is printed beside.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bound {
    /// Verifications per second.
    pub verifies_per_sec: f64,
}

impl Bound {
    /// The bound from the criterion benchmark of [`Ed25519Fixture::verify`]; if that did not run
    /// (filtered out, or `--test`), from a plain timed loop of about a second.
    pub fn from_recorder_or_measure(recorder: &Recorder) -> Bound {
        let verifies_per_sec = recorder.per_second().unwrap_or_else(|| {
            let fixture = Ed25519Fixture::new(0);
            let mut loop_recorder = Recorder::new(1);
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(1) {
                loop_recorder.time(1_000, || assert!(fixture.verify()));
            }
            let (iters, time) = loop_recorder
                .calls
                .iter()
                .fold((0, Duration::ZERO), |(n, t), (i, d)| (n + i, t + *d));
            iters as f64 / time.as_secs_f64()
        });
        Bound { verifies_per_sec }
    }

    /// The line for a path that verifies `verifies_per_event` signatures per event: its rate
    /// beside the most events per second that many verifications allow. `note` says what else
    /// the path does per event.
    pub fn line(
        &self,
        what: &str,
        events_per_sec: f64,
        verifies_per_event: u32,
        note: &str,
    ) -> String {
        let verifies = self.verifies_per_sec;
        let percent = self.percent(events_per_sec, verifies_per_event);
        let bound = match verifies_per_event {
            1 => format!("{} verifies/s", thousands(verifies)),
            n => format!(
                "{} events/s = {} verifies/s / {n} verifies per event",
                thousands(verifies / f64::from(n)),
                thousands(verifies)
            ),
        };
        format!(
            "{what}: {} events/s = {percent:.1}% of the Ed25519 verify bound ({bound}; {note})",
            thousands(events_per_sec)
        )
    }

    /// The bound itself, as the first line of a report.
    pub fn headline(&self) -> String {
        format!(
            "Ed25519 verify bound: {} strict verifies/s of a {BOUND_MESSAGE_LEN}-byte message on \
             one core, measured in this run",
            thousands(self.verifies_per_sec)
        )
    }

    /// Percent of the bound for a path that verifies `verifies_per_event` signatures per event.
    pub fn percent(&self, events_per_sec: f64, verifies_per_event: u32) -> f64 {
        100.0 * events_per_sec * f64::from(verifies_per_event) / self.verifies_per_sec
    }

    /// The line for a path that verifies no signature: its rate and, for scale, how it compares
    /// with one verification.
    pub fn scale_line(&self, what: &str, per_sec: f64, note: &str) -> String {
        format!(
            "{what}: {} /s = {:.2}x the Ed25519 verify rate ({} verifies/s; {note})",
            thousands(per_sec),
            per_sec / self.verifies_per_sec,
            thousands(self.verifies_per_sec)
        )
    }
}

/// `1234567.8` as `1,234,568`: how the benches print rates.
pub fn thousands(x: f64) -> String {
    let digits = format!("{:.0}", x.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use threads::ErrorCode;
    use threads::verify;

    #[test]
    fn a_follower_and_a_reader_catch_up_the_whole_log_and_the_writer_serves_again() {
        // More than two full pulls (64 records each) and a partial one.
        let events = 150;
        let mut log = writer_with_log(events, 64, 1);
        for _ in 0..2 {
            let follower = catch_up(&mut log, InviteRole::Follower, 2);
            assert!(caught_up(&log, &follower));
            assert_eq!(
                log.writer.heads(&log.thread).expect("heads")[&log.log].1,
                events
            );
            assert_eq!(
                follower.read(&log.thread).map_err(|e| e.code),
                Err(ErrorCode::KeyUnavailable)
            );
        }
        let reader = catch_up(&mut log, InviteRole::Reader, 3);
        assert!(caught_up(&log, &reader));
        let events = reader.read(&log.thread).expect("a reader reads");
        assert_eq!(events.len(), 150);
        for (i, event) in (0u64..).zip(&events) {
            assert_eq!(event.body, body(i, 64));
            assert_eq!(event.header.time, 1_000 + i);
        }
    }

    #[test]
    fn a_joined_peer_is_not_caught_up_before_the_pump() {
        let mut log = writer_with_log(3, 8, 4);
        let mut follower = join(&mut log, InviteRole::Follower, 5);
        assert!(!caught_up(&log, &follower));
        assert!(pump(&mut log.writer, &mut follower) >= 2);
        assert!(caught_up(&log, &follower));
    }

    #[test]
    fn the_event_fixture_verifies_and_its_signing_input_is_about_the_bound_message() {
        let mut fixture = EventFixture::new(4096, 6);
        let opened = verify::verify_reader(
            &fixture.envelope,
            &fixture.thread,
            &fixture.log,
            &fixture.keys,
        )
        .expect("the fixture verifies");
        assert_eq!(opened.body, fixture.body);
        assert_eq!(opened.record.seq(), 2);
        let input = record::signing_input(
            &fixture.thread,
            &fixture.log,
            &opened.record.record().block,
            opened.record.prev(),
            2,
        );
        assert!(
            (BOUND_MESSAGE_LEN - 20..=BOUND_MESSAGE_LEN + 20).contains(&input.len()),
            "a record's signing input has {} bytes",
            input.len()
        );
        let again = fixture.create();
        assert!(
            verify::verify_follower(&again, &fixture.thread, &fixture.log, &fixture.keys.follow)
                .is_ok()
        );
        assert!(Ed25519Fixture::new(7).verify());
    }

    #[test]
    fn the_recorder_skips_warm_up_and_the_lines_say_the_bound() {
        let mut recorder = Recorder::new(2);
        assert_eq!(recorder.per_second(), None);
        recorder.calls = vec![
            (1, Duration::from_secs(100)),
            (10, Duration::from_secs(1)),
            (30, Duration::from_secs(2)),
        ];
        assert_eq!(recorder.per_second(), Some(40.0 / 3.0));
        let bound = Bound {
            verifies_per_sec: 20_000.0,
        };
        assert_eq!(
            bound.line("catch-up follower", 5_000.0, 1, "x"),
            "catch-up follower: 5,000 events/s = 25.0% of the Ed25519 verify bound \
             (20,000 verifies/s; x)"
        );
        assert_eq!(
            bound.line("catch-up reader", 5_000.0, 2, "y"),
            "catch-up reader: 5,000 events/s = 50.0% of the Ed25519 verify bound \
             (10,000 events/s = 20,000 verifies/s / 2 verifies per event; y)"
        );
        assert_eq!(bound.percent(5_000.0, 1), 25.0);
        assert_eq!(
            bound.headline(),
            "Ed25519 verify bound: 20,000 strict verifies/s of a 200-byte message on one core, \
             measured in this run"
        );
        assert_eq!(thousands(999.4), "999");
        assert_eq!(thousands(1_234_567.8), "1,234,568");
    }
}
