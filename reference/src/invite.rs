//! Invites and joins (spec/invites.md, chapter 5): how one peer hands a thread's keys to another,
//! and how an invited writer joins.
//!
//! ```text
//!  key set (KEY-5) ──HPKE base mode, to the recipient's X25519 key──▶ "enc", "keys"
//!                     info = "threads/v1/invite", aad = header {inviter, recipient, role, thread}
//!
//!  invite = {acl, enc, inviter, keys, logs, recipient, role, sig, thread}
//!                                                           └── Ed25519 by the inviter over
//!                                                               everything else [INV-5]
//! ```
//!
//! HPKE's base mode does not say who sealed; the inviter's signature does. A recipient checks, in
//! this order: the encoding, that it is the recipient, the signature, the sealed keys, the key set,
//! and that the key set fits the role [INV-6]. The first failing check names the error.

use std::convert::Infallible;

use ed25519_dalek::{Signature, SigningKey};
use hpke::{Deserializable, OpModeR, OpModeS, Serializable};
use rand_core::{CryptoRng, TryCryptoRng, TryRng};
use serde::{Deserialize, Serialize};

use crate::acl::{AclAnchor, Action};
use crate::addr::LogAddr;
use crate::block;
use crate::error::{Error, ErrorCode, Result};
use crate::id::{LogId, ThreadId, Variant};
use crate::keys::{IdentityKey, KeySet};

/// The HPKE KEM: DHKEM(X25519, HKDF-SHA256), id 0x0020 [INV-2].
type Kem = hpke::kem::X25519HkdfSha256;
/// The HPKE KDF: HKDF-SHA256, id 0x0001 [INV-2].
type Kdf = hpke::kdf::HkdfSha256;
/// The HPKE AEAD: ChaCha20-Poly1305, id 0x0003 [INV-2].
type Aead = hpke::aead::ChaCha20Poly1305;

/// The HPKE `info` of every invite: ASCII `threads/v1/invite` [INV-2].
pub const HPKE_INFO: &[u8] = b"threads/v1/invite";
/// Domain-separation prefix of the invite's signing input [INV-5].
pub const SIGNATURE_CONTEXT: &[u8] = b"threads/v1/invite-signature\0";
/// Length of `enc`, the HPKE encapsulated key (an X25519 public key) [INV-2].
pub const ENC_LEN: usize = 32;
/// Length of the HPKE `ikmE`, the randomness the ephemeral key is derived from [INV-2].
pub const IKM_LEN: usize = 32;
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
    /// Log addresses (ADDR-1) of peers serving it, in the inviter's order of preference.
    pub addrs: Vec<String>,
}

/// What the inviter offers, before sealing and signing [INV-3], [INV-4].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteTerms {
    /// The thread.
    pub thread: ThreadId,
    /// The role the recipient is invited to.
    pub role: InviteRole,
    /// The recipient's peer ID [LOGID-4].
    pub recipient: LogId,
    /// The thread's logs the inviter knows; [`Invite::create`] sorts them by log ID.
    pub logs: Vec<LogEntry>,
    /// The current ACL document (chapter 6) in an access-controlled thread; `None` in a raw one.
    pub acl: Option<Vec<u8>>,
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

/// What a recipient gets from an invite that passed every check of [INV-6].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedInvite {
    /// The thread.
    pub thread: ThreadId,
    /// The role offered; the key set agrees with it.
    pub role: InviteRole,
    /// Who signed the invite.
    pub inviter: LogId,
    /// The thread's keys: follow key, and read key unless `role` is follower.
    pub keys: KeySet,
    /// The logs and addresses to fetch them from.
    pub logs: Vec<LogEntry>,
    /// The ACL document bytes in an access-controlled thread (checked by chapter 6, [INV-9]).
    pub acl: Option<Vec<u8>>,
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

