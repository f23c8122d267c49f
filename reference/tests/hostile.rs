//! The hostile-peer suite (issue 17): an attacker client ([`attacker`]) built on the reference
//! crate's codec and message types replays every known attack against real `threads-node`
//! processes on loopback, and each test says what the victim must not give away and what it may
//! cost. See `tests/HOSTILE.md` for the attacks, the figures before and after, and how to run the
//! larger sizes (`THREADS_HOSTILE_LARGE=1`).
//!
//! Every test prints its figures on lines starting `FIGURE` (`--nocapture` shows them). Tests
//! of issue 17 that only membership stops run against the membership protocol of 7.12.
//! Nothing asserts on time: latencies are reported, never checked.

#![cfg(all(feature = "node", target_os = "linux"))]

#[path = "hostile/attacker.rs"]
mod attacker;
#[path = "common/process.rs"]
mod process;

/// The hostile suite's nodes log at info: at debug, a flood of attacks writes gigabytes.
const LOG_FILTER: &str = "warn,threads=info";

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use attacker::{Attacker, Crowd, forged_logs, frame};
use process::{Node, SYNC_TIMEOUT, stored};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use serde_json::Value;
use threads::id::{LogId, ThreadId};
use threads::sync::Message;

/// The peak resident set an honest node may reach during any attack.
const RSS_BOUND: u64 = 200 << 20;

/// A node killed by the watchdog past this: the figure is then "over" it. It keeps a runaway
/// victim from taking the shared machine down.
const RSS_KILL: u64 = 3 << 30;

/// How long a stranger listens for leaks: three head-exchange rounds.
const LISTEN: Duration = Duration::from_secs(16);

/// Whether to run the sizes of issue 17 (slow, for the figures in HOSTILE.md).
fn large() -> bool {
    std::env::var_os("THREADS_HOSTILE_LARGE").is_some()
}

fn figure(test: &str, what: &str, value: impl std::fmt::Display) {
    eprintln!("FIGURE {test}: {what} = {value}");
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
}

fn tid(thread: &str) -> ThreadId {
    thread.parse().expect("TID")
}

fn log(log: &str) -> LogId {
    log.parse().expect("log ID")
}

/// Waits until `done` holds, polling; panics with `what` after [`SYNC_TIMEOUT`].
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < SYNC_TIMEOUT, "never happened: {what}");
        thread::sleep(Duration::from_millis(200));
    }
}

/// A writer with a raw thread of `records` records and a follower that caught up with it.
fn writer_and_follower(
    tmp: &std::path::Path,
    variant: &str,
    records: usize,
) -> (Node, Node, String) {
    let mut writer = Node::spawn("writer", &tmp.join("writer"));
    let thread = writer.create(variant);
    for i in 0..records {
        writer.ok(&format!("append {thread} event {i}"));
    }
    let written = writer.heads(&thread);
    let mut follower = Node::spawn("follower", &tmp.join("follower"));
    let invite = writer.invite(&thread, "follower", &follower.peer);
    follower.ok(&format!("join {invite}"));
    follower.wait_for_heads(&thread, |h| *h == written);
    (writer, follower, thread)
}

/// Kills `pid` (SIGKILL) if its resident set passes [`RSS_KILL`]; the flag says it did.
fn watchdog(pid: u32) -> (Arc<AtomicBool>, Arc<AtomicBool>) {
    let stop = Arc::new(AtomicBool::new(false));
    let killed = Arc::new(AtomicBool::new(false));
    let (s, k) = (Arc::clone(&stop), Arc::clone(&killed));
    thread::spawn(move || {
        while !s.load(Ordering::SeqCst) {
            if process::proc_status_kb(pid, "VmRSS:") * 1024 > RSS_KILL {
                let _ = std::process::Command::new("kill")
                    .args(["-9", &pid.to_string()])
                    .status();
                k.store(true, Ordering::SeqCst);
                return;
            }
            thread::sleep(Duration::from_millis(100));
        }
    });
    (stop, killed)
}

/// A stranger that pulls everything it hears of: what it gets from `victim` after one empty
/// `heads` about `thread`, over [`LISTEN`].
fn stranger_listens(crowd: &Crowd, victim: &Node, thread: &str) -> attacker::Stats {
    let stranger = crowd.stranger(0x5707);
    stranger.auto_pull.store(true, Ordering::SeqCst);
    let hello = Message::Heads {
        thread: tid(thread),
        heads: Vec::new(),
    };
    stranger.send(victim.peer_id(), victim.addr(), &hello);
    thread::sleep(LISTEN);
    stranger.stats()
}

/// Attack 1a (issue 17): a stranger with no invite sends one empty `heads` to a follower and
/// pulls every log it learns of. It must get no record, no counter and no log ID, and must not
/// be filed as a peer of the thread.
#[test]
fn a_stranger_gets_nothing_from_a_follower() {
    const TEST: &str = "stranger_vs_follower";
    let records = if large() { 301 } else { 30 };
    let tmp = tempfile::tempdir().expect("tempdir");
    let (writer, mut follower, thread) = writer_and_follower(tmp.path(), "raw", records);
    let crowd = Crowd::new();
    let stats = stranger_listens(&crowd, &follower, &thread);
    figure(TEST, "records in the thread", records);
    figure(TEST, "stranger got", stats.summary());
    let stranger = attacker::identity(0x5707).log_id().to_string();
    follower.ok("id");
    assert!(follower.stop().success());
    let (_, peers) = stored(&tmp.path().join("follower"), &thread);
    let filed = peers.contains(&stranger);
    figure(TEST, "stranger filed as a peer", filed);
    drop(writer);

    assert!(!stats.leaked(), "the stranger got {}", stats.summary());
    assert!(!filed, "the stranger was filed as a peer");
}

