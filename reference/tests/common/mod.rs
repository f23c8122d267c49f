//! Helpers shared by the integration tests: seeded randomness, a thread/log fixture, hand-built
//! envelopes, and tiny independent encoders (RFC 4648 base32, CBOR heads) used to cross-check the
//! reference.

#![allow(dead_code)]

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use threads::envelope::Envelope;
use threads::id::{LogId, ThreadId, Variant};
use threads::keys::{ContentKey, IdentityKey, KeySet, ReadKey};
use threads::record::{self, Author, Event, Header, Position, Record};
use threads::seal::Layer;
use threads::verify::{self, OpenedEvent, VerifiedRecord};
use threads::{Cid, ErrorCode, Result, block};

/// A deterministic CSPRNG for tests.
pub fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

/// The error code of a result that must be an error.
pub fn code<T: std::fmt::Debug>(result: Result<T>) -> ErrorCode {
    match result {
        Ok(value) => panic!("expected an error, got Ok({value:?})"),
        Err(e) => e.code,
    }
}

/// Decodes hex that is known to be valid.
pub fn unhex(text: &str) -> Vec<u8> {
    hex::decode(text).expect("test hex is valid")
}

/// The RFC 8032 §7.1 TEST 1 secret seed.
pub const RFC8032_SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
/// The RFC 8032 §7.1 TEST 1 public key.
pub const RFC8032_PUBLIC: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

/// The RFC 8032 TEST 1 seed as an array.
pub fn rfc8032_seed() -> [u8; 32] {
    unhex(RFC8032_SEED)
        .try_into()
        .expect("the seed has 32 bytes")
}

/// A thread, one writer's log in it, the thread's keys, and the RNG everything is drawn from.
pub struct Fixture {
    pub thread: ThreadId,
    pub identity: IdentityKey,
    pub log: LogId,
    pub keys: KeySet,
    pub rng: ChaCha20Rng,
}

/// The time every fixture event carries unless a test says otherwise.
pub const TIME: u64 = 1_700_000_000_000;

impl Fixture {
    /// A fresh thread, log and key set, all drawn from a seeded RNG.
    pub fn new(seed: u64) -> Fixture {
        let mut rng = rng(seed);
        let thread = ThreadId::generate(Variant::Raw, &mut rng);
        let identity = IdentityKey::generate(&mut rng);
        let keys = KeySet::generate(&mut rng);
        Fixture {
            log: identity.log_id(),
            thread,
            identity,
            keys,
            rng,
        }
    }

    /// Another writer in the same thread, sharing the thread's keys [KEY-3].
    pub fn second_writer(&self, seed: u64) -> Fixture {
        let mut rng = rng(seed);
        let identity = IdentityKey::generate(&mut rng);
        Fixture {
            thread: self.thread.clone(),
            log: identity.log_id(),
            identity,
            keys: self.keys.clone(),
            rng,
        }
    }

    pub fn read_key(&self) -> &ReadKey {
        self.keys.read.as_ref().expect("fixtures hold the read key")
    }

    /// Seals an event at `position` with the reference writer.
    pub fn create(&mut self, position: Position, body: &[u8], time: u64) -> Envelope {
        let author = Author {
            thread: &self.thread,
            identity: &self.identity,
            follow: &self.keys.follow,
            read: self.keys.read.as_ref().expect("fixtures hold the read key"),
        };
        record::create(&author, position, body, time, &mut self.rng)
    }

    /// The first event of the log.
    pub fn first(&mut self, body: &[u8]) -> Envelope {
        self.create(Position::FIRST, body, TIME)
    }

    /// The event after `prev`, which sits at `prev_seq`.
    pub fn after(&mut self, prev: &Envelope, prev_seq: u64, body: &[u8]) -> Envelope {
        let position = Position {
            seq: prev_seq + 1,
            prev: Some(prev.record_cid()),
        };
        self.create(position, body, TIME + prev_seq)
    }

