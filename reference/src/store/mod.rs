//! Durable storage for a peer (spec/sync.md, [SYNC-12], [SYNC-13]).
//!
//! A [`Store`] keeps bytes, nothing more: each thread's description (its keys, this peer's own log
//! key, its ACL anchor and its peers, encoded by the [`crate::sync::Peer`]) and each log's
//! envelopes by position. The peer writes a record to its store before it acknowledges or serves
//! it, and a batch of records in one atomic write, so that a peer killed at any moment restarts
//! with every record it acknowledged and with heads that match its logs.
//!
//! Two stores implement the trait: [`MemoryStore`] for tests and the simulator (it survives a
//! simulated crash because the simulator keeps it), and `redb::RedbStore` on disk (feature `redb`,
//! which `node` enables: the sans-IO core itself never touches a disk).

use std::collections::BTreeMap;

use crate::error::Result;

#[cfg(feature = "redb")]
pub mod redb;

/// Everything stored for one thread, as [`Store::load`] returns it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredThread {
    /// The thread's description as last written by [`Store::put_thread`].
    pub meta: Vec<u8>,
    /// Each log's envelopes, by log ID bytes, in seq order starting at seq 1.
    pub logs: BTreeMap<Vec<u8>, Vec<Vec<u8>>>,
    /// The thread's persisted view rows, by row key, as [`Store::commit`] and
    /// [`Store::put_views`] last wrote them [DB-11]; empty for a store that keeps no views.
    pub views: BTreeMap<Vec<u8>, Vec<u8>>,
}

/// What [`Store::index`] returns for one thread: everything but the records themselves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ThreadIndex {
    /// The thread's description as last written by [`Store::put_thread`].
    pub meta: Vec<u8>,
    /// How many records each log holds, by log ID bytes.
    pub logs: BTreeMap<Vec<u8>, u64>,
    /// The thread's persisted view rows, as in [`StoredThread::views`].
    pub views: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl ThreadIndex {
    /// The index of a thread held whole: its description, view rows and log lengths [SYNC-13].
    pub fn of(stored: &StoredThread) -> ThreadIndex {
        ThreadIndex {
            meta: stored.meta.clone(),
            logs: stored
                .logs
                .iter()
                .map(|(log, envelopes)| (log.clone(), envelopes.len() as u64))
                .collect(),
            views: stored.views.clone(),
        }
    }
}

/// One change to a thread's persisted view rows: the row key, and its new bytes or `None` to
/// remove it. Reducers produce these ([`crate::db::Reducer`]); the store writes them in the same
/// transaction as the records that caused them [DB-11], [SYNC-12].
pub type ViewRow = (Vec<u8>, Option<Vec<u8>>);

/// Durable storage: a map from thread ID bytes to the thread's description and its logs [SYNC-12].
///
/// Every method either completes durably or returns STORE_FAILED and changes nothing; inside a
/// group ([`Store::begin_group`]) "durably" means once the group ends.
pub trait Store {
    /// Everything stored, by thread ID bytes; STORE_CORRUPT when what is stored cannot be read
    /// back as written [SYNC-13].
    fn load(&self) -> Result<BTreeMap<Vec<u8>, StoredThread>>;

    /// Every thread's description, view rows and log lengths, without the records: what a peer
    /// restarting log by log reads first [SYNC-13]. STORE_CORRUPT as for [`Store::load`].
    ///
    /// The default derives it from [`Store::load`], which holds every record at once; a store
    /// that reads records one range at a time ([`Store::records`]) overrides both.
    fn index(&self) -> Result<BTreeMap<Vec<u8>, ThreadIndex>> {
        Ok(self
            .load()?
            .iter()
            .map(|(id, stored)| (id.clone(), ThreadIndex::of(stored)))
            .collect())
    }

    /// The stored envelopes of `log` in `thread` from seq `from` on, in seq order, at most
    /// `count` of them: fewer only at the end of the log, none past it or for a log or thread
    /// not stored [SYNC-5], [SYNC-13]. STORE_FAILED when the store cannot be read, STORE_CORRUPT
    /// when what it holds there is not the contiguous log it wrote.
    ///
    /// The default reads [`Store::load`] and slices it.
    fn records(&self, thread: &[u8], log: &[u8], from: u64, count: usize) -> Result<Vec<Vec<u8>>> {
        let loaded = self.load()?;
        Ok(slice_log(
            loaded.get(thread).and_then(|t| t.logs.get(log)),
            from,
            count,
        ))
    }