/// Attack 1b (issue 17): the same against the writer of an access-controlled thread whose
/// default role is no-access.
#[test]
fn a_stranger_gets_nothing_from_a_writer_of_a_no_access_thread() {
    const TEST: &str = "stranger_vs_acl_writer";
    let records = if large() { 21 } else { 10 };
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut writer = Node::spawn("writer", &tmp.path().join("writer"));
    let thread = writer.create("acl");
    for i in 0..records {
        writer.ok(&format!("append {thread} secret {i}"));
    }
    let crowd = Crowd::new();
    let stats = stranger_listens(&crowd, &writer, &thread);
    figure(TEST, "records in the thread", records + 1);
    figure(TEST, "stranger got", stats.summary());
    let stranger = attacker::identity(0x5707).log_id().to_string();
    assert!(writer.stop().success());
    let (_, peers) = stored(&tmp.path().join("writer"), &thread);
    let filed = peers.contains(&stranger);
    figure(TEST, "stranger filed as a peer", filed);

    assert!(!stats.leaked(), "the stranger got {}", stats.summary());
    assert!(!filed, "the stranger was filed as a peer");
}

/// Attack 2 (issue 17): one forged `heads` with 20,000 random log IDs sent to a follower. It
/// must store none of them (nor spread them to the writer), file nobody, send the forger no
/// pull, and a later invite and join must work.
#[test]
fn one_forged_heads_message_leaves_no_trace() {
    const TEST: &str = "forged_heads";
    const FORGED: usize = 20_000;
    let tmp = tempfile::tempdir().expect("tempdir");
    let (mut writer, mut follower, thread) = writer_and_follower(tmp.path(), "raw", 5);
    let honest: BTreeSet<String> = writer.heads(&thread).into_keys().collect();
    let crowd = Crowd::new();
    let forger = crowd.stranger(0xf06e);
    let poison = Message::Heads {
        thread: tid(&thread),
        heads: forged_logs(0xf06e, FORGED)
            .into_iter()
            .map(|log| (log, 1))
            .collect(),
    };
    figure(TEST, "heads message bytes", poison.to_bytes().len());
    forger.send(follower.peer_id(), follower.addr(), &poison);
    wait_until("the follower handled the heads", || forger.stats().acks > 0);
    thread::sleep(LISTEN);

    let counters = follower.counters()["counters"].clone();
    let pulls_to_forger = forger.stats().pulls;
    figure(TEST, "pulls the forger received", pulls_to_forger);
    figure(
        TEST,
        "follower pulls sent / retried",
        format!("{} / {}", counters["pulls_sent"], counters["pulls_retried"]),
    );
    let writer_logs = writer.heads(&thread).len();
    figure(TEST, "logs the writer lists", writer_logs);

    // A new reader, invited now, joins and catches up.
    let mut reader = Node::spawn("reader", &tmp.path().join("reader"));
    let invite = writer.send(&format!("invite {thread} reader {}", reader.peer));
    figure(TEST, "invite after the attack", invite_outcome(&invite));
    let joined = invite["ok"] == true && {
        let join = reader.send(&format!("join {}", invite["invite"].as_str().unwrap_or("")));
        join["ok"] == true
    };
    if joined {
        let written = writer.heads(&thread);
        reader.wait_for_heads(&thread, |h| *h == written);
    }

    assert!(follower.stop().success());
    assert!(writer.stop().success());
    let forger_id = forger.log.to_string();
    let (follower_logs, follower_peers) = stored(&tmp.path().join("follower"), &thread);
    let (writer_stored, _) = stored(&tmp.path().join("writer"), &thread);
    figure(TEST, "logs stored by the follower", follower_logs.len());
    figure(TEST, "logs stored by the writer", writer_stored.len());
    figure(
        TEST,
        "forger filed by the follower",
        follower_peers.contains(&forger_id),
    );

    let keys = |m: &std::collections::BTreeMap<String, u64>| -> BTreeSet<String> {
        m.keys().cloned().collect()
    };
    assert_eq!(
        keys(&follower_logs),
        honest,
        "the follower stored forged logs"
    );
    assert_eq!(
        keys(&writer_stored),
        honest,
        "forged logs spread to the writer"
    );
    assert!(!follower_peers.contains(&forger_id), "the forger was filed");
    assert_eq!(pulls_to_forger, 0, "the follower pulled from the forger");
    assert!(joined, "a later invite and join failed: {invite}");
}

fn invite_outcome(reply: &Value) -> String {
    if reply["ok"] == true {
        format!(
            "ok, {} hex chars",
            reply["invite"].as_str().map_or(0, str::len)
        )
    } else {
        format!("{} ({})", reply["code"], reply["message"])
    }
}

