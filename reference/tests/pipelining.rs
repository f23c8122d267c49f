//! Pipelined pulls (spec/sync.md, [SYNC-10], [SYNC-32] to [SYNC-34]): a window of pulls for
//! disjoint consecutive ranges, answers held until the ones before them arrive and decided in log
//! order, per-pull retries, a window of 1, and forged answers that are held but never stored.

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use threads::id::{LogId, ThreadId, Variant};
use threads::invite::InviteRole;
use threads::keys::IdentityKey;
use threads::sync::{Message, Net, PULL_LIMIT, PULL_WINDOW, Peer, retry_delay};

type TestPeer = Peer<ChaCha20Rng>;

/// Records in the writer's log: more than one window of full batches, so the window refills.
const N: u64 = PULL_WINDOW as u64 * PULL_LIMIT + 100;

fn peer(seed: u64) -> TestPeer {
    let identity = IdentityKey::generate(&mut ChaCha20Rng::seed_from_u64(seed));
    Peer::new(identity, ChaCha20Rng::seed_from_u64(seed + 1000))
}

fn deliver(to: &mut TestPeer, now: u64, from: LogId, message: &Message) {
    to.handle_message(now, from, &message.to_bytes())
        .expect("receive");
}

fn counter(p: &TestPeer, thread: &ThreadId, log: &LogId) -> u64 {
    p.heads(thread).expect("heads").get(log).map_or(0, |h| h.1)
}

/// The `(after, limit)` of every pull `p` sent to `to`, in order; everything else it sent is
/// dropped.
fn pulls_to(p: &mut TestPeer, to: LogId) -> Vec<(u64, u64)> {
    Net::sent(p)
        .into_iter()
        .filter_map(|(dest, m)| match m {
            Message::Pull { after, limit, .. } if dest == to => Some((after, limit)),
            _ => None,
        })
        .collect()
}

/// A writer with [`N`] events and a follower joined and proven at time 0, with nothing in
/// flight: the join's pull was lost.
fn joined(window: Option<usize>) -> (ThreadId, LogId, TestPeer, TestPeer) {
    let (mut writer, mut follower) = (peer(1), peer(2));
    if let Some(w) = window {
        follower.set_pull_window(w);
    }
    let (thread, log) = writer.create_thread(0, Variant::Raw).expect("create");
    for i in 0..N {
        writer
            .append(i, &thread, format!("event {i}").as_bytes())
            .expect("append");
    }
    let invite = writer
        .invite(&thread, InviteRole::Follower, follower.id())
        .expect("invite");
    follower.join(0, &invite).expect("join");
    // Only the membership handshake gets through; every other message is lost.
    let poke = Message::Heads {
        thread: thread.clone(),
        heads: Vec::new(),
    };
    let (w, f) = (writer.id(), follower.id());
    deliver(&mut follower, 0, w, &poke);
    deliver(&mut writer, 0, f, &poke);
    loop {
        let mut moved = false;
        for (to, m) in Net::sent(&mut follower) {
            if to == w && matches!(m, Message::Auth { .. }) {
                deliver(&mut writer, 0, f, &m);
                moved = true;
            }
        }
        for (to, m) in Net::sent(&mut writer) {
            if to == f && matches!(m, Message::Auth { .. }) {
                deliver(&mut follower, 0, w, &m);
                moved = true;
            }
        }
        if !moved {
            break;
        }
    }
    assert!(follower.is_proven(&thread, &w));
    (thread, log, writer, follower)
}

/// The writer's heads reach the follower at `now`, a second after the lost join pull: the
/// follower fills its window. Returns the pulls it sent.
fn heads_arrive(
    thread: &ThreadId,
    log: LogId,
    writer: &TestPeer,
    follower: &mut TestPeer,
    now: u64,
) -> Vec<(u64, u64)> {
    let heads = Message::Heads {
        thread: thread.clone(),
        heads: vec![(log, N)],
    };
    deliver(follower, now, writer.id(), &heads);
    pulls_to(follower, writer.id())
}

