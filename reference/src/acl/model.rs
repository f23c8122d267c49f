//! The ACL view as one more view Model of the database (spec/acl.md, [ACL-6]; spec/database.md,
//! [DB-11]): a [`Reducer`] the peer runs on every event it opens, ACL events included, inside the
//! same store write as the records, so the persisted ACL view and the events it folds from are
//! stored together or not at all, and checked against each other when the store is reopened.
//!
//! It folds exactly what [`AclView::from_logs`] folds, through the same classification and build,
//! but one record at a time as the records arrive; the sync core still computes its own
//! [`AclView`] from its logs (it must work without a database), and a test checks the two agree.

use std::any::Any;
use std::collections::{BTreeMap, BTreeSet};

use cid::Cid;

use super::view::Classified;
use super::{AclAnchor, AclEvent, AclEventRef, AclView};
use crate::db::{DbRecord, Reducer, Scope};
use crate::error::Result;
use crate::id::{LogId, ThreadId};

/// The name [`AclModel`] registers under.
pub const ACL_VIEW: &str = "acl";

/// The ACL view of one access-controlled thread as a database [`Reducer`] [ACL-6], [DB-11].
#[derive(Debug, Clone)]
pub struct AclModel {
    thread: ThreadId,
    creator: LogId,
    /// The genesis CID an invite's anchor named, if any [ACL-11].
    genesis: Option<Cid>,
    /// Every record offered: duplicates count once.
    offered: BTreeSet<Cid>,
    /// The creator's seq 1, once offered: the genesis [ACL-4].
    first: Option<Cid>,
    classified: Classified,
    view: Result<AclView>,
    /// The rows as last taken, to tell what changed.
    taken: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl AclModel {
    /// The model of `thread`, whose genesis is seq 1 of `creator`'s log, and `genesis` when an
    /// anchor named it [ACL-4], [ACL-11]; no event offered yet.
    pub fn new(thread: ThreadId, creator: LogId, genesis: Option<Cid>) -> AclModel {
        let view = Classified::default().build(&thread, &creator, genesis.as_ref(), None);
        AclModel {
            thread,
            creator,
            genesis,
            offered: BTreeSet::new(),
            first: None,
            classified: Classified::default(),
            view,
            taken: BTreeMap::new(),
        }
    }

    /// The ACL view of the events offered: what [`AclView::from_logs`] gives over logs holding
    /// them; ACL_MALFORMED while the thread has no valid genesis [ACL-4].
    pub fn view(&self) -> Result<&AclView> {
        self.view.as_ref().map_err(Clone::clone)
    }

    fn rebuild(&mut self) {
        self.view = self.classified.clone().build(
            &self.thread,
            &self.creator,
            self.genesis.as_ref(),
            self.first,
        );
    }
}

impl Reducer for AclModel {
    fn name(&self) -> &str {
        ACL_VIEW
    }

    /// Only ACL events, malformed ones and the genesis change the view; an application event
    /// costs a lookup.
    fn apply(&mut self, record: &DbRecord) {
        if !self.offered.insert(record.cid) {
            return;
        }
        let is_first = record.log == self.creator && record.seq == 1;
        if is_first {
            self.first = Some(record.cid);
        }
        let event = AclEvent::classify(&record.body).map(|body| {
            body.map(|body| AclEventRef {
                author: record.log,
                seq: record.seq,
                cid: record.cid,
                body,
            })
        });
        if self.classified.add_event(record.cid, event) || is_first {
            self.rebuild();
        }
    }

    fn reset(&mut self) {
        let taken = std::mem::take(&mut self.taken);
        *self = AclModel::new(self.thread.clone(), self.creator, self.genesis);
        self.taken = taken;
    }

    fn position(&self) -> u64 {
        self.offered.len() as u64
    }

    fn take_rows(&mut self) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        let rows = self.rows();
        let mut changes: Vec<_> = self
            .taken
            .keys()
            .filter(|key| !rows.contains_key(*key))
            .map(|key| (key.clone(), None))
            .collect();
        changes.extend(
            rows.iter()
                .filter(|(key, row)| self.taken.get(*key) != Some(*row))
                .map(|(key, row)| (key.clone(), Some(row.clone()))),
        );
        self.taken = rows;
        changes
    }

