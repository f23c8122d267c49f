//! Snapshots of the view (spec/database.md 8.12, [DB-19] to [DB-27]): the state after the first
//! k · [`SNAPSHOT_EVERY`] events of the order, its canonical encoding and CID, the rebuild of a
//! view from a snapshot plus the events after it, and the view a compaction leaves.
//!
//! A snapshot is a function of the set of applied events, like the view: it is one of the fold's
//! checkpoints (8.9) given a canonical form, so two peers holding the same events take the same
//! snapshots byte for byte, whatever order the events arrived in.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use cid::Cid;
use ipld_core::ipld::Ipld;

use super::event::{Fields, Schema, document, sorted_fields};
use super::fold::{
    CHECKPOINT_EVERY, Checkpoint, Collection, DbRecord, DbView, Heads, OrderKey, State, raise,
};
use super::value::Value;
use super::{check_key, check_name};
use crate::block;
use crate::error::{Error, ErrorCode, Result};
use crate::store::{StoredThread, ViewRow};

/// A snapshot is taken after every this many well-formed database events of the order [DB-19].
pub const SNAPSHOT_EVERY: usize = 256;

// Every snapshot position is then a checkpoint position, so taking one costs no extra fold.
const _: () = assert!(SNAPSHOT_EVERY.is_multiple_of(CHECKPOINT_EVERY));

/// The store rows a snapshot is kept under, beside the view's own rows [DB-23].
const ROW_BLOCK: &[u8] = b"db-snapshot\0block";
const ROW_VIEW: &[u8] = b"db-snapshot\0view";
/// The records a kept snapshot's heads reach that it does not cover [DB-29].
const ROW_EXCEPTIONS: &[u8] = b"db-snapshot\0exceptions";

/// The state after the first `count` database events of the order, and what it covers [DB-19],
/// [DB-20].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    count: u64,
    last: OrderKey,
    /// For each log with a covered event: the highest seq among its covered events.
    heads: BTreeMap<Vec<u8>, u64>,
    /// The canonical view encoding of the state [DB-15], without DB_MALFORMED refusals.
    view: Vec<u8>,
}

impl Snapshot {
    /// How many events it covers: a multiple of [`SNAPSHOT_EVERY`] [DB-19].
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The order key of the last covered event [DB-9], [DB-20].
    pub fn last(&self) -> &OrderKey {
        &self.last
    }

    /// Each log's highest covered seq, by log ID bytes [DB-20].
    pub fn heads(&self) -> &BTreeMap<Vec<u8>, u64> {
        &self.heads
    }

    /// The view encoding of the covered state [DB-20].
    pub fn view(&self) -> &[u8] {
        &self.view
    }

    /// The CID of [`Snapshot::view`], which the snapshot block links [DB-20].
    pub fn view_cid(&self) -> Cid {
        block::cid_of(&self.view)
    }

    /// The snapshot block `{"count", "heads", "last", "view"}` [DB-20].
    pub fn to_bytes(&self) -> Vec<u8> {
        let heads = self
            .heads
            .iter()
            .map(|(log, seq)| {
                Ipld::Map(BTreeMap::from([
                    ("log".to_owned(), Ipld::Bytes(log.clone())),
                    ("seq".to_owned(), Ipld::Integer(i128::from(*seq))),
                ]))
            })
            .collect();
        let record = Cid::try_from(self.last.cid.as_slice())
            .map_or_else(|_| Ipld::Bytes(self.last.cid.clone()), Ipld::Link);
        let last = Ipld::Map(BTreeMap::from([
            (
                "clock".to_owned(),
                Ipld::Integer(i128::from(self.last.clock)),
            ),
            ("log".to_owned(), Ipld::Bytes(self.last.log.clone())),
            ("record".to_owned(), record),
            ("seq".to_owned(), Ipld::Integer(i128::from(self.last.seq))),
        ]));
        block::encode(&Ipld::Map(BTreeMap::from([
            ("count".to_owned(), Ipld::Integer(i128::from(self.count))),
            ("heads".to_owned(), Ipld::List(heads)),
            ("last".to_owned(), last),
            ("view".to_owned(), Ipld::Link(self.view_cid())),
        ])))
    }

