//! Identifiers (spec/identifiers.md §1): Thread IDs and log IDs.

use std::fmt;
use std::str::FromStr;

use ed25519_dalek::VerifyingKey;
use libp2p_identity::PeerId;
use multibase::Base;
use rand_core::CryptoRng;

use crate::error::{Error, ErrorCode, Result};

/// The only Thread ID version this spec defines [TID-2].
pub const TID_VERSION: u64 = 1;
/// Fewest random bytes a Thread ID may carry [TID-4].
pub const TID_MIN_RANDOM: usize = 16;
/// Most random bytes a Thread ID may carry [TID-4].
pub const TID_MAX_RANDOM: usize = 64;
/// Random bytes the reference draws for a new Thread ID [TID-4].
pub const TID_DEFAULT_RANDOM: usize = 32;
/// Longest uvarint the multiformats spec allows [TID-5].
const MAX_UVARINT_LEN: usize = 9;

/// The kind of thread a Thread ID names [TID-3].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Variant {
    /// A thread without an ACL document (code 0x55).
    Raw,
    /// A thread whose access is governed by an ACL document (code 0x70).
    AccessControlled,
}

impl Variant {
    /// The variant's code in the binary Thread ID [TID-3].
    pub fn code(self) -> u64 {
        match self {
            Variant::Raw => 0x55,
            Variant::AccessControlled => 0x70,
        }
    }

    /// The variant for a code, if the spec defines one [TID-3].
    pub fn from_code(code: u64) -> Option<Variant> {
        match code {
            0x55 => Some(Variant::Raw),
            0x70 => Some(Variant::AccessControlled),
            _ => None,
        }
    }
}

/// The variant's name in the harness protocol and the vectors: `raw` or `access-controlled`
/// [TID-3], [HP-33].
impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Variant::Raw => "raw",
            Variant::AccessControlled => "access-controlled",
        })
    }
}

/// The variant with this name; any other text is BAD_REQUEST [HP-12].
impl FromStr for Variant {
    type Err = Error;

    fn from_str(name: &str) -> Result<Variant> {
        [Variant::Raw, Variant::AccessControlled]
            .into_iter()
            .find(|variant| variant.to_string() == name)
            .ok_or_else(|| Error::new(ErrorCode::BadRequest, format!("unknown variant {name:?}")))
    }
}

/// A Thread ID: `uvarint(1) ‖ uvarint(variant) ‖ random` [TID-1].
///
/// The value is always valid: every constructor checks [TID-2]..[TID-5]. Equality is equality of the
/// binary form [TID-8].
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ThreadId {
    bytes: Vec<u8>,
    variant: Variant,
    random_offset: usize,
}

impl ThreadId {
    /// Creates a Thread ID with [`TID_DEFAULT_RANDOM`] bytes drawn from `rng` [TID-4].
    pub fn generate(variant: Variant, rng: &mut impl CryptoRng) -> ThreadId {
        let mut random = [0u8; TID_DEFAULT_RANDOM];
        rng.fill_bytes(&mut random);
        Self::encode(variant, &random)
    }

    /// Creates a Thread ID from a variant and an explicit random part [TID-1], [TID-4].
    pub fn from_parts(variant: Variant, random: &[u8]) -> Result<ThreadId> {
        check_random_len(random.len())?;
        Ok(Self::encode(variant, random))
    }

    fn encode(variant: Variant, random: &[u8]) -> ThreadId {
        let mut buf = unsigned_varint::encode::u64_buffer();
        let mut bytes = unsigned_varint::encode::u64(TID_VERSION, &mut buf).to_vec();
        bytes.extend_from_slice(unsigned_varint::encode::u64(variant.code(), &mut buf));
        let random_offset = bytes.len();
        bytes.extend_from_slice(random);
        ThreadId {
            bytes,
            variant,
            random_offset,
        }
    }

