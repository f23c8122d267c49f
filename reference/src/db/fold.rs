//! The fold (spec/database.md, [DB-9], [DB-11], [DB-12], [DB-14], [DB-15]): the view as a
//! function of the set of applied database events, its canonical encoding and CID.
//!
//! [`DbView`] applies an event in order when it sorts after every event already applied, and
//! otherwise folds again from the last checkpoint before it (8.9), so arrival order never shows.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use cid::Cid;
use ipld_core::ipld::Ipld;

use super::event::{DbEvent, Op, Schema};
use super::reducer::RowKey;
use super::snapshot::Floor;
use super::value::{Document, Value};
use crate::block;
use crate::error::{Error, ErrorCode, Result};
use crate::id::LogId;
use crate::verify::OpenedEvent;

/// Checkpoints fall at multiples of this many applied events (8.9); the newest are this dense
/// while the state is small, older ones and those of a large state are thinned.
pub const CHECKPOINT_EVERY: usize = 32;

/// Checkpoints kept per doubling of the distance from the end of the order: a late event at
/// distance d refolds at most about d / 2 more events than the d it must, and the count grows
/// with the logarithm of the history, not with the history (8.9).
const PER_OCTAVE: usize = 2;

/// The most checkpoints a view holds, however long its history [DB-11]: with every checkpoint a
/// full copy of the state, this (and not the number of events) bounds the fold's memory to a
/// multiple of the state's. The spacing of [`PER_OCTAVE`] reaches it only past 2^20 checkpoint
/// steps; beyond, the oldest go first.
pub const MAX_CHECKPOINTS: usize = 48;

/// A copy of the state costs about one event's fold per this many rows, so a state of r rows is
/// copied at most every r / this many events: copies then cost a bounded share of the fold.
const ROWS_PER_COPY_EVENT: usize = 8;

/// One applied event as the fold needs it: the record's identity and position, and its body
/// [DB-11], [DB-13].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbRecord {
    /// The record CID: the event's identity.
    pub cid: Cid,
    /// The author's log.
    pub log: LogId,
    /// The record's seq in its log.
    pub seq: u64,
    /// The body plaintext.
    pub body: Vec<u8>,
}

impl From<&OpenedEvent> for DbRecord {
    fn from(event: &OpenedEvent) -> DbRecord {
        DbRecord {
            cid: *event.record.cid(),
            log: *event.record.log(),
            seq: event.record.seq(),
            body: event.body.clone(),
        }
    }
}

impl DbRecord {
    /// The record's key in the order of [DB-9]; `None` when its body is not a well-formed
    /// database event [DB-1]. A compacting peer compares it with a snapshot's last key [DB-26].
    pub fn order_key(&self) -> Option<OrderKey> {
        let event = DbEvent::classify(&self.body).ok().flatten()?;
        Some(OrderKey {
            clock: event.clock,
            log: self.log.to_bytes(),
            seq: self.seq,
            cid: self.cid.to_bytes(),
        })
    }
}

/// The total order of database events: (clock, author log ID bytes, seq, record CID bytes)
/// [DB-9]. The derived `Ord` compares the fields in that order; byte vectors compare bytewise with
/// a proper prefix first.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct OrderKey {
    /// The event's Lamport clock [DB-8].
    pub clock: u64,
    /// The author's log ID, binary form.
    pub log: Vec<u8>,
    /// The record's seq.
    pub seq: u64,
    /// The record CID, binary form.
    pub cid: Vec<u8>,
}

/// A collection in the view: its declaration, documents and secondary indexes [DB-6], [DB-15].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collection {
    pub(super) schema: Schema,
    pub(super) indexes: Vec<String>,
    pub(super) docs: BTreeMap<String, Document>,
    /// For each indexed field: the IDs of the documents holding each value, in [DB-16] order.
    pub(super) index: BTreeMap<String, BTreeMap<Value, BTreeSet<String>>>,
}

impl Collection {
    pub(super) fn new(schema: Schema, indexes: Vec<String>) -> Collection {
        let index = indexes
            .iter()
            .map(|f| (f.clone(), BTreeMap::new()))
            .collect();
        Collection {
            schema,
            indexes,
            docs: BTreeMap::new(),
            index,
        }
    }

    /// The declared schema [DB-6].
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// The documents by ID [DB-15].
    pub fn docs(&self) -> &BTreeMap<String, Document> {
        &self.docs
    }

    /// One document [DB-12].
    pub fn get(&self, id: &str) -> Option<&Document> {
        self.docs.get(id)
    }

