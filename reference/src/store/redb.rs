//! [`RedbStore`]: a [`Store`] in one redb database file ([SYNC-12], [SYNC-13]).
//!
//! redb commits are atomic and, at its default durability, synced to disk before `commit`
//! returns, so one write transaction per [`Store`] call gives exactly the contract the peer needs:
//! a batch of records is on disk in full before the peer acknowledges any of it, or none of it is.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use ::redb::{
    Database, Durability, ReadOnlyTable, ReadableDatabase, ReadableTable, TableDefinition,
    WriteTransaction,
};

use super::{Store, StoredThread, ThreadIndex, ViewRow, WINDOW_RECORDS, check_next, not_described};
use crate::error::{Error, ErrorCode, Result};

/// Thread ID bytes → the thread's description.
const THREADS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("threads");

/// (thread ID bytes, log ID bytes, seq): redb orders a tuple by thread, then log, then seq, so one
/// scan reads each log's records in seq order.
type RecordKey = (&'static [u8], &'static [u8], u64);

/// [`RecordKey`] → envelope.
const RECORDS: TableDefinition<RecordKey, &[u8]> = TableDefinition::new("records");

/// (thread ID bytes, log ID bytes) → number of records stored. Kept beside [`RECORDS`] and written
/// in the same transaction so that an append checks its position without scanning the log, and so
/// that [`Store::load`] can tell a lost record from a short log.
const LENGTHS: TableDefinition<(&[u8], &[u8]), u64> = TableDefinition::new("log_lengths");

/// The records table opened for reading.
type RecordsTable = ReadOnlyTable<(&'static [u8], &'static [u8], u64), &'static [u8]>;

/// (thread ID bytes, row key) → row bytes: the thread's persisted view rows [DB-11], written in
/// the same transaction as the records they were folded from.
const VIEWS: TableDefinition<(&[u8], &[u8]), &[u8]> = TableDefinition::new("views");

/// redb's page cache. Its default, 1 GiB, lets a peer's memory grow with every record it writes
/// until the cache is full (issue 14); the peer reads its store once, on restart [SYNC-13], and
/// appends at the end of each log, so a small cache costs little.
const CACHE_BYTES: usize = 16 << 20;

/// A [`Store`] on disk: one redb database file holding every thread's description and records.
///
/// Each call is one redb write transaction committed with immediate durability, so a record is on
/// disk before the peer acknowledges it and a batch is written whole or not at all [SYNC-12]; a
/// reopened store [`load`](Store::load)s exactly what was committed, and reports STORE_CORRUPT
/// when the logs it finds are not contiguous [SYNC-13].
pub struct RedbStore {
    db: Database,
    path: PathBuf,
    /// Inside a group commit ([`Store::begin_group`]): whether a write was committed without
    /// durability since the group began (`Some(false)`: none yet), so `end_group` syncs only
    /// when there is something to sync.
    group: Option<bool>,
}

impl fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedbStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl RedbStore {
    /// Opens the store at `path`, creating an empty one if the file does not exist or is empty.
    ///
    /// This is how a peer restarts [SYNC-13]. STORE_FAILED when the file cannot be opened, is not
    /// a redb database, fails redb's integrity check, or is already open.
    pub fn open(path: &Path) -> Result<RedbStore> {
        let fail = |e: &dyn fmt::Display| failed("open", path, e);
        // Without the check, redb trusts the file and may panic on one damaged outside redb; a
        // restart must report a bad store, never crash on it [SYNC-13].
        let db = Database::builder()
            .set_check_integrity_on_open(true)
            .set_cache_size(CACHE_BYTES)
            .create(path)
            .map_err(|e| fail(&e))?;
        // Creating every table up front lets `load` read a fresh store like any other, instead of
        // treating a missing table as empty, which would also hide a table lost from an old file.
        let txn = db.begin_write().map_err(|e| fail(&e))?;
        txn.open_table(THREADS).map_err(|e| fail(&e))?;
        txn.open_table(RECORDS).map_err(|e| fail(&e))?;
        txn.open_table(LENGTHS).map_err(|e| fail(&e))?;
        txn.open_table(VIEWS).map_err(|e| fail(&e))?;
        txn.commit().map_err(|e| fail(&e))?;
        Ok(RedbStore {
            db,
            path: path.to_path_buf(),
            group: None,
        })
    }

