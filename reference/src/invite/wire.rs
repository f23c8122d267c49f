//! The invite and join encodings (spec/invites.md, chapter 5, [INV-1], [INV-3], [INV-5], [INV-7]):
//! the wire maps, their canonical DAG-CBOR, the signing input and the checks every decoder runs.

use ed25519_dalek::Signature;
use serde::{Deserialize, Serialize};

use super::{ENC_LEN, malformed};
use crate::addr::LogAddr;
use crate::block;
use crate::error::{Error, ErrorCode, Result};
use crate::id::{LogId, ThreadId, Variant};
use crate::keys::IdentityKey;

/// Domain-separation prefix of the invite's signing input [INV-5].
pub const SIGNATURE_CONTEXT: &[u8] = b"threads/v1/invite-signature\0";
/// Largest invite a peer accepts, as for blocks: 1 MiB [INV-3].
pub const MAX_INVITE_SIZE: usize = block::MAX_BLOCK_SIZE;

/// What an invite asks the recipient to be [INV-1].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum InviteRole {
    /// Gets the follow key only: verifies, stores and serves, cannot read.
    Follower,
    /// Gets the follow and read keys.
    Reader,
    /// Gets the follow and read keys and is asked to start a log [INV-7].
    Writer,
}

impl InviteRole {
    /// Every role, in order of the keys they carry.
    pub const ALL: [InviteRole; 3] = [InviteRole::Follower, InviteRole::Reader, InviteRole::Writer];

    /// The role's text in the invite's `role` field [INV-1], [INV-3].
    pub fn name(self) -> &'static str {
        match self {
            InviteRole::Follower => "follower",
            InviteRole::Reader => "reader",
            InviteRole::Writer => "writer",
        }
    }

    /// The role with this text; any other text is an unknown role [INV-3].
    pub fn from_name(name: &str) -> Option<InviteRole> {
        Self::ALL.into_iter().find(|role| role.name() == name)
    }

    /// Whether the role's key set carries the read key [INV-1].
    pub fn has_read_key(self) -> bool {
        self != InviteRole::Follower
    }
}

/// The role's text [INV-1], as [`InviteRole::name`] writes it.
impl std::fmt::Display for InviteRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The role with this text; any other text is BAD_REQUEST [INV-1], [HP-12].
impl std::str::FromStr for InviteRole {
    type Err = Error;

    fn from_str(name: &str) -> Result<InviteRole> {
        InviteRole::from_name(name).ok_or_else(|| {
            Error::new(
                ErrorCode::BadRequest,
                format!("unknown role {name:?}: follower, reader or writer"),
            )
        })
    }
}

/// One log the inviter knows, with addresses the recipient can fetch it from [INV-3].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// The log.
    pub log: LogId,
    /// Log addresses [ADDR-1] of peers serving it, in the inviter's order of preference.
    pub addrs: Vec<String>,
}

/// A decoded invite: well formed [INV-3], but neither its signature nor its keys checked yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invite {
    /// The thread.
    pub thread: ThreadId,
    /// The role offered.
    pub role: InviteRole,
    /// The inviter's peer ID; its key signs the invite [INV-5].
    pub inviter: LogId,
    /// The recipient's peer ID; its key opens the sealed key set [INV-2].
    pub recipient: LogId,
    /// Logs of the thread, sorted by log ID, each at most once.
    pub logs: Vec<LogEntry>,
    /// The ACL document in an access-controlled thread, `None` in a raw thread.
    pub acl: Option<Vec<u8>>,
    /// HPKE encapsulated key [INV-2].
    pub enc: [u8; ENC_LEN],
    /// HPKE ciphertext of the key set: `ct ‖ tag` [INV-2].
    pub sealed_keys: Vec<u8>,
    /// The inviter's Ed25519 signature [INV-5].
    pub sig: [u8; 64],
}

/// Wire form of one `logs` entry: `{"addrs": [text], "log": bytes}` [INV-3].
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogNode {
    addrs: Vec<String>,
    #[serde(with = "serde_bytes")]
    log: Vec<u8>,
}

/// Wire form of the invite; the encoder sorts the keys canonically [INV-3].
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct InviteNode {
    #[serde(with = "serde_bytes")]
    acl: Option<Vec<u8>>,
    #[serde(with = "serde_bytes")]
    enc: Vec<u8>,
    #[serde(with = "serde_bytes")]
    inviter: Vec<u8>,
    #[serde(with = "serde_bytes")]
    keys: Vec<u8>,
    logs: Vec<LogNode>,
    #[serde(with = "serde_bytes")]
    recipient: Vec<u8>,
    role: String,
    #[serde(with = "serde_bytes")]
    sig: Vec<u8>,
    #[serde(with = "serde_bytes")]
    thread: Vec<u8>,
}

/// The invite map without `sig`: what the inviter signs [INV-5].
#[derive(Serialize)]
struct UnsignedNode<'a> {
    #[serde(with = "serde_bytes")]
    acl: Option<&'a [u8]>,
    #[serde(with = "serde_bytes")]
    enc: &'a [u8],
    #[serde(with = "serde_bytes")]
    inviter: &'a [u8],
    #[serde(with = "serde_bytes")]
    keys: &'a [u8],
    logs: &'a [LogNode],
    #[serde(with = "serde_bytes")]
    recipient: &'a [u8],
    role: &'a str,
    #[serde(with = "serde_bytes")]
    thread: &'a [u8],
}