    /// The snapshot CID: CID of its block [DB-21].
    pub fn cid(&self) -> Cid {
        block::cid_of(&self.to_bytes())
    }

    /// A snapshot from its block and its view's bytes. DB_SNAPSHOT_INVALID unless the block is
    /// the canonical encoding of [DB-20], links exactly `view`, and `view` is the canonical
    /// encoding of a state [DB-15], [DB-24].
    pub fn from_parts(block_bytes: &[u8], view: Vec<u8>) -> Result<Snapshot> {
        let ipld: Ipld = block::decode_canonical(block_bytes, ErrorCode::DbSnapshotInvalid)?;
        let snapshot = parse(ipld, view).map_err(invalid)?;
        if snapshot.to_bytes() != block_bytes {
            return Err(invalid_at("the snapshot block is not canonical"));
        }
        State::from_snapshot_bytes(&snapshot.view)?;
        Ok(snapshot)
    }

    /// The store rows that keep this snapshot, replacing any earlier one [DB-23].
    pub fn to_rows(&self) -> Vec<ViewRow> {
        vec![
            (ROW_BLOCK.to_vec(), Some(self.to_bytes())),
            (ROW_VIEW.to_vec(), Some(self.view.clone())),
        ]
    }

    /// The snapshot a store holds for a thread, if any; DB_SNAPSHOT_INVALID when its rows do not
    /// make one [DB-24].
    pub fn load(stored: &StoredThread) -> Result<Option<Snapshot>> {
        match (stored.views.get(ROW_BLOCK), stored.views.get(ROW_VIEW)) {
            (None, None) => Ok(None),
            (Some(block_bytes), Some(view)) => {
                Snapshot::from_parts(block_bytes, view.clone()).map(Some)
            }
            _ => Err(invalid_at("a snapshot row is missing")),
        }
    }
}

fn parse(ipld: Ipld, view: Vec<u8>) -> Result<Snapshot> {
    let mut f = Fields::new(ipld, "a snapshot")?;
    let count = f.uint("count")?;
    let heads_list = f.list("heads")?;
    let mut last = Fields::new(f.take("last")?, "a snapshot's last key")?;
    let link = f.take("view")?;
    f.finish()?;
    let key = OrderKey {
        clock: last.uint("clock")?,
        log: bytes(last.take("log")?)?,
        cid: link_bytes(last.take("record")?)?,
        seq: last.uint("seq")?,
    };
    last.finish()?;
    let mut heads = BTreeMap::new();
    for head in heads_list {
        let mut h = Fields::new(head, "a snapshot head")?;
        let log = bytes(h.take("log")?)?;
        let seq = h.uint("seq")?;
        h.finish()?;
        if heads.keys().next_back().is_some_and(|prev| *prev >= log) {
            return Err(invalid_at("heads are not in increasing log order"));
        }
        heads.insert(log, seq);
    }
    if count == 0 || !count.is_multiple_of(SNAPSHOT_EVERY as u64) {
        return Err(invalid_at("count is not a positive multiple of 256"));
    }
    if heads.get(&key.log).is_none_or(|head| *head < key.seq) {
        return Err(invalid_at(
            "the last event's log head is not its seq or above",
        ));
    }
    if Ipld::Link(block::cid_of(&view)) != link {
        return Err(invalid_at("the view bytes are not the linked view"));
    }
    Ok(Snapshot {
        count,
        last: key,
        heads,
        view,
    })
}

fn bytes(ipld: Ipld) -> Result<Vec<u8>> {
    match ipld {
        Ipld::Bytes(b) => Ok(b),
        _ => Err(invalid_at("expected bytes")),
    }
}

fn link_bytes(ipld: Ipld) -> Result<Vec<u8>> {
    match ipld {
        Ipld::Link(cid) => Ok(cid.to_bytes()),
        _ => Err(invalid_at("expected a link")),
    }
}

fn invalid(error: Error) -> Error {
    Error::new(ErrorCode::DbSnapshotInvalid, error.detail)
}