fn malformed(detail: impl Into<String>) -> Error {
    Error::new(ErrorCode::InviteMalformed, detail)
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
    /// Seals `keys` to `terms.recipient` and signs the invite as `inviter` [INV-2], [INV-4], [INV-5].
    ///
    /// A follower invite carries the follow key only, whatever `keys` holds: the read key is
    /// never sent to a follower [KEY-6]. A reader or writer invite needs the read key
    /// (KEY_UNAVAILABLE without it [KEY-7]). Terms the decoder would refuse (an ACL in a raw thread,
    /// none in an access-controlled one, a bad address, a log listed twice, an invite over 1 MiB)
    /// are refused with INVITE_MALFORMED [INV-3]. Draws exactly [`IKM_LEN`] bytes from `rng`.
    ///
    /// In an access-controlled thread the caller first checks that the ACL grants the recipient
    /// the role (ACL_DENIED otherwise, [INV-9]); that decision belongs to chapter 6's module.
    pub fn create(
        inviter: &IdentityKey,
        terms: InviteTerms,
        keys: &KeySet,
        rng: &mut impl CryptoRng,
    ) -> Result<Invite> {
        let keys = key_set_for(terms.role, keys)?;
        let mut logs = terms.logs;
        logs.sort_by_key(|entry| entry.log);
        check_logs(&logs)?;
        check_acl(&terms.thread, terms.acl.as_deref())?;
        let inviter_id = inviter.log_id();
        let aad = header_bytes(&terms.thread, terms.role, &inviter_id, &terms.recipient);
        let (enc, sealed_keys) = seal_key_set(&keys, &terms.recipient, &aad, rng)?;
        let mut invite = Invite {
            thread: terms.thread,
            role: terms.role,
            inviter: inviter_id,
            recipient: terms.recipient,
            logs,
            acl: terms.acl,
            enc,
            sealed_keys,
            sig: [0; 64],
        };
        invite.sign_with(inviter);
        check_size(&invite.to_bytes())?;
        check_acl_grants(
            &invite.thread,
            invite.acl.as_deref(),
            &invite.recipient,
            invite.role,
        )?;
        Ok(invite)
    }

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

    /// Runs every check of [INV-6] in order and returns the thread's keys.
    ///
    /// The ACL checks of an access-controlled thread ([INV-9]: ACL_MALFORMED, ACL_DENIED) come
    /// after these and belong to chapter 6; the ACL bytes are returned for them.
    pub fn open(bytes: &[u8], recipient: &IdentityKey) -> Result<OpenedInvite> {
        // Step 1: the exact encoding.
        let invite = Invite::from_bytes(bytes)?;
        // Step 2: addressed to us; checked before any cryptography, so a peer never spends work
        // (or leaks timing) on invites meant for someone else.
        let me = recipient.log_id();
        if invite.recipient != me {
            return Err(Error::new(
                ErrorCode::InviteWrongRecipient,
                format!("invite is for {}, not {me}", invite.recipient),
            ));
        }
        // Step 3: the inviter signed exactly this.
        invite.verify_signature()?;
        // Steps 4-5: the sealed key set opens with our key and decodes.
        let keys = open_key_set(
            recipient,
            &invite.enc,
            &invite.header(),
            &invite.sealed_keys,
        )?;
        // Step 6: the keys are the ones the role promises.
        check_role_keys(invite.role, &keys)?;
        // Step 7: in an access-controlled thread, the ACL grants us the invited role.
        check_acl_grants(&invite.thread, invite.acl.as_deref(), &me, invite.role)?;
        Ok(OpenedInvite {
            thread: invite.thread,
            role: invite.role,
            inviter: invite.inviter,
            keys,
            logs: invite.logs,
            acl: invite.acl,
        })
    }
}

/// The key set an invite for `role` carries [INV-1], [INV-4].
fn key_set_for(role: InviteRole, keys: &KeySet) -> Result<KeySet> {
    if role.has_read_key() {
        keys.read_key()?;
        Ok(keys.clone())
    } else {
        Ok(keys.for_follower())
    }
}

/// Step 6 of [INV-6]: a follower gets no read key, a reader or writer gets one.
fn check_role_keys(role: InviteRole, keys: &KeySet) -> Result<()> {
    if role.has_read_key() == keys.read.is_some() {
        return Ok(());
    }
    let why = if role.has_read_key() {
        "lacks the read key"
    } else {
        "carries a read key"
    };
    Err(malformed(format!(
        "a {} invite whose key set {why}",
        role.name()
    )))
}

