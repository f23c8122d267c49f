//! The `writer-records` live scenario [HP-97]: the harness opens the records a writer pushes to
//! a follower, with the keys `node.keys` gives, and checks how the writer made them: each links
//! to the one before, and each has a content key and header and body nonces of its own
//! (spec/logs.md 4.2, [LOG-1]).

use std::str::FromStr;

use threads::block;
use threads::envelope::Envelope;
use threads::id::{LogId, ThreadId, Variant};
use threads::invite::InviteRole;
use threads::keys::{FollowKey, ReadKey};
use threads::record::{self, Header, Record};
use threads::seal::{Layer, NONCE_LEN};
use threads::sync::Message;

use super::driver::{Driver, StepError};
use super::scenario::{Check, Outcome, Scenario, accept, append, equal, export_invite, on, seed};
use crate::protocol::{Call, Hex, Keys, ThreadCreate, ThreadCreated};

/// The writer's node name (unique among scenarios, [HP-27]).
const WRITER: &str = "records-writer";
/// The follower's node name.
const FOLLOWER: &str = "records-follower";
/// How many records the writer appends.
const RECORDS: u64 = 4;

/// The `writer-records` scenario [HP-97].
pub const WRITER_RECORDS: Scenario = Scenario {
    name: "writer-records",
    features: &["nodes", "acl"],
    checks: &[
        Check {
            name: "records-chained",
            spec: "LOG-1",
            description: "the records pushed to the follower, opened with the follow key, have seq 1 to 4, the first prev null and each other prev the CID of the record before",
        },
        Check {
            name: "fresh-keys-and-nonces",
            spec: "LOG-1",
            description: "the 4 content keys (headers opened with the read key) are distinct, and so are the 8 header and body nonces",
        },
    ],
    play: writer_records,
};

/// One record as the harness opened it.
struct Opened {
    cid: String,
    seq: u64,
    prev: Option<String>,
    content_key: Vec<u8>,
    nonces: [Vec<u8>; 2],
}

/// Opens `envelope` with the writer's keys; why not, if it does not open.
fn open(envelope: &Envelope, keys: &WriterKeys<'_>) -> Result<Opened, String> {
    let (thread, log) = (keys.thread, keys.log);
    let (follow, read) = (keys.follow, keys.read);
    let plain = record::open_block(
        Layer::Record,
        follow.as_bytes(),
        thread,
        log,
        &envelope.record,
    )
    .map_err(|e| format!("the record layer does not open: {e}"))?;
    let rec = Record::from_bytes(&plain).map_err(|e| format!("no record: {e}"))?;
    let header = record::open_block(
        Layer::Header,
        read.as_bytes(),
        thread,
        log,
        &envelope.header,
    )
    .and_then(|h| Header::from_bytes(&h))
    .map_err(|e| format!("the header does not open: {e}"))?;
    let nonce = |sealed: &[u8]| -> Result<Vec<u8>, String> {
        let bytes = block::decode_byte_string(sealed).map_err(|e| e.to_string())?;
        bytes
            .get(..NONCE_LEN)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| "a sealed block shorter than its nonce".to_string())
    };
    Ok(Opened {
        cid: envelope.record_cid().to_string(),
        seq: rec.seq,
        prev: rec.prev.map(|c| c.to_string()),
        content_key: header.content_key.as_bytes().to_vec(),
        nonces: [nonce(&envelope.header)?, nonce(&envelope.body)?],
    })
}

fn parsed<T: FromStr>(what: &str, text: &str) -> Result<T, StepError>
where
    T::Err: std::fmt::Display,
{
    T::from_str(text).map_err(|e| {
        StepError::new(
            "writer-records setup",
            format!("the {what} {text:?} does not parse: {e}"),
        )
    })
}

