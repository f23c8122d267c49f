//! The `nonce-scope` live scenario [HP-96]: a peer that holds a thread's follow key but has not
//! proven it yet presents proofs over nonces the writer did not issue to it for that thread in the
//! last 120 seconds; the writer must prove it only over one it did (spec/sync.md 7.12, [SYNC-19]).

use std::str::FromStr;

use sha2::{Digest, Sha256};
use threads::id::{LogId, ThreadId, Variant};
use threads::keys::FollowKey;
use threads::membership::{self, AuthNonce, NONCE_TTL_MS};
use threads::sync::Message;

use super::driver::{Driver, PumpStats, StepError};
use super::scenario::{Check, Outcome, Scenario, after, append, equal, on, seed};
use crate::protocol::{Call, Hex, Keys, ThreadCreate, ThreadCreated};

/// The writer's node name (unique among scenarios, [HP-27]).
const WRITER: &str = "nonce-writer";
/// The prover's node name: the harness speaks for it [HP-101].
const PROVER: &str = "nonce-prover";
/// Another peer the writer issues a nonce to.
const OTHER: &str = "nonce-other";

/// The `nonce-scope` scenario [HP-96].
pub const NONCE_SCOPE: Scenario = Scenario {
    name: "nonce-scope",
    features: &["nodes", "acl"],
    checks: &[
        Check {
            name: "nonces-distinct",
            spec: "SYNC-19",
            description: "the writer's nonces for (prover, T), (other, T) and (prover, T2) are 16 bytes each and pairwise distinct",
        },
        Check {
            name: "other-peers-nonce-refused",
            spec: "SYNC-19",
            description: "the prover's proof over the nonce the writer issued to the other peer for T gets no answer",
        },
        Check {
            name: "other-threads-nonce-refused",
            spec: "SYNC-19",
            description: "the prover's proof for T over the nonce the writer issued to it for T2 gets no answer",
        },
        Check {
            name: "stale-nonce-refused",
            spec: "SYNC-19",
            description: "125 seconds after the writer issued the prover its nonce for T, a proof over it gets no answer",
        },
        Check {
            name: "fresh-proof-accepted",
            spec: "SYNC-20",
            description: "a proof over a nonce just issued is answered with an auth whose nonce is empty (proven), and the next append is pushed to the prover",
        },
    ],
    play: nonce_scope,
};

/// A challenge as a harness-written peer sends it: the first 16 bytes of SHA-256 of
/// `threads-harness/nonce-scope/<what>`.
fn own_nonce(what: &str) -> Vec<u8> {
    Sha256::digest(format!("threads-harness/nonce-scope/{what}"))[..16].to_vec()
}

fn parsed<T: FromStr>(what: &str, text: &str) -> Result<T, StepError>
where
    T::Err: std::fmt::Display,
{
    T::from_str(text).map_err(|e| {
        StepError::new(
            "nonce-scope setup",
            format!("the {what} {text:?} does not parse: {e}"),
        )
    })
}

/// What the scenario knows: the thread (and its text), the writer's and the prover's IDs, the
/// proof key.
struct Setup {
    text: String,
    thread: ThreadId,
    writer: LogId,
    prover: LogId,
    key: [u8; 32],
}

impl Setup {
    /// The prover's `auth` about T, with a challenge of its own, proving over `nonce`.
    fn proof_over(&self, nonce: &AuthNonce, what: &str) -> Vec<u8> {
        let proof = membership::prove(&self.key, &self.thread, &self.prover, &self.writer, nonce);
        Message::Auth {
            thread: self.thread.clone(),
            nonce: own_nonce(what),
            proof: proof.to_vec(),
        }
        .to_bytes()
    }
}

/// Steps 1 of [HP-96]: the nodes, T with one record, T2, and T's proof key.
fn set_up(d: &mut Driver) -> Result<(Setup, ThreadId), StepError> {
    let mut ids = Vec::new();
    for node in [WRITER, PROVER, OTHER] {
        let peer = d.create(node, seed(NONCE_SCOPE.name, node))?;
        ids.push(parsed::<LogId>("peer ID", &peer)?);
    }
    let mut threads = Vec::new();
    for body in [&b"nonce 1"[..], b""] {
        let created: ThreadCreated = d.step(Call::ThreadCreate(ThreadCreate {
            node: WRITER.into(),
            variant: Variant::Raw,
            time: d.now(),
        }))?;
        if !body.is_empty() {
            append(d, WRITER, &created.thread, body)?;
        }
        threads.push(created.thread);
    }
    let keys: Keys = d.step(Call::NodeKeys(on(WRITER, &threads[0])))?;
    let follow = FollowKey::from_slice(&keys.follow_key.0)
        .map_err(|e| StepError::new("node.keys on nonce-writer", e.to_string()))?;
    let thread = parsed::<ThreadId>("thread", &threads[0])?;
    let setup = Setup {
        key: membership::proof_key(&thread, &follow),
        text: threads[0].clone(),
        thread,
        writer: ids[0],
        prover: ids[1],
    };
    Ok((setup, parsed::<ThreadId>("thread", &threads[1])?))
}

