//! The transactional dispatcher under SIGKILL (spec/database.md, [DB-11]; spec/sync.md,
//! [SYNC-12], [SYNC-13]): a process writing database events through two redb-backed peers is
//! killed at seeded moments, again and again; after each kill both stores must open, hold every
//! event they acknowledged, and hold exactly the view rows that a fold of their records from
//! scratch gives, the latest snapshot among them, and restart from that snapshot [DB-28],
//! [DB-29]. Kills land in single commits and in the batch commits of a pull.
//!
//! The test binary is its own victim: [`worker`], an ignored test, is the process that is killed;
//! [`a_killed_writer_leaves_events_and_view_rows_in_agreement`] starts it with `--ignored` and
//! the directory in [`DIR_VAR`].
#![cfg(all(unix, feature = "redb"))]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use threads::db::{Database, DbRecord, DbView, Kind, Reducer, SNAPSHOT_EVERY, Schema};
use threads::error::ErrorCode;
use threads::id::{ThreadId, Variant};
use threads::invite::InviteRole;
use threads::keys::IdentityKey;
use threads::store::Store;
use threads::store::redb::RedbStore;
use threads::sync::{HEADS_INTERVAL_MS, Net, Peer};

/// Where the worker finds the stores.
const DIR_VAR: &str = "THREADS_DB_KILL_DIR";
/// The worker's seed.
const SEED_VAR: &str = "THREADS_DB_KILL_SEED";
/// How many times the writer is killed.
const KILLS: u64 = 8;
/// A worker left alone stops after this many steps, so a failed parent leaves no process behind.
const MAX_STEPS: u64 = 3_000;
/// The collection both writers write documents to.
const COLL: &str = "notes";

type DiskPeer = Peer<ChaCha20Rng, RedbStore>;

/// The two writers: `a` created the thread, `b` joined it as a writer.
const WRITERS: [(&str, u8); 2] = [("a", 11), ("b", 12)];

fn open_peer(dir: &Path, (name, seed): (&str, u8), run: u64) -> DiskPeer {
    let store = RedbStore::open(&dir.join(format!("{name}.redb"))).expect("the store opens");
    Peer::open(
        IdentityKey::from_seed(&[seed; 32]),
        ChaCha20Rng::seed_from_u64(run * 2 + u64::from(seed)),
        store,
        clock(run, 0),
    )
    .expect("the peer restarts from its store")
}

/// A clock that only goes forward across runs.
fn clock(run: u64, step: u64) -> u64 {
    run * 10_000_000 + step * 10
}

/// The thread both peers hold, written before any worker runs.
fn setup(dir: &Path) -> ThreadId {
    let mut a = open_peer(dir, WRITERS[0], 0);
    let mut b = open_peer(dir, WRITERS[1], 0);
    let (thread, _) = a.create_thread(1, Variant::Raw).expect("create");
    let invite = a
        .invite(&thread, InviteRole::Writer, b.id())
        .expect("invite");
    b.join(2, &invite).expect("join");
    Net::new(3).pump(&mut [&mut a, &mut b]).expect("pump");
    let schema = Schema {
        fields: BTreeMap::from([("n".into(), vec![Kind::Integer])]),
        required: vec!["n".into()],
    };
    let mut db = Database::open(&mut a, thread.clone()).expect("db");
    db.declare(&mut a, 4, COLL, schema, &["n"])
        .expect("declare");
    // Past the first snapshot, so every run restarts from a kept one [DB-28], [DB-29], and b
    // stores these in batches a kill can land in.
    for i in 0..SNAPSHOT_EVERY as u64 {
        db.kv(&mut a, 5 + i)
            .put(&format!("s{}", i % 32), &i)
            .expect("put");
    }
    Database::open(&mut b, thread.clone()).expect("db");
    Net::new(5 + SNAPSHOT_EVERY as u64)
        .pump(&mut [&mut a, &mut b])
        .expect("pump");
    thread
}

/// A seeded draw in `0..n`.
fn below(rng: &mut ChaCha20Rng, n: u64) -> u64 {
    rng.next_u64() % n
}

/// The killed process: two writers in one thread, each writing KV and document events through
/// its [`Database`]; now and then the two sync, so `b`'s events, written at lower clocks, reach
/// `a` out of total order and make it refold [DB-9]. Each event is acknowledged on stdout only
/// after the store committed it.
#[test]
#[ignore = "the process the killed-process test starts and kills"]
fn worker() {
    let (Ok(dir), Ok(seed)) = (std::env::var(DIR_VAR), std::env::var(SEED_VAR)) else {
        panic!("run by a_killed_writer_leaves_events_and_view_rows_in_agreement, with {DIR_VAR}");
    };
    let dir = PathBuf::from(dir);
    let run: u64 = seed.parse().expect("seed");
    let mut rng = ChaCha20Rng::seed_from_u64(run);
    let mut peers = [
        open_peer(&dir, WRITERS[0], run),
        open_peer(&dir, WRITERS[1], run),
    ];
    let thread = peers[0].threads()[0].clone();
    let mut dbs = [
        Database::open(&mut peers[0], thread.clone()).expect("a's view checks"),
        Database::open(&mut peers[1], thread.clone()).expect("b's view checks"),
    ];
    let mut net = Net::new(clock(run, 0));
    println!("READY");
    for step in 1..=MAX_STEPS {
        let now = clock(run, step);
        // a writes twice as often as b, so b's clock lags.
        let w = usize::from(below(&mut rng, 3) == 0);
        let (peer, db) = (&mut peers[w], &mut dbs[w]);
        let n = below(&mut rng, 1_000) as i64;
        let key = format!("k{}", n % 16);
        let id = format!("d{}", n % 8);
        let written = match below(&mut rng, 5) {
            0 | 1 => db.kv(peer, now).put(&key, &n),
            2 => db.kv(peer, now).del(&key),
            3 => db
                .docs(peer, now, COLL)
                .put(&id, &BTreeMap::from([("n", n), ("w", w as i64)])),
            _ => db.docs(peer, now, COLL).del(&id),
        };
        match written {
            Ok(cid) => println!("ACK {} {cid}", WRITERS[w].0),
            // Refused before anything was appended [DB-12]: nothing to acknowledge.
            Err(e) if e.code == ErrorCode::DbNotFound => {}
            Err(e) => panic!("step {step}: {e}"),
        }
        if below(&mut rng, 8) == 0 {
            // A round of head exchange: each pulls what the other holds [SYNC-8].
            let later = now + HEADS_INTERVAL_MS;
            for p in peers.iter_mut() {
                p.handle_timeout(later).expect("timeout");
            }
            let [a, b] = &mut peers;
            net.pump(&mut [a, b]).expect("pump");
        }
    }
}