    /// The database file this store was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn failed(&self, operation: &str, error: &dyn fmt::Display) -> Error {
        failed(operation, &self.path, error)
    }

    /// STORE_CORRUPT when the records table holds a record beyond its log's stored length, or of
    /// a log with no stored length: a store that [`Store::load`] would refuse must not restart
    /// by [`Store::index`] either [SYNC-13]. One lookup per log: from each log's first record
    /// the scan jumps past the log's last possible seq.
    fn check_no_strays(
        &self,
        records: &RecordsTable,
        index: &BTreeMap<Vec<u8>, ThreadIndex>,
    ) -> Result<()> {
        let fail = |e: &dyn fmt::Display| self.failed("index", e);
        let mut next = records.first().map_err(|e| fail(&e))?.map(|(k, _)| {
            let (thread, log, seq) = k.value();
            (thread.to_vec(), log.to_vec(), seq)
        });
        while let Some((thread, log, seq)) = next {
            let length = index.get(&thread).and_then(|t| t.logs.get(&log)).copied();
            let last = match length {
                None => {
                    return Err(corrupt(
                        &self.path,
                        format!(
                            "record {seq} of log {} in thread {} has no stored length",
                            hex(&log),
                            hex(&thread)
                        ),
                    ));
                }
                Some(_) => records
                    .range(
                        (thread.as_slice(), log.as_slice(), 0)
                            ..=(thread.as_slice(), log.as_slice(), u64::MAX),
                    )
                    .map_err(|e| fail(&e))?
                    .next_back()
                    .transpose()
                    .map_err(|e| fail(&e))?
                    .map_or(0, |(k, _)| k.value().2),
            };
            if let Some(length) = length
                && last > length
            {
                return Err(corrupt(
                    &self.path,
                    format!(
                        "log {} in thread {} holds seq {last} beyond its length {length}",
                        hex(&log),
                        hex(&thread)
                    ),
                ));
            }
            next = records
                .range((thread.as_slice(), log.as_slice(), u64::MAX)..)
                .map_err(|e| fail(&e))?
                .map(|entry| {
                    entry.map(|(k, _)| {
                        let (t, l, seq) = k.value();
                        (t.to_vec(), l.to_vec(), seq)
                    })
                })
                .find(|entry| !matches!(entry, Ok((t, l, _)) if *t == thread && *l == log))
                .transpose()
                .map_err(|e| fail(&e))?;
        }
        Ok(())
    }

    /// A write transaction: synced on commit, or, inside a group commit, committed without a
    /// sync that `end_group`'s one synced commit makes durable with the others [SYNC-12].
    fn begin_write(&mut self, operation: &str) -> Result<WriteTransaction> {
        let fail = |e: &dyn fmt::Display| self.failed(operation, e);
        let mut txn = self.db.begin_write().map_err(|e| fail(&e))?;
        if self.group.is_some() {
            txn.set_durability(Durability::None).map_err(|e| fail(&e))?;
            self.group = Some(true);
        }
        Ok(txn)
    }
}

/// STORE_FAILED naming the operation and the file, so a stopped peer says which store broke.
fn failed(operation: &str, path: &Path, error: &dyn fmt::Display) -> Error {
    Error::new(
        ErrorCode::StoreFailed,
        format!("redb store {}: {operation}: {error}", path.display()),
    )
}

