//! The merge (spec/acl.md, chapter 6, [ACL-4], [ACL-6] to [ACL-8], [ACL-11], [ACL-13]): the
//! genesis, the fold of a set of ACL events into [`Acl`], revocation cuts and deletes.

use std::collections::{BTreeMap, BTreeSet};

use cid::Cid;
use serde::{Deserialize, Serialize};

use super::{
    AclChange, AclDocument, AclEvent, AclEventRef, AclOp, Action, EntityAcl, Role, Roles, bypass,
    denied, malformed,
};
use crate::block;
use crate::error::{Error, ErrorCode, Result};
use crate::id::{LogId, ThreadId};

/// The thread's genesis: the first record of the creator's log, checked against [ACL-4].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Genesis {
    author: LogId,
    cid: Cid,
    document: AclDocument,
}

impl Genesis {
    /// Checks a genesis event for `thread`, in this order: an acl-genesis body, an
    /// access-controlled thread whose text is `_id`, seq 1, the creator in `admins`; the first
    /// failure is ACL_MALFORMED [ACL-4].
    pub fn new(thread: &ThreadId, event: &AclEventRef) -> Result<Genesis> {
        let AclEvent::Genesis { acl } = &event.body else {
            return Err(malformed("the genesis must have an acl-genesis body"));
        };
        acl.check_thread(thread)?;
        if event.seq != 1 {
            return Err(malformed(format!(
                "the genesis is seq 1 of its log, not seq {}",
                event.seq
            )));
        }
        if !acl.is_admin(&event.author) {
            return Err(malformed(format!(
                "the creator {} is not in the genesis admins",
                event.author
            )));
        }
        Ok(Genesis {
            author: event.author,
            cid: event.cid,
            document: acl.clone(),
        })
    }

    /// The creator.
    pub fn author(&self) -> &LogId {
        &self.author
    }

    /// The genesis record's CID.
    pub fn cid(&self) -> &Cid {
        &self.cid
    }

    /// The initial document.
    pub fn document(&self) -> &AclDocument {
        &self.document
    }
}

/// What an invite tells a joiner about an access-controlled thread's ACL [ACL-11], [INV-9]: where
/// the genesis is (its creator's log and its record CID) and the inviter's current document.
///
/// The document is a snapshot for the invite's own checks; the joiner's ACL is always recomputed
/// from the genesis and the change events it fetches [ACL-6].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclAnchor {
    /// The thread's creator: the log whose seq 1 is the genesis.
    pub creator: LogId,
    /// The genesis record's CID.
    pub genesis: Cid,
    /// The inviter's current ACL document.
    pub document: AclDocument,
}

/// Wire form of [`AclAnchor`]: `{"creator": bytes, "document": bytes, "genesis": CID}`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AnchorNode {
    #[serde(with = "serde_bytes")]
    creator: Vec<u8>,
    #[serde(with = "serde_bytes")]
    document: Vec<u8>,
    genesis: Cid,
}

impl AclAnchor {
    /// The anchor of an ACL state.
    pub fn of(acl: &Acl) -> AclAnchor {
        AclAnchor {
            creator: *acl.genesis().author(),
            genesis: *acl.genesis().cid(),
            document: acl.document().clone(),
        }
    }

    /// The canonical DAG-CBOR encoding [ACL-11].
    pub fn to_bytes(&self) -> Vec<u8> {
        block::encode(&AnchorNode {
            creator: self.creator.to_bytes(),
            document: self.document.to_bytes(),
            genesis: self.genesis,
        })
    }

    /// Decodes an anchor; anything malformed is ACL_MALFORMED [ACL-11].
    pub fn from_bytes(bytes: &[u8]) -> Result<AclAnchor> {
        let node: AnchorNode = block::decode_canonical(bytes, ErrorCode::AclMalformed)?;
        let creator = LogId::from_bytes(&node.creator)
            .map_err(|e| malformed(format!("anchor creator: {}", e.detail)))?;
        block::check_link(&node.genesis).map_err(|e| malformed(e.detail))?;
        Ok(AclAnchor {
            creator,
            genesis: node.genesis,
            document: AclDocument::from_bytes(&node.document)?,
        })
    }
}