    pub(super) fn put(&mut self, id: &str, doc: Document) {
        self.unindex(id);
        for (field, entries) in &mut self.index {
            if let Some(value) = doc.get(field) {
                entries
                    .entry(value.clone())
                    .or_default()
                    .insert(id.to_owned());
            }
        }
        self.docs.insert(id.to_owned(), doc);
    }

    fn remove(&mut self, id: &str) {
        self.unindex(id);
        self.docs.remove(id);
    }

    fn unindex(&mut self, id: &str) {
        let Some(old) = self.docs.get(id) else {
            return;
        };
        for (field, entries) in &mut self.index {
            if let Some(ids) = old.get(field).and_then(|v| entries.get_mut(v)) {
                ids.remove(id);
                if ids.is_empty() {
                    entries.remove(&old[field]);
                }
            }
        }
    }

    /// `{"docs", "indexes", "schema"}` [DB-15].
    pub(super) fn to_ipld(&self) -> Ipld {
        let docs = self
            .docs
            .iter()
            .map(|(id, doc)| (id.clone(), Value::Map(doc.clone()).to_ipld()))
            .collect();
        let indexes = self.indexes.iter().cloned().map(Ipld::String).collect();
        Ipld::Map(BTreeMap::from([
            ("docs".to_owned(), Ipld::Map(docs)),
            ("indexes".to_owned(), Ipld::List(indexes)),
            ("schema".to_owned(), self.schema.ipld()),
        ]))
    }

    /// The collection's canonical encoding [DB-15].
    pub fn to_bytes(&self) -> Vec<u8> {
        block::encode(&self.to_ipld())
    }

    /// The collection CID [DB-15].
    pub fn cid(&self) -> Cid {
        block::cid_of(&self.to_bytes())
    }
}

/// What the fold computes and re-computes: everything in the view that depends on order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct State {
    pub(super) collections: BTreeMap<String, Collection>,
    pub(super) kv: BTreeMap<String, Value>,
    /// Refused operations by (record CID bytes, op index) [DB-14].
    pub(super) rejected: BTreeMap<(Vec<u8>, u32), ErrorCode>,
}

impl State {
    /// The number of parts of the state a copy duplicates: documents, keys and refusals.
    pub(super) fn rows(&self) -> usize {
        let docs: usize = self.collections.values().map(|c| c.docs.len()).sum();
        docs + self.kv.len() + self.rejected.len()
    }

    /// The canonical view encoding of this state with `rejected` as its refusals [DB-15].
    pub(super) fn to_bytes(
        &self,
        rejected: BTreeMap<(Vec<u8>, Option<u32>), ErrorCode>,
    ) -> Vec<u8> {
        let collections = self
            .collections
            .iter()
            .map(|(name, c)| (name.clone(), c.to_ipld()))
            .collect();
        let kv = self
            .kv
            .iter()
            .map(|(k, v)| (k.clone(), v.to_ipld()))
            .collect();
        let rejected = rejected.into_iter().map(rejection).collect();
        block::encode(&Ipld::Map(BTreeMap::from([
            ("collections".to_owned(), Ipld::Map(collections)),
            ("kv".to_owned(), Ipld::Map(kv)),
            ("rejected".to_owned(), Ipld::List(rejected)),
        ])))
    }

    /// The encoding of the state alone, refusals of DB_MALFORMED events left out: what a
    /// snapshot holds [DB-20].
    pub(super) fn snapshot_bytes(&self) -> Vec<u8> {
        let refused = self
            .rejected
            .iter()
            .map(|((cid, op), code)| ((cid.clone(), Some(*op)), *code))
            .collect();
        self.to_bytes(refused)
    }
}

/// What an operation does to the state, decided before anything changes [DB-12].
enum Effect {
    Declare(String, Collection),
    PutDoc(String, String, Document),
    RemoveDoc(String, String),
    PutKey(String, Value),
    RemoveKey(String),
}

