//! The `stranger` live scenario [HP-100]: a node that knows a thread's IDs but holds none of its
//! keys asks a writer and a follower for the thread; it must be told nothing but `auth`, keep
//! nothing, and leave nothing behind, while the members still converge (spec/sync.md 7.12).

use std::str::FromStr;

use sha2::{Digest, Sha256};
use threads::id::{LogId, ThreadId, Variant};
use threads::invite::InviteRole;
use threads::keys::IdentityKey;
use threads::sync::{Message, PULL_LIMIT};

use super::driver::{Driver, StepError};
use super::scenario::{
    Check, Outcome, Scenario, accept, after, append, equal, export_invite, fails_with, heads, on,
    seed,
};
use crate::protocol::{Call, Hex, ThreadCreate, ThreadCreated};

/// The writer's node name (unique among scenarios, [HP-27]).
const WRITER: &str = "stranger-writer";
/// The follower's node name.
const FOLLOWER: &str = "stranger-follower";
/// The stranger's node name.
const STRANGER_NODE: &str = "stranger";
/// How many forged log IDs the stranger's `heads` names [HP-100].
const FORGED_LOGS: usize = 8;

/// The `stranger` scenario [HP-100].
pub const STRANGER: Scenario = Scenario {
    name: "stranger",
    features: &["nodes"],
    checks: &[
        Check {
            name: "stranger-challenged",
            spec: "HP-101",
            description: "the writer and the follower take the messages written as the stranger's for the stranger's, and each send it an auth about T with a 16-byte nonce",
        },
        Check {
            name: "stranger-told-nothing",
            spec: "SYNC-21",
            description: "every message the writer and the follower send the stranger is an auth: no pull, records or heads",
        },
        Check {
            name: "stranger-holds-nothing",
            spec: "SYNC-20",
            description: "node.heads T on the stranger fails with KEY_UNAVAILABLE",
        },
        Check {
            name: "members-keep-nothing",
            spec: "SYNC-23",
            description: "the writer's and the follower's node.heads T name the log L only: no forged log is stored",
        },
        Check {
            name: "members-converge",
            spec: "LOG-3",
            description: "after a 4th append and a pump, the follower's logs[L] equals the writer's",
        },
        Check {
            name: "unheld-thread-answered-alike",
            spec: "SYNC-3",
            description: "the writer answers the stranger's messages about a thread it does not hold exactly as those about T: auth messages of the same shapes, nothing else",
        },
        Check {
            name: "stranger-not-filed",
            spec: "SYNC-9",
            description: "after the 4th append, the writer and the follower send the stranger nothing but auth: its messages filed it as no peer of T",
        },
        Check {
            name: "forged-proof-ignored",
            spec: "SYNC-20",
            description: "an auth about T with a nonce and a proof that fails gets no answer from the writer or the follower: the whole message is ignored",
        },
        Check {
            name: "pushes-count-their-records",
            spec: "SYNC-30",
            description: "after 3 appends with no pump between them, each records message the writer sends the follower about L carries as its counter the seq of its last record: the counter before it plus its envelopes",
        },
    ],
    play: stranger,
};

/// A thread no node holds, which the stranger also asks the writer about [SYNC-3]: a raw TID
/// whose random part is the first 16 bytes of SHA-256 of `threads-harness/stranger/unheld`.
fn unheld_thread() -> ThreadId {
    let random = Sha256::digest("threads-harness/stranger/unheld");
    ThreadId::from_parts(Variant::Raw, &random[..16]).expect("16 random bytes make a raw TID")
}

/// The log IDs the stranger's `heads` names: keys derived from
/// `threads-harness/stranger/forged/<i>` [HP-100].
fn forged_logs() -> Vec<LogId> {
    (0..FORGED_LOGS)
        .map(|i| {
            let seed: [u8; 32] =
                Sha256::digest(format!("threads-harness/stranger/forged/{i}")).into();
            IdentityKey::from_seed(&seed).log_id()
        })
        .collect()
}

/// What the stranger sends each member, in order [HP-100]: a challenge, a pull of L, a `heads`
/// claiming it holds nothing of L and naming forged logs, and an empty push of L.
fn forged(thread: &ThreadId, log: &LogId) -> Vec<Message> {
    let nonce = Sha256::digest("threads-harness/stranger/nonce")[..16].to_vec();
    let mut named: Vec<(LogId, u64)> = forged_logs().into_iter().map(|l| (l, 1)).collect();
    named.push((*log, 0));
    named.sort();
    vec![
        Message::Auth {
            thread: thread.clone(),
            nonce,
            proof: Vec::new(),
        },
        Message::Pull {
            thread: thread.clone(),
            log: *log,
            after: 0,
            limit: PULL_LIMIT,
        },
        Message::Heads {
            thread: thread.clone(),
            heads: named,
        },
        Message::Records {
            thread: thread.clone(),
            log: *log,
            counter: 0,
            envelopes: Vec::new(),
        },
    ]
}

