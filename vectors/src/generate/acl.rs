//! Suite `acl`: an access-controlled thread's ACL as a reader computes it from real, signed
//! records — the genesis, change events, deletes — and the decisions it gives (spec chapter 6).

use rand_chacha::ChaCha20Rng;
use serde_json::{Map, Value, json};
use threads::ErrorCode as E;
use threads::acl::{AclChange, AclDocument, AclEvent, AclOp, Role, Roles};
use threads::envelope::Envelope;
use threads::id::{LogId, ThreadId, Variant};
use threads::invite::Join;
use threads::keys::{IdentityKey, KeySet};
use threads::record::Position;

use super::forge::{Tweaks, Writer, after, raw_codec_cid, reseal};
use super::invites::{array, document_cbor};
use super::records::TIME;
use super::{Intent, SuiteBuilder, random_seed};
use crate::format::SuiteFile;
use crate::ops;
use threads_fixtures::acl_worked_example as worked;
use threads_fixtures::cbor;

type Result<T> = std::result::Result<T, String>;

/// The peers: A, B and C are those of the worked example (RFC 8032 TEST 2, 1 and 3, so their log
/// IDs sort A < B < C); D to G come from the suite's RNG.
struct Cast {
    a: IdentityKey,
    b: IdentityKey,
    c: IdentityKey,
    d: IdentityKey,
    e: IdentityKey,
    f: IdentityKey,
    g: IdentityKey,
}

fn identity(seed_hex: &str) -> Result<IdentityKey> {
    let seed: [u8; 32] = hex::decode(seed_hex)
        .map_err(|e| e.to_string())?
        .try_into()
        .map_err(|_| "a seed has 32 bytes".to_string())?;
    Ok(IdentityKey::from_seed(&seed))
}

fn random_identity(rng: &mut ChaCha20Rng) -> IdentityKey {
    IdentityKey::from_seed(&random_seed(rng))
}

/// The thread of the worked example (variant 0x70, random part 00 01 … 1f) and its keys.
struct Ctx {
    thread: ThreadId,
    keys: KeySet,
}

/// One writer's log as it grows: every record is real, sealed and signed.
struct Chain {
    writer: Writer,
    envs: Vec<Envelope>,
}

impl Clone for Chain {
    fn clone(&self) -> Chain {
        Chain {
            writer: Writer {
                thread: self.writer.thread.clone(),
                identity: self.writer.identity.clone(),
                keys: self.writer.keys.clone(),
            },
            envs: self.envs.clone(),
        }
    }
}

impl Chain {
    fn new(ctx: &Ctx, identity: &IdentityKey) -> Chain {
        Chain {
            writer: Writer {
                thread: ctx.thread.clone(),
                identity: identity.clone(),
                keys: ctx.keys.clone(),
            },
            envs: Vec::new(),
        }
    }

    fn id(&self) -> LogId {
        self.writer.log()
    }

    fn next(&self) -> Position {
        match self.envs.last() {
            None => Position::FIRST,
            Some(last) => after(last, self.envs.len() as u64),
        }
    }

    /// Appends a record with this body plaintext.
    fn push(&mut self, body: &[u8], rng: &mut ChaCha20Rng) -> Envelope {
        let position = self.next();
        let envelope = self
            .writer
            .envelope(position, body, TIME + position.seq, rng);
        self.envs.push(envelope.clone());
        envelope
    }

    /// Appends a record that passes [VERIFY-1] but whose header is sealed under another read key,
    /// so no reader opens it [VERIFY-2].
    fn push_unreadable(&mut self, rng: &mut ChaCha20Rng) -> Envelope {
        let position = self.next();
        let tweaks = Tweaks {
            header_key: Some(random_seed(rng)),
            ..Tweaks::default()
        };
        let body = b"sealed under a read key no reader holds";
        let envelope = self
            .writer
            .forge(position, body, TIME + position.seq, tweaks, rng);
        self.envs.push(envelope.clone());
        envelope
    }

    fn genesis(&mut self, document: AclDocument, rng: &mut ChaCha20Rng) -> Envelope {
        self.push(&AclEvent::Genesis { acl: document }.to_bytes(), rng)
    }

    fn change(&mut self, clock: u64, op: AclOp, rng: &mut ChaCha20Rng) -> Result<Envelope> {
        let change = AclChange::new(clock, op).map_err(|e| e.to_string())?;
        Ok(self.push(&AclEvent::Change(change).to_bytes(), rng))
    }

    fn delete(&mut self, target: &Envelope, rng: &mut ChaCha20Rng) -> Envelope {
        let target = target.record_cid();
        self.push(&AclEvent::Delete { target }.to_bytes(), rng)
    }

    fn join(&mut self, rng: &mut ChaCha20Rng) -> Envelope {
        self.push(&Join { addrs: vec![] }.to_bytes(), rng)
    }

    /// Appends `n` records of application data.
    fn apps(&mut self, n: usize, rng: &mut ChaCha20Rng) {
        for _ in 0..n {
            let body = format!("application event {} of this log", self.envs.len() + 1);
            self.push(body.as_bytes(), rng);
        }
    }

    /// This log as one entry of a `logs` input.
    fn all(&self) -> (LogId, Vec<Envelope>) {
        (self.id(), self.envs.clone())
    }

    /// The first `n` records.
    fn first(&self, n: usize) -> (LogId, Vec<Envelope>) {
        (self.id(), self.envs[..n].to_vec())
    }
}

/// A `logs` input: each log's envelopes in the order given.
fn logs(entries: &[(LogId, Vec<Envelope>)]) -> Value {
    let map: Map<String, Value> = entries
        .iter()
        .map(|(log, envs)| {
            let envs: Vec<Value> = envs
                .iter()
                .map(|e| hex::encode(e.to_bytes()).into())
                .collect();
            (log.to_string(), Value::Array(envs))
        })
        .collect();
    Value::Object(map)
}

fn cid(envelope: &Envelope) -> String {
    envelope.record_cid().to_string()
}

fn text(identity: &IdentityKey) -> String {
    identity.log_id().to_string()
}

fn write() -> Roles {
    Roles::of(Role::Write)
}