impl State {
    /// The outcome of `op` at this point of the fold [DB-12]: its effect, or the code it is
    /// refused with.
    fn outcome(&self, op: &Op) -> Result<Effect> {
        match op {
            Op::Collection {
                name,
                schema,
                indexes,
            } => {
                if self.collections.contains_key(name) {
                    return Err(code(ErrorCode::DbCollectionExists, name));
                }
                let coll = Collection::new(schema.clone(), indexes.clone());
                Ok(Effect::Declare(name.clone(), coll))
            }
            Op::Create { coll, id, doc } => {
                let c = self.collection(coll)?;
                if c.docs.contains_key(id) {
                    return Err(code(ErrorCode::DbExists, id));
                }
                conform(c, doc)?;
                Ok(Effect::PutDoc(coll.clone(), id.clone(), doc.clone()))
            }
            Op::Save { coll, id, patch } => {
                let c = self.collection(coll)?;
                let old = c
                    .docs
                    .get(id)
                    .ok_or_else(|| code(ErrorCode::DbNotFound, id))?;
                let new = patch.apply(old);
                conform(c, &new)?;
                Ok(Effect::PutDoc(coll.clone(), id.clone(), new))
            }
            Op::Delete { coll, id } => {
                let c = self.collection(coll)?;
                if !c.docs.contains_key(id) {
                    return Err(code(ErrorCode::DbNotFound, id));
                }
                Ok(Effect::RemoveDoc(coll.clone(), id.clone()))
            }
            Op::Put { key, value } => Ok(Effect::PutKey(key.clone(), value.clone())),
            Op::Del { key } => {
                if !self.kv.contains_key(key) {
                    return Err(code(ErrorCode::DbNotFound, key));
                }
                Ok(Effect::RemoveKey(key.clone()))
            }
        }
    }

    pub(super) fn collection(&self, name: &str) -> Result<&Collection> {
        self.collections
            .get(name)
            .ok_or_else(|| code(ErrorCode::DbUnknownCollection, name))
    }

    fn effect(&mut self, effect: Effect) {
        match effect {
            Effect::Declare(name, coll) => {
                self.collections.insert(name, coll);
            }
            Effect::PutDoc(coll, id, doc) => {
                if let Some(c) = self.collections.get_mut(&coll) {
                    c.put(&id, doc);
                }
            }
            Effect::RemoveDoc(coll, id) => {
                if let Some(c) = self.collections.get_mut(&coll) {
                    c.remove(&id);
                }
            }
            Effect::PutKey(key, value) => {
                self.kv.insert(key, value);
            }
            Effect::RemoveKey(key) => {
                self.kv.remove(&key);
            }
        }
    }

    /// Applies every op of one event in list order; a refusal is recorded and the fold goes on
    /// [DB-11].
    pub(super) fn apply(&mut self, cid: &Cid, event: &DbEvent) {
        for (index, op) in event.ops.iter().enumerate() {
            match self.outcome(op) {
                Ok(effect) => self.effect(effect),
                Err(error) => {
                    // MAX_OPS bounds the index well within u32.
                    let index = u32::try_from(index).unwrap_or(u32::MAX);
                    self.rejected.insert((cid.to_bytes(), index), error.code);
                }
            }
        }
    }
}

fn conform(c: &Collection, doc: &Document) -> Result<()> {
    if c.schema.conforms(doc) {
        Ok(())
    } else {
        Err(Error::new(
            ErrorCode::DbSchemaFailed,
            "the document does not conform to the collection's schema",
        ))
    }
}

fn code(code: ErrorCode, what: &str) -> Error {
    Error::new(code, format!("{code} for {what:?}"))
}

/// Each log's highest seq among some events, by log ID bytes [DB-20].
pub(super) type Heads = BTreeMap<Vec<u8>, u64>;

/// The state after the event at a key of the order, and what a snapshot there needs (8.9).
#[derive(Debug, Clone)]
pub(super) struct Checkpoint {
    /// How many events are at or before the key, freed ones included.
    pub(super) position: usize,
    pub(super) state: State,
    pub(super) heads: Heads,
}

/// Raises `log`'s head in `heads` to `seq`.
pub(super) fn raise(heads: &mut Heads, log: &[u8], seq: u64) {
    match heads.get_mut(log) {
        Some(head) => *head = (*head).max(seq),
        None => {
            heads.insert(log.to_vec(), seq);
        }
    }
}