    /// Follower verification for this thread and log [VERIFY-1].
    pub fn verify(&self, envelope: &Envelope) -> Result<VerifiedRecord> {
        verify::verify_follower(envelope, &self.thread, &self.log, &self.keys.follow)
    }

    /// Reader verification for this thread and log [VERIFY-2].
    pub fn read(&self, envelope: &Envelope) -> Result<OpenedEvent> {
        verify::verify_reader(envelope, &self.thread, &self.log, &self.keys)
    }

    /// The decrypted record of an envelope this fixture made.
    pub fn open_record(&self, envelope: &Envelope) -> Record {
        let plaintext = record::open_block(
            Layer::Record,
            self.keys.follow.as_bytes(),
            &self.thread,
            &self.log,
            &envelope.record,
        )
        .expect("the record opens with the follow key");
        Record::from_bytes(&plaintext).expect("the record decodes")
    }

    /// Seals `plaintext` as a byte-string block of `layer` for this thread and log.
    pub fn seal(&mut self, layer: Layer, key: &[u8; 32], plaintext: &[u8]) -> Vec<u8> {
        record::seal_block(
            layer,
            key,
            &self.thread,
            &self.log,
            plaintext,
            &mut self.rng,
        )
    }

    /// A record block holding `plaintext`, sealed correctly with the follow key.
    pub fn record_block(&mut self, plaintext: &[u8]) -> Vec<u8> {
        let follow = *self.keys.follow.as_bytes();
        self.seal(Layer::Record, &follow, plaintext)
    }

    /// The envelope with its record block replaced by a correctly sealed `record`.
    pub fn with_record(&mut self, envelope: &Envelope, record: &Record) -> Envelope {
        Envelope {
            record: self.record_block(&record.to_bytes()),
            ..envelope.clone()
        }
    }

    /// A record signed by this fixture's identity key for this thread.
    pub fn signed(&self, block: Cid, prev: Option<Cid>, seq: u64) -> Record {
        record::sign(&self.thread, &self.identity, block, prev, seq)
    }

    /// The envelope re-signed (validly) at another seq/prev.
    pub fn resigned(&mut self, envelope: &Envelope, seq: u64, prev: Option<Cid>) -> Envelope {
        let record = self.signed(block::cid_of(&envelope.event), prev, seq);
        self.with_record(envelope, &record)
    }

    /// A sealed header block carrying `content_key` and `time`, sealed with `read`.
    pub fn header_block(&mut self, read: &ReadKey, content_key: &ContentKey, time: u64) -> Vec<u8> {
        let header = Header {
            content_key: content_key.clone(),
            time,
        };
        let read = *read.as_bytes();
        self.seal(Layer::Header, &read, &header.to_bytes())
    }

    /// Links, signs and seals hand-made header and body blocks into a first-record envelope.
    pub fn assemble(&mut self, header: Vec<u8>, body: Vec<u8>) -> Envelope {
        let event = Event {
            body: block::cid_of(&body),
            header: block::cid_of(&header),
        };
        self.assemble_event(event.to_bytes(), header, body)
    }

    /// Signs and seals a hand-made event block with the given header and body blocks.
    pub fn assemble_event(&mut self, event: Vec<u8>, header: Vec<u8>, body: Vec<u8>) -> Envelope {
        let record = self.signed(block::cid_of(&event), None, 1);
        Envelope {
            record: self.record_block(&record.to_bytes()),
            event,
            header,
            body,
        }
    }
}

/// RFC 4648 base32, lower-case alphabet, no padding — written here so tests do not trust the
/// multibase crate for the canonical text form.
pub fn base32_lower(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// The hand-written CBOR writer of `threads-fixtures`, independent of the reference's encoder,
/// under the names these tests use (`cbor_map` keeps its entries in the given order, so tests can
/// build non-canonical maps). Each test binary uses a few of them, hence the allow, as for the
/// module's dead code.
#[allow(unused_imports)]
pub use threads_fixtures::cbor::{
    bytes as cbor_bytes, head as cbor_head, link as cbor_link, map as cbor_map, text as cbor_text,
    uint as cbor_uint,
};