/// The steps of [HP-96]; pushes each check's outcome in [`NONCE_SCOPE`]'s order.
fn nonce_scope(d: &mut Driver, made: &mut Vec<Outcome>) -> Result<(), StepError> {
    let (setup, other_thread) = set_up(d)?;
    let (others, _) = issued(d, OTHER, &setup.thread, "other")?;
    let (mine, pump) = issued(d, PROVER, &setup.thread, "prover")?;
    let (elsewhere, _) = issued(d, PROVER, &other_thread, "prover-t2")?;
    made.push(after(pump, distinct(&[&mine, &others, &elsewhere])));
    made.push(refused(d, &setup, &others, "other-peers")?);
    made.push(refused(d, &setup, &elsewhere, "other-threads")?);
    d.wait(NONCE_TTL_MS + 5_000);
    made.push(refused(d, &setup, &mine, "stale")?);
    made.push(accepted(d, &setup)?);
    Ok(())
}

/// The prover's proof over `nonce` gets no answer from the writer [SYNC-19], [SYNC-20].
fn refused(
    d: &mut Driver,
    setup: &Setup,
    nonce: &Option<AuthNonce>,
    what: &str,
) -> Result<Outcome, StepError> {
    let Some(nonce) = nonce else {
        return Ok(Err(("a nonce from the writer".into(), "none".into())));
    };
    let (answers, pump) = answers(d, setup.proof_over(nonce, what))?;
    let senders: Vec<&str> = answers.iter().map(|(from, _)| from.as_str()).collect();
    Ok(after(pump, equal(&Vec::<&str>::new(), &senders)))
}

/// A proof over a nonce just issued makes the prover proven, answered with an empty nonce, and
/// served the next append [SYNC-20].
fn accepted(d: &mut Driver, setup: &Setup) -> Result<Outcome, StepError> {
    let thread = &setup.thread;
    let (fresh, _) = issued(d, PROVER, thread, "fresh")?;
    let Some(fresh) = fresh else {
        return Ok(Err(("a nonce from the writer".into(), "none".into())));
    };
    let (answered, _) = answers(d, setup.proof_over(&fresh, "proven"))?;
    let proven = answered.iter().any(|(from, m)| {
        from == WRITER
            && matches!(m, Some(Message::Auth { thread: t, nonce, proof })
                if t == thread && nonce.is_empty() && proof.len() == 32)
    });
    let before = d.watched().len();
    append(d, WRITER, &setup.text, b"nonce 2")?;
    let pump = d.pump()?;
    let served = d.watched()[before..].iter().any(|(from, Hex(bytes))| {
        from == WRITER
            && matches!(Message::from_bytes(bytes),
                Ok(Message::Records { thread: t, envelopes, .. })
                    if t == *thread && !envelopes.is_empty())
    });
    let got: Vec<&str> = [(proven, "proven"), (served, "served")]
        .into_iter()
        .filter_map(|(yes, what)| yes.then_some(what))
        .collect();
    Ok(after(pump, equal(&vec!["proven", "served"], &got)))
}

/// Has `node` challenge the writer about `thread` and returns the nonce the writer answers with,
/// if any; the harness keeps what the pump hands `node` from then on [HP-102].
fn issued(
    d: &mut Driver,
    node: &str,
    thread: &ThreadId,
    what: &str,
) -> Result<(Option<AuthNonce>, PumpStats), StepError> {
    d.watch(node);
    let challenge = Message::Auth {
        thread: thread.clone(),
        nonce: own_nonce(what),
        proof: Vec::new(),
    };
    d.inject(node, WRITER, challenge.to_bytes())?;
    let pump = d.pump()?;
    let nonce = d.watched().iter().find_map(|(from, Hex(bytes))| {
        match (from.as_str(), Message::from_bytes(bytes)) {
            (
                WRITER,
                Ok(Message::Auth {
                    thread: t, nonce, ..
                }),
            ) if t == *thread => AuthNonce::try_from(nonce.as_slice()).ok(),
            _ => None,
        }
    });
    Ok((nonce, pump))
}

/// Hands the writer `message` as the prover's and returns what the pump then hands the prover.
type Kept = Vec<(String, Option<Message>)>;
fn answers(d: &mut Driver, message: Vec<u8>) -> Result<(Kept, PumpStats), StepError> {
    let before = d.watched().len();
    d.inject(PROVER, WRITER, message)?;
    let pump = d.pump()?;
    let kept = d.watched()[before..]
        .iter()
        .map(|(from, Hex(bytes))| (from.clone(), Message::from_bytes(bytes).ok()))
        .collect();
    Ok((kept, pump))
}

/// The nonces exist and no two are equal: a nonce the same for two peers or two threads is one
/// another peer can predict [SYNC-19].
fn distinct(nonces: &[&Option<AuthNonce>]) -> Outcome {
    let hex = |n: &Option<AuthNonce>| n.map(|n| n.iter().map(|b| format!("{b:02x}")).collect());
    let got: Vec<Option<String>> = nonces.iter().map(|n| hex(n)).collect();
    let mut unique: Vec<Option<String>> = Vec::new();
    for n in &got {
        if n.is_some() && !unique.contains(n) {
            unique.push(n.clone());
        }
    }
    if unique.len() == got.len() {
        Ok(())
    } else {
        Err((
            format!("{} distinct 16-byte nonces", got.len()),
            format!("{got:?}"),
        ))
    }
}