/// The invite's header: the HPKE associated data [INV-2].
#[derive(Serialize)]
struct HeaderNode<'a> {
    #[serde(with = "serde_bytes")]
    inviter: &'a [u8],
    #[serde(with = "serde_bytes")]
    recipient: &'a [u8],
    role: &'a str,
    #[serde(with = "serde_bytes")]
    thread: &'a [u8],
}

/// The HPKE associated data: DAG-CBOR `{"inviter", "recipient", "role", "thread"}` [INV-2].
pub fn header_bytes(
    thread: &ThreadId,
    role: InviteRole,
    inviter: &LogId,
    recipient: &LogId,
) -> Vec<u8> {
    block::encode(&HeaderNode {
        inviter: &inviter.to_bytes(),
        recipient: &recipient.to_bytes(),
        role: role.name(),
        thread: thread.as_bytes(),
    })
}

impl Invite {
    /// (Re-)signs the invite with `key` [INV-5].
    ///
    /// [`Invite::create`] signs with the inviter's key; vectors call this to build invites whose
    /// signature is valid over wrong content, or made by a key other than `inviter`'s.
    pub fn sign_with(&mut self, key: &IdentityKey) {
        self.sig = key.sign(&self.signing_input());
    }

    /// The HPKE associated data of this invite [INV-2].
    pub fn header(&self) -> Vec<u8> {
        header_bytes(&self.thread, self.role, &self.inviter, &self.recipient)
    }

    /// `"threads/v1/invite-signature" ‖ 0x00 ‖ DAG-CBOR of the invite map without "sig"` [INV-5].
    pub fn signing_input(&self) -> Vec<u8> {
        let logs: Vec<LogNode> = self.logs.iter().map(log_node).collect();
        let node = UnsignedNode {
            acl: self.acl.as_deref(),
            enc: &self.enc,
            inviter: &self.inviter.to_bytes(),
            keys: &self.sealed_keys,
            logs: &logs,
            recipient: &self.recipient.to_bytes(),
            role: self.role.name(),
            thread: self.thread.as_bytes(),
        };
        let mut input = SIGNATURE_CONTEXT.to_vec();
        input.extend_from_slice(&block::encode(&node));
        input
    }

    /// Checks the signature strictly with the inviter's key: INVITE_SIGNATURE_INVALID [INV-5].
    pub fn verify_signature(&self) -> Result<()> {
        let sig = Signature::from_bytes(&self.sig);
        self.inviter
            .verifying_key()
            .verify_strict(&self.signing_input(), &sig)
            .map_err(|_| {
                Error::new(
                    ErrorCode::InviteSignatureInvalid,
                    "invite signature does not verify under the inviter's key",
                )
            })
    }

    /// The canonical DAG-CBOR encoding [INV-3].
    pub fn to_bytes(&self) -> Vec<u8> {
        block::encode(&InviteNode {
            acl: self.acl.clone(),
            enc: self.enc.to_vec(),
            inviter: self.inviter.to_bytes(),
            keys: self.sealed_keys.clone(),
            logs: self.logs.iter().map(log_node).collect(),
            recipient: self.recipient.to_bytes(),
            role: self.role.name().to_string(),
            sig: self.sig.to_vec(),
            thread: self.thread.as_bytes().to_vec(),
        })
    }

    /// Decodes an invite, step 1 of [INV-6]: anything but the exact shape of [INV-3] is
    /// INVITE_MALFORMED, including invalid IDs inside it.
    pub fn from_bytes(bytes: &[u8]) -> Result<Invite> {
        check_size(bytes)?;
        let node: InviteNode = block::decode_canonical(bytes, ErrorCode::InviteMalformed)?;
        let invite = Invite {
            thread: ThreadId::from_bytes(&node.thread)
                .map_err(|e| malformed(format!("thread: {}", e.detail)))?,
            role: InviteRole::from_name(&node.role)
                .ok_or_else(|| malformed(format!("unknown role {:?}", node.role)))?,
            inviter: peer_id("inviter", &node.inviter)?,
            recipient: peer_id("recipient", &node.recipient)?,
            logs: node.logs.iter().map(log_entry).collect::<Result<_>>()?,
            acl: node.acl,
            enc: fixed("enc", &node.enc)?,
            sealed_keys: node.keys,
            sig: fixed("sig", &node.sig)?,
        };
        check_logs(&invite.logs)?;
        check_acl(&invite.thread, invite.acl.as_deref())?;
        Ok(invite)
    }
}

pub(super) fn check_size(bytes: &[u8]) -> Result<()> {
    if bytes.len() > MAX_INVITE_SIZE {
        return Err(malformed(format!(
            "invite has {} bytes, at most {MAX_INVITE_SIZE} allowed",
            bytes.len()
        )));
    }
    Ok(())
}

