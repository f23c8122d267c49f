//! Records, events, headers and bodies (spec/records.md §3): the nodes, the signature, and how a
//! writer seals one event.
//!
//! ```text
//!  record block  ── sealed with the follow key ──▶ { block, prev, seq, sig }
//!                                                     │      └─▶ previous record block
//!                                                     ▼
//!  event block   (plain DAG-CBOR)                  { body, header }
//!                                                     │      └─▶ header block ── read key ──▶ { key, time }
//!                                                     ▼                                          │
//!  body block    ── sealed with the content key ◀───────────────────────────────────────────────┘
//! ```

use cid::Cid;
use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};

use crate::block;
use crate::envelope::Envelope;
use crate::error::{Error, ErrorCode, Result};
use crate::id::{LogId, ThreadId};
use crate::keys::{ContentKey, FollowKey, IdentityKey, KEY_LEN, ReadKey};
use crate::seal::{self, Layer};

/// Domain-separation prefix of the signing input [SIG-1].
pub const SIGNATURE_CONTEXT: &[u8] = b"threads/v1/record-signature\0";

/// The decrypted header: the event's content key and its time [REC-6].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The key that seals this event's body [KEY-4].
    pub content_key: ContentKey,
    /// Unix time in milliseconds, as the writer's clock gave it.
    pub time: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HeaderNode {
    #[serde(with = "serde_bytes")]
    key: Vec<u8>,
    time: u64,
}

impl Header {
    /// Canonical DAG-CBOR `{"key": bytes, "time": uint}` [REC-6].
    pub fn to_bytes(&self) -> Vec<u8> {
        block::encode(&HeaderNode {
            key: self.content_key.as_bytes().to_vec(),
            time: self.time,
        })
    }

    /// Decodes a header; a content key of the wrong length is BLOCK_MALFORMED here [REC-3], [REC-6].
    pub fn from_bytes(bytes: &[u8]) -> Result<Header> {
        let node: HeaderNode = block::decode_canonical(bytes, ErrorCode::BlockMalformed)?;
        let content_key = ContentKey::from_slice(&node.key)
            .map_err(|e| Error::new(ErrorCode::BlockMalformed, format!("header: {}", e.detail)))?;
        Ok(Header {
            content_key,
            time: node.time,
        })
    }
}

/// The event node: links to its header and body blocks; not encrypted [REC-7].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// CID of the body block.
    pub body: Cid,
    /// CID of the header block.
    pub header: Cid,
}

impl Event {
    /// Canonical DAG-CBOR `{"body": link, "header": link}` [REC-7].
    pub fn to_bytes(&self) -> Vec<u8> {
        block::encode(self)
    }

    /// Decodes an event and checks both links [REC-2], [REC-3].
    pub fn from_bytes(bytes: &[u8]) -> Result<Event> {
        let event: Event = block::decode_canonical(bytes, ErrorCode::BlockMalformed)?;
        block::check_link(&event.body)?;
        block::check_link(&event.header)?;
        Ok(event)
    }
}

/// The decrypted record: the signed link from a log to one event [REC-8].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// CID of the event block.
    pub block: Cid,
    /// CID of the previous record block; `None` for the first record [REC-9].
    pub prev: Option<Cid>,
    /// Position in the log, from 1 [REC-9].
    pub seq: u64,
    /// Ed25519 signature over [`signing_input`] [SIG-1].
    pub sig: [u8; 64],
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordNode {
    block: Cid,
    prev: Option<Cid>,
    seq: u64,
    #[serde(with = "serde_bytes")]
    sig: Vec<u8>,
}

impl Record {
    /// Canonical DAG-CBOR `{"block", "prev", "seq", "sig"}` [REC-8].
    pub fn to_bytes(&self) -> Vec<u8> {
        block::encode(&RecordNode {
            block: self.block,
            prev: self.prev,
            seq: self.seq,
            sig: self.sig.to_vec(),
        })
    }

    /// Decodes a record and checks its links [REC-2], [REC-3], [REC-8].
    pub fn from_bytes(bytes: &[u8]) -> Result<Record> {
        let node: RecordNode = block::decode_canonical(bytes, ErrorCode::BlockMalformed)?;
        let sig = node.sig.as_slice().try_into().map_err(|_| {
            Error::new(
                ErrorCode::BlockMalformed,
                format!("record signature has {} bytes, expected 64", node.sig.len()),
            )
        })?;
        block::check_link(&node.block)?;
        if let Some(prev) = &node.prev {
            block::check_link(prev)?;
        }
        Ok(Record {
            block: node.block,
            prev: node.prev,
            seq: node.seq,
            sig,
        })
    }

    /// Checks that `seq` and `prev` agree: seq 1 has no prev, every later seq has one [REC-9].
    pub fn check_position(&self) -> Result<()> {
        let why = match (self.seq, self.prev.is_some()) {
            (0, _) => "seq 0 is not a position; logs start at 1",
            (1, true) => "the first record (seq 1) must not have a prev link",
            (2.., false) => "a record after the first must link its prev",
            _ => return Ok(()),
        };
        Err(Error::new(ErrorCode::RecordBadSeq, why))
    }