fn corrupt(path: &Path, detail: String) -> Error {
    Error::new(
        ErrorCode::StoreCorrupt,
        format!("redb store {}: {detail}", path.display()),
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Store for RedbStore {
    /// Reads every table in one read transaction, so the result is one committed state, and checks
    /// that each log is seqs 1..=length with nothing missing or extra [SYNC-13].
    fn load(&self) -> Result<BTreeMap<Vec<u8>, StoredThread>> {
        let fail = |e: &dyn fmt::Display| self.failed("load", e);
        let txn = self.db.begin_read().map_err(|e| fail(&e))?;
        let threads = txn.open_table(THREADS).map_err(|e| fail(&e))?;
        let records = txn.open_table(RECORDS).map_err(|e| fail(&e))?;
        let lengths = txn.open_table(LENGTHS).map_err(|e| fail(&e))?;
        let views = txn.open_table(VIEWS).map_err(|e| fail(&e))?;

        let mut loaded = BTreeMap::new();
        for entry in threads.iter().map_err(|e| fail(&e))? {
            let (thread, meta) = entry.map_err(|e| fail(&e))?;
            loaded.insert(
                thread.value().to_vec(),
                StoredThread {
                    meta: meta.value().to_vec(),
                    logs: BTreeMap::new(),
                    views: BTreeMap::new(),
                },
            );
        }

        // Logs come from the length table, not from the records, so that a log whose records
        // were all lost is reported rather than silently dropped.
        let mut expected = Vec::new();
        for entry in lengths.iter().map_err(|e| fail(&e))? {
            let (key, length) = entry.map_err(|e| fail(&e))?;
            let (thread, log) = key.value();
            let stored = loaded.get_mut(thread).ok_or_else(|| {
                corrupt(
                    &self.path,
                    format!("log {} of undescribed thread {}", hex(log), hex(thread)),
                )
            })?;
            stored.logs.insert(log.to_vec(), Vec::new());
            expected.push((thread.to_vec(), log.to_vec(), length.value()));
        }

        for entry in records.iter().map_err(|e| fail(&e))? {
            let (key, envelope) = entry.map_err(|e| fail(&e))?;
            let (thread, log, seq) = key.value();
            let envelopes = loaded
                .get_mut(thread)
                .and_then(|stored| stored.logs.get_mut(log))
                .ok_or_else(|| {
                    corrupt(
                        &self.path,
                        format!(
                            "record {seq} of log {} in thread {} has no stored length",
                            hex(log),
                            hex(thread)
                        ),
                    )
                })?;
            // Keys arrive in seq order, so anything but the next seq is a hole or a seq 0.
            let next = envelopes.len() as u64 + 1;
            if seq != next {
                return Err(corrupt(
                    &self.path,
                    format!(
                        "log {} in thread {} has seq {seq} where seq {next} belongs",
                        hex(log),
                        hex(thread)
                    ),
                ));
            }
            envelopes.push(envelope.value().to_vec());
        }

        for entry in views.iter().map_err(|e| fail(&e))? {
            let (key, row) = entry.map_err(|e| fail(&e))?;
            let (thread, row_key) = key.value();
            let stored = loaded.get_mut(thread).ok_or_else(|| {
                corrupt(
                    &self.path,
                    format!("a view row of undescribed thread {}", hex(thread)),
                )
            })?;
            stored.views.insert(row_key.to_vec(), row.value().to_vec());
        }

        for (thread, log, length) in expected {
            let found = loaded
                .get(&thread)
                .and_then(|stored| stored.logs.get(&log))
                .map_or(0, |envelopes| envelopes.len() as u64);
            if found != length {
                return Err(corrupt(
                    &self.path,
                    format!(
                        "log {} in thread {} holds {found} records but its length says {length}",
                        hex(&log),
                        hex(&thread)
                    ),
                ));
            }
        }
        Ok(loaded)
    }

    /// The threads, lengths and views tables in one read transaction; the records are read
    /// later, a range at a time, by [`Store::records`] [SYNC-13].
    fn index(&self) -> Result<BTreeMap<Vec<u8>, ThreadIndex>> {
        let fail = |e: &dyn fmt::Display| self.failed("index", e);
        let txn = self.db.begin_read().map_err(|e| fail(&e))?;
        let threads = txn.open_table(THREADS).map_err(|e| fail(&e))?;
        let lengths = txn.open_table(LENGTHS).map_err(|e| fail(&e))?;
        let views = txn.open_table(VIEWS).map_err(|e| fail(&e))?;
        let mut index = BTreeMap::new();
        for entry in threads.iter().map_err(|e| fail(&e))? {
            let (thread, meta) = entry.map_err(|e| fail(&e))?;
            let described = ThreadIndex {
                meta: meta.value().to_vec(),
                ..ThreadIndex::default()
            };
            index.insert(thread.value().to_vec(), described);
        }
        for entry in lengths.iter().map_err(|e| fail(&e))? {
            let (key, length) = entry.map_err(|e| fail(&e))?;
            let (thread, log) = key.value();
            let stored: &mut ThreadIndex = index.get_mut(thread).ok_or_else(|| {
                corrupt(
                    &self.path,
                    format!("log {} of undescribed thread {}", hex(log), hex(thread)),
                )
            })?;
            stored.logs.insert(log.to_vec(), length.value());
        }
        for entry in views.iter().map_err(|e| fail(&e))? {
            let (key, row) = entry.map_err(|e| fail(&e))?;
            let (thread, row_key) = key.value();
            let stored: &mut ThreadIndex = index.get_mut(thread).ok_or_else(|| {
                corrupt(
                    &self.path,
                    format!("a view row of undescribed thread {}", hex(thread)),
                )
            })?;
            stored.views.insert(row_key.to_vec(), row.value().to_vec());
        }
        let records = txn.open_table(RECORDS).map_err(|e| fail(&e))?;
        self.check_no_strays(&records, &index)?;
        Ok(index)
    }

    /// One range scan of the records table in one read transaction, checked against the log's
    /// stored length: a hole or a missing record inside the length is STORE_CORRUPT [SYNC-13].
    fn records(&self, thread: &[u8], log: &[u8], from: u64, count: usize) -> Result<Vec<Vec<u8>>> {
        let fail = |e: &dyn fmt::Display| self.failed("records", e);
        let txn = self.db.begin_read().map_err(|e| fail(&e))?;
        let lengths = txn.open_table(LENGTHS).map_err(|e| fail(&e))?;
        let length = lengths
            .get((thread, log))
            .map_err(|e| fail(&e))?
            .map_or(0, |length| length.value());
        let from = from.max(1);
        if from > length || count == 0 {
            return Ok(Vec::new());
        }
        let wanted = (length - from + 1).min(count as u64);
        let records = txn.open_table(RECORDS).map_err(|e| fail(&e))?;
        let mut out = Vec::with_capacity(usize::try_from(wanted).unwrap_or(0).min(count));
        let range = records
            .range((thread, log, from)..=(thread, log, from + wanted - 1))
            .map_err(|e| fail(&e))?;
        for (expected, entry) in (from..).zip(range) {
            let (key, envelope) = entry.map_err(|e| fail(&e))?;
            let (_, _, seq) = key.value();
            if seq != expected {
                return Err(corrupt(
                    &self.path,
                    format!(
                        "log {} in thread {} has seq {seq} where seq {expected} belongs",
                        hex(log),
                        hex(thread)
                    ),
                ));
            }
            out.push(envelope.value().to_vec());
        }
        if out.len() as u64 != wanted {
            return Err(corrupt(
                &self.path,
                format!(
                    "log {} in thread {} holds {} records from seq {from} but its length says {}",
                    hex(log),
                    hex(thread),
                    out.len(),
                    length - from + 1
                ),
            ));
        }
        Ok(out)
    }

    /// A store on disk: its peer keeps [`WINDOW_RECORDS`] records of each log in memory and
    /// reads the rest from here, so its memory does not grow with its logs.
    fn window(&self) -> Option<usize> {
        Some(WINDOW_RECORDS)
    }

    /// One committed, synced transaction [SYNC-12].
    fn put_thread(&mut self, thread: &[u8], meta: &[u8]) -> Result<()> {
        let txn = self.begin_write("put_thread")?;
        let fail = |e: &dyn fmt::Display| self.failed("put_thread", e);
        {
            let mut threads = txn.open_table(THREADS).map_err(|e| fail(&e))?;
            threads.insert(thread, meta).map_err(|e| fail(&e))?;
        }
        txn.commit().map_err(|e| fail(&e))
    }

    /// The whole batch and the log's new length in one committed, synced transaction, so a crash
    /// leaves either all of it or none of it [SYNC-12]. A refused batch returns before the commit;
    /// dropping the transaction aborts it, so nothing is written.
    fn put_records(
        &mut self,
        thread: &[u8],
        log: &[u8],
        first: u64,
        envelopes: &[Vec<u8>],
    ) -> Result<()> {
        self.commit(thread, log, first, envelopes, &[])
    }

    /// The records, the log's new length and the view rows in one redb write transaction, so a
    /// crash leaves the events and the view they fold to both stored or neither [SYNC-12],
    /// [DB-11].
    fn commit(
        &mut self,
        thread: &[u8],
        log: &[u8],
        first: u64,
        envelopes: &[Vec<u8>],
        views: &[ViewRow],
    ) -> Result<()> {
        let txn = self.begin_write("put_records")?;
        let fail = |e: &dyn fmt::Display| self.failed("put_records", e);
        {
            let threads = txn.open_table(THREADS).map_err(|e| fail(&e))?;
            if threads.get(thread).map_err(|e| fail(&e))?.is_none() {
                return Err(not_described(thread));
            }
            let mut lengths = txn.open_table(LENGTHS).map_err(|e| fail(&e))?;
            let stored = lengths
                .get((thread, log))
                .map_err(|e| fail(&e))?
                .map_or(0, |length| length.value());
            // Checked before `check_next` adds one, so a damaged length cannot overflow a seq.
            let end = stored
                .checked_add(envelopes.len() as u64)
                .filter(|end| *end < u64::MAX)
                .ok_or_else(|| {
                    fail(&format!("log length {stored} leaves no room for the batch"))
                })?;
            check_next(stored, first)?;
            let mut records = txn.open_table(RECORDS).map_err(|e| fail(&e))?;
            for (seq, envelope) in (first..).zip(envelopes) {
                records
                    .insert((thread, log, seq), envelope.as_slice())
                    .map_err(|e| fail(&e))?;
            }
            lengths.insert((thread, log), end).map_err(|e| fail(&e))?;
            let mut rows = txn.open_table(VIEWS).map_err(|e| fail(&e))?;
            write_rows(&mut rows, thread, views).map_err(|e| fail(&e))?;
        }
        txn.commit().map_err(|e| fail(&e))
    }

    /// The rows in one committed, synced transaction [DB-11].
    fn put_views(&mut self, thread: &[u8], views: &[ViewRow]) -> Result<()> {
        let txn = self.begin_write("put_views")?;
        let fail = |e: &dyn fmt::Display| self.failed("put_views", e);
        {
            let threads = txn.open_table(THREADS).map_err(|e| fail(&e))?;
            if threads.get(thread).map_err(|e| fail(&e))?.is_none() {
                return Err(not_described(thread));
            }
            let mut rows = txn.open_table(VIEWS).map_err(|e| fail(&e))?;
            write_rows(&mut rows, thread, views).map_err(|e| fail(&e))?;
        }
        txn.commit().map_err(|e| fail(&e))
    }

    /// Writes from now on commit without syncing, until [`Store::end_group`] [SYNC-12].
    fn begin_group(&mut self) {
        self.group.get_or_insert(false);
    }

    /// One empty transaction committed with immediate durability, which redb documents as
    /// making every earlier commit durable with it; skipped when the group wrote nothing.
    fn end_group(&mut self) -> Result<()> {
        if self.group.take() != Some(true) {
            return Ok(());
        }
        let fail = |e: &dyn fmt::Display| self.failed("end_group", e);
        let txn = self.db.begin_write().map_err(|e| fail(&e))?;
        txn.commit().map_err(|e| fail(&e))
    }
}

fn write_rows(
    rows: &mut ::redb::Table<(&[u8], &[u8]), &[u8]>,
    thread: &[u8],
    views: &[ViewRow],
) -> std::result::Result<(), ::redb::StorageError> {
    for (key, value) in views {
        match value {
            Some(bytes) => rows.insert((thread, key.as_slice()), bytes.as_slice())?,
            None => rows.remove((thread, key.as_slice()))?,
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;
    use proptest::prelude::*;

    fn codes<T>(result: Result<T>) -> Result<T, ErrorCode> {
        result.map_err(|e| e.code)
    }

    fn envelopes(items: &[&[u8]]) -> Vec<Vec<u8>> {
        items.iter().map(|item| item.to_vec()).collect()
    }

    /// A peer on a store on disk keeps only the newest [`WINDOW_RECORDS`] records of a log in
    /// memory and reads the older ones from the store, so its memory does not grow with its logs
    /// ([SYNC-5], [SYNC-12]); so does the same peer restarted on that store [SYNC-13].
    #[test]
    fn a_peer_on_disk_keeps_only_a_window_of_each_log_in_memory() {
        use crate::id::Variant;
        use crate::keys::IdentityKey;
        use crate::sync::Peer;
        use rand_chacha::ChaCha20Rng;
        use rand_core::SeedableRng;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("store.redb");
        let identity = IdentityKey::from_seed(&[12; 32]);
        let open = || {
            let store = RedbStore::open(&path).expect("open");
            Peer::open(identity.clone(), ChaCha20Rng::seed_from_u64(12), store, 0).expect("peer")
        };
        let mut peer = open();
        let (thread, log) = peer.create_thread(0, Variant::Raw).expect("create");
        let n = WINDOW_RECORDS + 44;
        let bodies: Vec<Vec<u8>> = (0..n).map(|i| format!("event {i}").into_bytes()).collect();
        peer.append_batch(1, &thread, &bodies).expect("append");
        let check = |peer: &Peer<ChaCha20Rng, RedbStore>| {
            let held = peer.envelopes(&thread, &log).expect("thread");
            assert_eq!(held.len(), WINDOW_RECORDS, "only the window in memory");
            let all = peer.records(&thread, &log, 1, n).expect("read");
            assert_eq!(all.len(), n, "the rest is read from the store");
            assert_eq!(&all[n - WINDOW_RECORDS..], held);
        };
        check(&peer);
        drop(peer);
        check(&open());
    }

    /// The read path gives what was written, a range at a time, the same as the memory store,
    /// and reports a hole inside a log's length as STORE_CORRUPT [SYNC-13].
    /// A record stored beyond its log's length, or under a log with no length, makes the store
    /// STORE_CORRUPT for `index` as for `load`, so a restart by index refuses what a full load
    /// refuses; a store without strays indexes as before [SYNC-13].
    #[test]
    fn strays_beyond_a_logs_length_are_corrupt_for_index_as_for_load() {
        let stray = |thread: &'static [u8], log: &'static [u8], seq: u64| {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join("store.redb");
            let mut store = RedbStore::open(&path).expect("create");
            store.put_thread(b"t", b"meta").expect("describe");
            store
                .put_records(b"t", b"a", 1, &envelopes(&[b"a1", b"a2"]))
                .expect("a");
            store
                .put_records(b"t", b"c", 1, &envelopes(&[b"c1"]))
                .expect("c");
            assert!(store.index().is_ok(), "no strays yet");
            let txn = store.db.begin_write().expect("write");
            txn.open_table(RECORDS)
                .expect("records")
                .insert((thread, log, seq), &b"stray"[..])
                .expect("insert");
            txn.commit().expect("commit");
            (codes(store.index()), codes(store.load()), dir)
        };
        for (thread, log, seq, what) in [
            (&b"t"[..], &b"a"[..], 3, "one past the length"),
            (&b"t"[..], &b"a"[..], u64::MAX, "far beyond the length"),
            (&b"t"[..], &b"b"[..], 1, "a log with no length"),
            (
                &b"t"[..],
                &b"d"[..],
                7,
                "a log with no length, after the others",
            ),
            (&b"s"[..], &b"a"[..], 1, "a thread never described"),
        ] {
            let (index, load, _dir) = stray(thread, log, seq);
            assert_eq!(index.err(), Some(ErrorCode::StoreCorrupt), "index: {what}");
            assert_eq!(load.err(), Some(ErrorCode::StoreCorrupt), "load: {what}");
        }
    }

    #[test]
    fn records_read_back_by_range_and_holes_are_corrupt() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("store.redb");
        let mut store = RedbStore::open(&path).expect("create");
        let mut memory = MemoryStore::new();
        let items: Vec<Vec<u8>> = (0..10u8).map(|i| vec![i; 3]).collect();
        for s in [&mut store as &mut dyn Store, &mut memory] {
            s.put_thread(b"t", b"meta").expect("describe");
            s.put_records(b"t", b"l", 1, &items[..4]).expect("1-4");
            s.put_records(b"t", b"l", 5, &items[4..]).expect("5-10");
        }
        for (from, count) in [(1, 10), (0, 3), (3, 4), (9, 5), (10, 1), (11, 2), (4, 0)] {
            let read = store.records(b"t", b"l", from, count).expect("read");
            assert_eq!(read, memory.records(b"t", b"l", from, count).expect("read"));
            let start = (from.max(1) - 1) as usize;
            let expected: Vec<Vec<u8>> = items.iter().skip(start).take(count).cloned().collect();
            assert_eq!(read, expected, "from {from}, {count}");
        }
        assert!(
            store
                .records(b"t", b"other", 1, 5)
                .expect("no log")
                .is_empty()
        );
        assert!(
            store
                .records(b"x", b"l", 1, 5)
                .expect("no thread")
                .is_empty()
        );
        let index = store.index().expect("index");
        assert_eq!(index[&b"t".to_vec()].logs[&b"l".to_vec()], 10);
        assert_eq!(index, memory.index().expect("index"));
        {
            let txn = store.db.begin_write().expect("write");
            txn.open_table(RECORDS)
                .expect("records")
                .remove((&b"t"[..], &b"l"[..], 6))
                .expect("remove");
            txn.commit().expect("commit");
        }
        assert_eq!(
            codes(store.records(b"t", b"l", 5, 3)),
            Err(ErrorCode::StoreCorrupt)
        );
        assert_eq!(
            codes(store.records(b"t", b"l", 6, 1)),
            Err(ErrorCode::StoreCorrupt)
        );
        assert_eq!(
            store
                .records(b"t", b"l", 1, 5)
                .expect("before the hole")
                .len(),
            5
        );
    }

    #[test]
    fn writes_survive_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("store.redb");
        let mut memory = MemoryStore::new();
        {
            let mut store = RedbStore::open(&path).expect("create");
            assert!(store.load().expect("load empty").is_empty());
            for s in [&mut store as &mut dyn Store, &mut memory] {
                s.put_thread(b"t1", b"meta one").expect("describe t1");
                s.put_thread(b"t2", b"meta two").expect("describe t2");
                s.put_records(b"t1", b"a", 1, &envelopes(&[b"a1", b"a2"]))
                    .expect("a 1-2");
                s.put_records(b"t1", b"a", 3, &envelopes(&[b"a3"]))
                    .expect("a 3");
                s.put_records(b"t1", b"b", 1, &envelopes(&[b"b1"]))
                    .expect("b 1");
                s.put_thread(b"t1", b"meta one, rewritten")
                    .expect("redescribe t1");
            }
            assert_eq!(store.load().expect("load"), memory.load().expect("load"));
        }
        let store = RedbStore::open(&path).expect("reopen");
        let loaded = store.load().expect("load after reopen");
        assert_eq!(loaded, memory.load().expect("load"));
        assert_eq!(loaded[&b"t1".to_vec()].meta, b"meta one, rewritten");
        assert_eq!(
            loaded[&b"t1".to_vec()].logs[&b"a".to_vec()],
            envelopes(&[b"a1", b"a2", b"a3"])
        );
        assert!(loaded[&b"t2".to_vec()].logs.is_empty());
    }

    /// Writes in a group commit read back at once, are all on disk after `end_group`, and a
    /// write after the group is synced on its own again [SYNC-12].
    #[test]
    fn a_group_commit_reads_back_at_once_and_is_stored_when_it_ends() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("store.redb");
        {
            let mut store = RedbStore::open(&path).expect("create");
            store.end_group().expect("no group: nothing to do");
            store.begin_group();
            store.put_thread(b"t", b"meta").expect("describe");
            store
                .put_records(b"t", b"l", 1, &envelopes(&[b"1", b"2"]))
                .expect("1-2");
            store
                .put_records(b"t", b"l", 3, &envelopes(&[b"3"]))
                .expect("3");
            assert_eq!(store.group, Some(true));
            assert_eq!(
                store.records(b"t", b"l", 2, 5).expect("read in the group"),
                envelopes(&[b"2", b"3"])
            );
            store.end_group().expect("sync");
            assert_eq!(store.group, None);
            store
                .put_records(b"t", b"l", 4, &envelopes(&[b"4"]))
                .expect("4, alone");
            assert_eq!(store.group, None, "a write after the group is not grouped");
        }
        let store = RedbStore::open(&path).expect("reopen");
        assert_eq!(
            store.load().expect("load")[&b"t".to_vec()].logs[&b"l".to_vec()],
            envelopes(&[b"1", b"2", b"3", b"4"])
        );
    }

    #[test]
    fn refused_puts_change_nothing_on_disk() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("store.redb");
        let before = {
            let mut store = RedbStore::open(&path).expect("create");
            store.put_thread(b"t", b"meta").expect("describe");
            store
                .put_records(b"t", b"l", 1, &envelopes(&[b"1", b"2"]))
                .expect("first batch");
            store.load().expect("load")
        };
        {
            let mut store = RedbStore::open(&path).expect("reopen");
            for wrong in [0, 1, 2, 4, u64::MAX] {
                assert_eq!(
                    codes(store.put_records(b"t", b"l", wrong, &envelopes(&[b"x"]))),
                    Err(ErrorCode::StoreFailed),
                    "first = {wrong}"
                );
            }
            assert_eq!(
                codes(store.put_records(b"t", b"new log", 2, &envelopes(&[b"x"]))),
                Err(ErrorCode::StoreFailed),
                "a new log starts at seq 1"
            );
            assert_eq!(
                codes(store.put_records(b"other", b"l", 1, &envelopes(&[b"x"]))),
                Err(ErrorCode::StoreFailed),
                "no records before the thread is described"
            );
            assert_eq!(store.load().expect("load"), before);
        }
        let store = RedbStore::open(&path).expect("reopen again");
        assert_eq!(store.load().expect("load after reopen"), before);
    }

    /// A damaged log length that leaves no seq for the batch (its last record would be seq
    /// u64::MAX, past which no seq follows) is refused STORE_FAILED, never overflowed.
    #[test]
    fn a_length_that_leaves_no_seq_for_the_batch_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = RedbStore::open(&dir.path().join("store.redb")).expect("create");
        store.put_thread(b"t", b"meta").expect("describe");
        store
            .put_records(b"t", b"l", 1, &envelopes(&[b"1"]))
            .expect("first");
        let txn = store.db.begin_write().expect("write");
        txn.open_table(LENGTHS)
            .expect("lengths")
            .insert((&b"t"[..], &b"l"[..]), u64::MAX - 1)
            .expect("damage");
        txn.commit().expect("commit");
        assert_eq!(
            codes(store.put_records(b"t", b"l", u64::MAX, &envelopes(&[b"x"]))),
            Err(ErrorCode::StoreFailed)
        );
    }

    #[test]
    fn a_file_that_is_not_a_database_is_store_failed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let short = dir.path().join("short");
        std::fs::write(&short, b"not a redb database\n").expect("write");
        let long = dir.path().join("long");
        std::fs::write(&long, vec![0x5a; 64 * 1024]).expect("write");
        for path in [short, long] {
            let error = RedbStore::open(&path).expect_err("not a database");
            assert_eq!(error.code, ErrorCode::StoreFailed, "{error}");
            assert!(error.detail.contains("open"), "{error}");
        }
        let directory = RedbStore::open(dir.path()).expect_err("a directory");
        assert_eq!(directory.code, ErrorCode::StoreFailed, "{directory}");
    }

    #[derive(Debug, Clone)]
    enum Op {
        PutThread {
            thread: u8,
            meta: Vec<u8>,
        },
        /// `first` is the right one shifted by `shift`, so most batches are accepted.
        PutRecords {
            thread: u8,
            log: u8,
            shift: i8,
            count: u8,
        },
        Reopen,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            2 => (0..3u8, prop::collection::vec(any::<u8>(), 0..4))
                .prop_map(|(thread, meta)| Op::PutThread { thread, meta }),
            5 => (0..3u8, 0..2u8, prop_oneof![4 => Just(0i8), 1 => -2..3i8], 0..4u8)
                .prop_map(|(thread, log, shift, count)| Op::PutRecords { thread, log, shift, count }),
            1 => Just(Op::Reopen),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

        #[test]
        fn redb_store_behaves_like_memory_store(ops in prop::collection::vec(op(), 1..24)) {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join("store.redb");
            let mut memory = MemoryStore::new();
            let mut disk = Some(RedbStore::open(&path).expect("create"));
            let mut written = 0u32;
            for (step, op) in ops.iter().enumerate() {
                let store = match op {
                    Op::Reopen => {
                        // The old handle must be gone before the file can be opened again.
                        drop(disk.take());
                        disk.insert(RedbStore::open(&path).expect("reopen"))
                    }
                    _ => disk.as_mut().expect("open"),
                };
                match op {
                    Op::PutThread { thread, meta } => {
                        let thread = [b't', *thread];
                        prop_assert_eq!(
                            codes(store.put_thread(&thread, meta)),
                            codes(memory.put_thread(&thread, meta)),
                            "step {}: {:?}", step, op
                        );
                    }
                    Op::PutRecords { thread, log, shift, count } => {
                        let (thread, log) = ([b't', *thread], [b'l', *log]);
                        let stored = memory
                            .load()
                            .expect("memory load")
                            .get(thread.as_slice())
                            .and_then(|t| t.logs.get(log.as_slice()))
                            .map_or(0, |l| l.len() as u64);
                        let first = (stored + 1).saturating_add_signed(i64::from(*shift));
                        let batch: Vec<Vec<u8>> = (0..*count)
                            .map(|_| {
                                written += 1;
                                written.to_be_bytes().to_vec()
                            })
                            .collect();
                        prop_assert_eq!(
                            codes(store.put_records(&thread, &log, first, &batch)),
                            codes(memory.put_records(&thread, &log, first, &batch)),
                            "step {}: {:?}", step, op
                        );
                    }
                    Op::Reopen => {}
                }
                prop_assert_eq!(
                    store.load().expect("disk load"),
                    memory.load().expect("memory load"),
                    "after step {}: {:?}", step, op
                );
            }
        }
    }
}
