//! The error-code registry (spec/errors.md).
//!
//! Every failure the protocol defines has one stable name and number. The reference, the vectors and
//! the harness protocol all speak these codes, so a failing vector tells an implementer exactly which
//! rule was broken.

use std::fmt;

/// Defines [`ErrorCode`] and its name/number tables from one list, so they cannot drift apart.
macro_rules! registry {
    ($( $(#[$doc:meta])* $variant:ident = $number:literal, $name:literal; )*) => {
        /// A stable error code from the registry (spec/errors.md).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $( $(#[$doc])* $variant = $number, )*
        }

        impl ErrorCode {
            /// Every registered code, in number order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The code's stable number (spec/errors.md).
            pub fn number(self) -> u16 {
                self as u16
            }

            /// The code's stable name, e.g. `"TID_SHORT_RANDOM"` (spec/errors.md).
            pub fn name(self) -> &'static str {
                match self {
                    $( ErrorCode::$variant => $name, )*
                }
            }
        }
    };
}

registry! {
    /// Text form is not a multibase string this protocol accepts [TID-7].
    TidBadMultibase = 101, "TID_BAD_MULTIBASE";
    /// Version or variant is not a minimal uvarint of at most 9 bytes [TID-5].
    TidBadVarint = 102, "TID_BAD_VARINT";
    /// Version is not 1 [TID-2].
    TidUnknownVersion = 103, "TID_UNKNOWN_VERSION";
    /// Variant is neither raw (0x55) nor access-controlled (0x70) [TID-3].
    TidUnknownVariant = 104, "TID_UNKNOWN_VARIANT";
    /// Random part shorter than 16 bytes [TID-4].
    TidShortRandom = 105, "TID_SHORT_RANDOM";
    /// Random part longer than 64 bytes [TID-4].
    TidLongRandom = 106, "TID_LONG_RANDOM";
    /// Not the PeerId of a valid Ed25519 public key [LOGID-3].
    LogIdInvalid = 110, "LOG_ID_INVALID";
    /// Malformed log address [ADDR-2].
    AddrInvalid = 111, "ADDR_INVALID";
    /// A symmetric key is not exactly 32 bytes [KEY-2].
    KeyBadLength = 201, "KEY_BAD_LENGTH";
    /// A key set is not the canonical DAG-CBOR map of [KEY-5].
    KeysetMalformed = 202, "KEYSET_MALFORMED";
    /// The operation needs a key this peer does not hold [KEY-7].
    KeyUnavailable = 203, "KEY_UNAVAILABLE";
    /// A block or decrypted node is not canonical DAG-CBOR of the expected shape [REC-3].
    BlockMalformed = 301, "BLOCK_MALFORMED";
    /// A block exceeds 1 MiB [REC-4].
    BlockTooLarge = 302, "BLOCK_TOO_LARGE";
    /// A link is not CIDv1, dag-cbor, sha2-256 [REC-2].
    CidUnsupported = 303, "CID_UNSUPPORTED";
    /// A block's CID differs from the link that names it [VERIFY-1].
    CidMismatch = 304, "CID_MISMATCH";
    /// The envelope is not the canonical DAG-CBOR map of [ENV-1].
    EnvelopeMalformed = 305, "ENVELOPE_MALFORMED";
    /// The record layer does not open with the follow key [SEAL-4].
    RecordDecryptFailed = 310, "RECORD_DECRYPT_FAILED";
    /// The header layer does not open with the read key [SEAL-4].
    HeaderDecryptFailed = 311, "HEADER_DECRYPT_FAILED";
    /// The body layer does not open with the event's content key [SEAL-4].
    BodyDecryptFailed = 312, "BODY_DECRYPT_FAILED";
    /// The record layer opens but its nonce is not the synthetic one: a re-sealed record [SEAL-5].
    RecordNonceInvalid = 313, "RECORD_NONCE_INVALID";
    /// The record's signature does not verify under the log's key [SIG-2].
    SignatureInvalid = 320, "SIGNATURE_INVALID";
    /// `seq` and `prev` are inconsistent [REC-9].
    RecordBadSeq = 321, "RECORD_BAD_SEQ";
    /// The record follows the head's position but does not link to the head [LOG-6].
    LogBrokenLink = 401, "LOG_BROKEN_LINK";
    /// A second, different record at a position already taken [LOG-5].
    LogFork = 402, "LOG_FORK";
    /// The record is beyond the next position; records are missing [LOG-7].
    LogGap = 403, "LOG_GAP";
    /// An invite is not the canonical DAG-CBOR of [INV-3] or names an unknown role.
    InviteMalformed = 501, "INVITE_MALFORMED";
    /// The invite's signature does not verify under the inviter's key [INV-5].
    InviteSignatureInvalid = 502, "INVITE_SIGNATURE_INVALID";
    /// The invite is addressed to another peer [INV-6].
    InviteWrongRecipient = 503, "INVITE_WRONG_RECIPIENT";
    /// The sealed key set does not open with the recipient's key [INV-2].
    InviteDecryptFailed = 504, "INVITE_DECRYPT_FAILED";
    /// An ACL document or ACL event is not of the shape [ACL-3] defines.
    AclMalformed = 601, "ACL_MALFORMED";
    /// An ACL change by an author the ACL's own ACL does not allow [ACL-6].
    AclBypass = 602, "ACL_BYPASS";
    /// The ACL does not give the peer the role the action needs [ACL-2].
    AclDenied = 603, "ACL_DENIED";
    /// A sync message is not the canonical DAG-CBOR of [SYNC-1] or exceeds its size limit.
    MessageMalformed = 701, "MESSAGE_MALFORMED";
    /// The durable store failed to read or write; the peer stops rather than diverge [SYNC-12].
    StoreFailed = 702, "STORE_FAILED";
    /// Stored data does not decode or no longer verifies on restart [SYNC-13].
    StoreCorrupt = 703, "STORE_CORRUPT";
    /// A `heads` message lists more than `MAX_HEADS_ENTRIES` logs [SYNC-23].
    HeadsTooLong = 704, "HEADS_TOO_LONG";
    /// A message about a thread from a peer that has not proved membership of it; dropped and
    /// answered with a challenge [SYNC-21].
    MembershipUnproven = 705, "MEMBERSHIP_UNPROVEN";
    /// A membership proof does not verify [SYNC-18], [SYNC-20].
    ProofInvalid = 706, "PROOF_INVALID";
    /// A new log would exceed a limit on logs: per thread, or pending per sender or in all [SYNC-23].
    LogLimit = 707, "LOG_LIMIT";
    /// A new peer of a thread would exceed `MAX_PEERS_PER_THREAD` [SYNC-23].
    PeerLimit = 708, "PEER_LIMIT";
    /// A publication on a thread's topic does not open with its gossip key [SYNC-24].
    PublicationInvalid = 709, "PUBLICATION_INVALID";
    /// A sync request arrived past the receiver's inbound byte budget, or past its sender's
    /// share of it; it was read to its end, dropped, and refused with this code on the wire
    /// [SYNC-25], [SYNC-26], [SYNC-28].
    PeerOverloaded = 710, "PEER_OVERLOADED";
    /// A database event, operation, value, schema or patch is not of the defined shape [DB-1].
    DbMalformed = 801, "DB_MALFORMED";
    /// An operation or query names a collection not declared at its place in the order [DB-12].
    DbUnknownCollection = 802, "DB_UNKNOWN_COLLECTION";
    /// `create` of a document that exists [DB-12].
    DbExists = 803, "DB_EXISTS";
    /// `save` or `delete` of a missing document, `del` of a key not set [DB-12].
    DbNotFound = 804, "DB_NOT_FOUND";
    /// A created or patched document does not conform to its collection's schema [DB-7].
    DbSchemaFailed = 805, "DB_SCHEMA_FAILED";
    /// A collection declared a second time [DB-12].
    DbCollectionExists = 806, "DB_COLLECTION_EXISTS";
    /// A query document is not of the defined shape [DB-17].
    DbQueryInvalid = 807, "DB_QUERY_INVALID";
    /// A snapshot does not decode, its view is not the one it links, or it does not cover the
    /// events held below its last key [DB-20], [DB-24].
    DbSnapshotInvalid = 808, "DB_SNAPSHOT_INVALID";
    /// A compacted view was offered an event that sorts before its snapshot: it needs the freed
    /// events again to fold it [DB-27].
    DbCompacted = 809, "DB_COMPACTED";
    /// The implementation does not support the requested operation (harness protocol).
    Unsupported = 901, "UNSUPPORTED";
    /// The request is not a valid harness-protocol message (harness protocol).
    BadRequest = 902, "BAD_REQUEST";
    /// The implementation failed internally (harness protocol).
    Internal = 903, "INTERNAL";
}