fn invalid_at(detail: &str) -> Error {
    Error::new(ErrorCode::DbSnapshotInvalid, detail)
}

impl State {
    /// The state a snapshot's view encodes [DB-20]: the exact inverse of
    /// [`State::snapshot_bytes`], so anything that does not re-encode to the same bytes is
    /// DB_SNAPSHOT_INVALID.
    pub(super) fn from_snapshot_bytes(view: &[u8]) -> Result<State> {
        let ipld: Ipld = block::decode_canonical(view, ErrorCode::DbSnapshotInvalid)?;
        let state = decode_state(ipld).map_err(invalid)?;
        if state.snapshot_bytes() != view {
            return Err(invalid_at(
                "the snapshot view is not a canonical view encoding",
            ));
        }
        Ok(state)
    }
}

fn decode_state(ipld: Ipld) -> Result<State> {
    let mut f = Fields::new(ipld, "a view")?;
    let Ipld::Map(collections) = f.take("collections")? else {
        return Err(invalid_at("collections must be a map"));
    };
    let Ipld::Map(kv) = f.take("kv")? else {
        return Err(invalid_at("kv must be a map"));
    };
    let rejected = f.list("rejected")?;
    f.finish()?;
    let mut state = State::default();
    for (name, coll) in collections {
        state
            .collections
            .insert(check_name(name)?, decode_collection(coll)?);
    }
    for (key, value) in kv {
        state.kv.insert(check_key(key)?, Value::from_ipld(&value)?);
    }
    for entry in rejected {
        let mut r = Fields::new(entry, "a rejection")?;
        let number = u16::try_from(r.uint("code")?).ok();
        let code = number
            .and_then(ErrorCode::from_number)
            .ok_or_else(|| invalid_at("unknown rejection code"))?;
        let op = u32::try_from(r.uint("op")?).map_err(|_| invalid_at("op index too large"))?;
        let record = link_bytes(r.take("record")?)?;
        r.finish()?;
        state.rejected.insert((record, op), code);
    }
    Ok(state)
}

fn decode_collection(ipld: Ipld) -> Result<Collection> {
    let mut f = Fields::new(ipld, "a collection")?;
    let Ipld::Map(docs) = f.take("docs")? else {
        return Err(invalid_at("docs must be a map"));
    };
    let indexes = sorted_fields(f.list("indexes")?, super::MAX_INDEXES)?;
    let schema = Schema::from_ipld(f.take("schema")?)?;
    f.finish()?;
    let mut coll = Collection::new(schema, indexes);
    for (id, doc) in docs {
        let id = super::check_id(id)?;
        coll.put(&id, document(doc)?);
    }
    Ok(coll)
}

/// What a compacted view keeps of the snapshot it was resumed from [DB-26].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Floor {
    pub(super) count: usize,
    pub(super) last: OrderKey,
    pub(super) heads: BTreeMap<Vec<u8>, u64>,
}

impl Floor {
    /// Whether an event at or before the last key is one the snapshot covers: every event of a
    /// log up to its head was held when the snapshot was taken, so one sorting at or before the
    /// last key was covered [DB-27].
    pub(super) fn covers(&self, key: &OrderKey) -> bool {
        key <= &self.last
            && self
                .heads
                .get(&key.log)
                .is_some_and(|head| key.seq <= *head)
    }
}

impl DbView {
    /// The latest snapshot of the current set [DB-19]: the state after the first
    /// k · [`SNAPSHOT_EVERY`] events for the largest such k, or `None` below 256 events.
    pub fn snapshot(&self) -> Option<Snapshot> {
        let at = self.position() / SNAPSHOT_EVERY * SNAPSHOT_EVERY;
        (at > 0).then(|| self.snapshots_from(at).pop()).flatten()
    }

    /// Every snapshot of the current set, oldest first [DB-19]. A compacted view holds no event
    /// before its snapshot, so it lists none of the earlier ones.
    pub fn snapshots(&self) -> Vec<Snapshot> {
        self.snapshots_from(SNAPSHOT_EVERY)
    }

