//! The transactional dispatcher (spec/database.md, [DB-11], [SYNC-12], [SYNC-13]): the events and
//! the database view rows they fold to are stored in one write, and a reopened database checks the
//! stored view against the events.

use std::collections::BTreeMap;

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use threads::db::{Database, DbRecord, DbView};
use threads::error::{Error, ErrorCode, Result};
use threads::id::{ThreadId, Variant};
use threads::keys::IdentityKey;
use threads::store::{MemoryStore, Store, StoredThread, ViewRow};
use threads::sync::Peer;

fn identity() -> IdentityKey {
    IdentityKey::from_seed(&[7; 32])
}

fn open<S: Store>(store: S) -> Result<Peer<ChaCha20Rng, S>> {
    Peer::open(identity(), ChaCha20Rng::seed_from_u64(7), store, 0)
}

/// A thread with a few KV writes through a [`Database`].
fn populate<S: Store>(peer: &mut Peer<ChaCha20Rng, S>, n: u64) -> (ThreadId, Database) {
    let (thread, _) = peer.create_thread(1, Variant::Raw).expect("create");
    let mut db = Database::open(peer, thread.clone()).expect("open db");
    for i in 0..n {
        db.kv(peer, 2 + i).put(&format!("k{i}"), &i).expect("put");
    }
    (thread, db)
}

/// The view folded from scratch from what the peer reads: the reference for every check.
fn scratch<S: Store>(peer: &Peer<ChaCha20Rng, S>, thread: &ThreadId) -> DbView {
    let records: Vec<DbRecord> = peer
        .read(thread)
        .expect("read")
        .iter()
        .map(DbRecord::from)
        .collect();
    DbView::from_records(&records)
}

/// A [`MemoryStore`] whose commits fail once `budget` runs out.
struct FailingStore {
    inner: MemoryStore,
    budget: usize,
}

impl Store for FailingStore {
    fn load(&self) -> Result<BTreeMap<Vec<u8>, StoredThread>> {
        self.inner.load()
    }
    fn put_thread(&mut self, thread: &[u8], meta: &[u8]) -> Result<()> {
        self.inner.put_thread(thread, meta)
    }
    fn put_records(&mut self, t: &[u8], l: &[u8], first: u64, e: &[Vec<u8>]) -> Result<()> {
        self.commit(t, l, first, e, &[])
    }
    fn commit(
        &mut self,
        t: &[u8],
        l: &[u8],
        first: u64,
        e: &[Vec<u8>],
        views: &[ViewRow],
    ) -> Result<()> {
        if self.budget == 0 {
            return Err(Error::new(ErrorCode::StoreFailed, "disk full"));
        }
        self.budget -= 1;
        self.inner.commit(t, l, first, e, views)
    }
    fn put_views(&mut self, thread: &[u8], views: &[ViewRow]) -> Result<()> {
        self.inner.put_views(thread, views)
    }
}

#[test]
fn event_and_view_are_both_stored_or_neither() {
    let mut peer = open(FailingStore {
        inner: MemoryStore::new(),
        budget: 3,
    })
    .expect("open");
    let (thread, mut db) = populate(&mut peer, 3);
    let stored = peer.into_store();
    let before = stored.inner.load().expect("load");
    let t = &before[thread.as_bytes()];
    assert_eq!(t.logs.values().map(Vec::len).sum::<usize>(), 3);
    assert!(
        t.views.keys().any(|k| k.ends_with(b"k2")),
        "the view row of k2 is stored"
    );
    assert_eq!(
        t.views.get(b"\0db".as_slice()),
        Some(&3u64.to_be_bytes().to_vec())
    );

    let mut peer = open(stored).expect("reopen");
    db.refresh(&mut peer).expect("checked against the events");
    let failed = db.kv(&mut peer, 9).put("k3", &3).expect_err("disk full");
    assert_eq!(failed.code, ErrorCode::StoreFailed);
    let after = peer.into_store().inner.load().expect("load");
    assert_eq!(after, before, "neither the record nor its view row");
}

