//! The verification algorithms (spec/records.md, [VERIFY-1]..[VERIFY-3]): what a follower checks
//! before it stores or serves a record, and what a reader checks before it uses an event.
//!
//! The steps run in the spec's order and the first failing step decides the error code, so two
//! conforming implementations reject a bad envelope with the same code.

use cid::Cid;

use crate::block;
use crate::envelope::Envelope;
use crate::error::{Error, ErrorCode, Result};
use crate::id::{LogId, ThreadId};
use crate::keys::{FollowKey, KeySet};
use crate::record::{Event, Header, Record, open_block};
use crate::seal::Layer;

mod memo;
pub(crate) use memo::log_id as memoised_log_id;
pub use memo::memoised;

/// A record that passed follower verification [VERIFY-1]: safe to store, serve and link into a log.
///
/// Only [`verify_follower`] (and a writer sealing its own record) make one, so holding a
/// `VerifiedRecord` proves the checks ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedRecord {
    thread: ThreadId,
    log: LogId,
    cid: Cid,
    record: Record,
    event: Event,
}

impl VerifiedRecord {
    pub(crate) fn new(
        thread: ThreadId,
        log: LogId,
        cid: Cid,
        record: Record,
        event: Event,
    ) -> Self {
        VerifiedRecord {
            thread,
            log,
            cid,
            record,
            event,
        }
    }

    /// The thread the record was verified for.
    pub fn thread(&self) -> &ThreadId {
        &self.thread
    }

    /// The log whose key signed the record.
    pub fn log(&self) -> &LogId {
        &self.log
    }

    /// The record block's CID.
    pub fn cid(&self) -> &Cid {
        &self.cid
    }

    /// The decrypted record.
    pub fn record(&self) -> &Record {
        &self.record
    }

    /// The event node the record links.
    pub fn event(&self) -> &Event {
        &self.event
    }

    /// The record's position in its log [REC-9].
    pub fn seq(&self) -> u64 {
        self.record.seq
    }

    /// The previous record's CID [REC-9].
    pub fn prev(&self) -> Option<&Cid> {
        self.record.prev.as_ref()
    }
}

/// An event a reader fully verified and decrypted [VERIFY-2].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedEvent {
    /// The verified record.
    pub record: VerifiedRecord,
    /// The decrypted header.
    pub header: Header,
    /// The body plaintext.
    pub body: Vec<u8>,
}

/// Follower verification, steps 1–8 of [VERIFY-1]; needs only the follow key. Inside
/// [`memoised`], the verdict on inputs already checked is the one computed then.
pub fn verify_follower(
    envelope: &Envelope,
    thread: &ThreadId,
    log: &LogId,
    follow: &FollowKey,
) -> Result<VerifiedRecord> {
    memo::follower(envelope, thread, log, follow, || {
        check_follower(envelope, thread, log, follow)
    })
}

fn check_follower(
    envelope: &Envelope,
    thread: &ThreadId,
    log: &LogId,
    follow: &FollowKey,
) -> Result<VerifiedRecord> {
    // Step 1 (decoding) happened in Envelope::from_bytes; the size limit is checked here.
    envelope.check_sizes()?;
    // Step 2: the record's name.
    let cid = envelope.record_cid();
    // Steps 3-4: open the record layer and decode the record.
    let plaintext = open_block(
        Layer::Record,
        follow.as_bytes(),
        thread,
        log,
        &envelope.record,
    )?;
    let record = Record::from_bytes(&plaintext)?;
    // Step 5: seq and prev agree.
    record.check_position()?;
    // Step 6: the log's key signed exactly this record in this thread.
    record.verify_signature(thread, log)?;
    // Step 7: the event block is the one the record links.
    check_cid("event", &envelope.event, &record.block)?;
    let event = Event::from_bytes(&envelope.event)?;
    // Step 8: the header and body blocks are the ones the event links, and are byte strings.
    check_cid("header", &envelope.header, &event.header)?;
    check_cid("body", &envelope.body, &event.body)?;
    block::decode_byte_string(&envelope.header)?;
    block::decode_byte_string(&envelope.body)?;
    Ok(VerifiedRecord::new(
        thread.clone(),
        *log,
        cid,
        record,
        event,
    ))
}

/// Reader verification, [VERIFY-1] then steps 9–10 of [VERIFY-2]; needs the follow and read keys.
pub fn verify_reader(
    envelope: &Envelope,
    thread: &ThreadId,
    log: &LogId,
    keys: &KeySet,
) -> Result<OpenedEvent> {
    let record = verify_follower(envelope, thread, log, &keys.follow)?;
    open_verified(envelope, &record, keys)
}

/// Steps 9–10 of [VERIFY-2] on an envelope whose record already passed [VERIFY-1]: opens the
/// header with the read key and the body with the content key it carries.
pub fn open_verified(
    envelope: &Envelope,
    record: &VerifiedRecord,
    keys: &KeySet,
) -> Result<OpenedEvent> {
    let (thread, log) = (record.thread(), record.log());
    let read = keys.read_key()?;
    let (header, body) = memo::opened(envelope, thread, log, read, || {
        open_blocks(envelope, thread, log, read.as_bytes())
    })?;
    Ok(OpenedEvent {
        record: record.clone(),
        header,
        body,
    })
}

fn open_blocks(
    envelope: &Envelope,
    thread: &ThreadId,
    log: &LogId,
    read: &[u8; 32],
) -> Result<(Header, Vec<u8>)> {
    // Step 9: the header opens with the read key and carries the content key.
    let header = Header::from_bytes(&open_block(
        Layer::Header,
        read,
        thread,
        log,
        &envelope.header,
    )?)?;
    // Step 10: the body opens with the content key.
    let body = open_block(
        Layer::Body,
        header.content_key.as_bytes(),
        thread,
        log,
        &envelope.body,
    )?;
    Ok((header, body))
}

fn check_cid(what: &str, bytes: &[u8], expected: &Cid) -> Result<()> {
    let actual = block::cid_of(bytes);
    if &actual != expected {
        return Err(Error::new(
            ErrorCode::CidMismatch,
            format!("{what} block has CID {actual}, the link says {expected}"),
        ));
    }
    Ok(())
}