/// Generates the `acl` suite.
pub fn generate() -> Result<SuiteFile> {
    let mut s = SuiteBuilder::new(
        "acl",
        &[
            "Access control in an access-controlled thread (spec/acl.md). Each group gives the logs a",
            "reader holds, as real envelopes: the operation verifies each (VERIFY-2), links it into",
            "its log (chapter 4), takes seq 1 of the creator's log as the genesis (ACL-4), and folds",
            "the ACL events (ACL-6). In these threads a log's ID is its author's peer ID. `logs` maps",
            "each log ID to its envelopes in seq order; a repeated envelope is a replay.",
        ],
    );
    notes(&mut s);
    let mut rng = s.rng("cast");
    let ctx = Ctx {
        thread: ThreadId::from_parts(Variant::AccessControlled, &worked::THREAD_RANDOM)
            .map_err(|e| e.to_string())?,
        keys: KeySet::generate(&mut rng),
    };
    let cast = Cast {
        a: identity(worked::SEED_A)?,
        b: identity(worked::SEED_B)?,
        c: identity(worked::SEED_C)?,
        d: random_identity(&mut rng),
        e: random_identity(&mut rng),
        f: random_identity(&mut rng),
        g: random_identity(&mut rng),
    };
    let base = json!({
        "thread": ctx.thread.to_string(),
        "followKey": hex::encode(ctx.keys.follow.as_bytes()),
        "readKey": hex::encode(ctx.keys.read.as_ref().ok_or("no read key")?.as_bytes()),
        "creator": text(&cast.a),
    });
    let mut evaluate: Vec<EvaluateCase> = Vec::new();
    let mut groups: Vec<Group> = Vec::new();
    let mut rng = s.rng("worked-example");
    worked_example(&ctx, &cast, &mut evaluate, &mut groups, &mut rng)?;
    let mut rng = s.rng("bypass");
    bypass(&ctx, &cast, &mut evaluate, &mut groups, &mut rng)?;
    let mut rng = s.rng("clock-order");
    clock_order(&ctx, &cast, &mut evaluate, &mut rng)?;
    let mut rng = s.rng("revocation");
    revocation(&ctx, &cast, &mut evaluate, &mut groups, &mut rng)?;
    let mut rng = s.rng("replayed-grant");
    replayed_grant(&ctx, &cast, &mut evaluate, &mut groups, &mut rng)?;
    let mut rng = s.rng("deletes");
    deletes(&ctx, &cast, &mut evaluate, &mut groups, &mut rng)?;
    let mut rng = s.rng("malformed-events");
    malformed_events(&ctx, &cast, &mut evaluate, &mut groups, &mut rng)?;
    let mut rng = s.rng("defaults-and-admins");
    defaults_and_admins(&ctx, &cast, &mut evaluate, &mut groups, &mut rng)?;
    let mut rng = s.rng("anchor-and-unreadable");
    anchor_and_unreadable(&ctx, &cast, &mut evaluate, &mut groups, &mut rng)?;
    let mut rng = s.rng("invalid-genesis");
    let no_genesis = invalid_genesis(&ctx, &cast, &mut rng)?;

    s.group("AclEvaluate", "acl.evaluate", base.clone());
    for case in &evaluate {
        s.case(
            case.section,
            case.flags,
            &case.comment,
            json!({"logs": case.logs}),
            Intent::Valid,
        );
    }
    // The same set of events given twice must give the same state [ACL-6].
    for case in &evaluate {
        if let Some(twin) = case.same_as {
            same_evaluation(&base, &case.logs, &evaluate[twin].logs, &case.comment)?;
        }
    }
    for op in ["acl.checkChange", "acl.acceptsRecord", "acl.decide"] {
        for group in groups.iter().filter(|g| g.operation == op) {
            let mut params = base.clone();
            params["logs"] = group.logs.clone();
            s.group(group.kind, op, params);
            for case in &group.cases {
                s.case(
                    case.section,
                    case.flags,
                    &case.comment,
                    case.input.clone(),
                    case.intent,
                );
            }
        }
    }
    s.group("AclNoGenesis", "acl.acceptsRecord", base);
    for case in no_genesis {
        s.case(
            case.section,
            case.flags,
            &case.comment,
            case.input,
            case.intent,
        );
    }
    s.finish()
}

struct EvaluateCase {
    section: &'static str,
    flags: &'static [&'static str],
    comment: String,
    logs: Value,
    /// The index of an earlier case holding the same set of events.
    same_as: Option<usize>,
}

struct Case {
    section: &'static str,
    flags: &'static [&'static str],
    comment: String,
    input: Value,
    intent: Intent,
}

/// Cases of one operation over one set of logs.
struct Group {
    kind: &'static str,
    operation: &'static str,
    logs: Value,
    cases: Vec<Case>,
}

impl Group {
    fn new(kind: &'static str, operation: &'static str, logs: &Value) -> Group {
        Group {
            kind,
            operation,
            logs: logs.clone(),
            cases: Vec::new(),
        }
    }

    fn add(
        &mut self,
        section: &'static str,
        flags: &'static [&'static str],
        comment: &str,
        input: Value,
        intent: Intent,
    ) {
        self.cases.push(Case {
            section,
            flags,
            comment: comment.to_string(),
            input,
            intent,
        });
    }

    /// A checkChange case for the record `envelope`.
    fn change(
        &mut self,
        section: &'static str,
        flags: &'static [&'static str],
        comment: &str,
        envelope: &Envelope,
        intent: Intent,
    ) {
        self.add(
            section,
            flags,
            comment,
            json!({"cid": cid(envelope)}),
            intent,
        );
    }

    /// An acceptsRecord case.
    fn record(
        &mut self,
        section: &'static str,
        flags: &'static [&'static str],
        comment: &str,
        author: &IdentityKey,
        seq: u64,
        intent: Intent,
    ) {
        let input = json!({"author": text(author), "seq": seq});
        self.add(section, flags, comment, input, intent);
    }

    /// A decide case.
    fn decide(
        &mut self,
        section: &'static str,
        flags: &'static [&'static str],
        comment: &str,
        peer: &IdentityKey,
        action: &str,
        intent: Intent,
    ) {
        let input = json!({"peer": text(peer), "action": action});
        self.add(section, flags, comment, input, intent);
    }
}

fn evaluated(
    evaluate: &mut Vec<EvaluateCase>,
    section: &'static str,
    flags: &'static [&'static str],
    comment: &str,
    logs: Value,
) -> usize {
    evaluate.push(EvaluateCase {
        section,
        flags,
        comment: comment.to_string(),
        logs,
        same_as: None,
    });
    evaluate.len() - 1
}

fn same_evaluation(base: &Value, x: &Value, y: &Value, comment: &str) -> Result<()> {
    let run = |logs: &Value| {
        let mut inputs = base.as_object().cloned().unwrap_or_default();
        inputs.insert("logs".into(), logs.clone());
        ops::execute("acl.evaluate", &inputs).map_err(|f| f.error.to_string())
    };
    if run(x)? != run(y)? {
        return Err(format!(
            "acl.evaluate {comment:?}: the same set of events gave two states"
        ));
    }
    Ok(())
}

const DENIED: Intent = Intent::Invalid(E::AclDenied);
const BYPASS: Intent = Intent::Invalid(E::AclBypass);
const MALFORMED: Intent = Intent::Invalid(E::AclMalformed);
const OK: Intent = Intent::Valid;