    /// Decodes the binary form, checking [TID-2]..[TID-5] in layout order.
    pub fn from_bytes(bytes: &[u8]) -> Result<ThreadId> {
        let (version, rest) = read_uvarint(bytes, "version")?;
        if version != TID_VERSION {
            return Err(Error::new(
                ErrorCode::TidUnknownVersion,
                format!("version {version}, expected {TID_VERSION}"),
            ));
        }
        let (code, random) = read_uvarint(rest, "variant")?;
        let variant = Variant::from_code(code).ok_or_else(|| {
            Error::new(
                ErrorCode::TidUnknownVariant,
                format!("variant 0x{code:x} is neither 0x55 (raw) nor 0x70 (access-controlled)"),
            )
        })?;
        check_random_len(random.len())?;
        Ok(ThreadId {
            bytes: bytes.to_vec(),
            variant,
            random_offset: bytes.len() - random.len(),
        })
    }

    /// The binary form [TID-1].
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The variant [TID-3].
    pub fn variant(&self) -> Variant {
        self.variant
    }

    /// The random part [TID-4].
    pub fn random(&self) -> &[u8] {
        &self.bytes[self.random_offset..]
    }

    /// The text form in another multibase; [`Display`](fmt::Display) gives the canonical base32 [TID-6].
    pub fn to_string_in(&self, base: Base) -> String {
        multibase::encode(base, &self.bytes)
    }
}

/// Reads one minimal uvarint of at most 9 bytes [TID-5].
fn read_uvarint<'a>(input: &'a [u8], what: &str) -> Result<(u64, &'a [u8])> {
    let bad = |why: String| Error::new(ErrorCode::TidBadVarint, format!("{what}: {why}"));
    let (value, rest) = unsigned_varint::decode::u64(input).map_err(|e| bad(e.to_string()))?;
    if input.len() - rest.len() > MAX_UVARINT_LEN {
        return Err(bad(format!("longer than {MAX_UVARINT_LEN} bytes")));
    }
    Ok((value, rest))
}

fn check_random_len(len: usize) -> Result<()> {
    if len < TID_MIN_RANDOM {
        return Err(Error::new(
            ErrorCode::TidShortRandom,
            format!("random part has {len} bytes, at least {TID_MIN_RANDOM} required"),
        ));
    }
    if len > TID_MAX_RANDOM {
        return Err(Error::new(
            ErrorCode::TidLongRandom,
            format!("random part has {len} bytes, at most {TID_MAX_RANDOM} allowed"),
        ));
    }
    Ok(())
}

/// The canonical text form: multibase base32 lower-case, prefix `b` [TID-6].
impl fmt::Display for ThreadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_string_in(Base::Base32Lower))
    }
}

impl fmt::Debug for ThreadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ThreadId({self})")
    }
}

/// The multibase a Thread ID text with this prefix is written in, if [TID-7] accepts the prefix:
/// the RFC 4648 family and base58btc, nothing else.
pub fn accepted_base(prefix: char) -> Option<Base> {
    Some(match prefix {
        'f' => Base::Base16Lower,
        'F' => Base::Base16Upper,
        'b' => Base::Base32Lower,
        'B' => Base::Base32Upper,
        'c' => Base::Base32PadLower,
        'C' => Base::Base32PadUpper,
        'v' => Base::Base32HexLower,
        'V' => Base::Base32HexUpper,
        't' => Base::Base32HexPadLower,
        'T' => Base::Base32HexPadUpper,
        'm' => Base::Base64,
        'M' => Base::Base64Pad,
        'u' => Base::Base64Url,
        'U' => Base::Base64UrlPad,
        'z' => Base::Base58Btc,
        _ => return None,
    })
}

/// Parses a text form in an accepted multibase [TID-7] in its canonical text [TID-9], then the
/// binary form [TID-1]..[TID-5].
impl FromStr for ThreadId {
    type Err = Error;

    fn from_str(text: &str) -> Result<ThreadId> {
        let bad = |why: String| Error::new(ErrorCode::TidBadMultibase, why);
        let prefix = text
            .chars()
            .next()
            .ok_or_else(|| bad("empty text".into()))?;
        // Check the prefix first: the multibase crate knows more bases than [TID-7] accepts.
        let base = accepted_base(prefix)
            .ok_or_else(|| bad(format!("prefix {prefix:?} is not an accepted multibase")))?;
        let (decoded_base, bytes) = multibase::decode(text).map_err(|e| bad(e.to_string()))?;
        // One text per ID and base [TID-9]: wrong case, stray padding or trailing bits decode
        // leniently in some bases, so compare with the canonical encoding.
        if decoded_base != base || multibase::encode(base, &bytes) != text {
            return Err(bad(format!("not the canonical {base:?} text of its bytes")));
        }
        ThreadId::from_bytes(&bytes)
    }
}