/// The steps of [HP-97]; pushes each check's outcome in [`WRITER_RECORDS`]'s order.
fn writer_records(d: &mut Driver, made: &mut Vec<Outcome>) -> Result<(), StepError> {
    let name = WRITER_RECORDS.name;
    for node in [WRITER, FOLLOWER] {
        d.create(node, seed(name, node))?;
    }
    let created: ThreadCreated = d.step(Call::ThreadCreate(ThreadCreate {
        node: WRITER.into(),
        variant: Variant::Raw,
        time: d.now(),
    }))?;
    let invite = export_invite(d, WRITER, &created.thread, InviteRole::Follower, FOLLOWER)?;
    accept(d, FOLLOWER, invite)?;
    d.pump()?;
    d.watch(FOLLOWER);
    for i in 1..=RECORDS {
        append(d, WRITER, &created.thread, format!("record {i}").as_bytes())?;
        d.pump()?;
    }
    let (follow, read) = keys_of(d, &created.thread)?;
    let thread = parsed::<ThreadId>("thread", &created.thread)?;
    let log = parsed::<LogId>("log", &created.log)?;
    let keys = WriterKeys {
        thread: &thread,
        log: &log,
        follow: &follow,
        read: &read,
    };
    match open_pushed(d.watched(), &keys) {
        Ok(opened) => {
            made.push(chained(&opened));
            made.push(fresh(&opened));
        }
        Err(unopened) => {
            let why = format!("records that do not open: {unopened:?}");
            made.push(Err(("4 records that open".into(), why.clone())));
            made.push(Err(("4 records that open".into(), why)));
        }
    }
    Ok(())
}

/// The follow key and the read key `node.keys` gives the writer for `thread`.
fn keys_of(d: &mut Driver, thread: &str) -> Result<(FollowKey, ReadKey), StepError> {
    let keys: Keys = d.step(Call::NodeKeys(on(WRITER, thread)))?;
    let bad = |why: String| StepError::new("node.keys on records-writer", why);
    let follow = FollowKey::from_slice(&keys.follow_key.0).map_err(|e| bad(e.to_string()))?;
    let read = keys.read_key.ok_or_else(|| bad("no read key".into()))?;
    let read = ReadKey::from_slice(&read.0).map_err(|e| bad(e.to_string()))?;
    Ok((follow, read))
}

/// The writer's log and keys, to open its records with.
struct WriterKeys<'a> {
    thread: &'a ThreadId,
    log: &'a LogId,
    follow: &'a FollowKey,
    read: &'a ReadKey,
}

/// The records of the writer's log in the `records` messages it pushed, each once, by seq; or
/// why some do not open.
fn open_pushed(kept: &[(String, Hex)], keys: &WriterKeys<'_>) -> Result<Vec<Opened>, Vec<String>> {
    let mut opened: Vec<Opened> = Vec::new();
    let mut unopened = Vec::new();
    for (from, Hex(bytes)) in kept {
        let Ok(Message::Records {
            thread,
            log,
            envelopes,
            ..
        }) = Message::from_bytes(bytes)
        else {
            continue;
        };
        if from != WRITER || thread != *keys.thread || log != *keys.log {
            continue;
        }
        for envelope in &envelopes {
            match open(envelope, keys) {
                Ok(o) if !opened.iter().any(|p| p.cid == o.cid) => opened.push(o),
                Ok(_) => {}
                Err(why) => unopened.push(why),
            }
        }
    }
    if !unopened.is_empty() {
        return Err(unopened);
    }
    opened.sort_by_key(|o| o.seq);
    Ok(opened)
}

/// Seq 1 to [`RECORDS`], each prev the CID of the record before [LOG-1].
fn chained(opened: &[Opened]) -> Outcome {
    let want: Vec<(u64, Option<String>)> = (1..=RECORDS)
        .map(|seq| {
            let before = (seq as usize).checked_sub(2).and_then(|i| opened.get(i));
            (seq, before.map(|o| o.cid.clone()))
        })
        .collect();
    let got: Vec<(u64, Option<String>)> = opened.iter().map(|o| (o.seq, o.prev.clone())).collect();
    equal(&want, &got)
}

/// No content key and no nonce is used twice [LOG-1].
fn fresh(opened: &[Opened]) -> Outcome {
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let mut repeated = Vec::new();
    for (i, o) in opened.iter().enumerate() {
        let earlier = &opened[..i];
        if let Some(e) = earlier.iter().find(|e| e.content_key == o.content_key) {
            repeated.push(format!("seq {}: the content key of seq {}", o.seq, e.seq));
        }
        for (layer, n) in ["header", "body"].into_iter().zip(&o.nonces) {
            if let Some(e) = earlier.iter().find(|e| e.nonces.contains(n)) {
                repeated.push(format!(
                    "seq {}: the {layer} nonce {} of seq {}",
                    o.seq,
                    hex(n),
                    e.seq
                ));
            }
        }
        if o.nonces[0] == o.nonces[1] {
            repeated.push(format!("seq {}: one nonce for header and body", o.seq));
        }
    }
    if opened.len() as u64 != RECORDS {
        return Err((
            format!("{RECORDS} records pushed"),
            format!("{} records", opened.len()),
        ));
    }
    equal(&Vec::<String>::new(), &repeated)
}