/// spec/acl.md 6.12, record for record: A and B change C concurrently, then disagree.
fn worked_example(
    ctx: &Ctx,
    cast: &Cast,
    evaluate: &mut Vec<EvaluateCase>,
    groups: &mut Vec<Group>,
    rng: &mut ChaCha20Rng,
) -> Result<()> {
    let (a, b, c) = (cast.a.log_id(), cast.b.log_id(), cast.c.log_id());
    if !(a < b && b < c) {
        return Err("the worked example's peers must sort A < B < C".into());
    }
    let mut la = Chain::new(ctx, &cast.a);
    let mut lb = Chain::new(ctx, &cast.b);
    let mut lc = Chain::new(ctx, &cast.c);
    let genesis = AclDocument::for_thread(&ctx.thread, a)
        .with_admin(b)
        .with_peer(b, write())
        .with_peer(c, write());
    let g = la.genesis(genesis, rng);
    lc.apps(12, rng);
    let a1 = la.change(1, AclOp::set_peer(c, Roles::of(Role::Read), 4), rng)?;
    lb.join(rng);
    let b1 = lb.change(1, AclOp::set_peer(c, write().with_delete(), 0), rng)?;
    let a2 = la.change(2, AclOp::set_peer(c, Roles::of(Role::Read), 9), rng)?;
    let b2 = lb.change(2, AclOp::RevokeAdmin { admin: a }, rng)?;
    let a3 = la.change(3, AclOp::SetDefault { role: Role::Read }, rng)?;

    let full = logs(&[la.all(), lb.all(), lc.all()]);
    let expected: Value =
        serde_json::from_str(worked::FINAL_DOCUMENT).map_err(|e| e.to_string())?;
    let mut inputs = Map::new();
    inputs.insert("thread".into(), ctx.thread.to_string().into());
    inputs.insert(
        "followKey".into(),
        hex::encode(ctx.keys.follow.as_bytes()).into(),
    );
    if let Some(read) = &ctx.keys.read {
        inputs.insert("readKey".into(), hex::encode(read.as_bytes()).into());
    }
    inputs.insert("creator".into(), a.to_string().into());
    inputs.insert("logs".into(), full.clone());
    let output = ops::execute("acl.evaluate", &inputs).map_err(|f| f.error.to_string())?;
    if output["document"] != expected {
        return Err(
            "the worked example does not end in the document spec/acl.md 6.12 prints".into(),
        );
    }

    let first = evaluated(
        evaluate,
        "ACL-6",
        &["WORKED_EXAMPLE"],
        "spec 6.12: a1, b1, a2, b2, a3 — a2 sorts before b2 and applies; a3 falls after b2 and is ignored",
        full.clone(),
    );
    evaluated(
        evaluate,
        "ACL-4",
        &["NORMAL"],
        "spec 6.12: the genesis alone; C's records are application data",
        logs(&[la.first(1), lc.all()]),
    );
    evaluated(
        evaluate,
        "ACL-7",
        &["WORKED_EXAMPLE", "WRITE_AFTER_REVOCATION"],
        "spec 6.12: a1 alone lowers C to read with cut 4",
        logs(&[la.first(2), lb.first(1), lc.all()]),
    );
    evaluated(
        evaluate,
        "ACL-6",
        &["WORKED_EXAMPLE", "ORDER_INDEPENDENT"],
        "spec 6.12: a1 and b1 are concurrent (clock 1); A's log ID sorts first, so b1 applies last and removes the cut",
        logs(&[la.first(2), lb.first(2), lc.all()]),
    );
    evaluated(
        evaluate,
        "ACL-6",
        &["WORKED_EXAMPLE"],
        "spec 6.12: a peer holding b2 but not yet a2: A is no longer an admin, C still writes",
        logs(&[la.first(2), lb.all(), lc.all()]),
    );
    let replayed = logs(&[
        (
            a,
            vec![
                g.clone(),
                a1.clone(),
                a2.clone(),
                a3.clone(),
                a1.clone(),
                g.clone(),
            ],
        ),
        (
            b,
            [lb.envs.clone(), vec![b1.clone(), b2.clone(), b1.clone()]].concat(),
        ),
        (c, [lc.envs.clone(), lc.envs[..3].to_vec()].concat()),
    ]);
    let again = evaluated(
        evaluate,
        "ACL-6",
        &["WORKED_EXAMPLE", "ORDER_INDEPENDENT"],
        "spec 6.12 again, with records replayed in every log: duplicates count once, the state is the same",
        replayed,
    );
    evaluate[again].same_as = Some(first);

    let mut checks = Group::new("AclCheckChange", "acl.checkChange", &full);
    checks.change("ACL-4", &["WORKED_EXAMPLE"], "the genesis", &g, OK);
    checks.change(
        "ACL-6",
        &["WORKED_EXAMPLE"],
        "a1: applied, then overridden by b1",
        &a1,
        OK,
    );
    checks.change(
        "ACL-6",
        &["WORKED_EXAMPLE", "ORDER_INDEPENDENT"],
        "b1: concurrent with a1, applied after it",
        &b1,
        OK,
    );
    checks.change(
        "ACL-6",
        &["WORKED_EXAMPLE", "ORDER_INDEPENDENT"],
        "a2: sorts before A's revocation b2, so A was still an admin",
        &a2,
        OK,
    );
    checks.change(
        "ACL-6",
        &["WORKED_EXAMPLE"],
        "b2: B revokes A's admin right",
        &b2,
        OK,
    );
    checks.change(
        "ACL-6",
        &["WORKED_EXAMPLE", "ACL_BYPASS", "REVOKED_ADMIN"],
        "a3: A's change ordered after its revocation",
        &a3,
        BYPASS,
    );
    groups.push(checks);

    let mut records = Group::new("AclAcceptsRecord", "acl.acceptsRecord", &full);
    records.record(
        "ACL-7",
        &["WORKED_EXAMPLE", "WRITE_AFTER_REVOCATION"],
        "C's record 9: at the cut",
        &cast.c,
        9,
        OK,
    );
    records.record(
        "ACL-7",
        &["WORKED_EXAMPLE", "WRITE_AFTER_REVOCATION"],
        "C's record 10: after the cut",
        &cast.c,
        10,
        DENIED,
    );
    records.record(
        "ACL-7",
        &["WORKED_EXAMPLE", "WRITE_AFTER_REVOCATION"],
        "C's record 12",
        &cast.c,
        12,
        DENIED,
    );
    records.record(
        "ACL-7",
        &["WORKED_EXAMPLE"],
        "A lost its admin right, not write: its record 4 is accepted",
        &cast.a,
        4,
        OK,
    );
    records.record("ACL-7", &["WORKED_EXAMPLE"], "B's record 3", &cast.b, 3, OK);
    groups.push(records);

    let mut decide = Group::new("AclDecide", "acl.decide", &full);
    decide.decide(
        "ACL-1",
        &["WORKED_EXAMPLE"],
        "C may read",
        &cast.c,
        "read",
        OK,
    );
    decide.decide(
        "ACL-1",
        &["WORKED_EXAMPLE"],
        "C may follow: read implies follow",
        &cast.c,
        "follow",
        OK,
    );
    decide.decide(
        "ACL-2",
        &["WORKED_EXAMPLE", "WRITE_AFTER_REVOCATION"],
        "C may not write",
        &cast.c,
        "write",
        DENIED,
    );
    decide.decide(
        "ACL-2",
        &["WORKED_EXAMPLE", "DELETE"],
        "C's entry is [\"read\"] now: no delete",
        &cast.c,
        "delete",
        DENIED,
    );
    decide.decide(
        "ACL-2",
        &["WORKED_EXAMPLE", "REVOKED_ADMIN"],
        "A is no longer an admin",
        &cast.a,
        "admin",
        DENIED,
    );
    decide.decide(
        "ACL-2",
        &["WORKED_EXAMPLE"],
        "B is an admin",
        &cast.b,
        "admin",
        OK,
    );
    decide.decide(
        "ACL-1",
        &["WORKED_EXAMPLE"],
        "A still writes",
        &cast.a,
        "write",
        OK,
    );
    decide.decide(
        "ACL-2",
        &["NORMAL"],
        "a peer without an entry gets the default, no-access",
        &cast.d,
        "follow",
        DENIED,
    );
    groups.push(decide);
    Ok(())
}