/// A thread's ACL as a reader computes it: the fold of [ACL-6] over the set of ACL events it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acl {
    genesis: Genesis,
    /// The set: one event per record CID.
    events: BTreeMap<Cid, AclEventRef>,
    document: AclDocument,
    /// Peers below write whose records up to the cut stay accepted [ACL-7]; writers have none.
    cuts: BTreeMap<LogId, u64>,
    /// The highest clock applied; 0 is the genesis.
    clock: u64,
    applied: Vec<Cid>,
    ignored: BTreeMap<Cid, Error>,
    deleted: BTreeSet<Cid>,
}

impl Acl {
    /// The ACL right after genesis.
    pub fn new(genesis: Genesis) -> Acl {
        Acl::from_events(genesis, [])
    }

    /// The ACL for a set of events, given in any order and with any duplicates [ACL-6].
    ///
    /// Events that do not take effect are recorded in [`Acl::ignored`] with the error a single
    /// check of them gives.
    pub fn from_events(genesis: Genesis, events: impl IntoIterator<Item = AclEventRef>) -> Acl {
        let mut set = BTreeMap::new();
        for event in events {
            add_to_set(&mut set, &genesis, event);
        }
        Acl::fold(genesis, set)
    }

    /// The ACL for this set plus `events`: the CRDT merge is set union, then the same fold [ACL-6].
    pub fn with_events(&self, events: impl IntoIterator<Item = AclEventRef>) -> Acl {
        let mut set = self.events.clone();
        for event in events {
            add_to_set(&mut set, &self.genesis, event);
        }
        Acl::fold(self.genesis.clone(), set)
    }

    fn fold(genesis: Genesis, events: BTreeMap<Cid, AclEventRef>) -> Acl {
        let mut acl = Acl {
            document: genesis.document.clone(),
            genesis,
            events: BTreeMap::new(),
            cuts: BTreeMap::new(),
            clock: 0,
            applied: Vec::new(),
            ignored: BTreeMap::new(),
            deleted: BTreeSet::new(),
        };
        for (event, change) in sorted_changes(&events) {
            acl.apply(event, change);
        }
        acl.judge_others(&events);
        acl.events = events;
        acl
    }

    /// One step of the fold: an admin's change applies, anyone else's is ignored [ACL-6].
    fn apply(&mut self, event: &AclEventRef, change: &AclChange) {
        if !self.document.is_admin(&event.author) {
            let why = format!(
                "{} is not an admin where its change (clock {}, seq {}) falls in the order",
                event.author, change.clock, event.seq
            );
            self.ignored.insert(event.cid, bypass(why));
            return;
        }
        self.apply_op(&change.op);
        self.clock = self.clock.max(change.clock);
        self.applied.push(event.cid);
    }

    /// How each op changes the state [ACL-13], keeping the cut invariant of [ACL-7].
    fn apply_op(&mut self, op: &AclOp) {
        match op {
            AclOp::SetPeer { peer, roles, cut } => self.set_peer(*peer, *roles, *cut),
            AclOp::SetDefault { role } => self.document.default = *role,
            AclOp::GrantAdmin { admin } => {
                self.document.admins.insert(*admin);
            }
            // Removing the last admin would freeze the ACL for good; that op has no effect.
            AclOp::RevokeAdmin { admin } if self.document.admins.len() > 1 => {
                self.document.admins.remove(admin);
            }
            AclOp::RevokeAdmin { .. } => {}
        }
        // Raising a peer to write, by its entry or by the default, removes its cut [ACL-7].
        let document = &self.document;
        self.cuts
            .retain(|peer, _| document.role_of(peer) < Role::Write);
    }

