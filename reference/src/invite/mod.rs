//! Invites and joins (spec/invites.md, chapter 5): how one peer hands a thread's keys to another,
//! and how an invited writer joins.
//!
//! ```text
//!  key set [KEY-5] ──HPKE base mode, to the recipient's X25519 key──▶ "enc", "keys"
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
//!
//! The chapter in three parts, each re-exported here: `wire` (the invite and join encodings,
//! [INV-3], [INV-5], [INV-7]), `hpke` (sealing to a recipient's key, [INV-2]) and `join` (issuing
//! and opening an invite with every check, [INV-6], [INV-9]).

mod hpke;
mod join;
mod wire;

pub use hpke::{
    ENC_LEN, HPKE_INFO, IKM_LEN, hpke_open, hpke_seal, open_key_set, seal_key_set,
    seal_key_set_with_ikm, x25519_public_key, x25519_secret_key,
};
pub use join::{InviteTerms, OpenedInvite};
pub use wire::{
    Invite, InviteRole, JOIN_TYPE, Join, LogEntry, MAX_INVITE_SIZE, SIGNATURE_CONTEXT, header_bytes,
};

use crate::error::{Error, ErrorCode};

fn malformed(detail: impl Into<String>) -> Error {
    Error::new(ErrorCode::InviteMalformed, detail)
}