/// ACL_BYPASS and FORGED_AUTHOR: changes by peers the ACL's own ACL does not allow, a second
/// genesis, and records forged in an admin's name.
fn bypass(
    ctx: &Ctx,
    cast: &Cast,
    evaluate: &mut Vec<EvaluateCase>,
    groups: &mut Vec<Group>,
    rng: &mut ChaCha20Rng,
) -> Result<()> {
    let (a, d, e) = (cast.a.log_id(), cast.d.log_id(), cast.e.log_id());
    let mut la = Chain::new(ctx, &cast.a);
    let mut ld = Chain::new(ctx, &cast.d);
    let mut le = Chain::new(ctx, &cast.e);
    la.genesis(
        AclDocument::for_thread(&ctx.thread, a)
            .with_peer(d, write())
            .with_peer(e, Roles::of(Role::Read)),
        rng,
    );
    let a1 = la.change(1, AclOp::SetDefault { role: Role::Follow }, rng)?;
    let dg = ld.genesis(AclDocument::for_thread(&ctx.thread, d), rng);
    let d1 = ld.change(1, AclOp::set_peer(d, write().with_delete(), 0), rng)?;
    let d2 = ld.change(2, AclOp::GrantAdmin { admin: d }, rng)?;
    let e1 = le.change(1, AclOp::SetDefault { role: Role::Write }, rng)?;
    // D's record in A's log, at A's next position: sealed for A's log, signed with D's key.
    let grant_d = AclEvent::Change(
        AclChange::new(2, AclOp::GrantAdmin { admin: d }).map_err(|e| e.to_string())?,
    );
    let forged = la.writer.forge(
        la.next(),
        &grant_d.to_bytes(),
        TIME,
        Tweaks {
            signer: Some(cast.d.clone()),
            ..Tweaks::default()
        },
        rng,
    );
    // D's genuine next record, delivered as A's.
    let moved = ld.change(3, AclOp::GrantAdmin { admin: d }, rng)?;
    let d_logs = ld.first(3);
    let all = logs(&[
        (
            a,
            [la.envs.clone(), vec![forged.clone(), moved.clone()]].concat(),
        ),
        d_logs,
        le.all(),
    ]);
    evaluated(
        evaluate,
        "ACL-6",
        &["ACL_BYPASS", "FORGED_AUTHOR", "SECOND_GENESIS"],
        "changes by a writer and a reader that are not admins are ignored; forged and moved records are rejected",
        all.clone(),
    );

    let mut checks = Group::new("AclCheckChange", "acl.checkChange", &all);
    checks.change("ACL-6", &["NORMAL"], "the admin's change", &a1, OK);
    checks.change(
        "ACL-6",
        &["ACL_BYPASS"],
        "a writer that is not an admin gives itself delete",
        &d1,
        BYPASS,
    );
    checks.change(
        "ACL-6",
        &["ACL_BYPASS"],
        "a writer that is not an admin makes itself an admin",
        &d2,
        BYPASS,
    );
    checks.change(
        "ACL-6",
        &["ACL_BYPASS"],
        "a reader that is not an admin opens the default to write",
        &e1,
        BYPASS,
    );
    checks.change(
        "ACL-11",
        &["ACL_BYPASS", "SECOND_GENESIS"],
        "an acl-genesis body at seq 1 of another log than the creator's",
        &dg,
        BYPASS,
    );
    checks.change(
        "SIG-2",
        &["FORGED_AUTHOR"],
        "a grant in the admin's log signed with another writer's key",
        &forged,
        Intent::Invalid(E::SignatureInvalid),
    );
    checks.change(
        "SEAL-2",
        &["FORGED_AUTHOR"],
        "another writer's genuine grant delivered as the admin's",
        &moved,
        Intent::Invalid(E::RecordDecryptFailed),
    );
    groups.push(checks);

    let mut decide = Group::new("AclDecide", "acl.decide", &all);
    decide.decide(
        "ACL-2",
        &["ACL_BYPASS", "FORGED_AUTHOR"],
        "the writer did not become an admin",
        &cast.d,
        "admin",
        DENIED,
    );
    decide.decide(
        "ACL-2",
        &["ACL_BYPASS"],
        "the writer did not get delete",
        &cast.d,
        "delete",
        DENIED,
    );
    decide.decide(
        "ACL-2",
        &["ACL_BYPASS"],
        "the reader's default change did not apply: it still may not write",
        &cast.e,
        "write",
        DENIED,
    );
    decide.decide(
        "ACL-2",
        &["DEFAULT_ROLE"],
        "the admin's default change applied: a peer without an entry may follow",
        &cast.f,
        "follow",
        OK,
    );
    decide.decide(
        "ACL-2",
        &["DEFAULT_ROLE"],
        "…but not read",
        &cast.f,
        "read",
        DENIED,
    );
    groups.push(decide);

    let mut records = Group::new("AclAcceptsRecord", "acl.acceptsRecord", &all);
    records.record(
        "ACL-7",
        &["ACL_BYPASS"],
        "the writer's records stay accepted: its ignored changes are still its records",
        &cast.d,
        3,
        OK,
    );
    records.record(
        "ACL-7",
        &["NORMAL"],
        "a reader's record is refused: it was never granted write",
        &cast.e,
        1,
        DENIED,
    );
    groups.push(records);
    Ok(())
}

/// Clock order is not log order: B's changes sort before A's by their clocks, although A's log
/// comes first in every listing (JSON objects here are written with sorted keys).
fn clock_order(
    ctx: &Ctx,
    cast: &Cast,
    evaluate: &mut Vec<EvaluateCase>,
    rng: &mut ChaCha20Rng,
) -> Result<()> {
    let (a, b, c) = (cast.a.log_id(), cast.b.log_id(), cast.c.log_id());
    let mut la = Chain::new(ctx, &cast.a);
    let mut lb = Chain::new(ctx, &cast.b);
    la.genesis(
        AclDocument::for_thread(&ctx.thread, a)
            .with_admin(b)
            .with_peer(b, write()),
        rng,
    );
    // B's changes come first (clocks 1 and 2); A applied them, so its own take clocks 3 and 4.
    lb.change(1, AclOp::SetDefault { role: Role::Read }, rng)?;
    lb.change(2, AclOp::set_peer(c, write(), 0), rng)?;
    la.change(3, AclOp::SetDefault { role: Role::Follow }, rng)?;
    la.change(4, AclOp::set_peer(c, Roles::of(Role::Read), 0), rng)?;
    let all = logs(&[la.all(), lb.all()]);
    let first = evaluated(
        evaluate,
        "ACL-6",
        &["ORDER_INDEPENDENT"],
        "B's changes (clocks 1, 2) apply before A's (clocks 3, 4), though A's log is listed first and sorts first",
        all,
    );
    let shuffled = logs(&[
        (a, [la.envs.clone(), la.envs[1..].to_vec()].concat()),
        (b, [lb.envs.clone(), lb.envs[..1].to_vec()].concat()),
    ]);
    let again = evaluated(
        evaluate,
        "ACL-6",
        &["ORDER_INDEPENDENT"],
        "the same events with A's changes and B's first change delivered twice",
        shuffled,
    );
    evaluate[again].same_as = Some(first);
    Ok(())
}

/// WRITE_AFTER_REVOCATION: cuts, concurrent revocations, raising a peer back to write, and
/// records a log refuses (a fork, a gap).
fn revocation(
    ctx: &Ctx,
    cast: &Cast,
    evaluate: &mut Vec<EvaluateCase>,
    groups: &mut Vec<Group>,
    rng: &mut ChaCha20Rng,
) -> Result<()> {
    let (a, b, c, d, f) = (
        cast.a.log_id(),
        cast.b.log_id(),
        cast.c.log_id(),
        cast.d.log_id(),
        cast.f.log_id(),
    );
    let genesis = AclDocument::for_thread(&ctx.thread, a)
        .with_admin(b)
        .with_peer(b, write())
        .with_peer(c, write())
        .with_peer(d, write())
        .with_peer(f, Roles::of(Role::Read));
    let (mut la, mut lb) = (Chain::new(ctx, &cast.a), Chain::new(ctx, &cast.b));
    let (mut lc, mut ld, mut lf) = (
        Chain::new(ctx, &cast.c),
        Chain::new(ctx, &cast.d),
        Chain::new(ctx, &cast.f),
    );
    la.genesis(genesis.clone(), rng);
    lc.apps(6, rng);
    ld.join(rng);
    ld.apps(5, rng);
    let fork = ld
        .writer
        .envelope(after(&ld.envs[2], 3), b"the other event 4", TIME, rng);
    ld.apps(2, rng);
    lf.apps(1, rng);
    let a1 = la.change(1, AclOp::set_peer(c, Roles::of(Role::Read), 3), rng)?;
    let b1 = lb.change(1, AclOp::set_peer(c, Roles::of(Role::Follow), 5), rng)?;
    la.change(2, AclOp::set_peer(d, Roles::of(Role::Read), 2), rng)?;
    la.change(3, AclOp::set_peer(d, write(), 0), rng)?;
    let d_logs = (
        d,
        [
            ld.envs[..6].to_vec(),
            vec![fork.clone(), ld.envs[7].clone()],
        ]
        .concat(),
    );
    let all = logs(&[la.all(), lb.all(), lc.all(), d_logs.clone(), lf.all()]);
    evaluated(
        evaluate,
        "ACL-7",
        &["WRITE_AFTER_REVOCATION", "CONCURRENT_REVOCATION"],
        "C revoked concurrently with cuts 3 and 5 keeps cut 3; D revoked then raised to write has no cut; a fork and a gap are rejected",
        all.clone(),
    );
    evaluated(
        evaluate,
        "ACL-7",
        &["WRITE_AFTER_REVOCATION"],
        "before D is raised again: cuts for C and D",
        logs(&[la.first(3), lb.all(), lc.all(), d_logs, lf.all()]),
    );
    // The same two revocations with the cuts swapped between the admins: the smaller cut still
    // holds, now applied second.
    let (mut la2, mut lb2) = (Chain::new(ctx, &cast.a), Chain::new(ctx, &cast.b));
    la2.genesis(genesis, rng);
    la2.change(1, AclOp::set_peer(c, Roles::of(Role::Read), 5), rng)?;
    lb2.change(1, AclOp::set_peer(c, Roles::of(Role::Follow), 3), rng)?;
    evaluated(
        evaluate,
        "ACL-7",
        &["CONCURRENT_REVOCATION", "ORDER_INDEPENDENT"],
        "concurrent revocations with the smaller cut ordered second: cut 3 all the same",
        logs(&[la2.all(), lb2.all(), lc.all()]),
    );

    let mut checks = Group::new("AclCheckChange", "acl.checkChange", &all);
    checks.change(
        "ACL-6",
        &["CONCURRENT_REVOCATION"],
        "A's revocation of C",
        &a1,
        OK,
    );
    checks.change(
        "ACL-6",
        &["CONCURRENT_REVOCATION"],
        "B's concurrent revocation of C",
        &b1,
        OK,
    );
    groups.push(checks);

    let mut records = Group::new("AclAcceptsRecord", "acl.acceptsRecord", &all);
    records.record(
        "ACL-7",
        &["WRITE_AFTER_REVOCATION", "CONCURRENT_REVOCATION"],
        "C's record 3: at the smaller cut",
        &cast.c,
        3,
        OK,
    );
    records.record(
        "ACL-7",
        &["WRITE_AFTER_REVOCATION", "CONCURRENT_REVOCATION"],
        "C's record 4: between the two cuts",
        &cast.c,
        4,
        DENIED,
    );
    records.record(
        "ACL-7",
        &["WRITE_AFTER_REVOCATION"],
        "C's record 6",
        &cast.c,
        6,
        DENIED,
    );
    records.record(
        "ACL-7",
        &["WRITE_AFTER_REVOCATION"],
        "D raised back to write: its record 6, after its old cut, is accepted",
        &cast.d,
        6,
        OK,
    );
    records.record(
        "INV-8",
        &["NORMAL"],
        "a joined writer's log: its join event (seq 1) is accepted, the ACL granting it write",
        &cast.d,
        1,
        OK,
    );
    records.record(
        "ACL-7",
        &["WRITE_AFTER_REVOCATION"],
        "a reader never granted write: its record 1 is refused",
        &cast.f,
        1,
        DENIED,
    );
    records.record(
        "INV-8",
        &["NORMAL"],
        "a log of a peer the ACL does not name is refused",
        &cast.g,
        1,
        DENIED,
    );
    groups.push(records);
    Ok(())
}

