//! The broadcaster (spec/database.md 8.9, informative): each subscriber gets every committed
//! change of the view, in commit order, after the fold; a subscriber that falls too far behind is
//! told so instead of losing changes silently.

use std::collections::{BTreeMap, VecDeque};

use super::fold::DbView;
use super::value::{Document, Value};

/// Most undelivered changes a subscriber may have before it is told it lagged.
pub const MAX_QUEUED: usize = 4096;

/// A subscriber's handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SubscriberId(u64);

/// One committed change of the view: the difference between two folds [DB-11].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A collection was declared [DB-6].
    Collection {
        /// Its name.
        name: String,
    },
    /// A document was created, changed (`Some`) or deleted (`None`) [DB-12].
    Doc {
        /// Collection.
        coll: String,
        /// Document ID.
        id: String,
        /// The document now.
        doc: Option<Document>,
    },
    /// A key was set (`Some`) or removed (`None`) [DB-12].
    Key {
        /// The key.
        key: String,
        /// Its value now.
        value: Option<Value>,
    },
}

/// What a subscriber receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The next change.
    Change(Change),
    /// Changes were dropped because the subscriber fell [`MAX_QUEUED`] behind: read the view
    /// again.
    Lagged,
}

/// Per-subscriber queues of committed changes.
#[derive(Debug, Clone, Default)]
pub struct Broadcaster {
    next: u64,
    queues: BTreeMap<SubscriberId, VecDeque<Delivery>>,
}

impl Broadcaster {
    /// A new subscriber, receiving changes from now on.
    pub fn subscribe(&mut self) -> SubscriberId {
        let id = SubscriberId(self.next);
        self.next += 1;
        self.queues.insert(id, VecDeque::new());
        id
    }

    /// Whether anyone listens.
    pub fn has_subscribers(&self) -> bool {
        !self.queues.is_empty()
    }

    /// Stops a subscription.
    pub fn unsubscribe(&mut self, id: SubscriberId) {
        self.queues.remove(&id);
    }

    /// The subscriber's next delivery.
    pub fn poll(&mut self, id: SubscriberId) -> Option<Delivery> {
        self.queues.get_mut(&id)?.pop_front()
    }

    /// Queues the changes from `before` to `after` for every subscriber.
    pub fn publish(&mut self, before: &DbView, after: &DbView) {
        if self.queues.is_empty() {
            return;
        }
        let changes = diff(before, after);
        for queue in self.queues.values_mut() {
            for change in &changes {
                if queue.len() >= MAX_QUEUED {
                    queue.clear();
                    queue.push_back(Delivery::Lagged);
                }
                queue.push_back(Delivery::Change(change.clone()));
            }
        }
    }
}

/// Every difference between two views: collections, then documents, then keys, each by name.
fn diff(before: &DbView, after: &DbView) -> Vec<Change> {
    let mut changes = Vec::new();
    for (name, coll) in after.collections() {
        let old = before.collections().get(name);
        if old.is_none() {
            changes.push(Change::Collection { name: name.clone() });
        }
        let empty = BTreeMap::new();
        let old_docs = old.map_or(&empty, |c| c.docs());
        for (id, doc) in changed(old_docs, coll.docs()) {
            changes.push(Change::Doc {
                coll: name.clone(),
                id,
                doc,
            });
        }
    }
    for (key, value) in changed(before.kv(), after.kv()) {
        changes.push(Change::Key { key, value });
    }
    changes
}

/// The entries that differ between two maps: the new value, or `None` where removed.
fn changed<V: Clone + PartialEq>(
    old: &BTreeMap<String, V>,
    new: &BTreeMap<String, V>,
) -> Vec<(String, Option<V>)> {
    let removed = old
        .keys()
        .filter(|k| !new.contains_key(*k))
        .map(|k| (k.clone(), None));
    let set = new
        .iter()
        .filter(|(k, v)| old.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), Some(v.clone())));
    let mut all: Vec<_> = removed.chain(set).collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all
}