    /// How many of each log's newest records a peer on this store keeps in memory, besides the
    /// store, to serve pushes and the usual pull without reading it; `None` keeps every record
    /// in memory [SYNC-5], [SYNC-12]. A store on disk says `Some`, so that the peer's memory does
    /// not grow with its logs; the default, `None`, suits a store in memory.
    fn window(&self) -> Option<usize> {
        None
    }

    /// Writes (or replaces) a thread's description.
    fn put_thread(&mut self, thread: &[u8], meta: &[u8]) -> Result<()>;

    /// Appends `envelopes` to a log as seqs `first`, `first + 1`, …, all in one atomic write.
    /// `first` must be one past the log's stored length; anything else is STORE_FAILED.
    fn put_records(
        &mut self,
        thread: &[u8],
        log: &[u8],
        first: u64,
        envelopes: &[Vec<u8>],
    ) -> Result<()>;

    /// [`Store::put_records`] and the view rows those records change, in one atomic write: after
    /// a crash both are stored or neither is [SYNC-12], [DB-11].
    ///
    /// The default keeps no views: it ignores `views` and stores the records. That is safe, never
    /// wrong: [`Store::load`] then returns no view rows, and a database reopened over the store
    /// folds its view again from the records. [`MemoryStore`] and `redb::RedbStore` keep them.
    fn commit(
        &mut self,
        thread: &[u8],
        log: &[u8],
        first: u64,
        envelopes: &[Vec<u8>],
        views: &[ViewRow],
    ) -> Result<()> {
        let _ = views;
        self.put_records(thread, log, first, envelopes)
    }

    /// Writes view rows without records, in one atomic write: a view persisted for the first
    /// time, or rebuilt [DB-11]. STORE_FAILED for a thread never described. The default keeps no
    /// views, as for [`Store::commit`].
    fn put_views(&mut self, thread: &[u8], views: &[ViewRow]) -> Result<()> {
        let _ = (thread, views);
        Ok(())
    }

    /// Opens a **group commit**: the writes from here to [`Store::end_group`] are each atomic and
    /// read back at once, but may be made durable only by `end_group`, all together, so that the
    /// messages handled in one group cost one sync of the disk, not one each [SYNC-12]. The
    /// caller MUST NOT acknowledge, serve or announce anything written in the group before
    /// `end_group` returns. The default syncs every write at once, as outside a group.
    fn begin_group(&mut self) {}

    /// Closes the group [`Store::begin_group`] opened: every write since then is durable when it
    /// returns; STORE_FAILED when they cannot be made so, and then none of them may be trusted
    /// to survive a crash [SYNC-12]. Without an open group it does nothing.
    fn end_group(&mut self) -> Result<()> {
        Ok(())
    }
}

/// At most `count` records of `log` from seq `from` on.
fn slice_log(log: Option<&Vec<Vec<u8>>>, from: u64, count: usize) -> Vec<Vec<u8>> {
    let Some(log) = log else {
        return Vec::new();
    };
    let start = usize::try_from(from.saturating_sub(1))
        .unwrap_or(usize::MAX)
        .min(log.len());
    log[start..].iter().take(count).cloned().collect()
}

/// How many of each log's newest records a peer on a store on disk keeps in memory
/// ([`Store::window`]): one full pull's worth, so that pushes and a follower's pulls from the
/// head are served without reading the store.
pub const WINDOW_RECORDS: usize = crate::sync::PULL_LIMIT as usize;

/// Applies view row changes to a map of rows.
pub(crate) fn apply_rows(rows: &mut BTreeMap<Vec<u8>, Vec<u8>>, views: &[ViewRow]) {
    for (key, value) in views {
        match value {
            Some(bytes) => rows.insert(key.clone(), bytes.clone()),
            None => rows.remove(key),
        };
    }
}

/// An in-memory [`Store`]; "durable" for as long as its owner keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryStore {
    threads: BTreeMap<Vec<u8>, StoredThread>,
    window: Option<usize>,
}

impl MemoryStore {
    /// An empty store; a peer on it keeps every record in memory too ([`Store::window`] is
    /// `None`), as the simulator and the harness adapter expect.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// An empty store whose peer keeps only the newest `window` records of each log in memory and
    /// reads the rest from here, as a peer on a store on disk does: for tests of that path.
    pub fn windowed(window: usize) -> MemoryStore {
        MemoryStore {
            threads: BTreeMap::new(),
            window: Some(window),
        }
    }
}