/// REPLAYED_GRANT: a grant delivered again, re-sealed, or re-sent by another admin at its old
/// clock has no effect on the later revocation.
fn replayed_grant(
    ctx: &Ctx,
    cast: &Cast,
    evaluate: &mut Vec<EvaluateCase>,
    groups: &mut Vec<Group>,
    rng: &mut ChaCha20Rng,
) -> Result<()> {
    let (a, b, c) = (cast.a.log_id(), cast.b.log_id(), cast.c.log_id());
    let (mut la, mut lb, mut lc) = (
        Chain::new(ctx, &cast.a),
        Chain::new(ctx, &cast.b),
        Chain::new(ctx, &cast.c),
    );
    la.genesis(
        AclDocument::for_thread(&ctx.thread, a)
            .with_admin(b)
            .with_peer(b, write())
            .with_peer(c, Roles::of(Role::Read)),
        rng,
    );
    lc.apps(4, rng);
    let a1 = la.change(1, AclOp::set_peer(c, write(), 0), rng)?;
    la.change(2, AclOp::set_peer(c, Roles::of(Role::Read), 2), rng)?;
    lb.join(rng);
    let b1 = lb.change(1, AclOp::set_peer(c, write(), 0), rng)?;
    let resealed = reseal(&la.writer, &a1, rng);
    let a_logs = (
        a,
        [
            la.envs.clone(),
            vec![a1.clone(), a1.clone(), resealed.clone()],
        ]
        .concat(),
    );
    let all = logs(&[a_logs, lb.all(), lc.all()]);
    evaluated(
        evaluate,
        "ACL-6",
        &["REPLAYED_GRANT"],
        "a grant replayed twice, re-sealed, and re-sent by another admin at its old clock: the revocation still holds",
        all.clone(),
    );
    let mut checks = Group::new("AclCheckChange", "acl.checkChange", &all);
    checks.change(
        "ACL-6",
        &["REPLAYED_GRANT"],
        "the grant: applied once, before the revocation",
        &a1,
        OK,
    );
    checks.change(
        "ACL-6",
        &["REPLAYED_GRANT"],
        "the same grant by another admin at clock 1: it sorts before the revocation",
        &b1,
        OK,
    );
    checks.change(
        "SEAL-5",
        &["REPLAYED_GRANT"],
        "the grant re-sealed under a new record CID is no event at all",
        &resealed,
        Intent::Invalid(E::RecordNonceInvalid),
    );
    groups.push(checks);
    let mut decide = Group::new("AclDecide", "acl.decide", &all);
    decide.decide(
        "ACL-2",
        &["REPLAYED_GRANT"],
        "C may not write: the replays do not undo the revocation",
        &cast.c,
        "write",
        DENIED,
    );
    groups.push(decide);
    let mut records = Group::new("AclAcceptsRecord", "acl.acceptsRecord", &all);
    records.record(
        "ACL-7",
        &["REPLAYED_GRANT"],
        "C's record 2: at the cut",
        &cast.c,
        2,
        OK,
    );
    records.record(
        "ACL-7",
        &["REPLAYED_GRANT", "WRITE_AFTER_REVOCATION"],
        "C's record 3: after the cut",
        &cast.c,
        3,
        DENIED,
    );
    groups.push(records);
    Ok(())
}

/// DELETE: delete events with and without the capability, by refused records, malformed.
fn deletes(
    ctx: &Ctx,
    cast: &Cast,
    evaluate: &mut Vec<EvaluateCase>,
    groups: &mut Vec<Group>,
    rng: &mut ChaCha20Rng,
) -> Result<()> {
    let (a, c, d, e) = (
        cast.a.log_id(),
        cast.c.log_id(),
        cast.d.log_id(),
        cast.e.log_id(),
    );
    let (mut la, mut lc, mut ld, mut le) = (
        Chain::new(ctx, &cast.a),
        Chain::new(ctx, &cast.c),
        Chain::new(ctx, &cast.d),
        Chain::new(ctx, &cast.e),
    );
    la.genesis(
        AclDocument::for_thread(&ctx.thread, a)
            .with_default(Role::Read)
            .with_peer(c, write().with_delete())
            .with_peer(d, write())
            .with_peer(e, Roles::NONE.with_delete()),
        rng,
    );
    ld.apps(2, rng);
    let (d1, d2) = (ld.envs[0].clone(), ld.envs[1].clone());
    let c1 = lc.push(b"an event C will see deleted", rng);
    let c2 = lc.delete(&d1, rng);
    let raw_target = AclEvent::Delete {
        target: raw_codec_cid(b"not a record"),
    };
    let c3 = lc.push(&raw_target.to_bytes(), rng);
    let d3 = ld.delete(&c1, rng);
    let e1 = le.delete(&d2, rng);
    let all = logs(&[la.all(), lc.all(), ld.all(), le.all()]);
    evaluated(
        evaluate,
        "ACL-8",
        &["DELETE"],
        "deletes by a writer with delete (counts), a writer without it, and a peer with delete whose records are refused",
        all,
    );
    let mut la2 = la.clone();
    la2.change(
        1,
        AclOp::set_peer(c, Roles::of(Role::Read).with_delete(), 1),
        rng,
    )?;
    let lowered = logs(&[la2.all(), lc.all(), ld.all(), le.all()]);
    evaluated(
        evaluate,
        "ACL-8",
        &["DELETE", "WRITE_AFTER_REVOCATION"],
        "the deleter lowered to read with cut 1: its delete at seq 2 no longer counts",
        lowered.clone(),
    );
    let all = logs(&[la.all(), lc.all(), ld.all(), le.all()]);
    let mut checks = Group::new("AclCheckChange", "acl.checkChange", &all);
    checks.change(
        "ACL-8",
        &["DELETE"],
        "a delete by a writer whose entry lists delete",
        &c2,
        OK,
    );
    checks.change(
        "ACL-8",
        &["DELETE"],
        "a delete by a writer without delete",
        &d3,
        DENIED,
    );
    checks.change(
        "ACL-8",
        &["DELETE"],
        "a delete by a peer holding delete whose records are refused (read by default): the record check comes first",
        &e1,
        DENIED,
    );
    checks.change(
        "ACL-8",
        &["DELETE", "MALFORMED_ACL_EVENT"],
        "a delete whose target uses the raw codec",
        &c3,
        MALFORMED,
    );
    groups.push(checks);
    let mut after_cut = Group::new("AclCheckChange", "acl.checkChange", &lowered);
    after_cut.change(
        "ACL-8",
        &["DELETE", "WRITE_AFTER_REVOCATION"],
        "the same counting delete once its author is lowered below write with a cut before it",
        &c2,
        DENIED,
    );
    groups.push(after_cut);
    let mut decide = Group::new("AclDecide", "acl.decide", &all);
    decide.decide(
        "ACL-2",
        &["DELETE"],
        "a writer whose entry lists delete",
        &cast.c,
        "delete",
        OK,
    );
    decide.decide(
        "ACL-2",
        &["DELETE"],
        "a writer without delete",
        &cast.d,
        "delete",
        DENIED,
    );
    decide.decide(
        "ACL-10",
        &["DELETE"],
        "an entry listing only delete gives the capability",
        &cast.e,
        "delete",
        OK,
    );
    decide.decide(
        "ACL-10",
        &["DELETE", "DEFAULT_ROLE"],
        "…and leaves the ordered role to the default: read",
        &cast.e,
        "read",
        OK,
    );
    decide.decide(
        "ACL-10",
        &["DELETE", "DEFAULT_ROLE"],
        "…so it may not write",
        &cast.e,
        "write",
        DENIED,
    );
    groups.push(decide);
    Ok(())
}