/// Attack 3 (issue 17): many stranger identities, each with a `heads` naming forged logs,
/// against an honest writer with a follower. The writer's peak RSS must stay under
/// [`RSS_BOUND`], nothing from them may be stored, and the follower's catch-up goes on.
/// Control latency is reported.
#[test]
fn many_strangers_with_forged_logs_cost_bounded_memory() {
    const TEST: &str = "stranger_crowd";
    let (strangers, forged) = if large() { (300, 20_000) } else { (300, 2_000) };
    let tmp = tempfile::tempdir().expect("tempdir");
    let (mut writer, mut follower, thread) = writer_and_follower(tmp.path(), "raw", 10);
    let honest: BTreeSet<String> = writer.heads(&thread).into_keys().collect();
    let (stop_dog, killed) = watchdog(writer.pid());
    let poison = frame(
        &Message::Heads {
            thread: tid(&thread),
            heads: forged_logs(0xc0, forged)
                .into_iter()
                .map(|log| (log, 1))
                .collect(),
        }
        .to_bytes(),
    );
    let crowd = Crowd::new();
    let mut crowd_members: Vec<Attacker> = Vec::new();
    for i in 0..strangers {
        let stranger = crowd.stranger(0xc000 + i as u64);
        stranger.send_frame(writer.peer_id(), writer.addr(), poison.clone());
        crowd_members.push(stranger);
    }
    let start = Instant::now();
    let mut worst = Duration::ZERO;
    let mut appended = 0;
    while start.elapsed() < Duration::from_secs(30) && !killed.load(Ordering::SeqCst) {
        let t = Instant::now();
        let reply = writer.send(&format!("append {thread} during the crowd {appended}"));
        worst = worst.max(t.elapsed());
        if reply["ok"] == true {
            appended += 1;
        }
        thread::sleep(Duration::from_millis(500));
    }
    let acked: u64 = crowd_members.iter().map(|s| s.stats().acks).sum();
    let was_killed = killed.load(Ordering::SeqCst);
    figure(
        TEST,
        "strangers / forged logs each",
        format!("{strangers} / {forged}"),
    );
    figure(TEST, "poison messages handled", acked);
    figure(TEST, "worst append latency", format!("{worst:?}"));
    let peak = if was_killed {
        format!("over {} (killed)", mib(RSS_KILL))
    } else {
        mib(writer.peak_rss())
    };
    figure(TEST, "writer peak RSS", &peak);
    assert!(!was_killed, "the writer passed {}", mib(RSS_KILL));
    let peak = writer.peak_rss();
    let written = writer.heads(&thread);
    let honest_written: std::collections::BTreeMap<_, _> = written
        .iter()
        .filter(|(l, _)| honest.contains(*l))
        .map(|(l, h)| (l.clone(), h.clone()))
        .collect();
    follower.wait_for_heads(&thread, |h| {
        honest_written.iter().all(|(l, hw)| h.get(l) == Some(hw))
    });
    stop_dog.store(true, Ordering::SeqCst);
    drop(crowd_members);
    assert!(writer.stop().success());
    let (logs, peers) = stored(&tmp.path().join("writer"), &thread);
    figure(
        TEST,
        "writer stored logs / peers",
        format!("{} / {}", logs.len(), peers.len()),
    );
    assert!(peak < RSS_BOUND, "writer peak RSS {}", mib(peak));
    assert_eq!(logs.keys().cloned().collect::<BTreeSet<_>>(), honest);
    assert_eq!(
        peers,
        vec![follower.peer.clone()],
        "only the follower is filed"
    );
}

/// Attack 4 (issue 17): a member sends 150 pulls for a log of 4 MiB batches and stops reading.
/// The writer keeps at most its per-peer budget queued for it, drops (and counts) the rest, its
/// peak RSS stays under [`RSS_BOUND`], and an honest follower still catches up.
#[test]
fn pulls_from_a_peer_that_stops_reading_stay_within_the_budget() {
    const TEST: &str = "stalled_puller";
    let (pulls, records) = if large() { (600, 40) } else { (150, 24) };
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut writer = Node::spawn("writer", &tmp.path().join("writer"));
    let thread = writer.create("raw");
    let body = "x".repeat(500_000);
    for _ in 0..records {
        writer.ok(&format!("append {thread} {body}"));
    }
    let written = writer.heads(&thread);
    let (wlog, _) = written.iter().next().expect("one log");
    let wlog = log(wlog);
    let crowd = Crowd::new();
    let insider = crowd.insider(0x57a1);
    let invite = writer.invite(&thread, "follower", &insider.log.to_string());
    let addr = writer.addr().to_owned();
    let t = tid(&thread);
    let joined = {
        let t = t.clone();
        insider.with_insider(move |peer, now| {
            let bytes = hex::decode(invite).expect("hex");
            let joined = peer.join(now, &bytes).map(|_| ());
            let _ = peer.add_address(now, log_of(&addr), addr.parse().expect("addr"));
            let _ = &t;
            joined
        })
    };
    joined.expect("the insider joins");
    insider.dial(writer.addr());
    let total = written.values().map(|h| h.1).sum::<u64>();
    wait_until("the insider caught up", || {
        let t = t.clone();
        insider.with_insider(move |peer, _| {
            peer.heads(&t)
                .map(|h| h.values().map(|v| v.1).sum::<u64>())
                .unwrap_or(0)
        }) == total
    });
    let before = writer.peak_rss();
    let (stop_dog, killed) = watchdog(writer.pid());

    insider.stall.store(true, Ordering::SeqCst);
    let (acks, failures) = (insider.stats().acks, insider.stats().failures);
    let pull = Message::Pull {
        thread: t.clone(),
        log: wlog,
        after: 0,
        limit: 256,
    };
    for _ in 0..pulls {
        insider.send(writer.peer_id(), writer.addr(), &pull);
    }
    // Each pull is handled (acknowledged) or refused (a failed request).
    wait_until("the writer handled or refused every pull", || {
        let s = insider.stats();
        s.acks + s.failures >= acks + failures + pulls as u64 || killed.load(Ordering::SeqCst)
    });
    let s = insider.stats();
    figure(
        TEST,
        "pulls handled / refused",
        format!("{} / {}", s.acks - acks, s.failures - failures),
    );
    // An honest follower joins while the insider hoards; it must still catch up.
    let mut follower = Node::spawn("follower", &tmp.path().join("follower"));
    let invite = writer.invite(&thread, "follower", &follower.peer);
    follower.ok(&format!("join {invite}"));
    let mut net = Value::Null;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) && !killed.load(Ordering::SeqCst) {
        net = writer.counters()["net"].clone();
        thread::sleep(Duration::from_millis(500));
    }
    let was_killed = killed.load(Ordering::SeqCst);
    figure(TEST, "pulls sent, then stopped reading", pulls);
    figure(TEST, "writer peak RSS before the attack", mib(before));
    let peak = writer.peak_rss();
    figure(
        TEST,
        "writer peak RSS",
        if was_killed {
            format!("over {} (killed)", mib(RSS_KILL))
        } else {
            mib(peak)
        },
    );
    figure(TEST, "writer net counters", &net);
    assert!(!was_killed);
    follower.wait_for_heads(&thread, |h| *h == written);
    stop_dog.store(true, Ordering::SeqCst);

    let budget = net["queued_bytes_budget"]
        .as_u64()
        .expect("the node reports its budget");
    let queued = net["peak_peer_queued_bytes"].as_u64().unwrap_or(u64::MAX);
    figure(TEST, "peak bytes queued for one peer", mib(queued));
    assert!(queued <= budget, "queued {queued} over the budget {budget}");
    let undelivered = net["dropped"].as_u64().unwrap_or(0) + net["failed"].as_u64().unwrap_or(0);
    assert!(undelivered > 0, "every answer was queued: {net}");
    assert!(peak < RSS_BOUND, "writer peak RSS {}", mib(peak));
    drop(insider);
}