impl Store for MemoryStore {
    fn load(&self) -> Result<BTreeMap<Vec<u8>, StoredThread>> {
        Ok(self.threads.clone())
    }

    fn records(&self, thread: &[u8], log: &[u8], from: u64, count: usize) -> Result<Vec<Vec<u8>>> {
        Ok(slice_log(
            self.threads.get(thread).and_then(|t| t.logs.get(log)),
            from,
            count,
        ))
    }

    fn index(&self) -> Result<BTreeMap<Vec<u8>, ThreadIndex>> {
        Ok(self
            .threads
            .iter()
            .map(|(id, stored)| (id.clone(), ThreadIndex::of(stored)))
            .collect())
    }

    fn window(&self) -> Option<usize> {
        self.window
    }

    fn put_thread(&mut self, thread: &[u8], meta: &[u8]) -> Result<()> {
        self.threads.entry(thread.to_vec()).or_default().meta = meta.to_vec();
        Ok(())
    }

    fn put_records(
        &mut self,
        thread: &[u8],
        log: &[u8],
        first: u64,
        envelopes: &[Vec<u8>],
    ) -> Result<()> {
        let stored = self
            .threads
            .get_mut(thread)
            .ok_or_else(|| not_described(thread))?;
        let held = stored
            .logs
            .get(log)
            .map_or(0, |records| records.len() as u64);
        // Checked before the log's entry exists, so a refused batch leaves no empty log behind.
        check_next(held, first)?;
        stored
            .logs
            .entry(log.to_vec())
            .or_default()
            .extend(envelopes.iter().cloned());
        Ok(())
    }

    /// Records and rows change together or, when the records are refused, not at all.
    fn commit(
        &mut self,
        thread: &[u8],
        log: &[u8],
        first: u64,
        envelopes: &[Vec<u8>],
        views: &[ViewRow],
    ) -> Result<()> {
        self.put_records(thread, log, first, envelopes)?;
        if let Some(stored) = self.threads.get_mut(thread) {
            apply_rows(&mut stored.views, views);
        }
        Ok(())
    }

    fn put_views(&mut self, thread: &[u8], views: &[ViewRow]) -> Result<()> {
        let stored = self
            .threads
            .get_mut(thread)
            .ok_or_else(|| not_described(thread))?;
        apply_rows(&mut stored.views, views);
        Ok(())
    }
}

/// STORE_FAILED unless `first` is one past a log holding `stored` records.
pub(crate) fn check_next(stored: u64, first: u64) -> Result<()> {
    if first == stored + 1 {
        Ok(())
    } else {
        Err(crate::Error::new(
            crate::ErrorCode::StoreFailed,
            format!("records written from seq {first} to a log holding {stored}"),
        ))
    }
}

/// STORE_FAILED: records for a thread whose description was never written.
pub(crate) fn not_described(thread: &[u8]) -> crate::Error {
    crate::Error::new(
        crate::ErrorCode::StoreFailed,
        format!(
            "records for thread {} before its description",
            to_hex(thread)
        ),
    )
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    #[test]
    fn records_append_in_order_and_only_in_order() {
        let mut store = MemoryStore::new();
        assert_eq!(
            store
                .put_records(b"t", b"l", 1, &[b"a".to_vec()])
                .map_err(|e| e.code),
            Err(ErrorCode::StoreFailed),
            "no records before the thread is described"
        );
        store.put_thread(b"t", b"meta").expect("describe");
        store
            .put_records(b"t", b"l", 1, &[b"a".to_vec(), b"b".to_vec()])
            .expect("first batch");
        for wrong in [1, 2, 4] {
            assert_eq!(
                store
                    .put_records(b"t", b"l", wrong, &[b"x".to_vec()])
                    .map_err(|e| e.code),
                Err(ErrorCode::StoreFailed)
            );
        }
        store
            .put_records(b"t", b"l", 3, &[b"c".to_vec()])
            .expect("next");
        let loaded = store.load().expect("load");
        assert_eq!(loaded[&b"t".to_vec()].meta, b"meta");
        assert_eq!(
            loaded[&b"t".to_vec()].logs[&b"l".to_vec()],
            vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]
        );
    }
}
