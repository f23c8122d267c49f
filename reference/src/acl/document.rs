//! The ACL document (spec/acl.md, chapter 6, [ACL-3], [ACL-10], [ACL-14]): its wire form, its
//! decisions and an entity's own ACL.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{Action, Role, Roles, denied, malformed};
use crate::block;
use crate::error::{Error, ErrorCode, Result};
use crate::id::{LogId, ThreadId, Variant};

/// The ACL document `{"_id", "admins", "default", "peers"}` [ACL-3].
///
/// Always valid: every constructor and decoder checks [ACL-3] and [ACL-10]. Serde goes through the
/// wire map, so `serde_json` gives the JSON form for humans (the same map) and checks it the same
/// way on input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "DocumentNode", into = "DocumentNode")]
pub struct AclDocument {
    id: String,
    pub(super) admins: BTreeSet<LogId>,
    pub(super) default: Role,
    peers: BTreeMap<LogId, Roles>,
}

/// Wire form of [`AclDocument`] [ACL-3]; the encoder sorts the keys canonically.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DocumentNode {
    #[serde(rename = "_id")]
    id: String,
    admins: Vec<String>,
    default: String,
    peers: BTreeMap<String, Vec<String>>,
}

impl AclDocument {
    /// A document with no admins and no entries; `id` must not be empty [ACL-3].
    pub fn new(id: impl Into<String>, default: Role) -> Result<AclDocument> {
        let id = id.into();
        if id.is_empty() {
            return Err(malformed("\"_id\" is empty"));
        }
        Ok(AclDocument {
            id,
            admins: BTreeSet::new(),
            default,
            peers: BTreeMap::new(),
        })
    }

    /// The usual genesis document: the creator is the only admin and a writer, everyone else has
    /// no access [ACL-4].
    pub fn for_thread(thread: &ThreadId, creator: LogId) -> AclDocument {
        AclDocument {
            id: thread.to_string(),
            admins: BTreeSet::from([creator]),
            default: Role::NoAccess,
            peers: BTreeMap::from([(creator, Roles::of(Role::Write))]),
        }
    }

    /// The document with `admin` added to `admins`.
    pub fn with_admin(mut self, admin: LogId) -> AclDocument {
        self.admins.insert(admin);
        self
    }

    /// The document with `peer`'s entry set to `roles` (removed for [`Roles::NONE`]).
    pub fn with_peer(mut self, peer: LogId, roles: Roles) -> AclDocument {
        self.put_peer(peer, roles);
        self
    }

    /// The document with another `default`.
    pub fn with_default(mut self, default: Role) -> AclDocument {
        self.default = default;
        self
    }

    /// `_id`: the thread ID's text form, or an entity's ID for an entity ACL [ACL-3], [ACL-14].
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The peers allowed to change the ACL: the ACL's own ACL [ACL-3].
    pub fn admins(&self) -> &BTreeSet<LogId> {
        &self.admins
    }

    /// The role of every peer without an ordered role of its own [ACL-2].
    pub fn default_role(&self) -> Role {
        self.default
    }

    /// Every peer's entry [ACL-3].
    pub fn peers(&self) -> &BTreeMap<LogId, Roles> {
        &self.peers
    }

    /// `peer`'s entry, if it has one.
    pub fn entry(&self, peer: &LogId) -> Option<Roles> {
        self.peers.get(peer).copied()
    }

    /// `peer`'s ordered role: its entry's, else `default` [ACL-2].
    pub fn role_of(&self, peer: &LogId) -> Role {
        self.entry(peer)
            .and_then(|roles| roles.role)
            .unwrap_or(self.default)
    }

    /// Whether `peer` is in `admins` [ACL-3].
    pub fn is_admin(&self, peer: &LogId) -> bool {
        self.admins.contains(peer)
    }