/// The writer's answer to a pull for `after`.
fn answer(
    thread: &ThreadId,
    log: LogId,
    writer: &mut TestPeer,
    from: LogId,
    after: u64,
) -> Message {
    let pull = Message::Pull {
        thread: thread.clone(),
        log,
        after,
        limit: PULL_LIMIT,
    };
    deliver(writer, 1000, from, &pull);
    let mut sent = Net::sent(writer);
    assert_eq!(sent.len(), 1, "one records message per pull [SYNC-5]");
    sent.pop().expect("answer").1
}

#[test]
fn a_window_of_pulls_asks_for_disjoint_consecutive_ranges_and_answers_in_reverse_are_decided_in_order()
 {
    let (thread, log, mut writer, mut follower) = joined(None);
    let t = retry_delay(0);
    let window = heads_arrive(&thread, log, &writer, &mut follower, t);
    let expected: Vec<(u64, u64)> = (0..PULL_WINDOW as u64)
        .map(|i| (i * PULL_LIMIT, PULL_LIMIT))
        .collect();
    assert_eq!(
        window, expected,
        "the join's pull again, then the rest of the window"
    );
    let f = follower.id();
    let answers: Vec<Message> = window
        .iter()
        .map(|(after, _)| answer(&thread, log, &mut writer, f, *after))
        .collect();
    // The last three arrive first: held, nothing decided, nothing pulled (the window is full).
    for message in answers[1..].iter().rev() {
        deliver(&mut follower, t, writer.id(), message);
        assert_eq!(counter(&follower, &thread, &log), 0);
        assert_eq!(pulls_to(&mut follower, writer.id()), Vec::new());
    }
    // The first one decides all four, in log order, and the window refills past them.
    deliver(&mut follower, t, writer.id(), &answers[0]);
    let filled = PULL_WINDOW as u64 * PULL_LIMIT;
    assert_eq!(counter(&follower, &thread, &log), filled);
    assert_eq!(follower.counters().records_appended, filled);
    assert_eq!(follower.counters().records_rejected, 0);
    assert_eq!(
        pulls_to(&mut follower, writer.id()),
        vec![(filled, PULL_LIMIT)],
        "only what the writer holds is asked for"
    );
    let last = answer(&thread, log, &mut writer, f, filled);
    deliver(&mut follower, t, writer.id(), &last);
    assert_eq!(counter(&follower, &thread, &log), N);
    assert_eq!(follower.counters().records_appended, N);
    assert_eq!(
        follower.counters().records_duplicate,
        0,
        "nothing fetched twice"
    );
    assert_eq!(
        pulls_to(&mut follower, writer.id()),
        Vec::new(),
        "caught up"
    );
}

#[test]
fn a_lost_answer_is_pulled_again_on_its_own_clock_and_releases_the_held_ones() {
    let (thread, log, mut writer, mut follower) = joined(None);
    let t = retry_delay(0);
    let window = heads_arrive(&thread, log, &writer, &mut follower, t);
    assert_eq!(window.len(), PULL_WINDOW);
    let f = follower.id();
    for (after, _) in &window[1..] {
        let message = answer(&thread, log, &mut writer, f, *after);
        deliver(&mut follower, t, writer.id(), &message);
    }
    assert_eq!(
        counter(&follower, &thread, &log),
        0,
        "the first answer was lost"
    );
    let retried = follower.counters().pulls_retried;
    follower
        .handle_timeout(t + retry_delay(0))
        .expect("timeout");
    assert_eq!(
        pulls_to(&mut follower, writer.id()),
        vec![(0, PULL_LIMIT)],
        "only the unanswered pull goes again"
    );
    assert_eq!(follower.counters().pulls_retried, retried + 1);
    let first = answer(&thread, log, &mut writer, f, 0);
    deliver(&mut follower, t + retry_delay(0), writer.id(), &first);
    assert_eq!(
        counter(&follower, &thread, &log),
        PULL_WINDOW as u64 * PULL_LIMIT
    );
}