/// The bytes every Ed25519 log ID starts with: identity multihash (0x00) of 36 bytes (0x24) holding
/// the protobuf `PublicKey { Type: Ed25519, Data: <32 bytes> }` [LOGID-1].
pub const LOG_ID_PREFIX: [u8; 6] = [0x00, 0x24, 0x08, 0x01, 0x12, 0x20];

/// A log ID: the libp2p PeerId of the log's Ed25519 public key [LOGID-1].
///
/// Always valid: the key is a canonical, non-small-order curve point [LOGID-3]. A peer ID has the same
/// form [LOGID-4], so this type also names peers.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct LogId {
    key: VerifyingKey,
}

impl LogId {
    /// The log ID of an Ed25519 public key [LOGID-1]; fails for small-order keys [LOGID-3].
    pub fn from_public_key(key: VerifyingKey) -> Result<LogId> {
        if key.is_weak() {
            return Err(Error::new(
                ErrorCode::LogIdInvalid,
                "public key has small order",
            ));
        }
        Ok(LogId { key })
    }

    /// Decodes the 38-byte binary form [LOGID-1], [LOGID-3]. Inside
    /// [`crate::verify::memoised`], bytes already decoded get the verdict computed then.
    pub fn from_bytes(bytes: &[u8]) -> Result<LogId> {
        crate::verify::memoised_log_id(bytes, || Self::decode(bytes))
    }

    fn decode(bytes: &[u8]) -> Result<LogId> {
        let bad = |why: &str| Error::new(ErrorCode::LogIdInvalid, why.to_string());
        let key = bytes
            .strip_prefix(&LOG_ID_PREFIX)
            .ok_or_else(|| bad("not an identity multihash of an Ed25519 protobuf public key"))?;
        let key: &[u8; 32] = key
            .try_into()
            .map_err(|_| bad("Ed25519 public key is not 32 bytes"))?;
        let key = VerifyingKey::from_bytes(key).map_err(|_| bad("not a valid curve point"))?;
        if key.as_bytes() != &key.to_edwards().compress().to_bytes() {
            return Err(bad("public key encoding is not canonical"));
        }
        Self::from_public_key(key)
    }

    /// The 38-byte binary form [LOGID-1].
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = LOG_ID_PREFIX.to_vec();
        bytes.extend_from_slice(self.key.as_bytes());
        bytes
    }

    /// The Ed25519 key that signs this log's records [SIG-2].
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }

    /// The same identity as a libp2p `PeerId`, for the network drivers [LOGID-4].
    pub fn to_peer_id(&self) -> PeerId {
        // The binary form is a valid identity multihash by construction.
        PeerId::from_bytes(&self.to_bytes()).expect("a LogId is always a valid PeerId")
    }
}

impl PartialOrd for LogId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Orders log IDs by their binary form, so maps keyed by log are deterministic.
impl Ord for LogId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key.as_bytes().cmp(other.key.as_bytes())
    }
}

impl std::hash::Hash for LogId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key.as_bytes().hash(state);
    }
}

/// The text form: base58btc without a multibase prefix, `12D3KooW…` [LOGID-2].
impl fmt::Display for LogId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_peer_id().to_base58())
    }
}

impl fmt::Debug for LogId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LogId({self})")
    }
}

/// Parses the base58btc text form [LOGID-2], [LOGID-3].
impl FromStr for LogId {
    type Err = Error;

    fn from_str(text: &str) -> Result<LogId> {
        let peer = PeerId::from_str(text)
            .map_err(|e| Error::new(ErrorCode::LogIdInvalid, format!("not a peer ID: {e}")))?;
        LogId::from_bytes(&peer.to_bytes())
    }
}

impl TryFrom<PeerId> for LogId {
    type Error = Error;

    fn try_from(peer: PeerId) -> Result<LogId> {
        LogId::from_bytes(&peer.to_bytes())
    }
}