#[cfg(feature = "redb")]
#[test]
fn a_reopened_redb_store_gives_the_same_view_and_damage_is_store_corrupt() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db.redb");
    let store = threads::store::redb::RedbStore::open(&path).expect("create");
    let mut peer = open(store).expect("open");
    let (thread, mut db) = populate(&mut peer, 5);
    db.docs(&mut peer, 20, "missing")
        .put("x", &BTreeMap::from([("a", 1)]))
        .expect_err("no such collection");
    let cid = db.view(&peer).expect("view").cid();
    assert_eq!(cid, scratch(&peer, &thread).cid());
    drop(peer);

    let store = threads::store::redb::RedbStore::open(&path).expect("reopen");
    let mut peer = open(store).expect("open");
    let db = Database::open(&mut peer, thread.clone()).expect("the stored view checks");
    assert_eq!(db.view(&peer).expect("view").cid(), cid);
    let mut store = peer.into_store();

    // A damaged row, a damaged position, and a row that should not be there.
    let row = {
        let loaded = store.load().expect("load");
        loaded[thread.as_bytes()]
            .views
            .keys()
            .find(|k| k.ends_with(b"k1"))
            .cloned()
            .expect("k1's row")
    };
    for (key, value) in [
        (row.clone(), Some(b"\x02".to_vec())),
        (row.clone(), None),
        (b"\0db".to_vec(), Some(4u64.to_be_bytes().to_vec())),
        (b"db\0kextra".to_vec(), Some(b"\x01".to_vec())),
    ] {
        let original = store.load().expect("load")[thread.as_bytes()].views.clone();
        store
            .put_views(thread.as_bytes(), &[(key.clone(), value)])
            .expect("damage");
        let mut peer = open(store).expect("the records still verify");
        let error = Database::open(&mut peer, thread.clone()).expect_err("damaged view");
        assert_eq!(error.code, ErrorCode::StoreCorrupt, "{error}");
        store = peer.into_store();
        // Undo the damage.
        let restore: Vec<ViewRow> = vec![(key.clone(), original.get(&key).cloned())];
        store.put_views(thread.as_bytes(), &restore).expect("undo");
    }
    let mut peer = open(store).expect("open");
    let db = Database::open(&mut peer, thread).expect("undamaged again");
    assert_eq!(db.view(&peer).expect("view").cid(), cid);
}

#[test]
fn records_stored_without_the_view_make_it_rebuilt_not_corrupt() {
    let mut peer = open(MemoryStore::new()).expect("open");
    let (thread, _) = populate(&mut peer, 2);
    // Reopened without the database: records arrive while no reducer runs. One removes a key,
    // so a stored row is left that the rebuilt view no longer has: it must be deleted.
    let mut peer = open(peer.into_store()).expect("reopen");
    let body = threads::db::DbEvent::new(
        10,
        vec![
            threads::db::Op::Put {
                key: "late".into(),
                value: threads::db::Value::Integer(1),
            },
            threads::db::Op::Del { key: "k0".into() },
        ],
    )
    .expect("event")
    .to_bytes();
    peer.append(30, &thread, &body).expect("append");
    let mut peer = open(peer.into_store()).expect("reopen");
    let db = Database::open(&mut peer, thread.clone()).expect("rebuilt");
    let view = db.view(&peer).expect("view");
    assert_eq!(view.cid(), scratch(&peer, &thread).cid());
    assert!(view.kv().contains_key("late"));
    assert!(!view.kv().contains_key("k0"));
    // And the rebuilt rows, the removed key's row gone, are checked on the next open.
    let mut peer = open(peer.into_store()).expect("reopen");
    Database::open(&mut peer, thread).expect("checks");
}