    /// `a` → the ACL anchor (creator, genesis, document) [ACL-11], or `x` → the code while there
    /// is no valid genesis; `e` + record CID → each ACL event's outcome [ACL-6]; `m` + record CID
    /// → each malformed one's code [ACL-12].
    fn rows(&self) -> BTreeMap<Vec<u8>, Vec<u8>> {
        let mut rows = BTreeMap::new();
        let code = |e: &crate::Error| e.code.number().to_be_bytes().to_vec();
        match &self.view {
            Ok(view) => {
                rows.insert(b"a".to_vec(), AclAnchor::of(view.acl()).to_bytes());
            }
            Err(error) => {
                rows.insert(b"x".to_vec(), code(error));
            }
        }
        for cid in self.classified.events().keys() {
            let outcome = match self.view.as_ref().ok().and_then(|v| v.acl().outcome(cid)) {
                Some(Ok(())) => b"+".to_vec(),
                Some(Err(error)) => code(&error),
                // Not judged: no genesis yet, or a second genesis body.
                None => b"-".to_vec(),
            };
            rows.insert([b"e".as_slice(), &cid.to_bytes()].concat(), outcome);
        }
        for (cid, error) in self.classified.malformed() {
            rows.insert([b"m".as_slice(), &cid.to_bytes()].concat(), code(error));
        }
        rows
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn scope(&self) -> Scope {
        Scope::Opened
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acl::test_support::*;
    use crate::acl::{AclChange, AclDocument, AclOp, Role, Roles};
    use crate::block;
    use crate::error::ErrorCode;

    fn record(author: LogId, seq: u64, body: Vec<u8>) -> DbRecord {
        let named = [author.to_bytes(), seq.to_be_bytes().to_vec(), body.clone()].concat();
        DbRecord {
            cid: block::cid_of(&named),
            log: author,
            seq,
            body,
        }
    }

    fn change(clock: u64, role: Role) -> Vec<u8> {
        let op = AclOp::SetDefault { role };
        AclEvent::Change(AclChange::new(clock, op).expect("a change")).to_bytes()
    }

    fn row(kind: &[u8], record: &DbRecord) -> Vec<u8> {
        [kind, &record.cid.to_bytes()].concat()
    }

    /// Checks [ACL-6], [ACL-12]: the rows stored for the ACL view hold each ACL event's outcome,
    /// the genesis and an admin's change applied, a non-admin's change ACL_BYPASS, and each
    /// malformed one's ACL_MALFORMED; an application event has no row. Whatever the order.
    #[test]
    fn acl_6_the_stored_acl_view_holds_each_acl_events_outcome() {
        let document =
            AclDocument::for_thread(&thread(), peer(1)).with_peer(peer(2), Roles::of(Role::Write));
        let genesis = record(peer(1), 1, AclEvent::Genesis { acl: document }.to_bytes());
        let applied = record(peer(1), 2, change(1, Role::Read));
        let bypass = record(peer(2), 1, change(2, Role::Write));
        let bad = block::encode(&BTreeMap::from([("type", "acl")]));
        let malformed = record(peer(2), 2, bad);
        let data = record(peer(2), 3, b"application data".to_vec());
        let records = [genesis, applied, bypass, malformed, data];
        let number = |code: ErrorCode| code.number().to_be_bytes().to_vec();
        let expected = BTreeMap::from([
            (row(b"e", &records[0]), b"+".to_vec()),
            (row(b"e", &records[1]), b"+".to_vec()),
            (row(b"e", &records[2]), number(ErrorCode::AclBypass)),
            (row(b"m", &records[3]), number(ErrorCode::AclMalformed)),
        ]);
        for order in [[0, 1, 2, 3, 4], [4, 3, 2, 1, 0]] {
            let mut model = AclModel::new(thread(), peer(1), None);
            for i in order {
                model.apply(&records[i]);
            }
            let rows = model.rows();
            assert!(rows.contains_key(b"a".as_slice()), "the anchor row");
            let outcomes: BTreeMap<Vec<u8>, Vec<u8>> =
                rows.into_iter().filter(|(key, _)| key != b"a").collect();
            assert_eq!(outcomes, expected, "order {order:?}");
            // Reset, the model is as new, and offered the same set again it holds the same rows
            // (the Reducer contract, [DB-11]).
            let before = model.rows();
            model.reset();
            assert_eq!(model.position(), 0, "reset");
            assert!(model.rows() == AclModel::new(thread(), peer(1), None).rows());
            for record in &records {
                model.apply(record);
            }
            assert!(model.rows() == before, "the same rows again");
        }
    }
}
