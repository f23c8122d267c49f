//! The [`Reducer`] trait (the paper's Figure 7 view Models) and the row form in which
//! [`DbView`] persists itself (spec/database.md 8.9, [DB-11], [DB-15]).
//!
//! A reducer folds applied events into view state. The [`crate::sync::Peer`] runs every reducer
//! registered for a thread on the records it stores and hands the rows they changed to
//! [`crate::store::Store::commit`] with the records, so the events and the view they fold to are
//! stored in one write or not at all. Nothing else writes view state.

use std::any::Any;
use std::collections::BTreeMap;

use ipld_core::ipld::Ipld;

use super::fold::{DbRecord, DbView};
use super::value::Value;
use crate::block;

/// A view Model [DB-11]: state folded from a thread's applied events, persisted as rows.
///
/// The peer offers each event the application may read ([`crate::sync::Peer::read`], [DB-13])
/// once, through [`Reducer::apply`]; when the set of applied events shrinks (an ACL change), it
/// calls [`Reducer::reset`] and offers the whole set again. The reducer must give the same state
/// for the same set whatever the order of the calls [DB-11].
pub trait Reducer: Any + Send {
    /// The reducer's name: non-empty, without a NUL byte, unique per thread. It prefixes the
    /// reducer's rows in the store.
    fn name(&self) -> &str;

    /// Folds one more applied event [DB-11].
    fn apply(&mut self, record: &DbRecord);

    /// Forgets every event, before the peer offers the whole set again [DB-13].
    fn reset(&mut self);

    /// How many events were offered since the last reset: the fold position stored with the rows.
    fn position(&self) -> u64;

    /// The rows changed since the last call: each key with its new bytes, or `None` if removed.
    /// Row keys are non-empty.
    fn take_rows(&mut self) -> Vec<(Vec<u8>, Option<Vec<u8>>)>;

    /// Every row of the current state: what the store must hold after the changes.
    fn rows(&self) -> BTreeMap<Vec<u8>, Vec<u8>>;

    /// The reducer as [`Any`], so its owner can read its state back.
    fn as_any(&self) -> &dyn Any;

    /// Rebuilds the state from `rows`, the rows this reducer stored (without the name prefix),
    /// and `events`, the whole set, without applying every event [DB-23], [DB-29]. Returns
    /// `false`, having changed nothing, when it cannot; the peer then applies every event. The
    /// peer checks the rows of the result against the stored ones as for a full fold.
    fn restore(&mut self, rows: &BTreeMap<Vec<u8>, Vec<u8>>, events: &[DbRecord]) -> bool {
        let _ = (rows, events);
        false
    }

    /// Whether the reducer must be reset and offered the whole set again: a view restored from a
    /// snapshot was offered an event sorting before it [DB-27].
    fn behind(&self) -> bool {
        false
    }

    /// Which events the peer offers it: by default those the application may read [DB-13].
    fn scope(&self) -> Scope {
        Scope::Applied
    }
}

/// The events a peer offers a [`Reducer`] [DB-11], [DB-13].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The events the application may read ([`crate::sync::Peer::read`]): in an
    /// access-controlled thread, what the ACL applies [ACL-7], [ACL-8], never the ACL's own
    /// events. The set can shrink, so the peer may reset the reducer and offer it again.
    Applied,
    /// Every event the peer can open, ACL events and refused records included: what the ACL
    /// itself is folded from [ACL-6]. The set only grows.
    Opened,
}

/// The name [`DbView`] registers under.
pub const DB_VIEW: &str = "db";

/// One row of a [`DbView`]: each part of the view state of [DB-15] that an operation can change.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum RowKey {
    /// A declared collection: its schema and indexes.
    Collection(String),
    /// A document of a collection.
    Doc(String, String),
    /// A key of the key-value store.
    Key(String),
    /// A rejection: record CID bytes, op index or `None` for DB_MALFORMED [DB-14].
    Rejected(Vec<u8>, Option<u32>),
}