fn check_size(bytes: &[u8]) -> Result<()> {
    if bytes.len() > MAX_INVITE_SIZE {
        return Err(malformed(format!(
            "invite has {} bytes, at most {MAX_INVITE_SIZE} allowed",
            bytes.len()
        )));
    }
    Ok(())
}

/// An access-controlled thread's invite carries the ACL, a raw thread's carries null [INV-3].
fn check_acl(thread: &ThreadId, acl: Option<&[u8]>) -> Result<()> {
    match (thread.variant(), acl) {
        (Variant::AccessControlled, None) => Err(malformed(
            "an access-controlled thread's invite must carry the ACL",
        )),
        (Variant::Raw, Some(_)) => Err(malformed("a raw thread's invite must have acl null")),
        _ => Ok(()),
    }
}

/// The ACL an access-controlled thread's invite carries must grant the recipient the invited
/// role: an inviter refuses to issue, and a recipient refuses to accept, anything else [INV-9].
fn check_acl_grants(
    thread: &ThreadId,
    acl: Option<&[u8]>,
    recipient: &LogId,
    role: InviteRole,
) -> Result<()> {
    let Some(bytes) = acl else { return Ok(()) };
    let anchor = AclAnchor::from_bytes(bytes)?;
    anchor.document.check_thread(thread)?;
    let action = match role {
        InviteRole::Follower => Action::Follow,
        InviteRole::Reader => Action::Read,
        InviteRole::Writer => Action::Write,
    };
    anchor.document.may(recipient, action)
}