/// The database view of one thread [DB-11]: the state folded from a set of database events, in
/// the order of [DB-9], with checkpoints so late arrivals refold only a suffix.
#[derive(Debug, Clone, Default)]
pub struct DbView {
    pub(super) state: State,
    /// Well-formed events, in order.
    pub(super) events: BTreeMap<OrderKey, (Cid, DbEvent)>,
    /// Every record CID offered, database event or not: duplicates count once [DB-11].
    pub(super) seen: BTreeSet<Cid>,
    /// DB_MALFORMED events by record CID [DB-1]; independent of order, so kept outside the state.
    pub(super) malformed: BTreeMap<Cid, Error>,
    /// The state after the event at some keys, each with its position: how many events are at
    /// or before its key. Dense near the end of the order, thinned with the distance from it
    /// ([`DbView::wanted`]), at most [`MAX_CHECKPOINTS`]. Events inserted before a checkpoint
    /// remove it, so a kept position stays right.
    pub(super) checkpoints: BTreeMap<OrderKey, Checkpoint>,
    /// For each log with an event in the state: its highest seq there, what a snapshot taken now
    /// would list [DB-20].
    pub(super) heads: Heads,
    /// When the view was resumed from a snapshot whose events are not held (compacted, [DB-26]):
    /// the snapshot's coverage. Positions count its events too.
    pub(super) floor: Option<Floor>,
    /// Events a compacted view could not fold because they sort before its snapshot [DB-27].
    pub(super) behind: BTreeSet<Cid>,
    /// Events applied again because an event arrived out of order: what late arrivals cost.
    refolded: u64,
    /// The rows the events applied since the last [`crate::db::Reducer::take_rows`] may have
    /// changed: each op's target and its rejection row.
    touched: BTreeSet<RowKey>,
    /// The snapshot a peer last stored for this view, by count and last key, and whether the
    /// stored one may no longer be the latest of the set [DB-22], [DB-28].
    pub(super) kept: Option<(usize, OrderKey)>,
    pub(super) kept_stale: bool,
    /// Records a view restored from a stored snapshot did not decode: covered, already in the
    /// state [DB-29]. They count in the fold position like the records offered.
    pub(super) skipped: u64,
}

impl DbView {
    /// The empty view [DB-11].
    pub fn new() -> DbView {
        DbView::default()
    }