    /// Verifies the signature strictly with the log's key [SIG-2].
    pub fn verify_signature(&self, thread: &ThreadId, log: &LogId) -> Result<()> {
        let input = signing_input(thread, log, &self.block, self.prev.as_ref(), self.seq);
        let sig = ed25519_dalek::Signature::from_bytes(&self.sig);
        log.verifying_key()
            .verify_strict(&input, &sig)
            .map_err(|_| {
                Error::new(
                    ErrorCode::SignatureInvalid,
                    "record signature does not verify",
                )
            })
    }
}

#[derive(Serialize)]
struct SigningNode<'a> {
    block: &'a Cid,
    #[serde(with = "serde_bytes")]
    log: &'a [u8],
    prev: Option<&'a Cid>,
    seq: u64,
    #[serde(with = "serde_bytes")]
    thread: &'a [u8],
}

/// The exact bytes a writer signs [SIG-1]:
/// `"threads/v1/record-signature" ‖ 0x00 ‖ DAG-CBOR {block, log, prev, seq, thread}`.
pub fn signing_input(
    thread: &ThreadId,
    log: &LogId,
    block: &Cid,
    prev: Option<&Cid>,
    seq: u64,
) -> Vec<u8> {
    let log_bytes = log.to_bytes();
    let node = SigningNode {
        block,
        log: &log_bytes,
        prev,
        seq,
        thread: thread.as_bytes(),
    };
    let mut input = SIGNATURE_CONTEXT.to_vec();
    input.extend_from_slice(&block::encode(&node));
    input
}

/// Signs a record for `author`'s log [SIG-1], [LOG-1].
pub fn sign(
    thread: &ThreadId,
    author: &IdentityKey,
    block: Cid,
    prev: Option<Cid>,
    seq: u64,
) -> Record {
    let input = signing_input(thread, &author.log_id(), &block, prev.as_ref(), seq);
    Record {
        block,
        prev,
        seq,
        sig: author.sign(&input),
    }
}

/// Seals a layer's plaintext into a byte-string block [SEAL-1]..[SEAL-3], [REC-5], [REC-6], [REC-8].
///
/// The record layer takes its synthetic nonce [SEAL-5] and draws nothing from `rng`.
pub fn seal_block(
    layer: Layer,
    key: &[u8; KEY_LEN],
    thread: &ThreadId,
    log: &LogId,
    plaintext: &[u8],
    rng: &mut impl CryptoRng,
) -> Vec<u8> {
    let ad = seal::associated_data(layer, thread, log);
    let sealed = match layer {
        Layer::Record => seal::seal_synthetic(key, &ad, plaintext),
        Layer::Header | Layer::Body => seal::seal(key, &ad, plaintext, rng),
    };
    block::encode_byte_string(&sealed)
}

/// Opens a byte-string block sealed by [`seal_block`] [SEAL-4], [SEAL-5].
pub fn open_block(
    layer: Layer,
    key: &[u8; KEY_LEN],
    thread: &ThreadId,
    log: &LogId,
    block: &[u8],
) -> Result<Vec<u8>> {
    let sealed = block::decode_byte_string(block)?;
    let ad = seal::associated_data(layer, thread, log);
    match layer {
        Layer::Record => seal::open_synthetic(key, &ad, &sealed),
        Layer::Header | Layer::Body => seal::open(layer, key, &ad, &sealed),
    }
}

/// Where the next record goes in its log: seq and prev [REC-9], [LOG-1].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// The record's seq.
    pub seq: u64,
    /// The previous record's CID, `None` for seq 1.
    pub prev: Option<Cid>,
}

impl Position {
    /// The first position of every log.
    pub const FIRST: Position = Position { seq: 1, prev: None };
}

/// What a writer needs to seal one event into its log.
pub struct Author<'a> {
    /// The thread the log belongs to.
    pub thread: &'a ThreadId,
    /// The log's identity key.
    pub identity: &'a IdentityKey,
    /// The thread's follow key.
    pub follow: &'a FollowKey,
    /// The thread's read key.
    pub read: &'a ReadKey,
}

/// Seals a new event into an envelope at `position` [LOG-1], [REC-5]..[REC-9], [SIG-1], [ENV-1].
///
/// A fresh content key and fresh nonces come from `rng` [KEY-4], [SEAL-1].
pub fn create(
    author: &Author<'_>,
    position: Position,
    body: &[u8],
    time: u64,
    rng: &mut impl CryptoRng,
) -> Envelope {
    let log = author.identity.log_id();
    let content_key = ContentKey::generate(rng);
    let header = Header { content_key, time };
    let body_block = seal_block(
        Layer::Body,
        header.content_key.as_bytes(),
        author.thread,
        &log,
        body,
        rng,
    );
    let header_block = seal_block(
        Layer::Header,
        author.read.as_bytes(),
        author.thread,
        &log,
        &header.to_bytes(),
        rng,
    );
    let event = Event {
        body: block::cid_of(&body_block),
        header: block::cid_of(&header_block),
    };
    let event_block = event.to_bytes();
    let record = sign(
        author.thread,
        author.identity,
        block::cid_of(&event_block),
        position.prev,
        position.seq,
    );
    let record_block = seal_block(
        Layer::Record,
        author.follow.as_bytes(),
        author.thread,
        &log,
        &record.to_bytes(),
        rng,
    );
    Envelope {
        record: record_block,
        event: event_block,
        header: header_block,
        body: body_block,
    }
}