impl RowKey {
    pub(super) fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            RowKey::Collection(name) => {
                out.push(b'c');
                out.extend_from_slice(name.as_bytes());
            }
            RowKey::Doc(coll, id) => {
                out.push(b'd');
                // Names are at most a few hundred bytes [DB-3].
                out.extend_from_slice(&u32::try_from(coll.len()).unwrap_or(u32::MAX).to_be_bytes());
                out.extend_from_slice(coll.as_bytes());
                out.extend_from_slice(id.as_bytes());
            }
            RowKey::Key(key) => {
                out.push(b'k');
                out.extend_from_slice(key.as_bytes());
            }
            RowKey::Rejected(cid, op) => {
                out.push(b'r');
                out.extend_from_slice(cid);
                out.extend_from_slice(&op.map_or(0, |i| u64::from(i) + 1).to_be_bytes());
            }
        }
        out
    }
}

impl DbView {
    /// The bytes of one row in the current state, or `None` when the state has no such part.
    pub(super) fn row(&self, key: &RowKey) -> Option<Vec<u8>> {
        let state = self.state();
        match key {
            RowKey::Collection(name) => state.collections.get(name).map(|c| {
                block::encode(&Ipld::Map(BTreeMap::from([
                    (
                        "indexes".to_owned(),
                        Ipld::List(c.indexes.iter().cloned().map(Ipld::String).collect()),
                    ),
                    ("schema".to_owned(), c.schema.ipld()),
                ])))
            }),
            RowKey::Doc(coll, id) => state
                .collections
                .get(coll)
                .and_then(|c| c.docs.get(id))
                .map(|doc| block::encode(&Value::Map(doc.clone()).to_ipld())),
            RowKey::Key(key) => state.kv.get(key).map(|v| block::encode(&v.to_ipld())),
            RowKey::Rejected(cid, op) => self
                .rejection(cid, *op)
                .map(|code| block::encode(&Ipld::Integer(i128::from(code.number())))),
        }
    }

    /// Every row key of the current state.
    pub(super) fn row_keys(&self) -> Vec<RowKey> {
        let state = self.state();
        let mut keys = Vec::new();
        for (name, c) in &state.collections {
            keys.push(RowKey::Collection(name.clone()));
            keys.extend(
                c.docs
                    .keys()
                    .map(|id| RowKey::Doc(name.clone(), id.clone())),
            );
        }
        keys.extend(state.kv.keys().cloned().map(RowKey::Key));
        keys.extend(
            self.rejected()
                .into_keys()
                .map(|(cid, op)| RowKey::Rejected(cid, op)),
        );
        keys
    }
}

impl Reducer for DbView {
    fn name(&self) -> &str {
        DB_VIEW
    }

    fn apply(&mut self, record: &DbRecord) {
        self.insert(record);
    }

    fn reset(&mut self) {
        let touched = self.row_keys();
        *self = DbView::new();
        self.touch(touched);
        // The kept snapshot is taken again from the new set, or removed [DB-22].
        self.kept_stale = true;
    }

    fn position(&self) -> u64 {
        self.offered()
    }

    fn take_rows(&mut self) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        let pending = self.take_touched();
        let mut rows: Vec<_> = pending
            .into_iter()
            .map(|key| (key.to_bytes(), self.row(&key)))
            .collect();
        rows.extend(self.take_kept_rows());
        rows
    }

    fn rows(&self) -> BTreeMap<Vec<u8>, Vec<u8>> {
        let mut rows: BTreeMap<_, _> = self
            .row_keys()
            .into_iter()
            .filter_map(|key| Some((key.to_bytes(), self.row(&key)?)))
            .collect();
        rows.extend(
            self.kept_rows()
                .into_iter()
                .filter_map(|(key, row)| Some((key, row?))),
        );
        rows
    }

    fn restore(&mut self, rows: &BTreeMap<Vec<u8>, Vec<u8>>, events: &[DbRecord]) -> bool {
        match DbView::restore(rows, events) {
            Ok(Some(view)) => {
                *self = view;
                true
            }
            // No snapshot kept, or one that does not check: fold from the events [DB-24].
            _ => false,
        }
    }

    fn behind(&self) -> bool {
        self.complete().is_err()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