    /// The snapshots at and after position `from`, folded in one pass from the last checkpoint
    /// at or before it: checkpoints are thinned (8.9), so a snapshot position need not be one. A
    /// compacted view has none before its base, so it lists those from its base on.
    fn snapshots_from(&self, from: usize) -> Vec<Snapshot> {
        let base = self
            .checkpoints
            .iter()
            .rev()
            .find(|(_, c)| c.position <= from)
            // A compacted view cannot fold what lies before its base: it starts there, the first
            // checkpoint it keeps.
            .or_else(|| {
                self.checkpoints
                    .iter()
                    .next()
                    .filter(|_| self.floor.is_some())
            });
        let (mut position, mut state, mut heads, events) = match base {
            Some((key, c)) => {
                let after = self.events.range((Bound::Excluded(key), Bound::Unbounded));
                (c.position, c.state.clone(), c.heads.clone(), after)
            }
            None => (0, State::default(), Heads::new(), self.events.range(..)),
        };
        let mut taken = Vec::new();
        if let Some((key, _)) = base {
            take(&mut taken, from, position, key, &state, &heads);
        }
        for (key, (cid, event)) in events {
            state.apply(cid, event);
            raise(&mut heads, &key.log, key.seq);
            position += 1;
            take(&mut taken, from, position, key, &state, &heads);
        }
        taken
    }

    /// Rebuilds a view from `snapshot` and the records held [DB-23]: the covered events are not
    /// folded again, only those after the snapshot's last key. When `records` hold every covered
    /// event (a restart) they must be exactly those the snapshot counts, or DB_SNAPSHOT_INVALID
    /// [DB-24], and the view can still refold for a late event; when they hold fewer (a
    /// compacted store [DB-26]) the view is compacted, and any held event sorting before the
    /// last key that the snapshot does not cover makes it incomplete ([`DbView::complete`]). The result equals
    /// [`DbView::from_records`] over the covered events and `records` [DB-11].
    pub fn resume<'a>(
        snapshot: &Snapshot,
        records: impl IntoIterator<Item = &'a DbRecord>,
    ) -> Result<DbView> {
        let state = State::from_snapshot_bytes(&snapshot.view)?;
        let count = usize::try_from(snapshot.count).map_err(|_| invalid_at("count too large"))?;
        let mut view = DbView::new();
        let mut covered = Vec::new();
        let mut later = Vec::new();
        for record in records {
            match view.classify(record) {
                Some(key) if key <= snapshot.last => covered.push((key, record)),
                Some(key) => later.push((key, record)),
                None => {}
            }
        }
        match covered.len().cmp(&count) {
            Ordering::Equal => {
                check_covered(snapshot, &covered)?;
                for (key, record) in covered {
                    if let Ok(Some(event)) = super::DbEvent::classify(&record.body) {
                        view.events.insert(key, (record.cid, event));
                    }
                }
            }
            Ordering::Greater => {
                return Err(invalid_at(
                    "more events sort up to the snapshot's last key than it covers",
                ));
            }
            Ordering::Less => {
                let floor = Floor {
                    count,
                    last: snapshot.last.clone(),
                    heads: snapshot.heads.clone(),
                };
                // Covered events a compaction kept change nothing; others need the freed ones.
                for (key, record) in &covered {
                    if !floor.covers(key) {
                        view.behind.insert(record.cid);
                    }
                }
                view.floor = Some(floor);
            }
        }
        view.checkpoints.insert(
            snapshot.last.clone(),
            Checkpoint {
                position: count,
                state: state.clone(),
                heads: snapshot.heads.clone(),
            },
        );
        view.state = state;
        view.heads = snapshot.heads.clone();
        // In order, so each later event is applied once, never refolded.
        later.sort_by(|a, b| a.0.cmp(&b.0));
        for (_, record) in later {
            view.seen.remove(&record.cid);
            view.insert(record);
        }
        view.take_touched();
        Ok(view)
    }

    /// Records `record` as seen (and as DB_MALFORMED if it is) and returns its order key when it
    /// is a well-formed database event not seen before [DB-1], [DB-9].
    fn classify(&mut self, record: &DbRecord) -> Option<OrderKey> {
        if !self.seen.insert(record.cid) {
            return None;
        }
        match super::DbEvent::classify(&record.body) {
            Ok(Some(event)) => Some(OrderKey {
                clock: event.clock,
                log: record.log.to_bytes(),
                seq: record.seq,
                cid: record.cid.to_bytes(),
            }),
            Ok(None) => None,
            Err(error) => {
                self.malformed.insert(record.cid, error);
                None
            }
        }
    }

    /// Whether the view folds every event it was offered [DB-27]: `Err(DB_COMPACTED)` when a
    /// compacted view was offered events that sort before its snapshot, which it can fold only
    /// once the freed events are held again ([`DbView::resume`] with all of them).
    pub fn complete(&self) -> Result<()> {
        match self.behind.len() {
            0 => Ok(()),
            n => Err(Error::new(
                ErrorCode::DbCompacted,
                format!("{n} events sort before the snapshot of a compacted view"),
            )),
        }
    }

    /// Whether the view was resumed from a snapshot without its covered events [DB-26].
    pub fn is_compacted(&self) -> bool {
        self.floor.is_some()
    }
}