/// A change body crafted field by field: `{"op", "type": "acl", "clock"}`.
fn change_cbor(clock: Vec<u8>, op: Vec<u8>) -> Vec<u8> {
    cbor::map(&[("op", op), ("type", cbor::text("acl")), ("clock", clock)])
}

fn set_peer_cbor(cut: Option<u64>, peer: &str, roles: &[&str]) -> Vec<u8> {
    let roles: Vec<Vec<u8>> = roles.iter().map(|r| cbor::text(r)).collect();
    let mut entries = Vec::new();
    if let Some(cut) = cut {
        entries.push(("cut", cbor::uint(cut)));
    }
    entries.extend([
        ("set", cbor::text("peer")),
        ("peer", cbor::text(peer)),
        ("roles", array(&roles)),
    ]);
    cbor::map(&entries)
}

/// Bodies that claim a reserved type without its exact shape [ACL-12].
fn malformed_events(
    ctx: &Ctx,
    cast: &Cast,
    evaluate: &mut Vec<EvaluateCase>,
    groups: &mut Vec<Group>,
    rng: &mut ChaCha20Rng,
) -> Result<()> {
    let a = cast.a.log_id();
    let c = text(&cast.c);
    let mut la = Chain::new(ctx, &cast.a);
    la.genesis(
        AclDocument::for_thread(&ctx.thread, a).with_peer(cast.c.log_id(), write()),
        rng,
    );
    let set_default =
        |role: &str| cbor::map(&[("set", cbor::text("default")), ("role", cbor::text(role))]);
    let valid = AclEvent::Change(
        AclChange::new(1, AclOp::SetDefault { role: Role::Follow }).map_err(|e| e.to_string())?,
    );
    if change_cbor(cbor::uint(1), set_default("follow")) != valid.to_bytes() {
        return Err("the crafted change body differs from the reference's encoding".into());
    }
    let bodies: Vec<(&'static str, &'static str, Vec<u8>)> = vec![
        (
            "ACL-5",
            "clock 0, which belongs to the genesis",
            change_cbor(cbor::uint(0), set_default("read")),
        ),
        (
            "ACL-5",
            "a set-peer op lowering a peer to read without a cut",
            change_cbor(cbor::uint(1), set_peer_cbor(None, &c, &["read"])),
        ),
        (
            "ACL-5",
            "a set-peer op granting write with a cut",
            change_cbor(cbor::uint(1), set_peer_cbor(Some(2), &c, &["write"])),
        ),
        (
            "ACL-5",
            "an unknown op \"owner\"",
            change_cbor(
                cbor::uint(1),
                cbor::map(&[("set", cbor::text("owner")), ("admin", cbor::text(&c))]),
            ),
        ),
        (
            "ACL-12",
            "a set-default op with an extra peer field",
            change_cbor(
                cbor::uint(1),
                cbor::map(&[
                    ("set", cbor::text("default")),
                    ("peer", cbor::text(&c)),
                    ("role", cbor::text("read")),
                ]),
            ),
        ),
        (
            "ACL-12",
            "a body that is only {\"type\": \"acl\"}",
            cbor::map(&[("type", cbor::text("acl"))]),
        ),
        (
            "ACL-5",
            "clock as a text string",
            change_cbor(cbor::text("1"), set_default("read")),
        ),
        (
            "ACL-3",
            "a role list out of order: [\"write\", \"delete\"]",
            change_cbor(cbor::uint(1), set_peer_cbor(None, &c, &["write", "delete"])),
        ),
        (
            "ACL-3",
            "a grant-admin op naming a peer in a multibase text form, not LOGID-2's",
            change_cbor(
                cbor::uint(1),
                cbor::map(&[
                    ("set", cbor::text("grant-admin")),
                    ("admin", cbor::text(&format!("z{c}"))),
                ]),
            ),
        ),
        (
            "ACL-12",
            "an acl-genesis body without its document",
            cbor::map(&[("type", cbor::text("acl-genesis"))]),
        ),
        (
            "ACL-8",
            "a delete body whose target is a text string, not a link",
            cbor::map(&[
                ("type", cbor::text("delete")),
                ("target", cbor::text(&la.envs[0].record_cid().to_string())),
            ]),
        ),
    ];
    let mut records = Vec::new();
    for (section, comment, body) in bodies {
        records.push((section, comment, la.push(&body, rng)));
    }
    let applied = la.change(1, AclOp::SetDefault { role: Role::Follow }, rng)?;
    let all = logs(&[la.all()]);
    evaluated(
        evaluate,
        "ACL-12",
        &["MALFORMED_ACL_EVENT"],
        "eleven malformed ACL bodies take no effect; the admin's valid change after them applies",
        all.clone(),
    );
    let mut checks = Group::new("AclCheckChange", "acl.checkChange", &all);
    for (section, comment, envelope) in records {
        checks.change(
            section,
            &["MALFORMED_ACL_EVENT"],
            comment,
            &envelope,
            MALFORMED,
        );
    }
    checks.change(
        "ACL-5",
        &["NORMAL"],
        "the valid change after them, at clock 1",
        &applied,
        OK,
    );
    groups.push(checks);
    Ok(())
}