/// An `auth` about T whose proof cannot check: 32 bytes of SHA-256 of
/// `threads-harness/stranger/proof`, with a nonce (SHA-256 of `threads-harness/stranger/nonce-2`,
/// 16 bytes) that a peer answers only once the proof checked [SYNC-20].
fn forged_proof(thread: &ThreadId) -> Message {
    Message::Auth {
        thread: thread.clone(),
        nonce: Sha256::digest("threads-harness/stranger/nonce-2")[..16].to_vec(),
        proof: Sha256::digest("threads-harness/stranger/proof").to_vec(),
    }
}

fn parsed<T: FromStr>(what: &str, text: &str) -> Result<T, StepError>
where
    T::Err: std::fmt::Display,
{
    T::from_str(text).map_err(|e| StepError {
        step: "thread.create on stranger-writer".into(),
        detail: format!("the {what} {text:?} does not parse: {e}"),
        fault: None,
    })
}

/// The steps of [HP-100]; pushes each check's outcome in [`STRANGER`]'s order.
fn stranger(d: &mut Driver, made: &mut Vec<Outcome>) -> Result<(), StepError> {
    let name = STRANGER.name;
    for node in [WRITER, FOLLOWER, STRANGER_NODE] {
        d.create(node, seed(name, node))?;
    }
    let created: ThreadCreated = d.step(Call::ThreadCreate(ThreadCreate {
        node: WRITER.into(),
        variant: Variant::Raw,
        time: d.now(),
    }))?;
    let (thread, log) = (created.thread, created.log);
    for seq in 1..=3 {
        append(d, WRITER, &thread, format!("secret {seq}").as_bytes())?;
    }
    let invite = export_invite(d, WRITER, &thread, InviteRole::Follower, FOLLOWER)?;
    accept(d, FOLLOWER, invite)?;
    d.pump()?;

    d.watch(STRANGER_NODE);
    let (tid, lid) = (
        parsed::<ThreadId>("thread", &thread)?,
        parsed::<LogId>("log", &log)?,
    );
    for member in [WRITER, FOLLOWER] {
        for message in forged(&tid, &lid) {
            d.inject(STRANGER_NODE, member, message.to_bytes())?;
        }
    }
    let unheld = unheld_thread();
    for message in forged(&unheld, &lid) {
        d.inject(STRANGER_NODE, WRITER, message.to_bytes())?;
    }
    let pump = d.pump()?;
    let told: Vec<(String, Option<Message>)> = d
        .watched()
        .iter()
        .map(|(from, Hex(bytes))| (from.clone(), Message::from_bytes(bytes).ok()))
        .collect();
    made.push(after(pump, challenged(&told, &tid)));
    made.push(after(pump, told_nothing(&told)));
    let alike = after(pump, answered_alike(&told, &tid, &unheld));
    let held = d.call(Call::NodeHeads(on(STRANGER_NODE, &thread)))?;
    made.push(fails_with(&held, "KEY_UNAVAILABLE"));
    let mut logs = Vec::new();
    for member in [WRITER, FOLLOWER] {
        let names: Vec<String> = heads(d, member, &thread)?.logs.into_keys().collect();
        logs.push((member, names));
    }
    let want: Vec<(&str, Vec<String>)> =
        vec![(WRITER, vec![log.clone()]), (FOLLOWER, vec![log.clone()])];
    made.push(equal(&want, &logs));

    let before = d.watched().len();
    append(d, WRITER, &thread, b"secret 4")?;
    let pump = d.pump()?;
    let writer_head = heads(d, WRITER, &thread)?.logs.remove(&log);
    let follower_head = heads(d, FOLLOWER, &thread)?.logs.remove(&log);
    made.push(after(pump, equal(&writer_head, &follower_head)));
    made.push(alike);
    let since: Vec<(String, Option<Message>)> = d.watched()[before..]
        .iter()
        .map(|(from, Hex(bytes))| (from.clone(), Message::from_bytes(bytes).ok()))
        .collect();
    made.push(after(pump, told_nothing(&since)));

    let before = d.watched().len();
    for member in [WRITER, FOLLOWER] {
        d.inject(STRANGER_NODE, member, forged_proof(&tid).to_bytes())?;
    }
    let pump = d.pump()?;
    let answers: Vec<String> = d.watched()[before..]
        .iter()
        .map(|(from, _)| from.clone())
        .collect();
    made.push(after(pump, equal(&Vec::<String>::new(), &answers)));

    let counter = heads(d, WRITER, &thread)?
        .logs
        .get(&log)
        .map_or(0, |h| h.counter);
    d.watch(FOLLOWER);
    for seq in 5..=7 {
        append(d, WRITER, &thread, format!("secret {seq}").as_bytes())?;
    }
    let pump = d.pump()?;
    made.push(after(pump, pushed_counters(d.watched(), &lid, counter)));
    Ok(())
}