impl DbView {
    /// The rows a peer keeps for the latest snapshot of the set [DB-28]: its block, its view and
    /// its exceptions; empty below 256 events.
    pub(super) fn kept_rows(&self) -> Vec<ViewRow> {
        self.snapshot()
            .map(|s| self.rows_of(&s))
            .unwrap_or_default()
    }

    fn rows_of(&self, snapshot: &Snapshot) -> Vec<ViewRow> {
        let mut rows = snapshot.to_rows();
        rows.push((
            ROW_EXCEPTIONS.to_vec(),
            Some(self.exceptions(&snapshot.last, &snapshot.heads)),
        ));
        rows
    }

    /// The snapshot rows to store with the events applied since the last call: the latest
    /// snapshot's once it moved (256 more events, or an event sorting before it [DB-22]), and
    /// their removal when the set no longer has one [DB-28].
    pub(super) fn take_kept_rows(&mut self) -> Vec<ViewRow> {
        let at = self.position() / SNAPSHOT_EVERY * SNAPSHOT_EVERY;
        let moved = self.kept.as_ref().map_or(0, |(count, _)| *count) != at;
        if !moved && !self.kept_stale {
            return Vec::new();
        }
        self.kept_stale = false;
        let Some(snapshot) = self.snapshot() else {
            self.kept = None;
            return [ROW_BLOCK, ROW_VIEW, ROW_EXCEPTIONS]
                .iter()
                .map(|key| (key.to_vec(), None))
                .collect();
        };
        let rows = self.rows_of(&snapshot);
        self.kept = Some((at, snapshot.last));
        rows
    }

    /// The encoded exceptions of a snapshot ending at `last` with `heads` [DB-29]: the CIDs of
    /// the DB_MALFORMED records and of the events above `last` whose seq is within their log's
    /// head, bytewise sorted. Every other record within the heads is covered.
    fn exceptions(&self, last: &OrderKey, heads: &Heads) -> Vec<u8> {
        let above = self
            .events
            .range((Bound::Excluded(last), Bound::Unbounded))
            .filter(|(key, _)| heads.get(&key.log).is_some_and(|head| key.seq <= *head))
            .map(|(key, _)| key.cid.clone());
        let malformed = self.malformed.keys().map(Cid::to_bytes);
        let sorted: BTreeSet<Vec<u8>> = above.chain(malformed).collect();
        let links = sorted
            .into_iter()
            .filter_map(|cid| Cid::try_from(cid.as_slice()).ok())
            .map(Ipld::Link)
            .collect();
        block::encode(&Ipld::List(links))
    }