/// An access-controlled thread's invite carries the ACL, a raw thread's carries null [INV-3].
pub(super) fn check_acl(thread: &ThreadId, acl: Option<&[u8]>) -> Result<()> {
    match (thread.variant(), acl) {
        (Variant::AccessControlled, None) => Err(malformed(
            "an access-controlled thread's invite must carry the ACL",
        )),
        (Variant::Raw, Some(_)) => Err(malformed("a raw thread's invite must have acl null")),
        _ => Ok(()),
    }
}

/// Logs sorted by log ID, each once; every address valid and naming its entry's log [INV-3].
pub(super) fn check_logs(logs: &[LogEntry]) -> Result<()> {
    if logs.windows(2).any(|pair| pair[0].log >= pair[1].log) {
        return Err(malformed(
            "logs are not in ascending log-ID order, or a log is listed twice",
        ));
    }
    for entry in logs {
        for text in &entry.addrs {
            check_addr(text, &entry.log)?;
        }
    }
    Ok(())
}

/// An address must be valid [ADDR-2] and serve the log it is listed under.
fn check_addr(text: &str, log: &LogId) -> Result<()> {
    let addr: LogAddr = text
        .parse()
        .map_err(|e: Error| malformed(format!("address {text:?}: {}", e.detail)))?;
    if addr.log() != *log {
        return Err(malformed(format!(
            "address {text:?} serves log {}, listed under {log}",
            addr.log()
        )));
    }
    Ok(())
}

fn log_node(entry: &LogEntry) -> LogNode {
    LogNode {
        addrs: entry.addrs.clone(),
        log: entry.log.to_bytes(),
    }
}

fn log_entry(node: &LogNode) -> Result<LogEntry> {
    Ok(LogEntry {
        log: peer_id("log", &node.log)?,
        addrs: node.addrs.clone(),
    })
}

/// A peer or log ID inside an invite; an invalid one makes the invite malformed [INV-3].
fn peer_id(field: &str, bytes: &[u8]) -> Result<LogId> {
    LogId::from_bytes(bytes).map_err(|e| malformed(format!("{field}: {}", e.detail)))
}

fn fixed<const N: usize>(field: &str, bytes: &[u8]) -> Result<[u8; N]> {
    bytes
        .try_into()
        .map_err(|_| malformed(format!("{field} has {} bytes, expected {N}", bytes.len())))
}

/// The `type` of a join event's body [INV-7].
pub const JOIN_TYPE: &str = "join";

/// The body of a join event, the first event of an invited writer's log [INV-7].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Join {
    /// Log addresses [ADDR-1] where the new log can be fetched, each naming the new log.
    pub addrs: Vec<String>,
}

/// Wire form of a join body: `{"addrs": [text], "type": "join"}` [INV-7].
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct JoinNode {
    addrs: Vec<String>,
    #[serde(rename = "type")]
    kind: String,
}

impl Join {
    /// The canonical DAG-CBOR body plaintext [INV-7].
    pub fn to_bytes(&self) -> Vec<u8> {
        block::encode(&JoinNode {
            addrs: self.addrs.clone(),
            kind: JOIN_TYPE.to_string(),
        })
    }

    /// Decodes a join body found in `log`: BLOCK_MALFORMED unless it is the canonical map of
    /// [INV-7] whose addresses are valid and name `log`.
    pub fn from_bytes(bytes: &[u8], log: &LogId) -> Result<Join> {
        let bad = |why: String| Error::new(ErrorCode::BlockMalformed, format!("join body: {why}"));
        let node: JoinNode = block::decode_canonical(bytes, ErrorCode::BlockMalformed)?;
        if node.kind != JOIN_TYPE {
            return Err(bad(format!("type {:?}, expected \"join\"", node.kind)));
        }
        for text in &node.addrs {
            check_addr(text, log).map_err(|e| bad(e.detail))?;
        }
        Ok(Join { addrs: node.addrs })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    #[test]
    fn role_names_round_trip() {
        for role in InviteRole::ALL {
            assert_eq!(InviteRole::from_name(role.name()), Some(role));
        }
        assert_eq!(InviteRole::from_name("admin"), None);
        assert_eq!(InviteRole::from_name("Reader"), None);
    }

    #[test]
    fn join_body_round_trips_and_checks_its_addresses() {
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        let log = IdentityKey::generate(&mut rng).log_id();
        let other = IdentityKey::generate(&mut rng).log_id();
        let peer = IdentityKey::generate(&mut rng).log_id();
        let addr = format!("/ip4/10.0.0.1/tcp/4006/p2p/{peer}/ipel/{log}");
        let join = Join { addrs: vec![addr] };
        let bytes = join.to_bytes();
        assert_eq!(Join::from_bytes(&bytes, &log), Ok(join));
        assert_eq!(
            Join::from_bytes(&bytes, &other).map_err(|e| e.code),
            Err(ErrorCode::BlockMalformed)
        );
        let empty = Join { addrs: vec![] };
        // {"addrs": [], "type": "join"}: "type" (4 letters) sorts before "addrs" (5).
        assert_eq!(
            hex::encode(empty.to_bytes()),
            "a26474797065646a6f696e656164647273 80".replace(' ', "")
        );
    }
}
