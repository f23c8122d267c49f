//! Reproduces a traffic blow-up in the reference `Peer` (see simulator/README.md, "Findings"):
//! a writer appends at a steady rate to one follower over a link whose jitter reorders pushes.
//! Every out-of-order push is a gap, and the gap pull is sent because the push before it ended the
//! wait of the previous pull [SYNC-10]; each answer starts another pull while the follower is
//! behind, so concurrent pull chains pile up and the traffic grows with the square of the run.
//!
//! It first shows the root cause on two bare peers: two out-of-order pushes make the follower send
//! a second pull for the same log to the same peer while the first is unanswered.
//!
//! `cargo run --release -p threads-simulator --example push_storm`

use rand_chacha::ChaCha20Rng;
use threads::id::Variant;
use threads::invite::InviteRole;
use threads::sync::{Message, Net, Peer};
use threads_simulator::nodes::local::LocalCluster;
use threads_simulator::plan::{Action, Clock, LinkModel, Needs, NodeSpec, Plan, Timed};
use threads_simulator::sim;

fn plan(events: u64, per_ms: u64, jitter_ms: u64) -> Plan {
    let node = |name: &str| NodeSpec {
        name: name.into(),
        clock: Clock::default(),
        broken: None,
    };
    let mut script = vec![
        Timed {
            at: 0,
            what: Action::CreateThread {
                node: 0,
                variant: Variant::Raw,
            },
        },
        Timed {
            at: 10,
            what: Action::Invite {
                from: 0,
                to: 1,
                thread: 0,
                role: InviteRole::Follower,
            },
        },
    ];
    for k in 0..events / per_ms {
        script.push(Timed {
            at: 1_000 + k,
            what: Action::Append {
                node: 0,
                thread: 0,
                count: per_ms as u32,
            },
        });
    }
    Plan {
        nodes: vec![node("writer"), node("follower")],
        link: LinkModel {
            base_ms: 10,
            jitter_ms,
            ..LinkModel::default()
        },
        links: Default::default(),
        script,
        faults: Vec::new(),
        bound_ms: 600_000,
        needs: Needs::default(),
    }
}

fn peer(seed: u8) -> Peer<ChaCha20Rng> {
    Peer::from_seed([seed; 32])
}

/// The messages `peer` sends to single peers.
fn pushes(peer: &mut Peer<ChaCha20Rng>) -> Vec<Message> {
    Net::sent(peer).into_iter().map(|(_, m)| m).collect()
}

fn deliver(to: &mut Peer<ChaCha20Rng>, from: &Peer<ChaCha20Rng>, message: &Message) {
    to.handle_message(0, from.id(), &message.to_bytes())
        .expect("the memory store does not fail");
}

/// Pushes r3 then r2 arrive before r1: each is a gap, and each sends a pull, because the second
/// push ended the wait for the first pull (`ingest` removes the pending entry for any `records`
/// message from that peer, [SYNC-10]'s "until a records message ... arrives").
fn root_cause() {
    let (mut writer, mut follower) = (peer(1), peer(2));
    let (thread, _) = writer.create_thread(0, Variant::Raw).expect("create");
    let invite = writer
        .invite(&thread, InviteRole::Follower, follower.id())
        .expect("invite");
    follower.join(0, &invite).expect("join");
    let join_pull = pushes(&mut follower).remove(0);
    deliver(&mut writer, &follower, &join_pull);
    let answer = pushes(&mut writer);
    deliver(&mut follower, &writer, &answer[0]);
    let mut pushed = Vec::new();
    for i in 1..=3u8 {
        writer.append(u64::from(i), &thread, &[i]).expect("append");
        pushed.push(pushes(&mut writer).remove(0));
    }
    let before = follower.counters().pulls_sent;
    for push in [&pushed[2], &pushed[1]] {
        deliver(&mut follower, &writer, push);
    }
    let waiting: Vec<Message> = pushes(&mut follower)
        .into_iter()
        .filter(|m| matches!(m, Message::Pull { .. }))
        .collect();
    println!(
        "root cause: after pushes r3, r2 (r1 delayed) the follower sent {} pulls for the same log \
         to the same peer, none answered yet: {:?}",
        follower.counters().pulls_sent - before,
        waiting
            .iter()
            .map(|m| match m {
                Message::Pull { after, .. } => format!("pull after {after}"),
                _ => String::new(),
            })
            .collect::<Vec<_>>()
    );
}

fn main() {
    root_cause();
    println!("events  rate/ms  jitter   messages  pulls(est)        bytes  bytes/event  wall");
    for (events, rate, jitter) in [
        (4_000, 4, 0),
        (4_000, 4, 40),
        (4_000, 8, 40),
        (8_000, 8, 40),
        (16_000, 8, 40),
    ] {
        let plan = plan(events, rate, jitter);
        let mut cluster = LocalCluster::default();
        let outcome = sim::run(&plan, 1, &mut cluster, false);
        let s = &outcome.stats;
        // Each event is pushed and published once; the rest are pulls, their answers and heads.
        let pulls = s.messages.saturating_sub(2 * events) / 2;
        println!(
            "{events:>6} {rate:>8} {jitter:>7} {:>10} {pulls:>11} {:>12} {:>12} {:>5.1}s  {}",
            s.messages,
            s.bytes,
            s.bytes / events,
            outcome.wall.as_secs_f64(),
            outcome.verdict.word()
        );
    }
}