    /// Sets an entry; a peer that loses write keeps its records up to the cut [ACL-7].
    fn set_peer(&mut self, peer: LogId, roles: Roles, cut: Option<u64>) {
        let had_write = self.has_write(&peer);
        self.document.put_peer(peer, roles);
        if self.has_write(&peer) {
            return;
        }
        // Validated ops carry a cut whenever they can leave the peer below write; 0 keeps
        // nothing, the safe reading if one ever did not.
        let cut = cut.unwrap_or(0);
        if had_write {
            self.cuts.insert(peer, cut);
        } else if let Some(old) = self.cuts.get_mut(&peer) {
            // Already below write: a cut never moves forward, so concurrent revocations keep the
            // smallest, whatever their order.
            *old = (*old).min(cut);
        }
    }

    /// Deletes and stray genesis bodies, judged against the folded state [ACL-8], [ACL-4].
    fn judge_others(&mut self, events: &BTreeMap<Cid, AclEventRef>) {
        for event in events.values() {
            match &event.body {
                AclEvent::Change(_) => {}
                AclEvent::Genesis { .. } => {
                    let why = "only the thread's genesis sets the initial ACL";
                    self.ignored.insert(event.cid, bypass(why));
                }
                AclEvent::Delete { target } => match self.delete_allowed(event) {
                    Ok(()) => {
                        self.deleted.insert(*target);
                    }
                    Err(e) => {
                        self.ignored.insert(event.cid, e);
                    }
                },
            }
        }
    }

    /// A delete counts when its record is accepted and its author holds delete [ACL-8].
    fn delete_allowed(&self, event: &AclEventRef) -> Result<()> {
        self.accepts_record(&event.author, event.seq)?;
        self.may(&event.author, Action::Delete)
    }

    fn has_write(&self, peer: &LogId) -> bool {
        self.document.role_of(peer) >= Role::Write
    }

    /// The decision for `peer` and `action` in the current document; ACL_DENIED if not [ACL-2].
    pub fn may(&self, peer: &LogId, action: Action) -> Result<()> {
        self.document.may(peer, action)
    }

    /// The decision for an entity with its own ACL: its peers and default, but the thread's
    /// admins [ACL-14].
    pub fn may_entity(&self, entity: &EntityAcl, peer: &LogId, action: Action) -> Result<()> {
        match action {
            Action::Admin => self.may(peer, action),
            _ => entity.document.may(peer, action),
        }
    }

    /// Whether `author`'s record at `seq` is accepted: the author has write, or lost it with a
    /// cut at or above `seq`; otherwise ACL_DENIED [ACL-7].
    pub fn accepts_record(&self, author: &LogId, seq: u64) -> Result<()> {
        if self.has_write(author) {
            return Ok(());
        }
        match self.cuts.get(author) {
            Some(&cut) if seq <= cut => Ok(()),
            Some(&cut) => Err(denied(format!(
                "{author} lost write with cut {cut}; its record at seq {seq} is refused"
            ))),
            None => Err(denied(format!(
                "{author} has role {} and no cut; its record at seq {seq} is refused",
                self.document.role_of(author)
            ))),
        }
    }

    /// Checks one event as if it were added to this set: Ok if it takes effect, otherwise the
    /// error it is ignored with — ACL_BYPASS for a change by a non-admin or a second genesis
    /// [ACL-6], ACL_DENIED for a delete [ACL-8]. A duplicate of a held event gives that event's
    /// outcome.
    pub fn check_change(&self, event: &AclEventRef) -> Result<()> {
        // The outcome depends on where the event falls in the order, so fold it in rather than
        // judging it against the current state.
        let acl = self.with_events([event.clone()]);
        acl.outcome(&event.cid).unwrap_or(Ok(()))
    }