/// A member that stops reading while the writer appends: the writer's pushes to it stop at the
/// per-peer message bound, the rest are dropped and counted, and an honest follower gets every
/// record.
#[test]
fn pushes_to_a_peer_that_stops_reading_stop_at_the_message_bound() {
    const TEST: &str = "stalled_member";
    let tmp = tempfile::tempdir().expect("tempdir");
    let (mut writer, mut follower, thread) = writer_and_follower(tmp.path(), "raw", 1);
    let crowd = Crowd::new();
    let insider = crowd.insider(0x9053);
    let invite = writer.invite(&thread, "follower", &insider.log.to_string());
    let addr = writer.addr().to_owned();
    insider
        .with_insider(move |peer, now| {
            peer.join(now, &hex::decode(invite).expect("hex"))?;
            peer.add_address(now, log_of(&addr), addr.parse().expect("addr"))
        })
        .expect("the insider joins");
    insider.dial(writer.addr());
    let t = tid(&thread);
    wait_until("the insider caught up", || {
        let t = t.clone();
        insider.with_insider(move |peer, _| {
            peer.heads(&t)
                .map(|h| h.values().map(|v| v.1).sum::<u64>())
                .unwrap_or(0)
        }) == 1
    });
    insider.stall.store(true, Ordering::SeqCst);
    let appends = 80;
    for i in 0..appends {
        writer.ok(&format!("append {thread} while the insider hoards {i}"));
    }
    let written = writer.heads(&thread);
    follower.wait_for_heads(&thread, |h| *h == written);
    let net = writer.counters()["net"].clone();
    figure(TEST, "writer net counters", &net);
    // The stalled peer took some streams and then no more: the rest were dropped by the budget
    // or refused by the stream bound, and never more than the bound waited for it.
    let undelivered = net["dropped"].as_u64().unwrap_or(0) + net["failed"].as_u64().unwrap_or(0);
    assert!(undelivered > 0, "{net}");
    assert!(net["peak_peer_in_flight"].as_u64() <= Some(32), "{net}");
    assert!(writer.peak_rss() < RSS_BOUND);
    drop(insider);
}

/// One identity dials a node again and again: the node keeps at most two connections to it.
#[test]
fn a_peer_gets_at_most_two_connections() {
    const TEST: &str = "connections";
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut node = Node::spawn("node", &tmp.path().join("node"));
    let crowd = Crowd::new();
    let attacker = crowd.stranger(0xd1a1);
    for _ in 0..8 {
        attacker.dial(node.addr());
    }
    wait_until("every dial settled", || attacker.stats().max_open >= 1);
    thread::sleep(Duration::from_secs(3));
    let stats = attacker.stats();
    figure(
        TEST,
        "connections open / most at once",
        format!("{} / {}", stats.open, stats.max_open),
    );
    assert!(stats.open <= 2, "{} connections open", stats.open);
    assert_eq!(node.ok("id")["peer"], node.peer.as_str());
}

fn log_of(addr: &str) -> LogId {
    let peer = addr.rsplit('/').next().expect("/p2p/ID");
    log(peer)
}

