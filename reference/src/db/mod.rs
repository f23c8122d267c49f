//! The event-sourced database (spec/database.md, chapter 8): database events [DB-1], the fold in
//! total order [DB-9], [DB-11], collections with schemas and indexes [DB-6], a key-value store,
//! queries [DB-17], and the view CID [DB-15].
//!
//! Read as the paper's Figure 7: [`Database`] is the dispatcher. Local writes (its [`Kv`] and
//! [`Docs`] handles) become events appended through the sync [`Peer`]; every event the peer
//! stores and the ACL lets through ([`Peer::read`], [DB-13]) is folded by a [`Reducer`] (the
//! [`DbView`]) that the peer runs inside the store write of the record ([`Store::commit`]), so
//! the event and the view change are stored together or not at all; nothing else writes view
//! state. The ACL view of chapter 6 is one more such Model: in an access-controlled thread the
//! database registers an [`AclModel`], which the peer offers every event it opens, ACL events
//! included ([`Scope::Opened`]), in the same write. After each fold the [`Broadcaster`] queues every committed change, in
//! order, for each subscriber. Sans-IO: time is an argument, and there is no clock, RNG or I/O.
//!
//! ```
//! use std::collections::BTreeMap;
//! use threads::db::{Cmp, Database, Filter, Kind, Query, Schema};
//! use threads::id::Variant;
//! use threads::sync::Peer;
//!
//! #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
//! struct Person { name: String, age: u32 }
//!
//! let mut peer = Peer::from_seed([1; 32]);
//! let (thread, _) = peer.create_thread(0, Variant::Raw)?;
//! let mut db = Database::new(thread);
//!
//! // The key-value store.
//! db.kv(&mut peer, 1).put("motd", &"hello")?;
//! assert_eq!(db.kv(&mut peer, 1).get::<String>("motd")?, Some("hello".into()));
//!
//! // A collection with a schema and an index, then typed documents and a query.
//! let schema = Schema {
//!     fields: BTreeMap::from([("age".into(), vec![Kind::Integer])]),
//!     required: vec!["age".into()],
//! };
//! db.declare(&mut peer, 2, "people", schema, &["age"])?;
//! let mut people = db.docs(&mut peer, 3, "people");
//! people.put("ada", &Person { name: "Ada".into(), age: 36 })?;
//! people.put("alan", &Person { name: "Alan".into(), age: 41 })?;
//! let found = people.query(Query::all("people").filter(Filter::cmp("age", Cmp::Gt, 40)))?;
//! assert_eq!(found.docs[0].0, "alan");
//! assert_eq!(found.examined, 1, "the index on age answered it");
//! # Ok::<(), threads::Error>(())
//! ```

mod broadcast;
mod event;
mod fold;
mod query;
mod reducer;
mod snapshot;
#[cfg(test)]
mod tests;
mod value;

pub use broadcast::{Broadcaster, Change, Delivery, MAX_QUEUED, SubscriberId};
pub use event::{
    DB_TYPE, DbEvent, MAX_INDEXES, MAX_OPS, Op, Patch, Schema, check_field, check_id, check_key,
    check_name,
};
pub use fold::{CHECKPOINT_EVERY, Collection, DbRecord, DbView, MAX_CHECKPOINTS, OrderKey};
pub use query::{Cmp, Filter, MAX_FILTER_DEPTH, Query, QueryResult, SortKey};
pub use reducer::{DB_VIEW, Reducer, Scope};
pub use snapshot::{SNAPSHOT_EVERY, Snapshot};
pub use value::{Document, Kind, MAX_DEPTH, MAX_SAFE_INTEGER, Value};

use cid::Cid;
use rand_core::CryptoRng;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::acl::{ACL_VIEW, AclModel, AclView};
use crate::error::{Error, ErrorCode, Result};
use crate::id::ThreadId;
use crate::store::Store;
use crate::sync::Peer;

pub(crate) fn malformed(detail: impl Into<String>) -> Error {
    Error::new(ErrorCode::DbMalformed, detail)
}

/// The dispatcher of one thread's database [DB-11], [DB-13]: turns local calls into events
/// appended through a [`Peer`], and reads the [`DbView`] the peer keeps as a registered
/// [`Reducer`]: the peer folds every record it stores into the view and writes the view's rows in
/// the same store write as the records ([`Store::commit`]), so nothing but that one transaction
/// writes view state. Subscribers are told after the commit.
#[derive(Debug, Clone)]
pub struct Database {
    thread: ThreadId,
    /// The view as subscribers last saw it; kept only while there are subscribers.
    published: Option<DbView>,
    broadcaster: Broadcaster,
}

impl Database {
    /// A database for `thread`; the first [`Database::refresh`] registers its view with the peer.
    pub fn new(thread: ThreadId) -> Database {
        Database {
            thread,
            published: None,
            broadcaster: Broadcaster::default(),
        }
    }