/// Each member sent the stranger a challenge: an `auth` about the thread with a nonce [SYNC-20],
/// [SYNC-21], which shows the stranger's messages reached them.
fn challenged(told: &[(String, Option<Message>)], thread: &ThreadId) -> Outcome {
    let challengers: Vec<&str> = [WRITER, FOLLOWER]
        .into_iter()
        .filter(|member| {
            told.iter().any(|(from, message)| {
                from == member
                    && matches!(message, Some(Message::Auth { thread: t, nonce, .. })
                        if t == thread && nonce.len() == 16)
            })
        })
        .collect();
    equal(&vec![WRITER, FOLLOWER], &challengers)
}

/// Nothing but `auth` reached the stranger [SYNC-21].
fn told_nothing(told: &[(String, Option<Message>)]) -> Outcome {
    let other: Vec<String> = told
        .iter()
        .filter(|(_, message)| !matches!(message, Some(Message::Auth { .. })))
        .map(|(from, message)| match message {
            Some(Message::Pull { after, .. }) => format!("{from}: pull after {after}"),
            Some(Message::Records {
                envelopes, counter, ..
            }) => {
                format!(
                    "{from}: records, {} envelopes, counter {counter}",
                    envelopes.len()
                )
            }
            Some(Message::Heads { heads, .. }) => format!("{from}: heads, {} entries", heads.len()),
            Some(Message::Auth { .. }) => format!("{from}: auth"),
            None => format!("{from}: a message that does not decode"),
        })
        .collect();
    equal(&Vec::<String>::new(), &other)
}

/// What the writer told the stranger about `thread`, as shapes: `auth nonce N proof M` for an
/// `auth` with an N-byte nonce and an M-byte proof, the message kind otherwise; sorted.
fn shapes(told: &[(String, Option<Message>)], thread: &ThreadId) -> Vec<String> {
    let mut out: Vec<String> = told
        .iter()
        .filter(|(from, _)| from == WRITER)
        .filter_map(|(_, message)| match message.as_ref()? {
            Message::Auth {
                thread: t,
                nonce,
                proof,
            } => (t == thread).then(|| format!("auth nonce {} proof {}", nonce.len(), proof.len())),
            Message::Pull { thread: t, .. } => (t == thread).then(|| "pull".to_string()),
            Message::Records { thread: t, .. } => (t == thread).then(|| "records".to_string()),
            Message::Heads { thread: t, .. } => (t == thread).then(|| "heads".to_string()),
        })
        .collect();
    out.sort();
    out
}

/// The writer answered the same messages about a thread it does not hold as about one it holds
/// [SYNC-3]: an answer that differed would tell anyone who knows a Thread ID whether it holds it.
fn answered_alike(
    told: &[(String, Option<Message>)],
    held: &ThreadId,
    unheld: &ThreadId,
) -> Outcome {
    let want = shapes(told, held);
    if want.is_empty() || want.iter().any(|s| !s.starts_with("auth")) {
        return Err((
            "auth messages about T to compare with".into(),
            format!("{want:?}"),
        ));
    }
    equal(&want, &shapes(told, unheld))
}

/// The records messages about `log` the follower was handed from the writer, after the writer's
/// counter was `from`: each carries the seq of its last record, which, pushed in order, is the
/// counter before it plus its envelopes [SYNC-30], [SYNC-4]; the last one reaches 3 more.
fn pushed_counters(handed: &[(String, Hex)], log: &LogId, from: u64) -> Outcome {
    let mut next = from;
    let (mut want, mut got) = (Vec::new(), Vec::new());
    for (sender, Hex(bytes)) in handed {
        if let (
            WRITER,
            Ok(Message::Records {
                log: l,
                counter,
                envelopes,
                ..
            }),
        ) = (sender.as_str(), Message::from_bytes(bytes))
            && l == *log
            && !envelopes.is_empty()
        {
            next += envelopes.len() as u64;
            want.push(next);
            got.push(counter);
        }
    }
    if next != from + 3 {
        return Err((
            format!("pushes of 3 records after counter {from}"),
            format!("{} records pushed", next - from),
        ));
    }
    equal(&want, &got)
}
