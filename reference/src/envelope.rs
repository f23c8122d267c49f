//! The envelope (spec/records.md, [ENV-1]): one record and the blocks it links, as sent on the wire.

use cid::Cid;
use serde::{Deserialize, Serialize};

use crate::block;
use crate::error::{ErrorCode, Result};

/// A record block with the event, header and body blocks it links [ENV-1].
///
/// Each block is kept as its exact bytes, so every one can be checked against the CID that names it,
/// and a follower can store and forward blocks it cannot read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    /// The body block (sealed with the content key).
    #[serde(with = "serde_bytes")]
    pub body: Vec<u8>,
    /// The event block (plain DAG-CBOR).
    #[serde(with = "serde_bytes")]
    pub event: Vec<u8>,
    /// The header block (sealed with the read key).
    #[serde(with = "serde_bytes")]
    pub header: Vec<u8>,
    /// The record block (sealed with the follow key).
    #[serde(with = "serde_bytes")]
    pub record: Vec<u8>,
}

impl Envelope {
    /// Canonical DAG-CBOR `{"body", "event", "header", "record"}`, each a byte string [ENV-1].
    pub fn to_bytes(&self) -> Vec<u8> {
        block::encode(self)
    }

    /// Decodes an envelope; anything but the canonical map of four byte strings is
    /// ENVELOPE_MALFORMED [ENV-1].
    pub fn from_bytes(bytes: &[u8]) -> Result<Envelope> {
        block::decode_canonical(bytes, ErrorCode::EnvelopeMalformed)
    }

    /// The CID of the record block: the record's name in its log [REC-1], [LOG-2].
    pub fn record_cid(&self) -> Cid {
        block::cid_of(&self.record)
    }

    /// The bytes of its four blocks together: what it costs in a batch [SYNC-5].
    pub fn size(&self) -> usize {
        self.record.len() + self.event.len() + self.header.len() + self.body.len()
    }

    /// Checks every block against the 1 MiB limit [REC-4].
    pub fn check_sizes(&self) -> Result<()> {
        block::check_size("record", &self.record)?;
        block::check_size("event", &self.event)?;
        block::check_size("header", &self.header)?;
        block::check_size("body", &self.body)
    }
}

#[cfg(test)]
impl Envelope {
    /// An envelope of `size` bytes that decodes to nothing, for tests of byte and count bounds
    /// that never open what they hold ([SYNC-31], [SYNC-33]): its verdict is a rejection.
    pub(crate) fn of_size(size: usize) -> Envelope {
        Envelope {
            body: vec![0; size],
            event: Vec::new(),
            header: Vec::new(),
            record: Vec::new(),
        }
    }
}