/// Attacks that already hold (issue 17): garbage frames, deep nesting, huge declared lengths
/// (in the frame and inside the CBOR), a frame over the size limit and a truncated varint. Each
/// is dropped and counted or refused before it is read; the node keeps answering, a valid
/// message on a new stream still arrives, and its peak RSS stays under [`RSS_BOUND`].
#[test]
fn garbage_nesting_and_huge_lengths_are_refused_cheaply() {
    const TEST: &str = "garbage";
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut node = Node::spawn("node", &tmp.path().join("node"));
    let thread = node.create("raw");
    let crowd = Crowd::new();
    let attacker = crowd.stranger(0x6a6b);
    let (peer, addr) = (node.peer_id(), node.addr().to_owned());
    let mut nested = vec![0x81u8; 200_000];
    nested.push(0x00);
    let mut nested_maps = Vec::new();
    for _ in 0..100_000 {
        nested_maps.extend_from_slice(&[0xa1, 0x61, b'a']);
    }
    nested_maps.push(0x00);
    // Each decodes as far as its header and is MESSAGE_MALFORMED.
    let malformed: Vec<Vec<u8>> = vec![
        b"not a message".to_vec(),
        vec![0xff; 1000],
        nested,
        nested_maps,
        // A byte string and an array that declare 2^64 - 16 bytes and 2^40 items.
        vec![0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xf0],
        vec![0x9b, 0, 0, 1, 0, 0, 0, 0, 0],
        // A heads whose thread is a byte string declaring 4 GiB.
        [
            &[0xa2u8, 0x64][..],
            b"type",
            &[0x65],
            b"heads",
            &[0x5a, 0xff, 0xff, 0xff, 0xff],
        ]
        .concat(),
    ];
    for bytes in &malformed {
        attacker.send_frame(peer, &addr, frame(bytes));
    }
    // Refused before anything is read: a length over 8 MiB, a varint longer than 10 bytes, and
    // 64 frames that declare 8 MiB and send 16 bytes.
    let mut over = unsigned_varint::encode::u64_buffer();
    let over = unsigned_varint::encode::u64(u64::MAX, &mut over).to_vec();
    attacker.send_frame(peer, &addr, over);
    attacker.send_frame(peer, &addr, vec![0xff; 11]);
    let mut declared = unsigned_varint::encode::u64_buffer();
    let declared = unsigned_varint::encode::u64(8 << 20, &mut declared).to_vec();
    for _ in 0..64 {
        attacker.send_frame(peer, &addr, [&declared[..], &[0u8; 16]].concat());
    }
    wait_until("every malformed message counted", || {
        node.counters()["counters"]["messages_malformed"].as_u64() >= Some(malformed.len() as u64)
    });
    // The connection still carries a valid message.
    let valid = Message::Heads {
        thread: tid(&thread),
        heads: Vec::new(),
    };
    let before = node.counters()["counters"]["messages_in"]
        .as_u64()
        .unwrap_or(0);
    attacker.send(peer, &addr, &valid);
    wait_until("the valid message arrived", || {
        node.counters()["counters"]["messages_in"].as_u64() > Some(before)
    });
    let counters = node.counters()["counters"].clone();
    let peak = node.peak_rss();
    figure(TEST, "node counters", &counters);
    figure(TEST, "node peak RSS", mib(peak));
    assert_eq!(counters["messages_malformed"], malformed.len());
    assert_eq!(node.ok("id")["peer"], node.peer.as_str());
    assert!(peak < RSS_BOUND, "node peak RSS {}", mib(peak));
    assert!(node.stop().success());
}

