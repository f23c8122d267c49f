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

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use cid::Cid;
use ipld_core::ipld::Ipld;
use serde::{Deserialize, Serialize};

use crate::block;
use crate::error::{Error, ErrorCode, Result};
use crate::id::{LogId, ThreadId, Variant};
use crate::verify::OpenedEvent;

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

// ---------------------------------------------------------------------------------------------
// Roles and actions
// ---------------------------------------------------------------------------------------------

/// A peer's ordered role [ACL-1]: each role implies every role below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Nothing: no keys are sent to the peer and none of its records are accepted.
    NoAccess,
    /// The peer may receive the follow key: it verifies, stores and serves.
    Follow,
    /// Follow, and the peer may receive the read key.
    Read,
    /// Read, and the peer's records are accepted (subject to its cut, [ACL-7]).
    Write,
}

impl Role {
    /// Every ordered role, lowest first [ACL-1].
    pub const ALL: [Role; 4] = [Role::NoAccess, Role::Follow, Role::Read, Role::Write];

    /// The role's name on the wire and in JSON [ACL-3].
    pub fn name(self) -> &'static str {
        match self {
            Role::NoAccess => "no-access",
            Role::Follow => "follow",
            Role::Read => "read",
            Role::Write => "write",
        }
    }

    /// The ordered role with this name; anything else (including `"delete"`) is ACL_MALFORMED [ACL-3].
    pub fn from_name(name: &str) -> Result<Role> {
        Role::ALL
            .into_iter()
            .find(|role| role.name() == name)
            .ok_or_else(|| malformed(format!("{name:?} is not an ordered role")))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Role {
    type Err = Error;

    fn from_str(name: &str) -> Result<Role> {
        Role::from_name(name)
    }
}

/// What a peer asks to do; [`AclDocument::may`] decides [ACL-2].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    /// Receive the follow key (needs follow).
    Follow,
    /// Receive the read key (needs read).
    Read,
    /// Have its records accepted (needs write).
    Write,
    /// Mark events deleted (needs the delete capability).
    Delete,
    /// Change the ACL (needs to be in `admins`, the ACL's own ACL).
    Admin,
}

impl Action {
    /// The action's name, as used in messages and vectors.
    pub fn name(self) -> &'static str {
        match self {
            Action::Follow => "follow",
            Action::Read => "read",
            Action::Write => "write",
            Action::Delete => "delete",
            Action::Admin => "admin",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The action with this name (as [`Action::name`] writes it); any other text is BAD_REQUEST
/// [ACL-2].
impl FromStr for Action {
    type Err = Error;

    fn from_str(name: &str) -> Result<Action> {
        [
            Action::Follow,
            Action::Read,
            Action::Write,
            Action::Delete,
            Action::Admin,
        ]
        .into_iter()
        .find(|action| action.name() == name)
        .ok_or_else(|| Error::new(ErrorCode::BadRequest, format!("unknown action {name:?}")))
    }
}

/// One peer's entry in `peers`: at most one ordered role and, optionally, delete [ACL-3].
///
/// An entry without an ordered role takes the document's `default` for ordered decisions
/// [ACL-2]; `Roles::NONE` is not an entry at all (setting it removes the peer's entry, [ACL-13]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Roles {
    /// The ordered role, if the entry names one.
    pub role: Option<Role>,
    /// Whether the entry carries the delete capability.
    pub delete: bool,
}

impl Roles {
    /// No role and no capability: as an op, removes the peer's entry [ACL-13].
    pub const NONE: Roles = Roles {
        role: None,
        delete: false,
    };

    /// An entry holding one ordered role.
    pub const fn of(role: Role) -> Roles {
        Roles {
            role: Some(role),
            delete: false,
        }
    }

    /// The same entry with the delete capability added.
    pub const fn with_delete(self) -> Roles {
        Roles {
            delete: true,
            ..self
        }
    }

    /// Whether the entry names nothing.
    pub fn is_empty(&self) -> bool {
        *self == Roles::NONE
    }

    /// Whether the entry itself names write; a cut is required exactly when it does not [ACL-5].
    pub fn names_write(&self) -> bool {
        self.role == Some(Role::Write)
    }

    /// The canonical list: names sorted bytewise, so `"delete"` comes first [ACL-3].
    pub fn names(&self) -> Vec<&'static str> {
        let delete = self.delete.then_some(DELETE);
        delete
            .into_iter()
            .chain(self.role.map(Role::name))
            .collect()
    }