    /// What became of the event with this record CID: `None` if it is not in the set.
    pub fn outcome(&self, cid: &Cid) -> Option<Result<()>> {
        if let Some(error) = self.ignored.get(cid) {
            return Some(Err(error.clone()));
        }
        let known = cid == &self.genesis.cid || self.events.contains_key(cid);
        known.then_some(Ok(()))
    }

    /// Whether a counted delete event targets `cid`; views MUST NOT apply it [ACL-8].
    pub fn is_deleted(&self, cid: &Cid) -> bool {
        self.deleted.contains(cid)
    }

    /// The current document.
    pub fn document(&self) -> &AclDocument {
        &self.document
    }

    /// The genesis the fold starts from.
    pub fn genesis(&self) -> &Genesis {
        &self.genesis
    }

    /// `peer`'s cut, if it lost write and keeps some records [ACL-7].
    pub fn cut(&self, peer: &LogId) -> Option<u64> {
        self.cuts.get(peer).copied()
    }

    /// The record CIDs of the changes that took effect, in fold order.
    pub fn applied(&self) -> &[Cid] {
        &self.applied
    }

    /// Events that took no effect, with the error a single check of them gives.
    pub fn ignored(&self) -> &BTreeMap<Cid, Error> {
        &self.ignored
    }

    /// Every event in the set (without the genesis), by record CID.
    pub fn events(&self) -> impl Iterator<Item = &AclEventRef> {
        self.events.values()
    }

    /// The clock for the next change this peer writes: 1 + the highest applied clock [ACL-5];
    /// `None` once the clock space is used up.
    pub fn next_clock(&self) -> Option<u64> {
        self.clock.checked_add(1)
    }

    /// The next change for `op`, with [`Acl::next_clock`] [ACL-5].
    pub fn next_change(&self, op: AclOp) -> Result<AclChange> {
        let clock = self
            .next_clock()
            .ok_or_else(|| malformed("the clock space is used up"))?;
        AclChange::new(clock, op)
    }
}

/// Adds an event to the set: the genesis and a second copy of any event count once [ACL-6].
fn add_to_set(set: &mut BTreeMap<Cid, AclEventRef>, genesis: &Genesis, event: AclEventRef) {
    if event.cid == genesis.cid {
        return;
    }
    match set.get(&event.cid) {
        Some(held) if held.content_key() <= event.content_key() => {}
        _ => {
            set.insert(event.cid, event);
        }
    }
}