    /// The view of a set of records [DB-11].
    pub fn from_records<'a>(records: impl IntoIterator<Item = &'a DbRecord>) -> DbView {
        let mut view = DbView::new();
        for record in records {
            view.insert(record);
        }
        view
    }

    /// Adds one record to the set; returns whether the view may have changed. A record already
    /// offered, or whose body is not a database event, changes nothing [DB-1], [DB-11].
    pub fn insert(&mut self, record: &DbRecord) -> bool {
        if !self.seen.insert(record.cid) {
            return false;
        }
        let event = match DbEvent::classify(&record.body) {
            Ok(Some(event)) => event,
            Ok(None) => return false,
            Err(error) => {
                self.malformed.insert(record.cid, error);
                self.touched
                    .insert(RowKey::Rejected(record.cid.to_bytes(), None));
                return true;
            }
        };
        let key = OrderKey {
            clock: event.clock,
            log: record.log.to_bytes(),
            seq: record.seq,
            cid: record.cid.to_bytes(),
        };
        if let Some(floor) = &self.floor
            && key <= floor.last
        {
            // A covered event offered again changes nothing; any other needs the freed events.
            if !floor.covers(&key) {
                self.behind.insert(record.cid);
            }
            return false;
        }
        let in_order = self
            .events
            .keys()
            .next_back()
            .is_none_or(|last| *last < key);
        self.events.insert(key.clone(), (record.cid, event));
        if in_order {
            self.apply_last(&key);
        } else {
            self.refold_from(&key);
        }
        true
    }

    fn apply_last(&mut self, key: &OrderKey) {
        if let Some((cid, event)) = self.events.get(key) {
            self.state.apply(cid, event);
            touch_event(&mut self.touched, cid, event);
        }
        raise(&mut self.heads, &key.log, key.seq);
        let position = self.position();
        if position.is_multiple_of(CHECKPOINT_EVERY) {
            let step = self.copy_step();
            if self.wanted(position, position, step) {
                self.checkpoints
                    .insert(key.clone(), self.checkpoint(position));
            }
            self.thin(position, step);
        }
    }

    /// Folds again from the last checkpoint before `key`: the events before it keep their outcome
    /// [DB-11]; checkpoints after it are stale.
    fn refold_from(&mut self, key: &OrderKey) {
        // A stored snapshot after `key` moved one place: it is taken again [DB-22].
        if self.kept.as_ref().is_some_and(|(_, last)| key <= last) {
            self.kept_stale = true;
        }
        self.checkpoints.split_off(key);
        let (start, mut position) = match self.checkpoints.iter().next_back() {
            Some((at, base)) => {
                self.state = base.state.clone();
                self.heads = base.heads.clone();
                (Some(at.clone()), base.position)
            }
            None => {
                self.state = State::default();
                self.heads = Heads::new();
                (None, 0)
            }
        };
        let pending: Vec<OrderKey> = match &start {
            // Excluded: a compacted view's first checkpoint is at a freed event's key.
            Some(at) => self
                .events
                .range((Bound::Excluded(at), Bound::Unbounded))
                .map(|(k, _)| k.clone())
                .collect(),
            None => self.events.keys().cloned().collect(),
        };
        let end = self.position();
        for key in pending {
            if let Some((cid, event)) = self.events.get(&key) {
                self.state.apply(cid, event);
                // The state before this event may have differed only where the events from the
                // checkpoint on touch it, so marking theirs covers every changed row.
                touch_event(&mut self.touched, cid, event);
                self.refolded += 1;
            }
            raise(&mut self.heads, &key.log, key.seq);
            position += 1;
            // Only the copies the end of this refold keeps are taken, so a long refold holds no
            // more of them than an in-order fold does.
            if position.is_multiple_of(CHECKPOINT_EVERY)
                && self.wanted(position, end, self.copy_step())
            {
                self.checkpoints.insert(key, self.checkpoint(position));
            }
        }
        self.thin(end, self.copy_step());
    }

    fn checkpoint(&self, position: usize) -> Checkpoint {
        Checkpoint {
            position,
            state: self.state.clone(),
            heads: self.heads.clone(),
        }
    }

    /// The fewest checkpoint steps between two copies of the current state: one while the state
    /// is small, more as it grows, a power of two so that the positions kept nest (8.9).
    fn copy_step(&self) -> usize {
        (self.state.rows() / (CHECKPOINT_EVERY * ROWS_PER_COPY_EVENT))
            .max(1)
            .next_power_of_two()
    }

    /// Whether a checkpoint at `position` belongs in a view whose order ends at `end`: the base
    /// state of a compacted view always; else one at a multiple of the step for its distance
    /// from the end, which doubles with every [`PER_OCTAVE`] checkpoints, and at least
    /// `copy_step` steps. Steps are powers of two, so a checkpoint dropped as the end moves on is
    /// never wanted again and the kept ones need no new copy.
    fn wanted(&self, position: usize, end: usize, copy_step: usize) -> bool {
        if self.floor.as_ref().is_some_and(|f| f.count == position) {
            return true;
        }
        let units = position / CHECKPOINT_EVERY;
        let distance = end.saturating_sub(position) / CHECKPOINT_EVERY;
        let octave = (distance / PER_OCTAVE).max(1).ilog2();
        let step = (1usize << octave).max(copy_step);
        units.is_multiple_of(step)
    }

    /// Drops the checkpoints a view ending at `end` no longer wants, then the oldest beyond
    /// [`MAX_CHECKPOINTS`] (keeping a compacted view's base).
    fn thin(&mut self, end: usize, copy_step: usize) {
        let drop: Vec<OrderKey> = self
            .checkpoints
            .iter()
            .filter(|(_, c)| !self.wanted(c.position, end, copy_step))
            .map(|(key, _)| key.clone())
            .collect();
        for key in drop {
            self.checkpoints.remove(&key);
        }
        let base = self.floor.as_ref().map(|f| f.count);
        while self.checkpoints.len() > MAX_CHECKPOINTS {
            let oldest = self
                .checkpoints
                .iter()
                .find(|(_, c)| Some(c.position) != base)
                .map(|(key, _)| key.clone());
            match oldest {
                Some(key) => self.checkpoints.remove(&key),
                None => break,
            };
        }
    }

    /// How many copies of the state the view holds for refolds (8.9): at most
    /// [`MAX_CHECKPOINTS`], whatever the number of events [DB-11].
    pub fn checkpoint_count(&self) -> usize {
        self.checkpoints.len()
    }

    pub(super) fn state(&self) -> &State {
        &self.state
    }

    /// How many well-formed events the state covers: those held plus those a compaction freed.
    pub(super) fn position(&self) -> usize {
        let freed = self.floor.as_ref().map_or(0, |f| f.count);
        freed + self.events.len()
    }

    /// The key of the last event in order, held or freed.
    fn last_key(&self) -> Option<&OrderKey> {
        let freed = self.floor.as_ref().map(|f| &f.last);
        self.events.keys().next_back().or(freed)
    }

    /// How many records were offered, database events or not: the fold position.
    pub(super) fn offered(&self) -> u64 {
        self.seen.len() as u64 + self.skipped
    }

    /// The code of one rejection, if the view records it [DB-14].
    pub(super) fn rejection(&self, cid: &[u8], op: Option<u32>) -> Option<ErrorCode> {
        match op {
            None => {
                let cid = Cid::try_from(cid).ok()?;
                self.malformed
                    .contains_key(&cid)
                    .then_some(ErrorCode::DbMalformed)
            }
            Some(i) => self.state.rejected.get(&(cid.to_vec(), i)).copied(),
        }
    }

    pub(super) fn touch(&mut self, rows: impl IntoIterator<Item = RowKey>) {
        self.touched.extend(rows);
    }

    pub(super) fn take_touched(&mut self) -> BTreeSet<RowKey> {
        std::mem::take(&mut self.touched)
    }

    /// How many events were applied again because others arrived out of order (8.9): per late
    /// arrival, the events after it plus those between it and the checkpoint before it
    /// ([`CHECKPOINT_EVERY`] near the end of a small state's order).
    pub fn refolded(&self) -> u64 {
        self.refolded
    }

    /// The highest clock among the events applied: a writer's next event has this + 1 [DB-8].
    pub fn max_clock(&self) -> u64 {
        // The order compares the clock first, so the last event holds the highest.
        self.last_key().map_or(0, |k| k.clock)
    }

    /// The key-value store [DB-12].
    pub fn kv(&self) -> &BTreeMap<String, Value> {
        &self.state.kv
    }

    /// The collections [DB-6].
    pub fn collections(&self) -> &BTreeMap<String, Collection> {
        &self.state.collections
    }

    /// One collection, or DB_UNKNOWN_COLLECTION [DB-12].
    pub fn collection(&self, name: &str) -> Result<&Collection> {
        self.state.collection(name)
    }

    /// Whether `ops`, applied in turn after every event held, would all be applied: `Err` with
    /// the first one's refusal code otherwise [DB-12]. A local writer checks this before appending.
    pub fn check(&self, ops: &[Op]) -> Result<()> {
        if let [op] = ops {
            return self.state.outcome(op).map(|_| ());
        }
        // Later ops see the earlier ones' effect, as they will in the fold.
        let mut state = self.state.clone();
        for op in ops {
            let effect = state.outcome(op)?;
            state.effect(effect);
        }
        Ok(())
    }

    /// Every refusal: (record CID, op index or `None` for DB_MALFORMED) → code, in the order of
    /// [DB-14].
    pub fn rejected(&self) -> BTreeMap<(Vec<u8>, Option<u32>), ErrorCode> {
        let malformed = self
            .malformed
            .keys()
            .map(|cid| ((cid.to_bytes(), None), ErrorCode::DbMalformed));
        let refused = self
            .state
            .rejected
            .iter()
            .map(|((cid, op), code)| ((cid.clone(), Some(*op)), *code));
        malformed.chain(refused).collect()
    }

    /// The canonical encoding of the view, `{"collections", "kv", "rejected"}` [DB-15].
    pub fn to_bytes(&self) -> Vec<u8> {
        self.state.to_bytes(self.rejected())
    }

    /// The view CID [DB-15].
    pub fn cid(&self) -> Cid {
        block::cid_of(&self.to_bytes())
    }
}

