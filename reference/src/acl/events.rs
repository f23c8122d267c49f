//! ACL events (spec/acl.md, chapter 6, [ACL-5], [ACL-8], [ACL-12]): the genesis, change and delete
//! bodies, their encodings, and the classification of an event body as one of them.

use cid::Cid;
use ipld_core::ipld::Ipld;
use serde::{Deserialize, Serialize};

use super::document::parse_peer;
use super::{AclDocument, CHANGE_TYPE, DELETE_TYPE, GENESIS_TYPE, Role, Roles, malformed};
use crate::block;
use crate::error::{Error, ErrorCode, Result};
use crate::id::LogId;
use crate::verify::OpenedEvent;

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
    pub(super) clock: u64,
    pub(super) op: AclOp,
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
/// The author is the log whose key signed the record [VERIFY-1]; this module trusts it, so forged
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
    /// prefix. The CID only decides between two records at one position: a fork [LOG-5].
    pub(super) fn order_key(&self, clock: u64) -> (u64, LogId, u64, Vec<u8>) {
        (clock, self.author, self.seq, self.cid.to_bytes())
    }

    /// Picks one of two events claiming one CID. A genuine CID names one record, so this only runs
    /// on inconsistent input; choosing by content keeps the result independent of arrival order.
    pub(super) fn content_key(&self) -> (LogId, u64, Vec<u8>) {
        (self.author, self.seq, self.body.to_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acl::test_support::*;
    use std::collections::BTreeMap;

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
}