/// DEFAULT_ROLE and the admin ops: the default decides for peers without an ordered role,
/// lowering it carries no cut, an admin need not write, the last admin stays.
fn defaults_and_admins(
    ctx: &Ctx,
    cast: &Cast,
    evaluate: &mut Vec<EvaluateCase>,
    groups: &mut Vec<Group>,
    rng: &mut ChaCha20Rng,
) -> Result<()> {
    let (a, c, f, g) = (
        cast.a.log_id(),
        cast.c.log_id(),
        cast.f.log_id(),
        cast.g.log_id(),
    );
    let (mut la, mut lg, mut lf) = (
        Chain::new(ctx, &cast.a),
        Chain::new(ctx, &cast.g),
        Chain::new(ctx, &cast.f),
    );
    la.genesis(
        AclDocument::for_thread(&ctx.thread, a).with_peer(c, Roles::of(Role::NoAccess)),
        rng,
    );
    lf.apps(2, rng);
    la.change(1, AclOp::SetDefault { role: Role::Read }, rng)?;
    la.change(2, AclOp::SetDefault { role: Role::Write }, rng)?;
    la.change(3, AclOp::SetDefault { role: Role::Follow }, rng)?;
    la.change(4, AclOp::GrantAdmin { admin: g }, rng)?;
    let g1 = lg.change(5, AclOp::set_peer(f, write(), 0), rng)?;
    lg.change(6, AclOp::RevokeAdmin { admin: a }, rng)?;
    let g3 = lg.change(7, AclOp::RevokeAdmin { admin: g }, rng)?;
    let g4 = lg.change(8, AclOp::set_peer(f, Roles::NONE, 1), rng)?;

    let open = logs(&[la.first(3), lf.all()]);
    let closed = logs(&[la.first(4), lf.all()]);
    let all = logs(&[la.all(), lg.all(), lf.all()]);
    evaluated(
        evaluate,
        "ACL-2",
        &["DEFAULT_ROLE"],
        "default raised to read, then write",
        open.clone(),
    );
    evaluated(
        evaluate,
        "ACL-7",
        &["DEFAULT_ROLE"],
        "default lowered to follow: no cut for peers that wrote by the default",
        closed.clone(),
    );
    evaluated(
        evaluate,
        "ACL-13",
        &["DEFAULT_ROLE", "LAST_ADMIN"],
        "a new admin that is not a writer changes the ACL, revokes the creator, cannot revoke itself, and removes an entry",
        all.clone(),
    );

    let mut decide = Group::new("AclDecide", "acl.decide", &open);
    decide.decide(
        "ACL-2",
        &["DEFAULT_ROLE"],
        "default write: a peer without an entry may write",
        &cast.f,
        "write",
        OK,
    );
    decide.decide(
        "ACL-10",
        &["DEFAULT_ROLE", "NO_ACCESS_ENTRY"],
        "an entry [\"no-access\"] denies even with default write",
        &cast.c,
        "follow",
        DENIED,
    );
    groups.push(decide);
    let mut records = Group::new("AclAcceptsRecord", "acl.acceptsRecord", &open);
    records.record(
        "ACL-7",
        &["DEFAULT_ROLE"],
        "default write: the records of a peer without an entry are accepted",
        &cast.f,
        2,
        OK,
    );
    groups.push(records);
    let mut records = Group::new("AclAcceptsRecord", "acl.acceptsRecord", &closed);
    records.record(
        "ACL-7",
        &["DEFAULT_ROLE", "WRITE_AFTER_REVOCATION"],
        "default lowered to follow: the peer keeps none of its records",
        &cast.f,
        1,
        DENIED,
    );
    groups.push(records);
    let mut decide = Group::new("AclDecide", "acl.decide", &closed);
    decide.decide(
        "ACL-2",
        &["DEFAULT_ROLE"],
        "default follow: a peer without an entry may follow",
        &cast.f,
        "follow",
        OK,
    );
    decide.decide(
        "ACL-1",
        &["DEFAULT_ROLE"],
        "…but not read",
        &cast.f,
        "read",
        DENIED,
    );
    groups.push(decide);

    let mut checks = Group::new("AclCheckChange", "acl.checkChange", &all);
    checks.change(
        "ACL-6",
        &["NORMAL"],
        "a change by an admin that is not a writer counts",
        &g1,
        OK,
    );
    checks.change(
        "ACL-13",
        &["LAST_ADMIN"],
        "the last admin revoking itself: applied, with no effect",
        &g3,
        OK,
    );
    checks.change(
        "ACL-13",
        &["NORMAL"],
        "an empty role list removes the peer's entry, with a cut",
        &g4,
        OK,
    );
    groups.push(checks);
    let mut decide = Group::new("AclDecide", "acl.decide", &all);
    decide.decide(
        "ACL-13",
        &["NORMAL"],
        "the granted admin",
        &cast.g,
        "admin",
        OK,
    );
    decide.decide(
        "ACL-13",
        &["REVOKED_ADMIN"],
        "the creator, revoked by the new admin",
        &cast.a,
        "admin",
        DENIED,
    );
    decide.decide(
        "ACL-13",
        &["DEFAULT_ROLE"],
        "the removed entry leaves the default: follow",
        &cast.f,
        "follow",
        OK,
    );
    decide.decide(
        "ACL-13",
        &["DEFAULT_ROLE"],
        "…and not write",
        &cast.f,
        "write",
        DENIED,
    );
    groups.push(decide);
    let mut records = Group::new("AclAcceptsRecord", "acl.acceptsRecord", &all);
    records.record(
        "ACL-7",
        &["WRITE_AFTER_REVOCATION"],
        "the removed writer's record 1, at its cut",
        &cast.f,
        1,
        OK,
    );
    records.record(
        "ACL-7",
        &["WRITE_AFTER_REVOCATION"],
        "…and its record 2",
        &cast.f,
        2,
        DENIED,
    );
    records.record(
        "ACL-6",
        &["NORMAL"],
        "an admin that is not a writer: its change counted, its records are refused",
        &cast.g,
        1,
        DENIED,
    );
    groups.push(records);
    Ok(())
}