    /// Parses a role list, which must be the canonical list of what it names: known names,
    /// sorted, no duplicates, at most one ordered role [ACL-3]. An empty list gives `NONE`.
    pub fn from_names<S: AsRef<str>>(names: &[S]) -> Result<Roles> {
        let mut roles = Roles::NONE;
        for name in names.iter().map(AsRef::as_ref) {
            if name == DELETE {
                roles.delete = true;
            } else if roles.role.replace(Role::from_name(name)?).is_some() {
                return Err(malformed("a role list holds at most one ordered role"));
            }
        }
        // Duplicates and disorder both show up as a difference from the canonical list.
        if !roles
            .names()
            .iter()
            .copied()
            .eq(names.iter().map(AsRef::as_ref))
        {
            return Err(malformed(
                "a role list must be sorted and hold each name once",
            ));
        }
        Ok(roles)
    }
}

// ---------------------------------------------------------------------------------------------
// The ACL document
// ---------------------------------------------------------------------------------------------

/// The ACL document `{"_id", "admins", "default", "peers"}` [ACL-3].
///
/// Always valid: every constructor and decoder checks [ACL-3] and [ACL-10]. Serde goes through the
/// wire map, so `serde_json` gives the JSON form for humans (the same map) and checks it the same
/// way on input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "DocumentNode", into = "DocumentNode")]
pub struct AclDocument {
    id: String,
    admins: BTreeSet<LogId>,
    default: Role,
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

    fn put_peer(&mut self, peer: LogId, roles: Roles) {
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
fn parse_peer(text: &str) -> Result<LogId> {
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
    document: AclDocument,
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

// ---------------------------------------------------------------------------------------------
// ACL events
// ---------------------------------------------------------------------------------------------

/// One change to the ACL [ACL-5]; how it applies is [ACL-13].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AclOp {
    /// `{"cut"?, "peer", "roles", "set": "peer"}`: replace `peer`'s entry (remove it for no roles).
    SetPeer {
        /// The peer whose entry is set.
        peer: LogId,
        /// The new entry.
        roles: Roles,
        /// The peer's counter as the author knew it; present exactly when `roles` lacks write.
        cut: Option<u64>,
    },
    /// `{"role", "set": "default"}`: replace `default`.
    SetDefault {
        /// The new default role.
        role: Role,
    },
    /// `{"admin", "set": "grant-admin"}`: add a peer to `admins`.
    GrantAdmin {
        /// The peer made an admin.
        admin: LogId,
    },
    /// `{"admin", "set": "revoke-admin"}`: remove a peer from `admins`.
    RevokeAdmin {
        /// The peer no longer an admin.
        admin: LogId,
    },
}

impl AclOp {
    /// A set-peer op with its cut filled in from `counter`, the peer's counter as the author knows
    /// it [LOG-2], when `roles` lacks write [ACL-5].
    pub fn set_peer(peer: LogId, roles: Roles, counter: u64) -> AclOp {
        let cut = (!roles.names_write()).then_some(counter);
        AclOp::SetPeer { peer, roles, cut }
    }

    /// The cut rule of [ACL-5]: a set-peer op carries `cut` exactly when its roles lack write.
    fn check(&self) -> Result<()> {
        match self {
            AclOp::SetPeer { roles, cut, .. } if roles.names_write() == cut.is_some() => Err(
                malformed("a set-peer op carries \"cut\" exactly when its roles lack write"),
            ),
            _ => Ok(()),
        }
    }
}

/// An ACL change event's body `{"clock", "op", "type": "acl"}` [ACL-5].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclChange {
    clock: u64,
    op: AclOp,
}

impl AclChange {
    /// A change at `clock` (at least 1; genesis has clock 0), checking the cut rule [ACL-5].
    pub fn new(clock: u64, op: AclOp) -> Result<AclChange> {
        if clock == 0 {
            return Err(malformed(
                "clock 0 belongs to the genesis; changes start at 1",
            ));
        }
        op.check()?;
        Ok(AclChange { clock, op })
    }

    /// The Lamport clock [ACL-5].
    pub fn clock(&self) -> u64 {
        self.clock
    }

