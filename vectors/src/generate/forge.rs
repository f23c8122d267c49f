//! Builds envelopes step by step like a writer does, with a hook at every step, so invalid vectors
//! can break exactly one rule while every other check still passes.

use cid::Cid;
use rand_chacha::ChaCha20Rng;
use threads::block;
use threads::envelope::Envelope;
use threads::id::{LogId, ThreadId};
use threads::keys::{ContentKey, IdentityKey, KeySet};
use threads::record::{self, Event, Header, Position, Record};
use threads::seal::{self, Layer};

/// A writer's context: thread, identity and the thread's keys (with the read key).
pub struct Writer {
    /// The thread.
    pub thread: ThreadId,
    /// The log's identity key.
    pub identity: IdentityKey,
    /// The thread's keys.
    pub keys: KeySet,
}

/// One deviation from the honest writer's steps each; `Default` is the honest writer.
#[derive(Default)]
pub struct Tweaks {
    /// Seal the header with this key instead of the read key.
    pub header_key: Option<[u8; 32]>,
    /// Seal this header plaintext instead of the honest one.
    pub header_plaintext: Option<Vec<u8>>,
    /// Seal the header under this layer's label.
    pub header_layer: Option<Layer>,
    /// Use this header block as is.
    pub header_block: Option<Vec<u8>>,
    /// Seal the body with this key instead of the header's content key.
    pub body_key: Option<[u8; 32]>,
    /// Seal the body under this layer's label.
    pub body_layer: Option<Layer>,
    /// Use this event block as is (the record still signs its CID).
    pub event_block: Option<Vec<u8>>,
    /// Sign with this key instead of the log's.
    pub signer: Option<IdentityKey>,
    /// Sign for this thread instead.
    pub sign_thread: Option<ThreadId>,
    /// Sign this seq instead of the record's.
    pub sign_seq: Option<u64>,
    /// Change the signature after signing.
    pub sig: Option<fn([u8; 64]) -> [u8; 64]>,
    /// Use this record plaintext instead of the honest encoding.
    pub record_plaintext: Option<fn(&Record) -> Vec<u8>>,
    /// Seal the record with this key instead of the follow key.
    pub record_key: Option<[u8; 32]>,
    /// Seal the record for this thread instead.
    pub record_thread: Option<ThreadId>,
    /// Seal the record for this log instead.
    pub record_log: Option<LogId>,
    /// Use this record block as is.
    pub record_block: Option<Vec<u8>>,
}

impl Writer {
    /// The log this writer writes.
    pub fn log(&self) -> LogId {
        self.identity.log_id()
    }

    /// The honest envelope at `position`.
    pub fn envelope(
        &self,
        position: Position,
        body: &[u8],
        time: u64,
        rng: &mut ChaCha20Rng,
    ) -> Envelope {
        self.forge(position, body, time, Tweaks::default(), rng)
    }

    /// An envelope built with `tweaks` applied.
    pub fn forge(
        &self,
        position: Position,
        body: &[u8],
        time: u64,
        t: Tweaks,
        rng: &mut ChaCha20Rng,
    ) -> Envelope {
        let log = self.log();
        let sealed_block = |layer: Layer,
                            key: &[u8; 32],
                            thread: &ThreadId,
                            log: &LogId,
                            plain: &[u8],
                            rng: &mut ChaCha20Rng| {
            block::encode_byte_string(&seal::seal(
                key,
                &seal::associated_data(layer, thread, log),
                plain,
                rng,
            ))
        };
        let read = self.keys.read.as_ref().expect("writers hold the read key");
        let header = Header {
            content_key: ContentKey::generate(rng),
            time,
        };
        let body_key = t.body_key.unwrap_or(*header.content_key.as_bytes());
        let body_block = sealed_block(
            t.body_layer.unwrap_or(Layer::Body),
            &body_key,
            &self.thread,
            &log,
            body,
            rng,
        );
        let header_plain = t.header_plaintext.unwrap_or_else(|| header.to_bytes());
        let header_key = t.header_key.unwrap_or(*read.as_bytes());
        let header_block = t.header_block.unwrap_or_else(|| {
            sealed_block(
                t.header_layer.unwrap_or(Layer::Header),
                &header_key,
                &self.thread,
                &log,
                &header_plain,
                rng,
            )
        });
        let event_block = t.event_block.unwrap_or_else(|| {
            Event {
                body: block::cid_of(&body_block),
                header: block::cid_of(&header_block),
            }
            .to_bytes()
        });
        let event_cid = block::cid_of(&event_block);
        let signer = t.signer.as_ref().unwrap_or(&self.identity);
        let sign_thread = t.sign_thread.as_ref().unwrap_or(&self.thread);
        let signed = record::sign(
            sign_thread,
            signer,
            event_cid,
            position.prev,
            t.sign_seq.unwrap_or(position.seq),
        );
        let mut rec = Record {
            seq: position.seq,
            ..signed
        };
        if let Some(change) = t.sig {
            rec.sig = change(rec.sig);
        }
        let record_plain = t
            .record_plaintext
            .map_or_else(|| rec.to_bytes(), |f| f(&rec));
        let record_block = t.record_block.unwrap_or_else(|| {
            let key = t.record_key.unwrap_or(*self.keys.follow.as_bytes());
            let thread = t.record_thread.as_ref().unwrap_or(&self.thread);
            let ad =
                seal::associated_data(Layer::Record, thread, t.record_log.as_ref().unwrap_or(&log));
            block::encode_byte_string(&seal::seal_synthetic(&key, &ad, &record_plain))
        });
        Envelope {
            record: record_block,
            event: event_block,
            header: header_block,
            body: body_block,
        }
    }
}

/// What a follow-key holder can do to a genuine envelope: open the record and seal it again with a
/// random nonce, giving the same signed record a new CID [SEAL-5].
pub fn reseal(writer: &Writer, envelope: &Envelope, rng: &mut ChaCha20Rng) -> Envelope {
    let (follow, log) = (writer.keys.follow.as_bytes(), writer.log());
    let ad = seal::associated_data(Layer::Record, &writer.thread, &log);
    let sealed = block::decode_byte_string(&envelope.record).expect("a genuine record block");
    let plain = seal::open(Layer::Record, follow, &ad, &sealed).expect("a genuine record opens");
    Envelope {
        record: block::encode_byte_string(&seal::seal(follow, &ad, &plain, rng)),
        ..envelope.clone()
    }
}

/// The position after `envelope`'s record.
pub fn after(envelope: &Envelope, seq: u64) -> Position {
    Position {
        seq: seq + 1,
        prev: Some(envelope.record_cid()),
    }
}

/// A CID with the raw codec (0x55): well-formed, but not a link this protocol allows.
pub fn raw_codec_cid(bytes: &[u8]) -> Cid {
    Cid::new_v1(0x55, *block::cid_of(bytes).hash())
}

/// Adds the group order L to the S half of a signature: a non-canonical S that lax verifiers
/// accept [SIG-2].
pub fn add_group_order(mut sig: [u8; 64]) -> [u8; 64] {
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x10,
    ];
    let mut carry = 0u16;
    for i in 0..32 {
        let sum = u16::from(sig[32 + i]) + u16::from(L[i]) + carry;
        sig[32 + i] = sum as u8;
        carry = sum >> 8;
    }
    sig
}