#[test]
fn a_window_of_one_is_one_pull_at_a_time() {
    let (thread, log, mut writer, mut follower) = joined(Some(1));
    let t = retry_delay(0);
    assert_eq!(
        heads_arrive(&thread, log, &writer, &mut follower, t),
        vec![(0, PULL_LIMIT)]
    );
    let f = follower.id();
    let first = answer(&thread, log, &mut writer, f, 0);
    deliver(&mut follower, t, writer.id(), &first);
    assert_eq!(
        pulls_to(&mut follower, writer.id()),
        vec![(PULL_LIMIT, PULL_LIMIT)],
        "the next pull only once the first is answered"
    );
}

/// Attack: a proven member answers the follower's pulls with tampered records at the right
/// positions. The one matching a waiting pull is held, the rest are decided at once; none
/// is stored, at most one answer per pull is held, and the real answers still catch up [SYNC-33].
#[test]
fn forged_answers_are_held_at_most_one_per_pull_and_never_stored() {
    let (thread, log, mut writer, mut follower) = joined(None);
    let t = retry_delay(0);
    let window = heads_arrive(&thread, log, &writer, &mut follower, t);
    assert_eq!(window.len(), PULL_WINDOW);
    // The writer's own records at the right positions, each with another body: their record
    // blocks open and name the right `seq`, and they fail verification.
    let forged: Vec<_> = writer.envelopes(&thread, &log).expect("envelopes")
        [PULL_LIMIT as usize..2 * PULL_LIMIT as usize]
        .iter()
        .map(|e| {
            let mut e = e.clone();
            e.body = vec![0x41, b'x'];
            e
        })
        .collect();
    let message = Message::Records {
        thread: thread.clone(),
        log,
        counter: N,
        envelopes: forged,
    };
    for _ in 0..100 {
        deliver(&mut follower, t, writer.id(), &message);
    }
    assert_eq!(counter(&follower, &thread, &log), 0);
    assert_eq!(
        follower.counters().records_rejected,
        99 * PULL_LIMIT,
        "every copy but the held one is decided, and rejected"
    );
    // The real first answer arrives: the held forgery is decided after it and rejected, and the
    // follower pulls its range again.
    let f = follower.id();
    let first = answer(&thread, log, &mut writer, f, 0);
    deliver(&mut follower, t, writer.id(), &first);
    assert_eq!(counter(&follower, &thread, &log), PULL_LIMIT);
    assert_eq!(follower.counters().records_rejected, 100 * PULL_LIMIT);
    Net::new(t)
        .run_until(&mut [&mut writer, &mut follower], t + 10 * retry_delay(0))
        .expect("run");
    assert_eq!(counter(&follower, &thread, &log), N);
    assert_eq!(follower.counters().records_appended, N);
}

/// A push that overtook others while pulls wait is not an answer: it starts where no pull asked,
/// so it is not held and every pull is still sent again at its retry (simulator,
/// acl-revocation-partition seed 64: a held push left the log's first pull unsent for good).
#[test]
fn a_push_beyond_a_gap_is_not_held_and_the_pulls_are_still_retried() {
    let (thread, log, writer, mut follower) = joined(None);
    let t = retry_delay(0);
    let window = heads_arrive(&thread, log, &writer, &mut follower, t);
    assert_eq!(window.len(), PULL_WINDOW);
    let second = writer.envelopes(&thread, &log).expect("envelopes")[1].clone();
    let push = Message::Records {
        thread: thread.clone(),
        log,
        counter: N,
        envelopes: vec![second],
    };
    deliver(&mut follower, t, writer.id(), &push);
    assert_eq!(counter(&follower, &thread, &log), 0, "beyond the gap");
    assert_eq!(pulls_to(&mut follower, writer.id()), Vec::new());
    follower
        .handle_timeout(t + retry_delay(0))
        .expect("timeout");
    assert_eq!(pulls_to(&mut follower, writer.id()), window);
}