    /// The op.
    pub fn op(&self) -> &AclOp {
        &self.op
    }
}

/// The body of an event this chapter defines [ACL-12].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AclEvent {
    /// `{"acl": <document>, "type": "acl-genesis"}` [ACL-4].
    Genesis {
        /// The initial document.
        acl: AclDocument,
    },
    /// `{"clock", "op", "type": "acl"}` [ACL-5].
    Change(AclChange),
    /// `{"target": CID link, "type": "delete"}` [ACL-8].
    Delete {
        /// The record marked deleted.
        target: Cid,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct GenesisNode {
    acl: AclDocument,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeNode {
    clock: u64,
    op: OpNode,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeleteNode {
    target: Cid,
    #[serde(rename = "type")]
    kind: String,
}

/// Wire form of [`AclOp`]: every field any op uses; which ones an op has depends on `set`.
#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct OpNode {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    admin: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cut: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    peer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    roles: Option<Vec<String>>,
    set: String,
}

impl OpNode {
    /// The names of the optional fields present, to compare an input with the op's own encoding.
    fn present(&self) -> Vec<&'static str> {
        let fields = [
            ("admin", self.admin.is_some()),
            ("cut", self.cut.is_some()),
            ("peer", self.peer.is_some()),
            ("role", self.role.is_some()),
            ("roles", self.roles.is_some()),
        ];
        fields
            .into_iter()
            .filter_map(|(name, present)| present.then_some(name))
            .collect()
    }
}

impl From<&AclOp> for OpNode {
    fn from(op: &AclOp) -> OpNode {
        match op {
            AclOp::SetPeer { peer, roles, cut } => OpNode {
                cut: *cut,
                peer: Some(peer.to_string()),
                roles: Some(roles.names().into_iter().map(String::from).collect()),
                set: "peer".into(),
                ..OpNode::default()
            },
            AclOp::SetDefault { role } => OpNode {
                role: Some(role.name().into()),
                set: "default".into(),
                ..OpNode::default()
            },
            AclOp::GrantAdmin { admin } => OpNode {
                admin: Some(admin.to_string()),
                set: "grant-admin".into(),
                ..OpNode::default()
            },
            AclOp::RevokeAdmin { admin } => OpNode {
                admin: Some(admin.to_string()),
                set: "revoke-admin".into(),
                ..OpNode::default()
            },
        }
    }
}

fn required<'a, T>(field: &'a Option<T>, name: &str, set: &str) -> Result<&'a T> {
    field
        .as_ref()
        .ok_or_else(|| malformed(format!("op {set:?} needs \"{name}\"")))
}

impl TryFrom<&OpNode> for AclOp {
    type Error = Error;

    fn try_from(node: &OpNode) -> Result<AclOp> {
        let set = node.set.as_str();
        let op = match set {
            "peer" => AclOp::SetPeer {
                peer: parse_peer(required(&node.peer, "peer", set)?)?,
                roles: Roles::from_names(required(&node.roles, "roles", set)?)?,
                cut: node.cut,
            },
            "default" => AclOp::SetDefault {
                role: Role::from_name(required(&node.role, "role", set)?)?,
            },
            "grant-admin" => AclOp::GrantAdmin {
                admin: parse_peer(required(&node.admin, "admin", set)?)?,
            },
            "revoke-admin" => AclOp::RevokeAdmin {
                admin: parse_peer(required(&node.admin, "admin", set)?)?,
            },
            other => return Err(malformed(format!("unknown op {other:?}"))),
        };
        // A field the op does not use (say "role" in a set-peer op) is not part of its shape.
        if OpNode::from(&op).present() != node.present() {
            return Err(malformed(format!(
                "op {set:?} has fields {:?}",
                node.present()
            )));
        }
        op.check()?;
        Ok(op)
    }
}

impl AclEvent {
    /// The canonical DAG-CBOR body [ACL-4], [ACL-5], [ACL-8].
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            AclEvent::Genesis { acl } => block::encode(&GenesisNode {
                acl: acl.clone(),
                kind: GENESIS_TYPE.into(),
            }),
            AclEvent::Change(change) => block::encode(&ChangeNode {
                clock: change.clock,
                op: OpNode::from(&change.op),
                kind: CHANGE_TYPE.into(),
            }),
            AclEvent::Delete { target } => block::encode(&DeleteNode {
                target: *target,
                kind: DELETE_TYPE.into(),
            }),
        }
    }

    /// Decodes a body that must be one of this chapter's events; anything else is ACL_MALFORMED
    /// [ACL-12].
    pub fn from_bytes(bytes: &[u8]) -> Result<AclEvent> {
        AclEvent::classify(bytes)?.ok_or_else(|| {
            malformed("not a DAG-CBOR map whose \"type\" is acl-genesis, acl or delete")
        })
    }

    /// Sorts a body into "not this chapter's" (`Ok(None)`), an ACL event, or ACL_MALFORMED for a
    /// body that claims a reserved `"type"` but does not have its exact shape [ACL-12].
    pub fn classify(bytes: &[u8]) -> Result<Option<AclEvent>> {
        let event = match body_type(bytes).as_deref() {
            Some(GENESIS_TYPE) => decode_genesis(bytes)?,
            Some(CHANGE_TYPE) => decode_change(bytes)?,
            Some(DELETE_TYPE) => decode_delete(bytes)?,
            _ => return Ok(None),
        };
        Ok(Some(event))
    }
}