    /// A database for `thread`, its view registered with `peer` at once: folded from the events
    /// the peer holds and checked against the rows its store holds for it (STORE_CORRUPT if they
    /// differ), or stored [DB-11], [SYNC-13].
    pub fn open<R: CryptoRng, S: Store>(
        peer: &mut Peer<R, S>,
        thread: ThreadId,
    ) -> Result<Database> {
        let mut db = Database::new(thread);
        db.refresh(peer)?;
        Ok(db)
    }

    /// The thread.
    pub fn thread(&self) -> &ThreadId {
        &self.thread
    }

    /// The current view [DB-11]: the one `peer` keeps. KEY_UNAVAILABLE until the view is
    /// registered ([`Database::open`], [`Database::refresh`]).
    pub fn view<'p, R: CryptoRng, S: Store>(&self, peer: &'p Peer<R, S>) -> Result<&'p DbView> {
        peer.reducer(&self.thread, DB_VIEW)
            .and_then(|r| r.as_any().downcast_ref::<DbView>())
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::KeyUnavailable,
                    format!("no database view is registered for thread {}", self.thread),
                )
            })
    }

    /// The ACL view of an access-controlled thread, as the [`AclModel`] registered with `peer`
    /// keeps it [ACL-6], [DB-11]: the same as the peer's own ACL. KEY_UNAVAILABLE until the
    /// model is registered ([`Database::open`], [`Database::refresh`]), which never happens for a
    /// raw thread; ACL_MALFORMED while the genesis is not held [ACL-4].
    pub fn acl<'p, R: CryptoRng, S: Store>(&self, peer: &'p Peer<R, S>) -> Result<&'p AclView> {
        peer.reducer(&self.thread, ACL_VIEW)
            .and_then(|r| r.as_any().downcast_ref::<AclModel>())
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::KeyUnavailable,
                    format!("no ACL view is registered for thread {}", self.thread),
                )
            })?
            .view()
    }

    /// Registers the view with `peer` if it is not yet [DB-13], and in an access-controlled
    /// thread the ACL view's [`AclModel`] [ACL-6], then queues for subscribers every
    /// change committed since the last refresh. KEY_UNAVAILABLE for a follower [VERIFY-2];
    /// STORE_CORRUPT when the stored view differs from the events [SYNC-13].
    pub fn refresh<R: CryptoRng, S: Store>(&mut self, peer: &mut Peer<R, S>) -> Result<()> {
        if peer.reducer(&self.thread, DB_VIEW).is_none() {
            peer.register(&self.thread, Box::new(DbView::new()))?;
        }
        if peer.reducer(&self.thread, ACL_VIEW).is_none()
            && let Some(model) = peer.acl_model(&self.thread)?
        {
            peer.register(&self.thread, Box::new(model))?;
        }
        if !self.broadcaster.has_subscribers() {
            self.published = None;
            return Ok(());
        }
        let view = self.view(peer)?;
        let before = self.published.take().unwrap_or_default();
        if before.offered() != view.offered() || before.cid() != view.cid() {
            self.broadcaster.publish(&before, view);
        }
        self.published = Some(view.clone());
        Ok(())
    }

    /// Appends one event carrying `ops` at time `now`, after checking each would be applied at
    /// the end of the order [DB-12]: a refused op is returned as its error and nothing is
    /// appended. The clock is 1 + the highest clock folded [DB-8]. The peer stores the record and
    /// the view rows it changes in one write. Returns the record CID.
    pub fn commit<R: CryptoRng, S: Store>(
        &mut self,
        peer: &mut Peer<R, S>,
        now: u64,
        ops: Vec<Op>,
    ) -> Result<Cid> {
        self.refresh(peer)?;
        let view = self.view(peer)?;
        let event = DbEvent::new(view.max_clock() + 1, ops)?;
        view.check(&event.ops)?;
        let (_, _, cid) = peer.append(now, &self.thread, &event.to_bytes())?;
        self.refresh(peer)?;
        Ok(cid)
    }

    /// Declares a collection [DB-6].
    pub fn declare<R: CryptoRng, S: Store>(
        &mut self,
        peer: &mut Peer<R, S>,
        now: u64,
        name: &str,
        schema: Schema,
        indexes: &[&str],
    ) -> Result<Cid> {
        let op = Op::Collection {
            name: name.to_owned(),
            schema,
            indexes: indexes.iter().map(|s| s.to_string()).collect(),
        };
        self.commit(peer, now, vec![op])
    }

    /// The key-value store, writing through `peer` at time `now`.
    pub fn kv<'a, R: CryptoRng, S: Store>(
        &'a mut self,
        peer: &'a mut Peer<R, S>,
        now: u64,
    ) -> Kv<'a, R, S> {
        Kv {
            db: self,
            peer,
            now,
        }
    }

    /// The documents of collection `coll`, writing through `peer` at time `now`.
    pub fn docs<'a, R: CryptoRng, S: Store>(
        &'a mut self,
        peer: &'a mut Peer<R, S>,
        now: u64,
        coll: &str,
    ) -> Docs<'a, R, S> {
        Docs {
            db: self,
            peer,
            now,
            coll: coll.to_owned(),
        }
    }

    /// Runs a query over the view `peer` keeps [DB-17], [DB-18]; DB_UNKNOWN_COLLECTION if its
    /// collection is not declared.
    pub fn query<R: CryptoRng, S: Store>(
        &self,
        peer: &Peer<R, S>,
        query: &Query,
    ) -> Result<QueryResult> {
        Ok(query.run(self.view(peer)?.collection(&query.coll)?))
    }

    /// A new subscriber; it receives every change committed after the view as `peer` holds it
    /// now (the empty view if it is not registered yet), in order.
    pub fn subscribe<R: CryptoRng, S: Store>(&mut self, peer: &Peer<R, S>) -> SubscriberId {
        if self.published.is_none() {
            self.published = Some(self.view(peer).cloned().unwrap_or_default());
        }
        self.broadcaster.subscribe()
    }

    /// The subscriber's next delivery, oldest first.
    pub fn poll_change(&mut self, subscriber: SubscriberId) -> Option<Delivery> {
        self.broadcaster.poll(subscriber)
    }
}