/// The change events of the set in merge order [ACL-6].
fn sorted_changes(events: &BTreeMap<Cid, AclEventRef>) -> Vec<(&AclEventRef, &AclChange)> {
    let mut changes: Vec<_> = events
        .values()
        .filter_map(|event| match &event.body {
            AclEvent::Change(change) => Some((event, change)),
            _ => None,
        })
        .collect();
    changes.sort_by_cached_key(|(event, change)| event.order_key(change.clock));
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acl::test_support::*;
    use crate::id::Variant;

    #[test]
    fn genesis_checks_run_in_order() {
        let acl = AclDocument::for_thread(&thread(), peer(1));
        let event = |author, seq, acl: AclDocument| AclEventRef {
            author,
            seq,
            cid: block::cid_of(b"g"),
            body: AclEvent::Genesis { acl },
        };
        assert!(Genesis::new(&thread(), &event(peer(1), 1, acl.clone())).is_ok());
        assert_eq!(
            code(Genesis::new(&thread(), &event(peer(2), 1, acl.clone()))),
            ErrorCode::AclMalformed
        );
        assert_eq!(
            code(Genesis::new(&thread(), &event(peer(1), 2, acl.clone()))),
            ErrorCode::AclMalformed
        );
        let raw = ThreadId::from_parts(Variant::Raw, &[7; 32]).expect("valid");
        assert_eq!(
            code(Genesis::new(&raw, &event(peer(1), 1, acl))),
            ErrorCode::AclMalformed
        );
    }

    /// Checks [ACL-6] on inconsistent input: two events claiming one CID, one by an admin and
    /// one by a peer that is not, give the same ACL in either order (one of them is chosen by
    /// content, not by arrival).
    #[test]
    fn two_events_claiming_one_cid_give_the_same_acl_in_either_order() {
        let (a, d) = (peer(1), peer(4));
        let by_admin = change(a, 2, 1, AclOp::SetDefault { role: Role::Write });
        let mut by_other = change(d, 2, 1, AclOp::SetDefault { role: Role::Write });
        by_other.cid = by_admin.cid;
        let one = Acl::from_events(genesis(), [by_admin.clone(), by_other.clone()]);
        let other = Acl::from_events(genesis(), [by_other, by_admin]);
        assert_eq!(one, other);
    }

    #[test]
    fn lowering_sets_a_cut_and_raising_removes_it() {
        let (a, c) = (peer(1), peer(3));
        let lower = change(a, 2, 1, AclOp::set_peer(c, Roles::of(Role::Read), 4));
        let acl = Acl::from_events(genesis(), [lower.clone()]);
        assert_eq!(acl.cut(&c), Some(4));
        assert_eq!(acl.accepts_record(&c, 4), Ok(()));
        assert_eq!(code(acl.accepts_record(&c, 5)), ErrorCode::AclDenied);
        let again = change(a, 3, 2, AclOp::set_peer(c, Roles::of(Role::Follow), 9));
        assert_eq!(
            Acl::from_events(genesis(), [lower.clone(), again]).cut(&c),
            Some(4)
        );
        let raise = change(a, 3, 2, AclOp::set_peer(c, Roles::of(Role::Write), 0));
        let acl = Acl::from_events(genesis(), [lower, raise]);
        assert_eq!(acl.cut(&c), None);
        assert_eq!(acl.accepts_record(&c, 100), Ok(()));
    }

    #[test]
    fn the_default_decides_for_peers_without_their_own_role() {
        let (a, d) = (peer(1), peer(4));
        let open = change(a, 2, 1, AclOp::SetDefault { role: Role::Write });
        let acl = Acl::from_events(genesis(), [open.clone()]);
        assert_eq!(acl.accepts_record(&d, 1), Ok(()));
        // Lowering the default carries no cut: peers writing by default keep nothing.
        let close = change(a, 3, 2, AclOp::SetDefault { role: Role::Read });
        let acl = Acl::from_events(genesis(), [open, close]);
        assert_eq!(code(acl.accepts_record(&d, 1)), ErrorCode::AclDenied);
    }

    #[test]
    fn the_last_admin_cannot_be_revoked() {
        let (a, b) = (peer(1), peer(2));
        let drop_b = change(a, 2, 1, AclOp::RevokeAdmin { admin: b });
        let drop_a = change(a, 3, 2, AclOp::RevokeAdmin { admin: a });
        let acl = Acl::from_events(genesis(), [drop_b, drop_a]);
        assert_eq!(acl.document().admins(), &BTreeSet::from([a]));
        assert_eq!(acl.applied().len(), 2);
    }

    #[test]
    fn next_clock_follows_the_highest_applied_clock() {
        let (a, d) = (peer(1), peer(4));
        assert_eq!(Acl::new(genesis()).next_clock(), Some(1));
        let applied = change(a, 2, 5, AclOp::SetDefault { role: Role::Read });
        let ignored = change(d, 1, 50, AclOp::SetDefault { role: Role::Write });
        let acl = Acl::from_events(genesis(), [applied, ignored.clone()]);
        assert_eq!(acl.next_clock(), Some(6));
        assert_eq!(
            acl.outcome(&ignored.cid).map(code),
            Some(ErrorCode::AclBypass)
        );
        let change = acl
            .next_change(AclOp::GrantAdmin { admin: d })
            .expect("valid");
        assert_eq!(change.clock(), 6);
    }
}
