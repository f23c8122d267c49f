//! The ACL view (spec/acl.md, [ACL-4], [ACL-6], [ACL-11], [ACL-12]): what a reader holding a
//! thread's logs knows of its ACL, computed from the logs alone.
//!
//! The sync [`crate::sync::Peer`] and the vector operations both build their ACL here, from
//! [`LogReplica`]s, so they agree on what the genesis is and on what happens to malformed events.

use std::collections::BTreeMap;

use cid::Cid;

use super::{Acl, AclEvent, AclEventRef, Genesis};
use crate::error::{Error, ErrorCode, Result};
use crate::id::{LogId, ThreadId};
use crate::log::{LogReplica, Opened};
use crate::verify::OpenedEvent;

/// What a reader knows of an access-controlled thread's ACL: the state folded from every ACL
/// event it holds, and what became of the records that could not take part [ACL-6].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclView {
    acl: Acl,
    /// The ACL events among the held records, the genesis included, by record CID.
    events: BTreeMap<Cid, AclEventRef>,
    /// Held records whose body claims a reserved type without its exact shape: never applied
    /// [ACL-12].
    malformed: BTreeMap<Cid, Error>,
    /// Held records that passed [VERIFY-1] but do not open under the read key: linked and served,
    /// never read [SYNC-6].
    unreadable: BTreeMap<Cid, Error>,
}

impl AclView {
    /// The view of a reader holding `logs` of `thread`, whose genesis is the record at seq 1 of
    /// `creator`'s log [ACL-4]. `genesis`, when the peer was told it (an invite's anchor, [ACL-11]),
    /// must be that record's CID.
    ///
    /// ACL_MALFORMED when the thread has no valid genesis among the logs: the creator's seq 1 is
    /// not held or not readable, is not the anchor's, or is not a valid genesis [ACL-4].
    pub fn from_logs<'a>(
        thread: &ThreadId,
        creator: &LogId,
        genesis: Option<&Cid>,
        logs: impl IntoIterator<Item = &'a LogReplica>,
    ) -> Result<AclView> {
        let mut view = Classified::default();
        let mut first = None;
        for replica in logs {
            for (index, opened) in replica.opened().iter().enumerate() {
                let cid = replica.chain().records()[index];
                if replica.id() == *creator && index == 0 {
                    first = Some(cid);
                }
                view.add(cid, opened);
            }
        }
        view.build(thread, creator, genesis, first)
    }

    /// The folded ACL state [ACL-6].
    pub fn acl(&self) -> &Acl {
        &self.acl
    }

    /// The ACL events held, the genesis included, by record CID [ACL-6].
    pub fn events(&self) -> &BTreeMap<Cid, AclEventRef> {
        &self.events
    }

    /// Held records with a malformed reserved-type body, and why [ACL-12].
    pub fn malformed(&self) -> &BTreeMap<Cid, Error> {
        &self.malformed
    }

    /// Held records that do not open under the read key, and why [SYNC-6], [VERIFY-2].
    pub fn unreadable(&self) -> &BTreeMap<Cid, Error> {
        &self.unreadable
    }

    /// Whether the application sees `event`: its author may write it [ACL-7], it is not deleted
    /// [ACL-8], and it is application data, not an ACL event or a malformed one [ACL-12].
    pub fn shows(&self, event: &OpenedEvent) -> bool {
        let record = &event.record;
        self.acl.accepts_record(record.log(), record.seq()).is_ok()
            && !self.acl.is_deleted(record.cid())
            && matches!(AclEvent::classify(&event.body), Ok(None))
    }
}

/// The held records sorted by what they are to the ACL: what [`AclView::from_logs`] and the
/// [`super::AclModel`] both fold.
#[derive(Debug, Clone, Default)]
pub(super) struct Classified {
    events: BTreeMap<Cid, AclEventRef>,
    malformed: BTreeMap<Cid, Error>,
    unreadable: BTreeMap<Cid, Error>,
}

impl Classified {
    fn add(&mut self, cid: Cid, opened: &Opened) {
        match opened {
            Opened::Sealed => {}
            Opened::Unreadable(error) => {
                self.unreadable.insert(cid, error.clone());
            }
            Opened::Event(event) => {
                self.add_event(cid, AclEventRef::from_opened(event));
            }
        }
    }

    /// Files one opened record by what its body is to the ACL [ACL-12]; returns whether it is
    /// an ACL event or a malformed one, the only records the ACL depends on.
    pub(super) fn add_event(&mut self, cid: Cid, event: Result<Option<AclEventRef>>) -> bool {
        match event {
            Ok(Some(event)) => {
                self.events.insert(cid, event);
            }
            Ok(None) => return false,
            Err(error) => {
                self.malformed.insert(cid, error);
            }
        }
        true
    }

    /// The view, with `first` the CID of the creator's seq 1 if held [ACL-4].
    pub(super) fn build(
        self,
        thread: &ThreadId,
        creator: &LogId,
        genesis: Option<&Cid>,
        first: Option<Cid>,
    ) -> Result<AclView> {
        let cid = first.ok_or_else(|| {
            malformed(format!(
                "no record at seq 1 of the creator's log {creator} is held: the thread has no genesis yet"
            ))
        })?;
        if genesis.is_some_and(|named| *named != cid) {
            return Err(malformed(
                "the record at seq 1 of the creator's log is not the genesis the anchor names",
            ));
        }
        let genesis = self.genesis(thread, &cid)?;
        Ok(AclView {
            acl: Acl::from_events(genesis, self.events.values().cloned()),
            events: self.events,
            malformed: self.malformed,
            unreadable: self.unreadable,
        })
    }

    /// The ACL events held, by record CID.
    pub(super) fn events(&self) -> &BTreeMap<Cid, AclEventRef> {
        &self.events
    }

    /// Held records with a malformed reserved-type body [ACL-12].
    pub(super) fn malformed(&self) -> &BTreeMap<Cid, Error> {
        &self.malformed
    }

    /// The genesis at `cid`, checked [ACL-4]; the first failure's ACL_MALFORMED.
    fn genesis(&self, thread: &ThreadId, cid: &Cid) -> Result<Genesis> {
        if let Some(event) = self.events.get(cid) {
            return Genesis::new(thread, event);
        }
        if let Some(error) = self.malformed.get(cid) {
            return Err(error.clone());
        }
        if self.unreadable.contains_key(cid) {
            return Err(malformed(
                "seq 1 of the creator's log does not open under the read key",
            ));
        }
        Err(malformed(
            "seq 1 of the creator's log is not an acl-genesis body",
        ))
    }
}

fn malformed(detail: impl Into<String>) -> Error {
    Error::new(ErrorCode::AclMalformed, detail)
}