/// The `"type"` text of a body that is a DAG-CBOR map, if it has one.
fn body_type(bytes: &[u8]) -> Option<String> {
    match serde_ipld_dagcbor::from_slice::<Ipld>(bytes) {
        Ok(Ipld::Map(mut map)) => match map.remove("type") {
            Some(Ipld::String(kind)) => Some(kind),
            _ => None,
        },
        _ => None,
    }
}

fn decode_genesis(bytes: &[u8]) -> Result<AclEvent> {
    let node: GenesisNode = block::decode_canonical(bytes, ErrorCode::AclMalformed)?;
    Ok(AclEvent::Genesis { acl: node.acl })
}

fn decode_change(bytes: &[u8]) -> Result<AclEvent> {
    let node: ChangeNode = block::decode_canonical(bytes, ErrorCode::AclMalformed)?;
    let op = AclOp::try_from(&node.op)?;
    Ok(AclEvent::Change(AclChange::new(node.clock, op)?))
}

fn decode_delete(bytes: &[u8]) -> Result<AclEvent> {
    let node: DeleteNode = block::decode_canonical(bytes, ErrorCode::AclMalformed)?;
    block::check_link(&node.target)
        .map_err(|e| malformed(format!("delete target: {}", e.detail)))?;
    Ok(AclEvent::Delete {
        target: node.target,
    })
}

/// An ACL event as a record of its author's log: who wrote it, where, and its record CID [ACL-6].
///
/// The author is the log whose key signed the record (VERIFY-1); this module trusts it, so forged
/// authors are the signature layer's job, not the ACL's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclEventRef {
    /// The log (= peer, in access-controlled threads) that wrote the record.
    pub author: LogId,
    /// The record's position in the author's log [REC-9].
    pub seq: u64,
    /// The record's CID: an event's identity, so duplicates count once [ACL-6].
    pub cid: Cid,
    /// The decoded body.
    pub body: AclEvent,
}

impl AclEventRef {
    /// The ACL event a verified, decrypted event carries, if its body is one [ACL-12].
    pub fn from_opened(event: &OpenedEvent) -> Result<Option<AclEventRef>> {
        let Some(body) = AclEvent::classify(&event.body)? else {
            return Ok(None);
        };
        Ok(Some(AclEventRef {
            author: *event.record.log(),
            seq: event.record.seq(),
            cid: *event.record.cid(),
            body,
        }))
    }

    /// The merge order [ACL-6]: (clock, author log ID bytes, seq, record CID bytes). `LogId`
    /// orders by its key bytes, which is the binary form's order since every log ID shares one
    /// prefix. The CID only decides between two records at one position: a fork (LOG-5).
    fn order_key(&self, clock: u64) -> (u64, LogId, u64, Vec<u8>) {
        (clock, self.author, self.seq, self.cid.to_bytes())
    }

    /// Picks one of two events claiming one CID. A genuine CID names one record, so this only runs
    /// on inconsistent input; choosing by content keeps the result independent of arrival order.
    fn content_key(&self) -> (LogId, u64, Vec<u8>) {
        (self.author, self.seq, self.body.to_bytes())
    }
}

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