    /// The decision for `peer` and `action`; ACL_DENIED when the document does not allow it [ACL-2].
    pub fn may(&self, peer: &LogId, action: Action) -> Result<()> {
        let allowed = match action {
            Action::Follow => self.role_of(peer) >= Role::Follow,
            Action::Read => self.role_of(peer) >= Role::Read,
            Action::Write => self.role_of(peer) >= Role::Write,
            Action::Delete => self.entry(peer).is_some_and(|roles| roles.delete),
            Action::Admin => self.is_admin(peer),
        };
        if allowed {
            return Ok(());
        }
        Err(denied(format!(
            "{peer} may not {action}: role {}, delete {}, admin {}",
            self.role_of(peer),
            self.entry(peer).is_some_and(|roles| roles.delete),
            self.is_admin(peer)
        )))
    }

    /// Checks that `_id` is `thread`'s text form and `thread` is access-controlled [ACL-3], [ACL-4].
    pub fn check_thread(&self, thread: &ThreadId) -> Result<()> {
        if thread.variant() != Variant::AccessControlled {
            return Err(malformed(format!(
                "thread {thread} is raw (0x55); only access-controlled threads (0x70) have an ACL"
            )));
        }
        if self.id != thread.to_string() {
            return Err(malformed(format!(
                "\"_id\" is {:?}, the thread is {thread}",
                self.id
            )));
        }
        Ok(())
    }

    /// `admins` as text, sorted as on the wire [ACL-3].
    pub fn admin_names(&self) -> Vec<String> {
        sorted_texts(&self.admins)
    }

    /// `peers` as text, as on the wire and in JSON [ACL-3].
    pub fn peer_names(&self) -> BTreeMap<String, Vec<&'static str>> {
        self.peers
            .iter()
            .map(|(peer, roles)| (peer.to_string(), roles.names()))
            .collect()
    }

    /// The canonical DAG-CBOR encoding [ACL-3].
    pub fn to_bytes(&self) -> Vec<u8> {
        block::encode(self)
    }

    /// Decodes a document; anything but the canonical map [ACL-3] is ACL_MALFORMED.
    pub fn from_bytes(bytes: &[u8]) -> Result<AclDocument> {
        block::decode_canonical(bytes, ErrorCode::AclMalformed)
    }

    pub(super) fn put_peer(&mut self, peer: LogId, roles: Roles) {
        if roles.is_empty() {
            self.peers.remove(&peer);
        } else {
            self.peers.insert(peer, roles);
        }
    }
}

impl From<AclDocument> for DocumentNode {
    fn from(doc: AclDocument) -> DocumentNode {
        DocumentNode {
            admins: doc.admin_names(),
            peers: doc
                .peer_names()
                .into_iter()
                .map(|(peer, names)| (peer, names.into_iter().map(String::from).collect()))
                .collect(),
            default: doc.default.name().to_string(),
            id: doc.id,
        }
    }
}

impl TryFrom<DocumentNode> for AclDocument {
    type Error = Error;

    fn try_from(node: DocumentNode) -> Result<AclDocument> {
        let mut doc = AclDocument::new(node.id, Role::from_name(&node.default)?)?;
        doc.admins = parse_admins(&node.admins)?;
        for (peer, names) in &node.peers {
            let roles = Roles::from_names(names)?;
            // One state, one encoding [ACL-10]: "no entry" is written by leaving the peer out.
            if roles.is_empty() {
                return Err(malformed(format!("{peer}: empty role list")));
            }
            doc.peers.insert(parse_peer(peer)?, roles);
        }
        Ok(doc)
    }
}

/// A peer ID in its canonical text form (base58btc, [LOGID-2]); anything else is ACL_MALFORMED.
pub(super) fn parse_peer(text: &str) -> Result<LogId> {
    let peer = LogId::from_str(text)
        .map_err(|e| malformed(format!("{text:?} is not a peer ID: {}", e.detail)))?;
    if peer.to_string() != text {
        return Err(malformed(format!("{text:?} is not a canonical peer ID")));
    }
    Ok(peer)
}

fn parse_admins(texts: &[String]) -> Result<BTreeSet<LogId>> {
    let admins = texts
        .iter()
        .map(|text| parse_peer(text))
        .collect::<Result<BTreeSet<_>>>()?;
    if sorted_texts(&admins) != texts {
        return Err(malformed(
            "\"admins\" must be sorted and hold each peer once",
        ));
    }
    Ok(admins)
}