/// The key-value store of a [`Database`]: `put`, `get`, `del` [DB-2], [DB-12].
pub struct Kv<'a, R, S> {
    db: &'a mut Database,
    peer: &'a mut Peer<R, S>,
    now: u64,
}

impl<R: CryptoRng, S: Store> Kv<'_, R, S> {
    /// Sets `key` to a serialisable value; DB_MALFORMED if it is not a database value [DB-4].
    pub fn put<T: Serialize>(&mut self, key: &str, value: &T) -> Result<Cid> {
        let op = Op::Put {
            key: check_key(key.to_owned())?,
            value: Value::from_serialize(value)?,
        };
        self.db.commit(self.peer, self.now, vec![op])
    }

    /// The value of `key`, read as `T`, after folding what the peer holds.
    pub fn get<T: DeserializeOwned>(&mut self, key: &str) -> Result<Option<T>> {
        self.db.refresh(self.peer)?;
        self.db
            .view(self.peer)?
            .kv()
            .get(key)
            .map(Value::to_deserialize)
            .transpose()
    }

    /// Removes `key`; DB_NOT_FOUND if it is not set [DB-12].
    pub fn del(&mut self, key: &str) -> Result<Cid> {
        let op = Op::Del {
            key: key.to_owned(),
        };
        self.db.commit(self.peer, self.now, vec![op])
    }
}

/// One collection of a [`Database`]: `put`, `get`, `del`, `query` [DB-2], [DB-12], [DB-17].
pub struct Docs<'a, R, S> {
    db: &'a mut Database,
    peer: &'a mut Peer<R, S>,
    now: u64,
    coll: String,
}

impl<R: CryptoRng, S: Store> Docs<'_, R, S> {
    /// Writes document `id`: a `create` carrying the whole document when it does not exist, else
    /// a `save` carrying only the changed fields (the paper's Examples 7 and 8) [DB-10].
    pub fn put<T: Serialize>(&mut self, id: &str, doc: &T) -> Result<Cid> {
        self.db.refresh(self.peer)?;
        let Value::Map(doc) = Value::from_serialize(doc)? else {
            return Err(malformed("a document must serialise to a map"));
        };
        let (coll, id) = (self.coll.clone(), id.to_owned());
        let op = match self.db.view(self.peer)?.collection(&coll)?.get(&id) {
            Some(old) => Op::Save {
                coll,
                id,
                patch: Patch::diff(old, &doc),
            },
            None => Op::Create { coll, id, doc },
        };
        self.db.commit(self.peer, self.now, vec![op])
    }

    /// Document `id`, read as `T`.
    pub fn get<T: DeserializeOwned>(&mut self, id: &str) -> Result<Option<T>> {
        self.db.refresh(self.peer)?;
        let coll = self.db.view(self.peer)?.collection(&self.coll)?;
        coll.get(id)
            .map(|doc| Value::Map(doc.clone()).to_deserialize())
            .transpose()
    }

    /// Deletes document `id`; DB_NOT_FOUND if it does not exist [DB-12].
    pub fn del(&mut self, id: &str) -> Result<Cid> {
        let op = Op::Delete {
            coll: self.coll.clone(),
            id: id.to_owned(),
        };
        self.db.commit(self.peer, self.now, vec![op])
    }

    /// The documents matching `filter` (all when `None`), sorted, skipped and limited by `query`'s
    /// other fields; its `coll` is this collection [DB-18].
    pub fn query(&mut self, mut query: Query) -> Result<QueryResult> {
        self.db.refresh(self.peer)?;
        query.coll = self.coll.clone();
        self.db.query(self.peer, &query)
    }
}