// ---------------------------------------------------------------------------------------------
// The ACL state: fold over the set of events
// ---------------------------------------------------------------------------------------------

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
    use crate::keys::IdentityKey;

    fn peer(n: u8) -> LogId {
        IdentityKey::from_seed(&[n; 32]).log_id()
    }

    fn thread() -> ThreadId {
        ThreadId::from_parts(Variant::AccessControlled, &[7; 32]).expect("32 random bytes")
    }

    fn code<T: fmt::Debug>(result: Result<T>) -> ErrorCode {
        result.expect_err("an error was expected").code
    }

    fn change(author: LogId, seq: u64, clock: u64, op: AclOp) -> AclEventRef {
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
    fn genesis() -> Genesis {
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

    #[test]
    fn roles_are_ordered_and_named() {
        assert!(Role::NoAccess < Role::Follow && Role::Follow < Role::Read);
        assert!(Role::Read < Role::Write);
        for role in Role::ALL {
            assert_eq!(role.name().parse::<Role>(), Ok(role));
        }
        assert_eq!(code(Role::from_name(DELETE)), ErrorCode::AclMalformed);
    }

    #[test]
    fn role_lists_must_be_canonical() {
        let both = Roles::of(Role::Write).with_delete();
        assert_eq!(both.names(), ["delete", "write"]);
        assert_eq!(Roles::from_names(&["delete", "write"]), Ok(both));
        assert_eq!(Roles::from_names::<&str>(&[]), Ok(Roles::NONE));
        for bad in [
            &["write", "delete"][..],
            &["delete", "delete"],
            &["read", "write"],
            &["admin"],
            &["Write"],
        ] {
            assert_eq!(
                code(Roles::from_names(bad)),
                ErrorCode::AclMalformed,
                "{bad:?}"
            );
        }
    }

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
    }

    #[test]
    fn set_default_body_has_the_spec_bytes() {
        let op = AclOp::SetDefault { role: Role::Read };
        let body = AclEvent::Change(AclChange::new(1, op).expect("valid"));
        let hex = "a3626f70a2637365746764656661756c7464726f6c65647265616464747970656361636c65636c6f636b01";
        assert_eq!(hex::encode(body.to_bytes()), hex);
        assert_eq!(AclEvent::from_bytes(&body.to_bytes()), Ok(body));
    }

    #[test]
    fn cut_is_present_exactly_when_roles_lack_write() {
        let p = peer(3);
        let with = |roles: Roles, cut| {
            AclChange::new(
                1,
                AclOp::SetPeer {
                    peer: p,
                    roles,
                    cut,
                },
            )
        };
        assert!(with(Roles::of(Role::Read), Some(4)).is_ok());
        assert!(with(Roles::of(Role::Write), None).is_ok());
        assert!(with(Roles::NONE, Some(0)).is_ok());
        assert_eq!(
            code(with(Roles::of(Role::Read), None)),
            ErrorCode::AclMalformed
        );
        assert_eq!(
            code(with(Roles::of(Role::Write), Some(4))),
            ErrorCode::AclMalformed
        );
        assert_eq!(
            code(AclChange::new(0, AclOp::SetDefault { role: Role::Read })),
            ErrorCode::AclMalformed
        );
        assert_eq!(
            AclOp::set_peer(p, Roles::of(Role::Read), 9),
            AclOp::SetPeer {
                peer: p,
                roles: Roles::of(Role::Read),
                cut: Some(9)
            }
        );
    }

    #[test]
    fn op_fields_must_match_the_set() {
        let encode = |op: OpNode| {
            block::encode(&ChangeNode {
                clock: 1,
                op,
                kind: CHANGE_TYPE.into(),
            })
        };
        let extra = OpNode {
            role: Some("read".into()),
            admin: Some(peer(1).to_string()),
            set: "default".into(),
            ..OpNode::default()
        };
        let unknown = OpNode {
            set: "owner".into(),
            ..OpNode::default()
        };
        let missing = OpNode {
            set: "grant-admin".into(),
            ..OpNode::default()
        };
        for node in [extra, unknown, missing] {
            assert_eq!(
                code(AclEvent::from_bytes(&encode(node))),
                ErrorCode::AclMalformed
            );
        }
    }

    #[test]
    fn classify_leaves_application_bodies_alone() {
        assert_eq!(AclEvent::classify(b"hello"), Ok(None));
        assert_eq!(AclEvent::classify(&[0xa0]), Ok(None));
        let join = block::encode(&BTreeMap::from([("type", "join")]));
        assert_eq!(AclEvent::classify(&join), Ok(None));
        let claims = block::encode(&BTreeMap::from([("type", "acl")]));
        assert_eq!(code(AclEvent::classify(&claims)), ErrorCode::AclMalformed);
        assert_eq!(code(AclEvent::from_bytes(&join)), ErrorCode::AclMalformed);
    }

    #[test]
    fn delete_bodies_need_a_supported_link() {
        let target = block::cid_of(b"record");
        let body = AclEvent::Delete { target };
        assert_eq!(AclEvent::from_bytes(&body.to_bytes()), Ok(body));
        let raw = AclEvent::Delete {
            target: Cid::new_v1(0x55, *target.hash()),
        };
        assert_eq!(
            code(AclEvent::from_bytes(&raw.to_bytes())),
            ErrorCode::AclMalformed
        );
    }

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