/// An insider's records presented where they do not belong: replayed, as another log of the
/// same thread, in another thread, and tampered on gossip. Each is refused or a duplicate; no
/// counter moves, and the follower still takes the next honest record.
#[test]
fn replayed_cross_thread_cross_log_and_gossiped_forgeries_change_nothing() {
    const TEST: &str = "forgeries";
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut writer = Node::spawn("writer", &tmp.path().join("writer"));
    let (t1, t2) = (writer.create("raw"), writer.create("raw"));
    for i in 0..3 {
        writer.ok(&format!("append {t1} one {i}"));
        writer.ok(&format!("append {t2} two {i}"));
    }
    let mut follower = Node::spawn("follower", &tmp.path().join("follower"));
    for t in [&t1, &t2] {
        let invite = writer.invite(t, "follower", &follower.peer);
        follower.ok(&format!("join {invite}"));
    }
    let crowd = Crowd::new();
    let insider = crowd.insider(0x1a51);
    let invite = writer.invite(&t1, "writer", &insider.log.to_string());
    let waddr = writer.addr().to_owned();
    let (t1id, t2id) = (tid(&t1), tid(&t2));
    let own = {
        let t1id = t1id.clone();
        insider.with_insider(move |peer, now| {
            peer.join(now, &hex::decode(invite).expect("hex"))
                .expect("join");
            peer.add_address(now, log_of(&waddr), waddr.parse().expect("addr"))
                .expect("address");
            for i in 0..2 {
                peer.append(now, &t1id, format!("insider {i}").as_bytes())
                    .expect("append");
            }
            peer.heads(&t1id).expect("heads")
        })
    };
    insider.dial(writer.addr());
    // Its own log: a join record, then the two appended [INV-7].
    let (own_log, (_, own_count)) = own
        .iter()
        .find(|(_, (_, c))| *c > 0)
        .map(|(l, h)| (*l, *h))
        .unwrap_or_else(|| panic!("the insider's log: {own:?}"));
    // Everyone converges first: the follower holds both threads and the insider's log.
    let w1 = writer.wait_for_heads(&t1, |h| {
        h.get(&own_log.to_string()).map(|x| x.1) == Some(own_count)
    });
    let w2 = writer.heads(&t2);
    follower.wait_for_heads(&t1, |h| *h == w1);
    follower.wait_for_heads(&t2, |h| *h == w2);
    let wlog1 = w1
        .keys()
        .map(|l| log(l))
        .find(|l| *l != own_log)
        .expect("writer log");
    let wlog2 = log(w2.keys().next().expect("log"));
    let envelopes = |t: &ThreadId, l: LogId| {
        let t = t.clone();
        insider.with_insider(move |peer, _| wait_envelopes(peer, &t, l))
    };
    let writer_envs = envelopes(&t1id, wlog1);
    let own_envs = envelopes(&t1id, own_log);
    assert_eq!(writer_envs.len(), 3);
    let counters_before = follower.counters()["counters"].clone();
    let records =
        |thread: &ThreadId, log: LogId, counter: u64, envs: &[threads::envelope::Envelope]| {
            Message::Records {
                thread: thread.clone(),
                log,
                counter,
                envelopes: envs.to_vec(),
            }
        };
    let fp = follower.peer_id();
    let faddr = follower.addr().to_owned();
    // The insider proves membership of thread one to the follower first, by hand [SYNC-20]: it
    // asks for a challenge and answers it with its proof, as any member would before sending
    // records; it is not a member of thread two. (The follower is not among the peers its invite
    // named, so its own peer would never talk to the follower.)
    let flog = LogId::try_from(fp).expect("follower log ID");
    let follow = {
        let t1id = t1id.clone();
        insider.with_insider(move |peer, _| peer.keys(&t1id).expect("keys").follow.clone())
    };
    let key = threads::membership::proof_key(&t1id, &follow);
    let ask = Message::Auth {
        thread: t1id.clone(),
        nonce: vec![7; threads::membership::AUTH_NONCE_LEN],
        proof: Vec::new(),
    };
    let mut nonce = Vec::new();
    wait_until("the follower challenged the insider", || {
        insider.send(fp, &faddr, &ask);
        thread::sleep(Duration::from_millis(300));
        nonce = insider.stats().last_nonce;
        !nonce.is_empty()
    });
    let nonce: threads::membership::AuthNonce = nonce.as_slice().try_into().expect("nonce length");
    let proof = threads::membership::prove(&key, &t1id, &insider.log, &flog, &nonce);
    insider.send(
        fp,
        &faddr,
        &Message::Auth {
            thread: t1id.clone(),
            nonce: Vec::new(),
            proof: proof.to_vec(),
        },
    );
    let forgeries = [
        // Replayed: duplicates.
        records(&t1id, wlog1, 3, &writer_envs),
        // Cross-log: the writer's records as the insider's log, and the reverse.
        records(&t1id, own_log, 3, &writer_envs),
        records(&t1id, wlog1, 3, &own_envs),
        // Cross-thread: thread one's records as thread two's log, and as a new log of thread two;
        // the insider holds no proof for thread two, so these are dropped unread [SYNC-21].
        records(&t2id, wlog2, 3, &writer_envs),
        records(&t2id, wlog1, 3, &writer_envs),
    ];
    // Handled when the replay shows as duplicates, the two cross-log batches as rejections (each
    // refused at its first record) and the cross-thread ones as unproven. They are sent again
    // each round: the follower may still be finishing the insider's handshake the first time.
    let delta_of = |after: &Value, k: &str| {
        after[k].as_u64().unwrap_or(0) - counters_before[k].as_u64().unwrap_or(0)
    };
    let mut after = Value::Null;
    wait_until("the follower handled the forgeries", || {
        for forgery in &forgeries {
            insider.send(fp, &faddr, forgery);
        }
        thread::sleep(Duration::from_millis(500));
        after = follower.counters()["counters"].clone();
        delta_of(&after, "records_duplicate") >= 3
            && delta_of(&after, "records_rejected") >= 2
            && delta_of(&after, "messages_unproven") >= 2
    });
    let delta = |k: &str| delta_of(&after, k);
    figure(
        TEST,
        "duplicates / rejected / unproven / appended",
        format!(
            "{} / {} / {} / {}",
            delta("records_duplicate"),
            delta("records_rejected"),
            delta("messages_unproven"),
            delta("records_appended")
        ),
    );
    assert_eq!(delta("records_appended"), 0);

    // Forged on gossip: a tampered record of the writer's log, sealed and published on thread
    // one's topic by a member [SYNC-24]: the seal proves a key holder sent it, not the record.
    let mut bad = writer_envs[0].to_bytes();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    let tampered = threads::envelope::Envelope::from_bytes(&bad);
    let rejected = after["records_rejected"].as_u64().unwrap_or(0);
    let forged = match tampered {
        Ok(env) => records(&t1id, wlog1, 4, &[writer_envs[1].clone(), env]).to_bytes(),
        // A tamper the decoder already refuses: gossip a record of thread two instead.
        Err(_) => records(&t1id, wlog1, 4, &envelopes(&t2id, wlog2)).to_bytes(),
    };
    let (topic, follow) = {
        let t1id = t1id.clone();
        insider.with_insider(move |peer, _| {
            let topic = peer.topic(&t1id).expect("topic");
            let follow = peer.keys(&t1id).expect("keys").follow.clone();
            (topic, follow)
        })
    };
    insider.subscribe(&topic);
    let mut rng = ChaCha20Rng::seed_from_u64(0x90551);
    let start = Instant::now();
    let mut gossip_rejected = false;
    while start.elapsed() < Duration::from_secs(60) {
        let sealed = threads::membership::seal_publication(&t1id, &follow, &forged, &mut rng);
        insider.publish(&topic, sealed);
        thread::sleep(Duration::from_millis(1000));
        let now = follower.counters()["counters"]["records_rejected"]
            .as_u64()
            .unwrap_or(0);
        if now > rejected {
            gossip_rejected = true;
            break;
        }
    }
    figure(TEST, "gossiped forgery rejected", gossip_rejected);
    assert!(
        gossip_rejected,
        "the gossiped forgery never arrived or was not refused"
    );
    assert_eq!(follower.heads(&t1), w1, "thread one unchanged");
    let f2 = follower.heads(&t2);
    assert_eq!(
        f2.get(&wlog2.to_string()),
        w2.get(&wlog2.to_string()),
        "thread two's log unchanged"
    );
    figure(
        TEST,
        "logs thread two lists after the cross-thread batch",
        f2.len(),
    );

    // The next honest record still arrives.
    writer.ok(&format!("append {t1} after the forgeries"));
    let w1 = writer.heads(&t1);
    follower.wait_for_heads(&t1, |h| *h == w1);
    assert!(follower.stop().success());
    assert!(writer.stop().success());
}