/// The worker, started on `dir` with `seed`: its process and a channel of its stdout lines.
fn spawn(dir: &Path, seed: u64) -> (Child, mpsc::Receiver<String>) {
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "worker",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(DIR_VAR, dir)
        .env(SEED_VAR, seed.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the worker");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// What one writer's store must satisfy after a kill: it opens, every acknowledged record is
/// held, and its stored view rows are exactly those of a fold from scratch of the records it
/// holds, with the same view CID. Returns the records held.
fn check_store(dir: &Path, writer: (&str, u8), run: u64, acked: &BTreeSet<String>) -> usize {
    let peer = open_peer(dir, writer, run);
    let thread = peer.threads()[0].clone();
    let records: Vec<DbRecord> = peer
        .read(&thread)
        .expect("read")
        .iter()
        .map(DbRecord::from)
        .collect();
    let held: BTreeSet<String> = records.iter().map(|r| r.cid.to_string()).collect();
    let lost: Vec<&String> = acked.difference(&held).collect();
    assert!(
        lost.is_empty(),
        "{}: acknowledged but lost: {lost:?}",
        writer.0
    );

    let scratch = DbView::from_records(&records);
    let mut expected: BTreeMap<Vec<u8>, Vec<u8>> = scratch
        .rows()
        .into_iter()
        .map(|(key, row)| ([b"db\0".as_slice(), &key].concat(), row))
        .collect();
    expected.insert(b"\0db".to_vec(), scratch.position().to_be_bytes().to_vec());
    let stored = peer.into_store().load().expect("load");
    let views = &stored[thread.as_bytes()].views;
    assert!(
        *views == expected,
        "{}: the stored view rows differ from the fold of the stored records",
        writer.0
    );

    assert!(
        views.contains_key(b"db\0db-snapshot\0block".as_slice()),
        "{}: the latest snapshot is kept with the events",
        writer.0
    );

    let mut peer = open_peer(dir, writer, run);
    let db = Database::open(&mut peer, thread).expect("the stored view checks");
    let view = db.view(&peer).expect("view");
    assert_eq!(view.cid(), scratch.cid());
    assert!(
        view.is_compacted(),
        "{}: restarted from the kept snapshot",
        writer.0
    );
    records.len()
}

#[test]
fn a_killed_writer_leaves_events_and_view_rows_in_agreement() {
    let dir = tempfile::tempdir().expect("tempdir");
    setup(dir.path());
    let mut rng = ChaCha20Rng::seed_from_u64(2024);
    let mut acked: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let started = Instant::now();
    let (mut kills, mut held) = (0, 0);
    for run in 1..=KILLS {
        let (mut child, lines) = spawn(dir.path(), run);
        // Kill after a seeded number of acknowledgements plus a seeded pause: anywhere in a
        // commit, between commits, or in the head exchange.
        let target = 3 + below(&mut rng, 37) as usize;
        let pause = Duration::from_micros(below(&mut rng, 20_000));
        let mut seen = 0;
        let mut record = |line: String, seen: &mut usize| {
            if let Some(rest) = line.strip_prefix("ACK ") {
                let (writer, cid) = rest.split_once(' ').expect("ACK writer cid");
                let writer = WRITERS.iter().find(|w| w.0 == writer).expect("writer").0;
                acked.entry(writer).or_default().insert(cid.to_owned());
                *seen += 1;
            }
        };
        while seen < target {
            match lines.recv_timeout(Duration::from_secs(120)) {
                Ok(line) => record(line, &mut seen),
                Err(_) => break,
            }
        }
        std::thread::sleep(pause);
        child.kill().expect("SIGKILL");
        let status = child.wait().expect("wait");
        assert!(status.code().is_none(), "the worker was killed, not done");
        kills += 1;
        // Everything it printed before it died.
        while let Ok(line) = lines.recv_timeout(Duration::from_secs(10)) {
            record(line, &mut seen);
        }
        for writer in WRITERS {
            let mine = acked.get(writer.0).cloned().unwrap_or_default();
            held = check_store(dir.path(), writer, run, &mine);
        }
    }
    let total: usize = acked.values().map(BTreeSet::len).sum();
    assert!(total >= KILLS as usize * 3, "the workers wrote");
    eprintln!(
        "{kills} kills, {total} events acknowledged, {held} records in b's store, {:.1?}",
        started.elapsed()
    );
}