/// Marks the rows `event` may change: each op's target and its rejection row [DB-12], [DB-14].
fn touch_event(touched: &mut BTreeSet<RowKey>, cid: &Cid, event: &DbEvent) {
    for (index, op) in event.ops.iter().enumerate() {
        touched.insert(match op {
            Op::Collection { name, .. } => RowKey::Collection(name.clone()),
            Op::Create { coll, id, .. } | Op::Save { coll, id, .. } | Op::Delete { coll, id } => {
                RowKey::Doc(coll.clone(), id.clone())
            }
            Op::Put { key, .. } | Op::Del { key } => RowKey::Key(key.clone()),
        });
        let index = u32::try_from(index).unwrap_or(u32::MAX);
        touched.insert(RowKey::Rejected(cid.to_bytes(), Some(index)));
    }
}

/// `{"code", "op", "record"}` [DB-14].
fn rejection(((cid, op), code): ((Vec<u8>, Option<u32>), ErrorCode)) -> Ipld {
    let record = Cid::try_from(cid.as_slice()).map_or(Ipld::Bytes(cid), Ipld::Link);
    let op = op.map_or(Ipld::Null, |i| Ipld::Integer(i128::from(i)));
    Ipld::Map(BTreeMap::from([
        ("code".to_owned(), Ipld::Integer(i128::from(code.number()))),
        ("op".to_owned(), op),
        ("record".to_owned(), record),
    ]))
}