impl ErrorCode {
    /// Looks a code up by its stable name.
    pub fn from_name(name: &str) -> Option<ErrorCode> {
        Self::ALL.iter().copied().find(|c| c.name() == name)
    }

    /// Looks a code up by its stable number.
    pub fn from_number(number: u16) -> Option<ErrorCode> {
        Self::ALL.iter().copied().find(|c| c.number() == number)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A protocol failure: a registry code plus a human-readable detail (spec/errors.md).
///
/// Only [`Error::code`] is normative; the detail is for people and may change between versions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code} ({number}): {detail}", number = code.number())]
pub struct Error {
    /// The registry code.
    pub code: ErrorCode,
    /// What exactly went wrong, for humans.
    pub detail: String,
}

impl Error {
    /// Creates an error with a registry code and a detail message.
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Error {
            code,
            detail: detail.into(),
        }
    }
}

/// Result alias used throughout the reference.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn names_and_numbers_are_unique_and_round_trip() {
        let names: BTreeSet<_> = ErrorCode::ALL.iter().map(|c| c.name()).collect();
        let numbers: BTreeSet<_> = ErrorCode::ALL.iter().map(|c| c.number()).collect();
        assert_eq!(names.len(), ErrorCode::ALL.len());
        assert_eq!(numbers.len(), ErrorCode::ALL.len());
        for &code in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_name(code.name()), Some(code));
            assert_eq!(ErrorCode::from_number(code.number()), Some(code));
        }
        assert_eq!(ErrorCode::from_name("NO_SUCH_CODE"), None);
    }

    #[test]
    fn display_carries_name_and_number() {
        let e = Error::new(ErrorCode::TidShortRandom, "random part has 15 bytes");
        assert_eq!(
            e.to_string(),
            "TID_SHORT_RANDOM (105): random part has 15 bytes"
        );
    }
}