/// Logs sorted by log ID, each once; every address valid and naming its entry's log [INV-3].
fn check_logs(logs: &[LogEntry]) -> Result<()> {
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

/// An address must be valid (ADDR-2) and serve the log it is listed under.
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

/// The recipient's X25519 public key: its Ed25519 key in Montgomery form (RFC 7748) [INV-2].
pub fn x25519_public_key(peer: &LogId) -> [u8; 32] {
    peer.verifying_key().to_montgomery().to_bytes()
}

/// The recipient's X25519 private key: the clamped first half of SHA-512(seed) [INV-2].
///
/// This is the scalar Ed25519 itself derives from the seed, so the Montgomery form of the
/// Ed25519 public key is its X25519 public key.
pub fn x25519_secret_key(identity: &IdentityKey) -> [u8; 32] {
    let mut scalar = SigningKey::from_bytes(&identity.seed()).to_scalar_bytes();
    // RFC 7748 §5 clamping; HPKE's DeserializePrivateKey clamps too, so this only makes the
    // exported bytes the ones the spec prints.
    scalar[0] &= 0xf8;
    scalar[31] &= 0x7f;
    scalar[31] |= 0x40;
    scalar
}

/// Seals a key set to `recipient` with fresh randomness from `rng` [INV-2].
///
/// Returns `(enc, ct ‖ tag)`. Draws exactly [`IKM_LEN`] bytes, the ephemeral key's `ikmE`.
pub fn seal_key_set(
    keys: &KeySet,
    recipient: &LogId,
    aad: &[u8],
    rng: &mut impl CryptoRng,
) -> Result<([u8; ENC_LEN], Vec<u8>)> {
    let mut ikm = [0u8; IKM_LEN];
    rng.fill_bytes(&mut ikm);
    seal_key_set_with_ikm(keys, recipient, aad, &ikm)
}

/// Seals a key set with the ephemeral key `DeriveKeyPair(ikm_e)` (RFC 9180 §7.1.3) [INV-2].
///
/// For vectors and the worked example, which fix `ikmE`; everyone else uses [`seal_key_set`].
pub fn seal_key_set_with_ikm(
    keys: &KeySet,
    recipient: &LogId,
    aad: &[u8],
    ikm_e: &[u8; IKM_LEN],
) -> Result<([u8; ENC_LEN], Vec<u8>)> {
    hpke_seal(
        &x25519_public_key(recipient),
        HPKE_INFO,
        aad,
        &keys.to_bytes(),
        ikm_e,
    )
}

/// Opens a sealed key set: INVITE_DECRYPT_FAILED, then KEYSET_MALFORMED or KEY_BAD_LENGTH
/// [INV-2], [KEY-5] (steps 4 and 5 of [INV-6]).
pub fn open_key_set(
    recipient: &IdentityKey,
    enc: &[u8; ENC_LEN],
    aad: &[u8],
    sealed: &[u8],
) -> Result<KeySet> {
    let plaintext = hpke_open(&x25519_secret_key(recipient), enc, HPKE_INFO, aad, sealed)?;
    KeySet::from_bytes(&plaintext)
}

/// RFC 9180 single-shot `Open` in base mode with this chapter's suite [INV-2].
///
/// `sk_r` is the recipient's serialized X25519 private key (clamped on use, as RFC 9180 §7.1.2
/// says), `ct` is ciphertext and tag. Any failure, including an `enc` that makes the shared
/// secret all-zero, is INVITE_DECRYPT_FAILED. Exposed so RFC 9180's own test vectors can be run
/// against the same code path invites use.
pub fn hpke_open(
    sk_r: &[u8; 32],
    enc: &[u8; ENC_LEN],
    info: &[u8],
    aad: &[u8],
    ct: &[u8],
) -> Result<Vec<u8>> {
    let failed =
        |e: hpke::HpkeError| Error::new(ErrorCode::InviteDecryptFailed, format!("HPKE: {e}"));
    let sk = <Kem as hpke::Kem>::PrivateKey::from_bytes(sk_r).map_err(failed)?;
    let enc = <Kem as hpke::Kem>::EncappedKey::from_bytes(enc).map_err(failed)?;
    hpke::single_shot_open::<Aead, Kdf, Kem>(&OpModeR::Base, &sk, &enc, info, ct, aad)
        .map_err(failed)
}

/// RFC 9180 single-shot `Seal` in base mode with this chapter's suite, the ephemeral key being
/// `DeriveKeyPair(ikm_e)` (RFC 9180 §7.1.3) [INV-2].
///
/// Returns `(enc, ct ‖ tag)`. Exposed so vectors can seal what no [`KeySet`] can hold (a
/// malformed key set, for KEYSET_MALFORMED and KEY_BAD_LENGTH inside an invite). Fails only for a
/// public key of small order, whose shared secret would be all zero (RFC 9180 §7.1.4): no valid
/// peer ID maps to one (LOGID-3), so it is reported as LOG_ID_INVALID.
pub fn hpke_seal(
    pk_r: &[u8; 32],
    info: &[u8],
    aad: &[u8],
    pt: &[u8],
    ikm_e: &[u8; IKM_LEN],
) -> Result<([u8; ENC_LEN], Vec<u8>)> {
    let small_order = |e: hpke::HpkeError| {
        Error::new(
            ErrorCode::LogIdInvalid,
            format!("HPKE seal: the recipient's X25519 key has small order ({e})"),
        )
    };
    let pk = <Kem as hpke::Kem>::PublicKey::from_bytes(pk_r).map_err(small_order)?;
    let mut rng = IkmRng::new(*ikm_e);
    let (enc, ct) = hpke::single_shot_seal_with_rng::<Aead, Kdf, Kem>(
        &OpModeS::Base,
        &pk,
        info,
        pt,
        aad,
        &mut rng,
    )
    .map_err(small_order)?;
    // Reproducibility rests on the library drawing ikmE and nothing else; a future version that
    // draws differently must fail loudly here rather than seal with zeros.
    if !rng.used_exactly_once() {
        return Err(Error::new(
            ErrorCode::Internal,
            "the HPKE library drew other randomness than ikmE",
        ));
    }
    let enc: [u8; ENC_LEN] = enc.to_bytes().into();
    Ok((enc, ct))
}

/// Hands the HPKE library the 32 bytes of `ikmE` and nothing else.
///
/// The library derives its ephemeral key as `DeriveKeyPair(32 random bytes)`; feeding it a fixed
/// `ikmE` makes sealing reproducible, which the vectors and RFC 9180's test vectors need. Any
/// other draw is recorded and turned into an error by [`hpke_seal`].
struct IkmRng {
    ikm: [u8; IKM_LEN],
    draws: usize,
    misused: bool,
}

impl IkmRng {
    fn new(ikm: [u8; IKM_LEN]) -> IkmRng {
        IkmRng {
            ikm,
            draws: 0,
            misused: false,
        }
    }

    fn used_exactly_once(&self) -> bool {
        self.draws == 1 && !self.misused
    }
}

impl TryRng for IkmRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        self.misused = true;
        Ok(0)
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        self.misused = true;
        Ok(0)
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        if self.draws == 0 && dst.len() == IKM_LEN {
            dst.copy_from_slice(&self.ikm);
        } else {
            dst.fill(0);
            self.misused = true;
        }
        self.draws += 1;
        Ok(())
    }
}