/// A log a forged message names is not stored until a verified record of it arrives: the
/// cross-thread batch above must leave thread two with its one honest log.
#[test]
fn a_rejected_batch_leaves_no_log_behind() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut node = Node::spawn("node", &tmp.path().join("node"));
    let t1 = node.create("raw");
    let t2 = node.create("raw");
    node.ok(&format!("append {t1} one"));
    let crowd = Crowd::new();
    let stranger = crowd.stranger(0xbad);
    let l1 = log(node.heads(&t1).keys().next().expect("log"));
    // Records of a log thread two does not have, with no envelopes at all, then with garbage.
    let empty = Message::Records {
        thread: tid(&t2),
        log: l1,
        counter: 9,
        envelopes: Vec::new(),
    };
    stranger.send(node.peer_id(), node.addr(), &empty);
    wait_until("handled", || stranger.stats().acks > 0);
    let heads = node.heads(&t2);
    assert_eq!(
        heads.len(),
        1,
        "thread two lists a log from a stranger: {heads:?}"
    );
    assert!(node.stop().success());
    let (logs, peers) = stored(&tmp.path().join("node"), &t2);
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert!(peers.is_empty(), "{peers:?}");
}

/// The envelopes the insider holds of `log`, once it holds them all.
fn wait_envelopes(
    peer: &mut attacker::Insider,
    thread: &ThreadId,
    log: LogId,
) -> Vec<threads::envelope::Envelope> {
    peer.envelopes(thread, &log)
        .map(<[_]>::to_vec)
        .unwrap_or_default()
}

/// Gossip goes on the topic derived from the follow key, not on the Thread ID [SYNC-24]: a
/// member subscribed by `Peer::topic` receives the writer's publications, while a stranger
/// connected to the same writer and subscribed to the topics it can name from the Thread ID (its
/// text, its hex, a path) receives none, and nothing else either.
#[test]
fn gossip_reaches_the_derived_topic_and_never_the_thread_id() {
    const TEST: &str = "gossip_topic";
    let tmp = tempfile::tempdir().expect("tempdir");
    let (mut writer, follower, thread) = writer_and_follower(tmp.path(), "raw", 1);
    let crowd = Crowd::new();
    let member = crowd.insider(0x70b1c);
    let invite = writer.invite(&thread, "follower", &member.log.to_string());
    let waddr = writer.addr().to_owned();
    let t = tid(&thread);
    let topic = {
        let t = t.clone();
        member.with_insider(move |peer, now| {
            peer.join(now, &hex::decode(invite).expect("hex"))
                .expect("join");
            peer.add_address(now, log_of(&waddr), waddr.parse().expect("addr"))
                .expect("address");
            peer.topic(&t).expect("topic")
        })
    };
    member.dial(writer.addr());
    let stranger = crowd.stranger(0x70b1d);
    let named: Vec<String> = [
        thread.clone(),
        t.to_string(),
        hex::encode(t.as_bytes()),
        format!("/threads/{thread}"),
    ]
    .into_iter()
    .collect::<BTreeSet<String>>()
    .into_iter()
    .collect();
    assert!(!named.contains(&topic), "the topic is not the Thread ID");
    for name in &named {
        stranger.subscribe(name);
    }
    stranger.dial(writer.addr());
    // Both meshes form before the writer publishes.
    thread::sleep(Duration::from_secs(3));
    let appended = 20;
    for i in 0..appended {
        writer.ok(&format!("append {thread} gossip {i}"));
    }
    wait_until("the member hears the publications", || {
        member.stats().publications > 0
    });
    thread::sleep(LISTEN / 4);
    let (heard, told) = (member.stats(), stranger.stats());
    figure(TEST, "appends", appended);
    figure(TEST, "member publications", heard.publications);
    figure(TEST, "stranger topics", named.len());
    figure(TEST, "stranger got", told.summary());
    drop(follower);
    assert!(heard.publications > 0);
    assert_eq!(told.publications, 0, "{}", told.summary());
    assert_eq!(told.messages, 0, "{}", told.summary());
    assert!(!told.leaked());
}

/// Past the node-wide inbound budget [SYNC-26] a request is refused with PEER_OVERLOADED on the
/// wire [SYNC-25]. Six strangers each start 14 requests of 1 MiB and send only half of each for
/// 8 s: 42 MiB of half-read requests, past the 32 MiB budget, so the requests read past it are
/// drained, not kept, and answered with code 710. The node's memory stays bounded, its budget is
/// all given back, and it still serves its follower.
#[test]
fn requests_past_the_inbound_budget_are_refused_with_a_code() {
    const TEST: &str = "inbound_budget";
    const SENDERS: u64 = 6;
    const REQUESTS: u64 = 14;
    let tmp = tempfile::tempdir().expect("tempdir");
    let (mut writer, mut follower, thread) = writer_and_follower(tmp.path(), "raw", 3);
    let crowd = Crowd::new();
    let senders: Vec<Attacker> = (0..SENDERS).map(|i| crowd.stranger(0x1b00 + i)).collect();
    let body = frame(&vec![0xa5; 1 << 20]);
    for sender in &senders {
        sender.hold_ms.store(8_000, Ordering::SeqCst);
        for _ in 0..REQUESTS {
            sender.send_frame(writer.peer_id(), writer.addr(), body.clone());
        }
    }
    let answered = |s: &Attacker| {
        let st = s.stats();
        st.acks + st.failures + st.refusals.values().sum::<u64>()
    };
    wait_until("every request is answered", || {
        senders.iter().all(|s| answered(s) >= REQUESTS)
    });
    let total = |f: &dyn Fn(&attacker::Stats) -> u64| -> u64 {
        senders.iter().map(|s| f(&s.stats())).sum()
    };
    let refused = total(&|st| st.refusals.get(&710).copied().unwrap_or(0));
    let other_codes = total(&|st| {
        st.refusals
            .iter()
            .filter(|(c, _)| **c != 710)
            .map(|(_, n)| n)
            .sum()
    });
    let acked = total(&|st| st.acks);
    let failed = total(&|st| st.failures);
    let net = writer.counters()["net"].clone();
    let peak = writer.peak_rss();
    figure(TEST, "requests sent", SENDERS * REQUESTS);
    figure(TEST, "refused with PEER_OVERLOADED (710)", refused);
    figure(
        TEST,
        "acknowledged (read whole, then dropped as malformed)",
        acked,
    );
    figure(TEST, "failed", failed);
    figure(TEST, "victim net", &net);
    figure(TEST, "victim peak RSS MB", peak >> 20);
    assert!(refused > 0, "no refusal: {net}");
    assert_eq!(other_codes, 0);
    assert_eq!(net["refused"].as_u64(), Some(refused));
    assert_eq!(
        net["inbound_bytes"].as_u64(),
        Some(0),
        "every byte given back"
    );
    assert!(peak < RSS_BOUND, "peak RSS {} MB", peak >> 20);
    writer.ok(&format!("append {thread} after the flood"));
    let written = writer.heads(&thread);
    follower.wait_for_heads(&thread, |h| *h == written);
}