    /// The view a peer restarts with from the snapshot rows it kept (`rows`, the view's own rows
    /// as [`crate::db::Reducer::rows`] gives them) and the records it holds, or `None` when it
    /// kept no snapshot [DB-23], [DB-29]. A record within the snapshot's heads and not among its
    /// exceptions is covered and is not even decoded; the others are folded after the snapshot.
    /// The view is compacted ([DB-26]): an event that later sorts before the snapshot makes it
    /// incomplete ([`DbView::complete`]) and the peer folds the whole set again [DB-27].
    /// DB_SNAPSHOT_INVALID when the rows do not make a snapshot [DB-24], when the event at its
    /// last key is not held, or when fewer records are covered than it counts.
    pub fn restore<'a>(
        rows: &BTreeMap<Vec<u8>, Vec<u8>>,
        records: impl IntoIterator<Item = &'a DbRecord>,
    ) -> Result<Option<DbView>> {
        let (block_bytes, view, exceptions) = match (
            rows.get(ROW_BLOCK),
            rows.get(ROW_VIEW),
            rows.get(ROW_EXCEPTIONS),
        ) {
            (None, None, None) => return Ok(None),
            (Some(b), Some(v), Some(e)) => (b, v, e),
            _ => return Err(invalid_at("a snapshot row is missing")),
        };
        let snapshot = Snapshot::from_parts(block_bytes, view.clone())?;
        let exceptions = decode_exceptions(exceptions)?;
        let mut skipped = 0u64;
        let mut last_held = false;
        let mut later = Vec::new();
        for record in records {
            let log = record.log.to_bytes();
            let within = snapshot.heads.get(&log).is_some_and(|h| record.seq <= *h);
            if within && !exceptions.contains(&record.cid) {
                skipped += 1;
                last_held |= log == snapshot.last.log
                    && record.seq == snapshot.last.seq
                    && record.cid.to_bytes() == snapshot.last.cid;
            } else {
                later.push(record);
            }
        }
        if crate::fault::on("foreign-snapshot-trusted") {
            (skipped, last_held) = (skipped.max(snapshot.count), true);
        }
        if !last_held || skipped < snapshot.count {
            return Err(invalid_at(
                "the records held do not include those the kept snapshot covers",
            ));
        }
        let mut view = DbView::resume(&snapshot, later)?;
        // An event sorting before the snapshot needs the covered ones: fold them all instead.
        view.complete()?;
        view.skipped = skipped;
        view.kept = Some((snapshot.count as usize, snapshot.last.clone()));
        Ok(Some(view))
    }
}

fn decode_exceptions(bytes: &[u8]) -> Result<BTreeSet<Cid>> {
    let ipld: Ipld = block::decode_canonical(bytes, ErrorCode::DbSnapshotInvalid)?;
    let Ipld::List(links) = ipld else {
        return Err(invalid_at("the exceptions are not a list"));
    };
    links
        .into_iter()
        .map(|link| match link {
            Ipld::Link(cid) => Ok(cid),
            _ => Err(invalid_at("an exception is not a link")),
        })
        .collect()
}

/// Adds the snapshot after the event at `last` to `taken` when `position`, at or after `from`,
/// is a snapshot position [DB-19].
fn take(
    taken: &mut Vec<Snapshot>,
    from: usize,
    position: usize,
    last: &OrderKey,
    state: &State,
    heads: &Heads,
) {
    if position >= from && position > 0 && position.is_multiple_of(SNAPSHOT_EVERY) {
        taken.push(Snapshot {
            count: position as u64,
            last: last.clone(),
            heads: heads.clone(),
            view: state.snapshot_bytes(),
        });
    }
}

/// The covered events held must be exactly those the snapshot counts, ending at its last key,
/// with its heads [DB-24].
fn check_covered(snapshot: &Snapshot, covered: &[(OrderKey, &DbRecord)]) -> Result<()> {
    let mut heads: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
    for (key, _) in covered {
        let head = heads.entry(key.log.clone()).or_default();
        *head = (*head).max(key.seq);
    }
    let ends_at_last = covered.iter().any(|(key, _)| *key == snapshot.last);
    if covered.len() as u64 != snapshot.count || heads != snapshot.heads || !ends_at_last {
        return Err(invalid_at(
            "the events held up to the snapshot's last key are not the ones it covers",
        ));
    }
    Ok(())
}