/// Text forms sorted bytewise: the order lists use on the wire (not the log ID byte order).
fn sorted_texts(peers: &BTreeSet<LogId>) -> Vec<String> {
    let texts: BTreeSet<String> = peers.iter().map(LogId::to_string).collect();
    texts.into_iter().collect()
}

/// An entity's own ACL: the document shape with no admins [ACL-14].
///
/// Decisions about the entity use its `peers` and `default` instead of the thread ACL's; changing
/// the ACL stays with the thread's admins, so an entity ACL names none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityAcl {
    pub(super) document: AclDocument,
}

impl EntityAcl {
    /// Wraps a document whose `admins` is empty [ACL-14].
    pub fn new(document: AclDocument) -> Result<EntityAcl> {
        if !document.admins.is_empty() {
            return Err(malformed(
                "an entity ACL has no admins; the thread ACL's admins govern it",
            ));
        }
        Ok(EntityAcl { document })
    }

    /// Decodes an entity ACL [ACL-3], [ACL-14].
    pub fn from_bytes(bytes: &[u8]) -> Result<EntityAcl> {
        EntityAcl::new(AclDocument::from_bytes(bytes)?)
    }

    /// The canonical DAG-CBOR encoding [ACL-3].
    pub fn to_bytes(&self) -> Vec<u8> {
        self.document.to_bytes()
    }

    /// The entity's document.
    pub fn document(&self) -> &AclDocument {
        &self.document
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acl::DELETE;
    use crate::acl::test_support::*;

    #[test]
    fn document_round_trips_and_rejects_other_shapes() {
        let doc = genesis().document().clone();
        assert_eq!(AclDocument::from_bytes(&doc.to_bytes()), Ok(doc.clone()));
        let mut node = DocumentNode::from(doc.clone());
        node.admins.reverse();
        assert_eq!(
            code(AclDocument::from_bytes(&block::encode(&node))),
            ErrorCode::AclMalformed
        );
        let mut node = DocumentNode::from(doc.clone());
        node.peers.insert(peer(4).to_string(), vec![]);
        assert_eq!(
            code(AclDocument::from_bytes(&block::encode(&node))),
            ErrorCode::AclMalformed
        );
        let mut node = DocumentNode::from(doc.clone());
        node.default = DELETE.into();
        assert_eq!(
            code(AclDocument::from_bytes(&block::encode(&node))),
            ErrorCode::AclMalformed
        );
        let mut node = DocumentNode::from(doc);
        node.id.clear();
        assert_eq!(
            code(AclDocument::from_bytes(&block::encode(&node))),
            ErrorCode::AclMalformed
        );
        assert_eq!(
            code(AclDocument::from_bytes(&[0xa0])),
            ErrorCode::AclMalformed
        );
    }

    #[test]
    fn decisions_use_the_entry_then_the_default() {
        let (a, b, c) = (peer(1), peer(2), peer(3));
        let doc = AclDocument::new("x", Role::Read)
            .expect("an id")
            .with_admin(a)
            .with_peer(b, Roles::NONE.with_delete())
            .with_peer(c, Roles::of(Role::NoAccess));
        assert_eq!(doc.may(&a, Action::Read), Ok(()));
        assert_eq!(code(doc.may(&a, Action::Write)), ErrorCode::AclDenied);
        assert_eq!(doc.may(&a, Action::Admin), Ok(()));
        // An entry without an ordered role takes the default for ordered decisions.
        assert_eq!(doc.may(&b, Action::Read), Ok(()));
        assert_eq!(doc.may(&b, Action::Delete), Ok(()));
        assert_eq!(code(doc.may(&a, Action::Delete)), ErrorCode::AclDenied);
        // An explicit no-access entry overrides the default.
        assert_eq!(code(doc.may(&c, Action::Follow)), ErrorCode::AclDenied);
        assert_eq!(code(doc.may(&b, Action::Admin)), ErrorCode::AclDenied);
        // Every entry, and only the entries: the admin has none of its own.
        let expected = BTreeMap::from([
            (b, Roles::NONE.with_delete()),
            (c, Roles::of(Role::NoAccess)),
        ]);
        assert_eq!(doc.peers(), &expected);
    }
}