/// One peer floods past its share of the inbound budget [SYNC-28] while an honest peer copies a
/// thread from the victim's side. The flooder sends 8 requests of 8 MiB and holds back the
/// second half of each: 32 MiB of half-read requests, the victim's whole node-wide budget, from
/// one identity. The victim holds at most its share for it (16 MiB), refuses the rest with
/// code 710, and meanwhile a joining follower (the victim) catches up with the writer while the
/// flood is still held; no request of the writer's is refused (a sender within its own bound,
/// [SYNC-29], always fits beside one full share).
#[test]
fn one_peer_past_its_share_is_refused_while_an_honest_peer_catches_up() {
    const TEST: &str = "peer_share";
    const REQUESTS: u64 = 8;
    const SHARE: u64 = 16 << 20;
    const HELD: u64 = 11 << 20;
    let records = if large() { 1_000 } else { 120 };
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut writer = Node::spawn("writer", &tmp.path().join("writer"));
    let thread = writer.create("raw");
    let filler = "x".repeat(4_000);
    for i in 0..records {
        writer.ok(&format!("append {thread} {i} {filler}"));
    }
    let written = writer.heads(&thread);
    let mut victim = Node::spawn("victim", &tmp.path().join("victim"));
    let (stop, killed) = watchdog(victim.pid());

    let crowd = Crowd::new();
    let flooder = crowd.stranger(0x5a2e);
    flooder.hold_ms.store(600_000, Ordering::SeqCst);
    let body = frame(&vec![0xa5; threads::sync::MAX_MESSAGE_BYTES]);
    for _ in 0..REQUESTS {
        flooder.send_frame(victim.peer_id(), victim.addr(), body.clone());
    }
    let net = |node: &mut Node, key: &str| node.counters()["net"][key].as_u64().unwrap_or(0);
    // The flood's first halves total 32 MiB. Past the share, a request being read gives back
    // what it took (at most its half, 4 MiB) while the others keep reading theirs: so at least
    // HELD stays held until the flooder sends the rest.
    wait_until("the flooder holds its share", || {
        net(&mut victim, "inbound_bytes") >= HELD
    });
    let held_before = net(&mut victim, "inbound_bytes");

    let invite = writer.invite(&thread, "follower", &victim.peer);
    victim.ok(&format!("join {invite}"));
    victim.wait_for_heads(&thread, |h| *h == written);
    let during = victim.counters()["net"].clone();
    let writer_net = writer.counters()["net"].clone();

    flooder.release.store(true, Ordering::SeqCst);
    let answered = |s: &attacker::Stats| s.acks + s.failures + s.refusals.values().sum::<u64>();
    wait_until("every flood request is answered", || {
        answered(&flooder.stats()) >= REQUESTS
    });
    let flood = flooder.stats();
    let after = victim.counters()["net"].clone();
    let peak = victim.peak_rss();
    stop.store(true, Ordering::SeqCst);
    let refused = flood.refusals.get(&710).copied().unwrap_or(0);
    let other_codes: u64 = flood
        .refusals
        .iter()
        .filter(|(c, _)| **c != 710)
        .map(|(_, n)| n)
        .sum();
    figure(TEST, "records copied by the honest follower", records);
    figure(TEST, "flood held when the copy began", mib(held_before));
    figure(TEST, "victim net when the copy completed", &during);
    figure(TEST, "writer net", &writer_net);
    figure(TEST, "flood requests refused with 710", refused);
    figure(TEST, "flood requests read whole (dropped)", flood.acks);
    figure(TEST, "flood requests failed", flood.failures);
    figure(TEST, "victim net after", &after);
    figure(TEST, "victim peak RSS MB", peak >> 20);

    assert!(
        !killed.load(Ordering::SeqCst),
        "the watchdog killed the victim"
    );
    let u = |v: &Value, k: &str| v[k].as_u64().unwrap_or(u64::MAX);
    assert!(
        u(&during, "inbound_bytes") >= HELD,
        "the copy completed while the flood was still held: {during}"
    );
    assert!(u(&during, "peak_peer_inbound_bytes") <= SHARE, "{during}");
    assert_eq!(u(&writer_net, "refused_by_peers"), 0, "{writer_net}");
    assert!(refused > 0, "no refusal: {after}");
    assert_eq!(other_codes, 0);
    assert_eq!(
        u(&after, "refused"),
        refused,
        "only the flooder was refused"
    );
    assert_eq!(u(&after, "refused_share"), refused, "all by its share");
    assert_eq!(u(&after, "inbound_bytes"), 0, "every byte given back");
    assert!(peak < RSS_BOUND, "peak RSS {} MB", peak >> 20);
}