impl TryCryptoRng for IkmRng {}

/// The `type` of a join event's body [INV-7].
pub const JOIN_TYPE: &str = "join";

/// The body of a join event, the first event of an invited writer's log [INV-7].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Join {
    /// Log addresses (ADDR-1) where the new log can be fetched, each naming the new log.
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

    fn unhex(text: &str) -> Vec<u8> {
        hex::decode(text).expect("test hex is valid")
    }

    fn array<const N: usize>(text: &str) -> [u8; N] {
        unhex(text)
            .try_into()
            .expect("test hex has the right length")
    }

    // RFC 9180 Appendix A.2.1: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20Poly1305,
    // mode_base; the key pairs and the encryption of sequence number 0.
    const A21_INFO: &str = "4f6465206f6e2061204772656369616e2055726e";
    const A21_IKM_E: &str = "909a9b35d3dc4713a5e72a4da274b55d3d3821a37e5d099e74a647db583a904b";
    const A21_PK_RM: &str = "4310ee97d88cc1f088a5576c77ab0cf5c3ac797f3d95139c6c84b5429c59662a";
    const A21_SK_RM: &str = "8057991eef8f1f1af18f4a9491d16a1ce333f695d4db8e38da75975c4478e0fb";
    const A21_ENC: &str = "1afa08d3dec047a643885163f1180476fa7ddb54c6a8029ea33f95796bf2ac4a";
    const A21_PT: &str = "4265617574792069732074727574682c20747275746820626561757479";
    const A21_AAD: &str = "436f756e742d30";
    const A21_CT: &str = "1c5250d8034ec2b784ba2cfd69dbdb8af406cfe3ff938e131f0def8c8b60b4db21993c62ce81883d2dd1b51a28";

    #[test]
    fn opens_rfc9180_a_2_1_sequence_0() {
        let pt = hpke_open(
            &array(A21_SK_RM),
            &array(A21_ENC),
            &unhex(A21_INFO),
            &unhex(A21_AAD),
            &unhex(A21_CT),
        );
        assert_eq!(pt, Ok(unhex(A21_PT)));
    }

    #[test]
    fn seals_rfc9180_a_2_1_sequence_0_from_ikm_e() {
        // The same ikmE must give the published enc and ciphertext: this pins down that the
        // ephemeral key is DeriveKeyPair(ikmE), as INV-2 says.
        let (enc, ct) = hpke_seal(
            &array(A21_PK_RM),
            &unhex(A21_INFO),
            &unhex(A21_AAD),
            &unhex(A21_PT),
            &array(A21_IKM_E),
        )
        .expect("A.2.1 seals");
        assert_eq!(hex::encode(enc), A21_ENC);
        assert_eq!(hex::encode(ct), A21_CT);
    }

    #[test]
    fn rfc9180_a_2_1_rejects_any_change() {
        let (sk, enc) = (array(A21_SK_RM), array(A21_ENC));
        let (info, aad, ct) = (unhex(A21_INFO), unhex(A21_AAD), unhex(A21_CT));
        let code = |r: Result<Vec<u8>>| r.map_err(|e| e.code);
        let failed = Err(ErrorCode::InviteDecryptFailed);
        assert_eq!(code(hpke_open(&sk, &enc, b"other info", &aad, &ct)), failed);
        assert_eq!(code(hpke_open(&sk, &enc, &info, b"Count-1", &ct)), failed);
        assert_eq!(code(hpke_open(&sk, &enc, &info, &aad, &ct[1..])), failed);
        assert_eq!(code(hpke_open(&sk, &enc, &info, &aad, &ct[..15])), failed);
        assert_eq!(code(hpke_open(&sk, &[9; 32], &info, &aad, &ct)), failed);
        // The all-zero u-coordinate has small order: the shared secret would be all zero.
        assert_eq!(code(hpke_open(&sk, &[0; 32], &info, &aad, &ct)), failed);
        // Long info strings are hashed by this suite and must neither panic nor open.
        assert_eq!(code(hpke_open(&sk, &enc, &[7; 70_000], &aad, &ct)), failed);
    }

    #[test]
    fn sealing_to_a_small_order_key_is_refused() {
        let sealed = hpke_seal(&[0; 32], HPKE_INFO, b"", b"pt", &[1; IKM_LEN]);
        assert_eq!(sealed.map_err(|e| e.code), Err(ErrorCode::LogIdInvalid));
    }

    #[test]
    fn suite_is_the_one_inv_2_names() {
        assert_eq!(<Kem as hpke::Kem>::KEM_ID, 0x0020);
        assert_eq!(<Kdf as hpke::kdf::Kdf>::KDF_ID, 0x0001);
        assert_eq!(<Aead as hpke::aead::Aead>::AEAD_ID, 0x0003);
    }

    #[test]
    fn x25519_keys_of_an_identity_form_a_pair() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        for _ in 0..8 {
            let identity = IdentityKey::generate(&mut rng);
            let sk = <Kem as hpke::Kem>::PrivateKey::from_bytes(&x25519_secret_key(&identity))
                .expect("32 bytes");
            let pk: [u8; 32] = <Kem as hpke::Kem>::sk_to_pk(&sk).to_bytes().into();
            assert_eq!(pk, x25519_public_key(&identity.log_id()));
        }
    }

    #[test]
    fn ikm_rng_reports_any_other_draw() {
        let mut rng = IkmRng::new([1; IKM_LEN]);
        let mut buf = [0u8; IKM_LEN];
        rng.try_fill_bytes(&mut buf).ok();
        assert_eq!(buf, [1; IKM_LEN]);
        assert!(rng.used_exactly_once());
        rng.try_fill_bytes(&mut buf).ok();
        assert_eq!(buf, [0; IKM_LEN]);
        assert!(!rng.used_exactly_once());
        let mut short = IkmRng::new([1; IKM_LEN]);
        short.try_next_u64().ok();
        assert!(!short.used_exactly_once());
    }

    #[test]
    fn role_names_round_trip() {
        for role in InviteRole::ALL {
            assert_eq!(InviteRole::from_name(role.name()), Some(role));
        }
        assert_eq!(InviteRole::from_name("admin"), None);
        assert_eq!(InviteRole::from_name("Reader"), None);
    }

    #[test]
    fn invite_round_trips_and_opens() {
        let mut rng = ChaCha20Rng::seed_from_u64(11);
        let thread = ThreadId::generate(Variant::Raw, &mut rng);
        let inviter = IdentityKey::generate(&mut rng);
        let recipient = IdentityKey::generate(&mut rng);
        let keys = KeySet::generate(&mut rng);
        for role in InviteRole::ALL {
            let terms = InviteTerms {
                thread: thread.clone(),
                role,
                recipient: recipient.log_id(),
                logs: vec![],
                acl: None,
            };
            let invite = Invite::create(&inviter, terms, &keys, &mut rng).expect("creates");
            let bytes = invite.to_bytes();
            assert_eq!(Invite::from_bytes(&bytes), Ok(invite));
            let opened = Invite::open(&bytes, &recipient).expect("opens");
            assert_eq!(opened.role, role);
            assert_eq!(opened.inviter, inviter.log_id());
            let expected = if role.has_read_key() {
                keys.clone()
            } else {
                keys.for_follower()
            };
            assert_eq!(opened.keys, expected);
        }
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