/// A genesis body crafted field by field, for documents the reference refuses to build.
fn genesis_cbor(document: Vec<u8>, extra: Option<(&'static str, Vec<u8>)>) -> Vec<u8> {
    let mut entries = vec![("acl", document), ("type", cbor::text("acl-genesis"))];
    entries.extend(extra);
    cbor::map(&entries)
}

/// Threads without a valid genesis have no ACL: nothing is accepted [ACL-4].
/// The genesis an invite's anchor names must be seq 1 of the creator's log [ACL-11]; a record a
/// reader cannot open is still linked, so the records after it in its log count [SYNC-6].
fn anchor_and_unreadable(
    ctx: &Ctx,
    cast: &Cast,
    evaluate: &mut Vec<EvaluateCase>,
    groups: &mut Vec<Group>,
    rng: &mut ChaCha20Rng,
) -> Result<()> {
    let (a, c, d) = (cast.a.log_id(), cast.c.log_id(), cast.d.log_id());
    let mut la = Chain::new(ctx, &cast.a);
    let genesis = la.genesis(
        AclDocument::for_thread(&ctx.thread, a).with_peer(c, write()),
        rng,
    );
    la.push_unreadable(rng);
    la.change(1, AclOp::set_peer(d, write(), 0), rng)?;
    let mut lc = Chain::new(ctx, &cast.c);
    let unreadable = lc.push_unreadable(rng);
    lc.apps(1, rng);
    let mut ld = Chain::new(ctx, &cast.d);
    ld.apps(1, rng);
    let all = logs(&[la.all(), lc.all(), ld.all()]);
    evaluated(
        evaluate,
        "SYNC-6",
        &["UNREADABLE_RECORD"],
        "A's seq 2 and C's seq 1 pass VERIFY-1 but do not open: each is listed as rejected, yet linked, so A's grant at seq 3 is applied",
        all.clone(),
    );
    let mut linked = Group::new("AclUnreadable", "acl.acceptsRecord", &all);
    linked.record(
        "SYNC-6",
        &["UNREADABLE_RECORD"],
        "C, a writer since the genesis, keeps its seq 2 after its unreadable seq 1 (tcId 20 shows the linking)",
        &cast.c,
        2,
        OK,
    );
    linked.record(
        "SYNC-6",
        &["UNREADABLE_RECORD"],
        "D was granted write by A's change that follows A's unreadable seq 2",
        &cast.d,
        1,
        OK,
    );
    groups.push(linked);
    let mut anchored = Group::new("AclGenesisAnchor", "acl.acceptsRecord", &all);
    let query =
        |genesis: &Envelope| json!({"genesis": cid(genesis), "author": text(&cast.c), "seq": 2});
    anchored.add(
        "ACL-11",
        &["NORMAL"],
        "the anchor names the creator's seq 1",
        query(&genesis),
        OK,
    );
    anchored.add(
        "ACL-11",
        &["MISMATCHED_GENESIS"],
        "the anchor names a record other than the creator's seq 1: the thread has no valid genesis",
        query(&unreadable),
        MALFORMED,
    );
    groups.push(anchored);
    Ok(())
}

fn invalid_genesis(ctx: &Ctx, cast: &Cast, rng: &mut ChaCha20Rng) -> Result<Vec<Case>> {
    let (a, b, c) = (cast.a.log_id(), cast.b.log_id(), cast.c.log_id());
    let id = ctx.thread.to_string();
    let mut lc = Chain::new(ctx, &cast.c);
    lc.apps(1, rng);
    let good = AclDocument::for_thread(&ctx.thread, a).with_peer(c, write());
    let craft_check = genesis_cbor(
        document_cbor(
            &id,
            &good.peer_names().into_iter().collect::<Vec<_>>(),
            &good.admin_names(),
            "no-access",
        ),
        None,
    );
    if craft_check != (AclEvent::Genesis { acl: good.clone() }).to_bytes() {
        return Err("the crafted genesis body differs from the reference's encoding".into());
    }
    let with_genesis = |body: Vec<u8>, rng: &mut ChaCha20Rng| {
        let mut la = Chain::new(ctx, &cast.a);
        la.push(&body, rng);
        logs(&[la.all(), lc.all()])
    };
    let (ta, tb) = (a.to_string(), b.to_string());
    let mut unsorted = vec![ta.clone(), tb.clone()];
    unsorted.sort();
    unsorted.reverse();
    let mut cases = Vec::new();
    let mut add = |section: &'static str, comment: &str, input: Value| {
        cases.push(Case {
            section,
            flags: &["MALFORMED_GENESIS"],
            comment: comment.to_string(),
            input,
            intent: MALFORMED,
        });
    };
    let query = |logs: Value| json!({"logs": logs, "author": c.to_string(), "seq": 1});
    let not_admin = AclDocument::new(id.clone(), Role::NoAccess)
        .map_err(|e| e.to_string())?
        .with_admin(b)
        .with_peer(a, write())
        .with_peer(c, write());
    add(
        "ACL-4",
        "the creator is not in the genesis admins",
        query(with_genesis(
            AclEvent::Genesis { acl: not_admin }.to_bytes(),
            rng,
        )),
    );
    let other = ThreadId::generate(Variant::AccessControlled, rng);
    add(
        "ACL-4",
        "the genesis document's _id is another thread's",
        query(with_genesis(
            AclEvent::Genesis {
                acl: AclDocument::for_thread(&other, a).with_peer(c, write()),
            }
            .to_bytes(),
            rng,
        )),
    );
    let mut late = Chain::new(ctx, &cast.a);
    late.join(rng);
    late.genesis(good.clone(), rng);
    add(
        "ACL-4",
        "the creator's seq 1 is a join event; the genesis comes at seq 2",
        query(logs(&[late.all(), lc.all()])),
    );
    let mut la = Chain::new(ctx, &cast.a);
    la.genesis(good.clone(), rng);
    let mut lb = Chain::new(ctx, &cast.b);
    lb.join(rng);
    let mut input = query(logs(&[la.all(), lb.all(), lc.all()]));
    input["creator"] = tb.clone().into();
    add(
        "ACL-11",
        "the creator named is another peer, whose seq 1 is a join event",
        input,
    );
    add(
        "ACL-4",
        "the creator's log is missing",
        query(logs(&[lc.all()])),
    );
    let empty_list = document_cbor(
        &id,
        &[(ta.clone(), vec!["write"]), (c.to_string(), vec![])],
        std::slice::from_ref(&ta),
        "no-access",
    );
    add(
        "ACL-10",
        "the genesis document gives a peer an empty role list",
        query(with_genesis(genesis_cbor(empty_list, None), rng)),
    );
    let reversed = document_cbor(&id, &[(ta.clone(), vec!["write"])], &unsorted, "no-access");
    add(
        "ACL-3",
        "the genesis document's admins are not sorted",
        query(with_genesis(genesis_cbor(reversed, None), rng)),
    );
    let good_cbor = document_cbor(
        &id,
        &good.peer_names().into_iter().collect::<Vec<_>>(),
        &good.admin_names(),
        "no-access",
    );
    add(
        "ACL-12",
        "a genesis body with an extra clock field",
        query(with_genesis(
            genesis_cbor(good_cbor, Some(("clock", cbor::uint(0)))),
            rng,
        )),
    );
    // The same, in a raw thread: no ACL at all.
    let raw = ThreadId::generate(Variant::Raw, rng);
    let raw_ctx = Ctx {
        thread: raw.clone(),
        keys: ctx.keys.clone(),
    };
    let mut ra = Chain::new(&raw_ctx, &cast.a);
    ra.genesis(
        AclDocument::new(raw.to_string(), Role::NoAccess)
            .map_err(|e| e.to_string())?
            .with_admin(a)
            .with_peer(a, write()),
        rng,
    );
    let mut input = json!({"logs": logs(&[ra.all()]), "author": ta, "seq": 1});
    input["thread"] = raw.to_string().into();
    add("ACL-4", "a genesis in a raw thread", input);
    Ok(cases)
}

fn notes(s: &mut SuiteBuilder) {
    s.note("NORMAL", "BASIC", "A well-formed input.");
    s.note(
        "WORKED_EXAMPLE",
        "BASIC",
        "The worked example of spec/acl.md 6.12, record for record; its final document is the one the spec prints.",
    );
    s.note(
        "ACL_BYPASS",
        "AUTH_BYPASS",
        "An ACL change by a peer the ACL's own ACL (admins) does not allow at its place in the order must have no effect.",
    );
    s.note(
        "REVOKED_ADMIN",
        "AUTH_BYPASS",
        "An admin's change ordered after its revocation is ignored; one ordered before stays.",
    );
    s.note(
        "SECOND_GENESIS",
        "AUTH_BYPASS",
        "Only the record the peer knows as the genesis sets the initial ACL; any other acl-genesis body is ignored.",
    );
    s.note(
        "FORGED_AUTHOR",
        "SIGNATURE_FORGERY",
        "A record claiming an admin as its author that the admin did not write: verification must reject it before any ACL rule runs.",
    );
    s.note(
        "REPLAYED_GRANT",
        "REPLAY",
        "A grant delivered again (the same record, a re-sealed copy, or the same op at its old clock) must not undo a later revocation.",
    );
    s.note(
        "WRITE_AFTER_REVOCATION",
        "AUTH_BYPASS",
        "Records of a peer below write beyond its cut must be refused; those up to the cut stay.",
    );
    s.note(
        "CONCURRENT_REVOCATION",
        "FUNCTIONALITY",
        "Concurrent revocations of one writer keep the smaller cut, in either order.",
    );
    s.note(
        "ORDER_INDEPENDENT",
        "FUNCTIONALITY",
        "The ACL is a function of the set of events: the merge order (clock, author, seq), not the order logs are listed or records delivered, decides. Cases marked so that hold the same set have the same expected state.",
    );
    s.note(
        "DELETE",
        "AUTH_BYPASS",
        "A delete counts only if its record is accepted and its author's entry lists delete.",
    );
    s.note(
        "DEFAULT_ROLE",
        "FUNCTIONALITY",
        "The default role decides for peers without an ordered role of their own; lowering it carries no cut.",
    );
    s.note(
        "NO_ACCESS_ENTRY",
        "FUNCTIONALITY",
        "An entry [\"no-access\"] is not the same as no entry: it overrides the default.",
    );
    s.note(
        "LAST_ADMIN",
        "EDGE_CASE",
        "Revoking the only admin has no effect: a thread's ACL always keeps an admin.",
    );
    s.note(
        "MALFORMED_ACL_EVENT",
        "MISSING_CHECK",
        "A body claiming a reserved type without its exact canonical shape is ACL_MALFORMED and takes no effect.",
    );
    s.note(
        "UNREADABLE_RECORD",
        "FUNCTIONALITY",
        "A record that passes VERIFY-1 but not VERIFY-2 is linked, stored and served, never read: the records after it in its log are no gap.",
    );
    s.note(
        "MISMATCHED_GENESIS",
        "MISSING_CHECK",
        "The genesis an invite's anchor names must be the record at seq 1 of the creator's log; otherwise the thread has no valid genesis.",
    );
    s.note(
        "MALFORMED_GENESIS",
        "MISSING_CHECK",
        "Without a valid genesis at seq 1 of the creator's log the thread has no ACL and no record is accepted.",
    );
}