#[test]
fn the_acl_view_is_stored_as_a_model_and_a_damaged_acl_row_is_store_corrupt() {
    let mut peer = open(MemoryStore::new()).expect("open");
    let (thread, _) = peer
        .create_thread(1, Variant::AccessControlled)
        .expect("create");
    let mut db = Database::open(&mut peer, thread.clone()).expect("open db");
    db.kv(&mut peer, 2).put("k", &1).expect("put");
    let acl = db.acl(&peer).expect("the ACL Model is registered").clone();
    assert_eq!(
        acl.acl().document(),
        &peer.acl_document(&thread).expect("acl")
    );
    let mut store = peer.into_store();
    let views = store.load().expect("load")[thread.as_bytes()].views.clone();
    // Two records offered (the genesis and the put); the anchor row holds the genesis document.
    assert_eq!(
        views.get(b"\0acl".as_slice()),
        Some(&2u64.to_be_bytes().to_vec())
    );
    assert!(views.contains_key(b"acl\0a".as_slice()));

    let mut peer = open(store).expect("reopen");
    let db = Database::open(&mut peer, thread.clone()).expect("the stored ACL view checks");
    assert_eq!(db.acl(&peer).expect("acl"), &acl);
    store = peer.into_store();
    store
        .put_views(
            thread.as_bytes(),
            &[(b"acl\0a".to_vec(), Some(b"\x01".to_vec()))],
        )
        .expect("damage");
    let mut peer = open(store).expect("the records still verify");
    let error = Database::open(&mut peer, thread).expect_err("damaged ACL row");
    assert_eq!(error.code, ErrorCode::StoreCorrupt, "{error}");
}

/// Checks [DB-23], [DB-29]: a restart resumes the view from the stored snapshot, compacted, and
/// the records written after it fold onto that view: the covered events are not folded again,
/// which only an event sorting at or before the snapshot may require [DB-27].
#[test]
fn db_29_records_written_after_a_restart_fold_onto_the_restored_view() {
    let mut peer = open(MemoryStore::new()).expect("open");
    let (thread, _) = populate(&mut peer, threads::db::SNAPSHOT_EVERY as u64 + 10);
    let mut peer = open(peer.into_store()).expect("reopen");
    let mut db = Database::open(&mut peer, thread.clone()).expect("restored");
    let view = db.view(&peer).expect("view");
    assert!(view.is_compacted(), "resumed from the stored snapshot");
    for i in 0..3 {
        db.kv(&mut peer, 1_000 + i).put("after", &i).expect("put");
        let view = db.view(&peer).expect("view");
        assert!(
            view.is_compacted(),
            "append {i} folded the covered events again"
        );
        assert_eq!(view.cid(), scratch(&peer, &thread).cid());
    }
}

/// A snapshot kept in the on-disk store beside the records survives a reopen, and the view
/// rebuilt from it and the events after it is the view of all the events [DB-23].
#[cfg(feature = "redb")]
#[test]
fn db_23_a_snapshot_kept_in_redb_rebuilds_the_view_after_a_reopen() {
    use threads::db::{DbEvent, Op, SNAPSHOT_EVERY, Snapshot, Value};
    let records: Vec<DbRecord> = (1..=SNAPSHOT_EVERY as u64 + 20)
        .map(|seq| {
            let op = Op::Put {
                key: format!("k{}", seq % 40),
                value: Value::Integer(seq as i64),
            };
            let body = DbEvent::new(seq, vec![op]).expect("event").to_bytes();
            DbRecord {
                cid: threads::block::cid_of(&[&seq.to_be_bytes()[..], &body].concat()),
                log: identity().log_id(),
                seq,
                body,
            }
        })
        .collect();
    let full = DbView::from_records(&records);
    let snapshot = full.snapshot().expect("one snapshot");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db.redb");
    let thread = b"thread";
    {
        let mut store = threads::store::redb::RedbStore::open(&path).expect("create");
        store.put_thread(thread, b"meta").expect("describe");
        store.put_views(thread, &snapshot.to_rows()).expect("keep");
    }
    let store = threads::store::redb::RedbStore::open(&path).expect("reopen");
    let stored = store
        .load()
        .expect("load")
        .remove(&thread[..])
        .expect("thread");
    let loaded = Snapshot::load(&stored).expect("decodes").expect("kept");
    assert_eq!(loaded.cid(), snapshot.cid());
    let resumed = DbView::resume(&loaded, &records).expect("resume");
    assert_eq!(resumed.cid(), full.cid());
    // The rows of a damaged view are refused with a code, not trusted.
    let mut damaged = stored.clone();
    for (key, row) in damaged.views.iter_mut() {
        if key.ends_with(b"view") {
            row.push(0);
        }
    }
    let err = Snapshot::load(&damaged).expect_err("damaged");
    assert_eq!(err.code, ErrorCode::DbSnapshotInvalid);
}
