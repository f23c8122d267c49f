//! Access control (spec/acl.md, chapter 6): roles, the ACL document and its own ACL (the admins),
//! the events that create and change it, the merge rule, revocation cuts and deletes.
//!
//! An access-controlled thread's ACL is never sent as authoritative state. Every reader computes
//! it from the genesis document and the *set* of ACL events it holds [ACL-6], and
//! [`Acl::from_events`] is that computation:
//!
//! ```text
//!  genesis document (clock 0)
//!        │
//!        ▼
//!  set of ACL events ──dedupe by record CID──▶ sort by (clock, author log ID bytes, seq, CID)
//!        │                                          │
//!        │                                          ▼ fold, one change at a time [ACL-6]
//!        │                        author is an admin at that point? ── yes ─▶ apply the op [ACL-13]
//!        │                                          └─ no ─▶ ignore, record ACL_BYPASS
//!        ▼
//!  delete events ──judged against the folded ACL (write + cut, delete) [ACL-7], [ACL-8]
//! ```
//!
//! Because the input is a set and the sort order is total, two readers holding the same events
//! compute the same ACL whatever order the events arrived in. Everything here is a pure function:
//! no I/O, no clock, no randomness.
//!
//! The chapter in four parts, each re-exported here: `roles` (roles and actions, [ACL-1],
//! [ACL-2]), `document` (the ACL document and entity ACLs, [ACL-3], [ACL-14]), `events` (the
//! bodies and their classification, [ACL-5], [ACL-12]) and `fold` (the genesis, the merge, cuts
//! and deletes, [ACL-4], [ACL-6] to [ACL-8]). [`AclView`] (`view`) builds a reader's ACL from the
//! [`crate::log::LogReplica`]s it holds: the one place that decides which record is the genesis
//! and what becomes of malformed and unreadable events [ACL-11], [ACL-12], [SYNC-6].

mod document;
mod events;
mod fold;
mod model;
mod roles;
mod view;

pub use document::{AclDocument, EntityAcl};
pub use events::{AclChange, AclEvent, AclEventRef, AclOp};
pub use fold::{Acl, AclAnchor, Genesis};
pub use model::{ACL_VIEW, AclModel};
pub use roles::{Action, Role, Roles};
pub use view::AclView;

use crate::error::{Error, ErrorCode};

/// `"type"` of the genesis body [ACL-4].
pub const GENESIS_TYPE: &str = "acl-genesis";
/// `"type"` of an ACL change body [ACL-5].
pub const CHANGE_TYPE: &str = "acl";
/// `"type"` of a delete body [ACL-8].
pub const DELETE_TYPE: &str = "delete";
/// The name of the delete capability in a peer's role list [ACL-1].
pub const DELETE: &str = "delete";

fn malformed(detail: impl Into<String>) -> Error {
    Error::new(ErrorCode::AclMalformed, detail)
}

fn denied(detail: impl Into<String>) -> Error {
    Error::new(ErrorCode::AclDenied, detail)
}

fn bypass(detail: impl Into<String>) -> Error {
    Error::new(ErrorCode::AclBypass, detail)
}

/// Fixtures the submodules' tests share: peers, a thread, and a genesis with two admins.
#[cfg(test)]
mod test_support {
    use std::fmt;

    use super::*;
    use crate::block;
    use crate::error::Result;
    use crate::id::{LogId, ThreadId, Variant};
    use crate::keys::IdentityKey;

    pub(super) fn peer(n: u8) -> LogId {
        IdentityKey::from_seed(&[n; 32]).log_id()
    }

    pub(super) fn thread() -> ThreadId {
        ThreadId::from_parts(Variant::AccessControlled, &[7; 32]).expect("32 random bytes")
    }

    pub(super) fn code<T: fmt::Debug>(result: Result<T>) -> ErrorCode {
        result.expect_err("an error was expected").code
    }

    pub(super) fn change(author: LogId, seq: u64, clock: u64, op: AclOp) -> AclEventRef {
        let body = AclEvent::Change(AclChange::new(clock, op).expect("a valid change"));
        let cid = block::cid_of(
            &[
                author.to_bytes(),
                seq.to_be_bytes().to_vec(),
                body.to_bytes(),
            ]
            .concat(),
        );
        AclEventRef {
            author,
            seq,
            cid,
            body,
        }
    }

    /// A genesis by peer 1 with admins 1 and 2; peers 1, 2, 3 write.
    pub(super) fn genesis() -> Genesis {
        let acl = AclDocument::for_thread(&thread(), peer(1))
            .with_admin(peer(2))
            .with_peer(peer(2), Roles::of(Role::Write))
            .with_peer(peer(3), Roles::of(Role::Write));
        let body = AclEvent::Genesis { acl };
        let event = AclEventRef {
            author: peer(1),
            seq: 1,
            cid: block::cid_of(&body.to_bytes()),
            body,
        };
        Genesis::new(&thread(), &event).expect("a valid genesis")
    }
}
