//! Node instances for the harness's live scenarios (spec/harness-protocol.md, H.9): each is a
//! reference [`Peer`] whose messages the harness carries.
//!
//! The calls into the [`Peer`] that drive the network side (creating a peer, delivering a message,
//! collecting the outbox, a clock tick) are each in one small method at the end of this file.

use std::collections::BTreeMap;
use std::str::FromStr;

use serde::Serialize;
use serde_json::Value;
use threads::acl::Roles;
use threads::db::{Database, DbView, Kind, Op, Patch, Query, Schema, check_key};
use threads::id::{LogId, ThreadId};
use threads::sync::{Destination, Peer, Transmit};
use threads::{Error, ErrorCode, Result};

use super::authfault::AuthFault;
use super::dbfault::{DbFault, FAULTY_VIEW, FaultyView};
use super::dbjson;
use super::noderng::{AppendFault, NodeRng};
use super::restart::RestartFault;
use crate::protocol::{
    self, AclChanged, Appended, Call, Collected, DbCommitted, DbDocument, DbHit, DbQueryResult,
    DbSchema, DbViewCid, Empty, Event, Events, Head, Heads, Hex, InviteAccepted, InviteExported,
    Keys, KvValue, NodeCreated, Outgoing, ThreadCreated,
};

/// The harness's named nodes.
#[derive(Default)]
pub struct Nodes {
    peers: BTreeMap<String, Peer<NodeRng>>,
    names: BTreeMap<LogId, String>,
    /// One database per (node, thread), driven through the node's peer [HP-60].
    dbs: BTreeMap<(String, ThreadId), Database>,
    /// A database bug of the catalogue, off in the reference [HP-86].
    fault: Option<DbFault>,
    /// Each node's seed, to restart it from with the storage bug of the catalogue [HP-86].
    seeds: BTreeMap<String, [u8; 32]>,
    /// A storage bug of the catalogue: `node.stop` restarts the node on the store the bug
    /// leaves ([`super::restart`]); off in the reference.
    restart: Option<RestartFault>,
    /// A membership bug of the catalogue: a proof only the bug accepts reaches the node as one it
    /// accepts ([`super::authfault`]); off in the reference.
    auth: Option<AuthFault>,
    /// Each node's RNG, shared with its peer ([`super::noderng`]).
    rngs: BTreeMap<String, NodeRng>,
    /// A writer bug of the catalogue, off in the reference [HP-86].
    append: Option<AppendFault>,
    /// Where each node's RNG stood before its first `log.append`: with
    /// [`AppendFault::ReplaysRandomness`], every append draws from there again.
    first_append: BTreeMap<String, u128>,
}

/// A result as the JSON of its reply.
fn json(result: impl Serialize) -> Result<Value> {
    serde_json::to_value(result).map_err(|e| Error::new(ErrorCode::Internal, e.to_string()))
}

/// A `thread` parameter: a text that is not a Thread ID is a malformed parameter, BAD_REQUEST,
/// not the decoder's own code [HP-31].
fn thread(text: &str) -> Result<ThreadId> {
    ThreadId::from_str(text).map_err(|e| {
        Error::new(
            ErrorCode::BadRequest,
            format!("param thread is not a Thread ID: {}", e.detail),
        )
    })
}

impl Nodes {
    /// Handles one node method (H.9); UNSUPPORTED for a call that is not one.
    pub fn handle(&mut self, call: Call) -> Result<Value> {
        let fault = self.fault;
        match call {
            Call::NodeCreate(p) => {
                let seed: [u8; 32] = p
                    .seed
                    .0
                    .try_into()
                    .map_err(|_| Error::new(ErrorCode::BadRequest, "seed must be 32 bytes"))?;
                json(NodeCreated {
                    peer: self.create(p.node, seed)?.to_string(),
                })
            }
            Call::ThreadCreate(p) => {
                let (thread, log) = self.peer_mut(&p.node)?.create_thread(p.time, p.variant)?;
                self.arm(&p.node, &thread);
                json(ThreadCreated {
                    thread: thread.to_string(),
                    log: log.to_string(),
                })
            }
            Call::LogAppend(p) => {
                let replayed = self.replay(&p.node);
                let peer = self.peer_mut(&p.node)?;
                let appended = peer.append(p.time, &thread(&p.thread)?, &p.body.0);
                if let (Some(at), Some(rng)) = (replayed, self.rngs.get(&p.node))
                    && rng.position() < at
                {
                    rng.seek(at);
                }
                let (log, seq, cid) = appended?;
                json(Appended {
                    log: log.to_string(),
                    seq,
                    record_cid: cid.to_string(),
                })
            }
            Call::InviteExport(p) => {
                let recipient = self.peer_id(&p.recipient)?;
                let peer = self.peer_mut(&p.node)?;
                let invite = peer.invite(&thread(&p.thread)?, p.role, recipient)?;
                json(InviteExported {
                    invite: Hex(invite),
                })
            }
            Call::InviteAccept(p) => {
                let (thread, role) = self.peer_mut(&p.node)?.join(p.time, &p.invite.0)?;
                self.arm(&p.node, &thread);
                json(InviteAccepted {
                    thread: thread.to_string(),
                    role,
                })
            }
            Call::AclSet(p) => {
                let target = self.peer_id(&p.peer)?;
                let roles = Roles::from_names(&p.roles)?;
                let peer = self.peer_mut(&p.node)?;
                let cid = peer.set_roles(p.time, &thread(&p.thread)?, target, roles)?;
                json(AclChanged {
                    record_cid: cid.to_string(),
                })
            }
            Call::NodeDeliver(p) => {
                let from = self.peer_id(&p.from)?;
                self.deliver(&p.node, from, &p.message.0, p.time)?;
                json(Empty {})
            }
            Call::NodeCollect(p) => json(self.collect(&p.node, p.time)?),
            Call::NodeHeads(p) => {
                let heads = self.peer_mut(&p.node)?.heads(&thread(&p.thread)?)?;
                let logs = heads
                    .into_iter()
                    .map(|(log, (head, counter))| {
                        let head = head.map(|cid| cid.to_string());
                        (log.to_string(), Head { head, counter })
                    })
                    .collect();
                json(Heads { logs })
            }
            Call::NodeRead(p) => {
                let events = self.peer_mut(&p.node)?.read(&thread(&p.thread)?)?;
                let events = events
                    .into_iter()
                    .map(|e| Event {
                        log: e.record.log().to_string(),
                        seq: e.record.seq(),
                        body: Hex(e.body),
                        time: e.header.time,
                    })
                    .collect();
                json(Events { events })
            }
            Call::NodeAcl(p) => {
                let document = self.peer_mut(&p.node)?.acl_document(&thread(&p.thread)?)?;
                json(protocol::AclDocument {
                    document: json(&document)?,
                })
            }
            Call::NodeKeys(p) => {
                let keys = self.peer_mut(&p.node)?.keys(&thread(&p.thread)?)?;
                json(Keys {
                    follow_key: Hex::from(keys.follow.as_bytes().as_slice()),
                    read_key: keys
                        .read
                        .as_ref()
                        .map(|k| Hex::from(k.as_bytes().as_slice())),
                })
            }
            // The harness stops carrying messages to and from a stopped node; its state is kept
            // [HP-30].
            Call::NodeStop(p) => {
                self.peer_mut(&p.node)?;
                if let Some(fault) = self.restart {
                    self.restart(fault, &p.node)?;
                }
                json(Empty {})
            }
            Call::NodeTick(p) => {
                self.tick(&p.node, p.time)?;
                json(Empty {})
            }
            Call::DbDeclare(p) => {
                let schema = schema(p.schema)?;
                let indexes: Vec<&str> = p.indexes.iter().map(String::as_str).collect();
                let (db, peer) = self.db(&p.node, &p.thread)?;
                committed(db.declare(peer, p.time, &p.collection, schema, &indexes))
            }
            Call::DbPut(p) => {
                let doc = dbjson::document(&p.doc, ErrorCode::DbMalformed)?;
                let (db, peer) = self.db(&p.node, &p.thread)?;
                db.refresh(peer)?;
                let (coll, id) = (p.collection, p.id);
                // A create carrying the whole document, or a save carrying the diff [DB-10].
                let op = match shown(fault, db, peer)?.collection(&coll)?.get(&id) {
                    Some(old) => Op::Save {
                        patch: Patch::diff(old, &doc),
                        coll,
                        id,
                    },
                    None => Op::Create { coll, id, doc },
                };
                committed(db.commit(peer, p.time, vec![op]))
            }
            Call::DbDelete(p) => {
                let op = Op::Delete {
                    coll: p.collection,
                    id: p.id,
                };
                let (db, peer) = self.db(&p.node, &p.thread)?;
                committed(db.commit(peer, p.time, vec![op]))
            }
            Call::DbGet(p) => {
                let (db, peer) = self.db(&p.node, &p.thread)?;
                db.refresh(peer)?;
                let doc = shown(fault, db, peer)?
                    .collection(&p.collection)?
                    .get(&p.id);
                json(DbDocument {
                    doc: doc.map(dbjson::document_json),
                })
            }
            Call::KvPut(p) => {
                let op = Op::Put {
                    key: check_key(p.key)?,
                    value: dbjson::value(&p.value, ErrorCode::DbMalformed)?,
                };
                let (db, peer) = self.db(&p.node, &p.thread)?;
                committed(db.commit(peer, p.time, vec![op]))
            }
            Call::KvDel(p) => {
                let op = Op::Del { key: p.key };
                let (db, peer) = self.db(&p.node, &p.thread)?;
                committed(db.commit(peer, p.time, vec![op]))
            }
            Call::KvGet(p) => {
                let (db, peer) = self.db(&p.node, &p.thread)?;
                db.refresh(peer)?;
                let value = shown(fault, db, peer)?.kv().get(&p.key);
                json(KvValue {
                    found: value.is_some(),
                    value: value.map_or(Value::Null, dbjson::json),
                })
            }
            Call::DbQuery(p) => {
                let query = query_of(&p.query)?;
                let (db, peer) = self.db(&p.node, &p.thread)?;
                db.refresh(peer)?;
                let docs = query
                    .run(shown(fault, db, peer)?.collection(&query.coll)?)
                    .docs;
                json(DbQueryResult {
                    docs: docs
                        .iter()
                        .map(|(id, doc)| DbHit {
                            id: id.clone(),
                            doc: dbjson::document_json(doc),
                        })
                        .collect(),
                })
            }
            Call::DbView(p) => {
                let (db, peer) = self.db(&p.node, &p.thread)?;
                db.refresh(peer)?;
                json(DbViewCid {
                    view_cid: shown(fault, db, peer)?.cid().to_string(),
                })
            }
            other => Err(Error::new(
                ErrorCode::Unsupported,
                format!("{} is not a node method", other.method()),
            )),
        }
    }

    /// Switches a database bug of the catalogue on for every node [HP-86].
    pub fn set_fault(&mut self, fault: DbFault) {
        self.fault = Some(fault);
    }

    /// Switches a storage bug of the catalogue on for every node [HP-86].
    pub fn set_restart_fault(&mut self, fault: RestartFault) {
        self.restart = Some(fault);
    }

    /// Switches a membership bug of the catalogue on for every node [HP-86].
    pub fn set_auth_fault(&mut self, fault: AuthFault) {
        self.auth = Some(fault);
    }

    /// Switches a writer bug of the catalogue on for every node [HP-86].
    pub fn set_append_fault(&mut self, fault: AppendFault) {
        self.append = Some(fault);
    }

    /// With [`AppendFault::ReplaysRandomness`], moves `node`'s RNG back to where it stood before
    /// its first append, and returns where it stood, so that the draws after this append are
    /// fresh again.
    fn replay(&mut self, node: &str) -> Option<u128> {
        self.append?;
        let rng = self.rngs.get(node)?;
        let now = rng.position();
        let first = *self.first_append.entry(node.to_owned()).or_insert(now);
        rng.seek(first);
        Some(now)
    }

    fn restart(&mut self, fault: RestartFault, name: &str) -> Result<()> {
        let seed = self.seeds.get(name).copied().ok_or_else(|| no_node(name))?;
        let peer = self.peers.remove(name).ok_or_else(|| no_node(name))?;
        let (restarted, rng) = super::restart::restart(fault, peer, seed, 0)?;
        self.peers.insert(name.to_owned(), restarted);
        self.rngs.insert(name.to_owned(), rng);
        Ok(())
    }

    /// With a fault, registers the faulty view as soon as the node holds the thread, so that it
    /// sees events in the order they arrive; a follower, which holds no view, is left alone.
    fn arm(&mut self, node: &str, thread: &ThreadId) {
        if self.fault.is_some() {
            let _ = self.db(node, &thread.to_string());
        }
    }

    fn peer_id(&self, name: &str) -> Result<LogId> {
        self.peers
            .get(name)
            .map(Peer::id)
            .ok_or_else(|| no_node(name))
    }

    /// The database of `node` in `thread` and the node's peer; KEY_UNAVAILABLE (from the peer)
    /// when the node has neither created nor joined the thread [HP-31].
    fn db(&mut self, node: &str, text: &str) -> Result<(&mut Database, &mut Peer<NodeRng>)> {
        let thread = thread(text)?;
        let peer = self.peers.get_mut(node).ok_or_else(|| no_node(node))?;
        peer.heads(&thread)?;
        let db = self
            .dbs
            .entry((node.to_owned(), thread.clone()))
            .or_insert_with(|| Database::new(thread.clone()));
        if let Some(fault) = self.fault
            && peer.reducer(&thread, FAULTY_VIEW).is_none()
        {
            db.refresh(peer)?;
            let own = peer.id();
            peer.register(&thread, Box::new(FaultyView::new(fault, own)))?;
        }
        Ok((db, peer))
    }

    fn peer_mut(&mut self, name: &str) -> Result<&mut Peer<NodeRng>> {
        self.peers.get_mut(name).ok_or_else(|| no_node(name))
    }

    /// Creates the node `name`; its identity and all its randomness come from `seed` [HP-29].
    fn create(&mut self, name: String, seed: [u8; 32]) -> Result<LogId> {
        if self.peers.contains_key(&name) {
            return Err(Error::new(
                ErrorCode::BadRequest,
                format!("a node named {name} exists"),
            ));
        }
        let (peer, rng) = super::noderng::node(seed);
        self.rngs.insert(name.clone(), rng);
        self.seeds.insert(name.clone(), seed);
        let id = peer.id();
        self.names.insert(id, name.clone());
        self.peers.insert(name, peer);
        Ok(id)
    }

    /// Hands the node a message from `from` at `time` [HP-37]; the peer drops what does not
    /// decode, as a network peer does.
    fn deliver(&mut self, name: &str, from: LogId, bytes: &[u8], time: u64) -> Result<()> {
        let rewritten = match (self.auth, self.seeds.get(name)) {
            (Some(fault), Some(&seed)) => {
                let known: Vec<LogId> = self.names.keys().copied().collect();
                let peer = self.peers.get(name).ok_or_else(|| no_node(name))?;
                super::authfault::rewrite(fault, peer, seed, &known, from, bytes, time)
            }
            _ => bytes.to_vec(),
        };
        self.peer_mut(name)?.handle_message(time, from, &rewritten)
    }

    /// Empties the node's outbox, addressing each message by node name [HP-38]; a message to a
    /// peer that is no node of this process, or a publication (the harness carries no topics), is
    /// dropped; notifications are not the harness's business. The result says when the node
    /// next wants a tick [HP-52].
    fn collect(&mut self, name: &str, time: u64) -> Result<Collected> {
        let auth = self.auth;
        let peer = self.peer_mut(name)?;
        let mut transmits: Vec<Transmit> = std::iter::from_fn(|| peer.poll_transmit()).collect();
        if let Some(fault) = auth {
            let me = peer.id();
            for t in &mut transmits {
                let bytes = std::mem::take(&mut t.bytes);
                t.bytes = super::authfault::rewrite_sent(fault, &me, bytes, time);
            }
        }
        while peer.poll_event().is_some() {}
        let wake_at = peer.poll_timeout();
        let messages = transmits
            .into_iter()
            .filter_map(|t| match t.destination {
                Destination::Peer(to) => Some(Outgoing {
                    to: self.names.get(&to)?.clone(),
                    message: Hex(t.bytes),
                }),
                Destination::Topic(_) => None,
            })
            .collect();
        Ok(Collected { messages, wake_at })
    }

    /// The node's time has come [HP-51]: retries and head exchange come out of the next collect.
    fn tick(&mut self, name: &str, time: u64) -> Result<()> {
        self.peer_mut(name)?.handle_timeout(time)
    }
}

/// The view the node answers from: the one `peer` keeps, or with a catalogue fault the faulty
/// one beside it [DB-11], [HP-86].
fn shown<'p>(fault: Option<DbFault>, db: &Database, peer: &'p Peer<NodeRng>) -> Result<&'p DbView> {
    if fault.is_none() {
        return db.view(peer);
    }
    peer.reducer(db.thread(), FAULTY_VIEW)
        .and_then(|r| r.as_any().downcast_ref::<FaultyView>())
        .map(FaultyView::view)
        .ok_or_else(|| Error::new(ErrorCode::KeyUnavailable, "no database view is registered"))
}

/// The result of a method that appends a database event [HP-61].
fn committed(cid: Result<threads::Cid>) -> Result<Value> {
    json(DbCommitted {
        record_cid: cid?.to_string(),
    })
}

/// A schema of `db.declare`: type names that are not those of [DB-6] are DB_MALFORMED.
fn schema(schema: DbSchema) -> Result<Schema> {
    let fields = schema
        .fields
        .into_iter()
        .map(|(field, kinds)| {
            let kinds = kinds
                .iter()
                .map(|k| {
                    Kind::from_name(k).ok_or_else(|| {
                        Error::new(ErrorCode::DbMalformed, format!("{k:?} is not a type name"))
                    })
                })
                .collect::<Result<_>>()?;
            Ok((field, kinds))
        })
        .collect::<Result<_>>()?;
    Ok(Schema {
        fields,
        required: schema.required,
    })
}

/// The query of `db.query`, from the JSON form of the query document: through its canonical
/// DAG-CBOR encoding, so that it is checked exactly as [DB-17] says; DB_QUERY_INVALID when the
/// JSON is no query.
pub(crate) fn query_of(json: &serde_json::Map<String, Value>) -> Result<Query> {
    let doc = dbjson::document(json, ErrorCode::DbQueryInvalid)?;
    let bytes = threads::block::encode(&threads::db::Value::Map(doc).to_ipld());
    Query::from_bytes(&bytes)
}

fn no_node(name: &str) -> Error {
    Error::new(ErrorCode::BadRequest, format!("no node named {name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_param_that_is_no_thread_id_is_bad_request() {
        for text in ["", "not a tid", "bafkqo", "zzzz"] {
            assert_eq!(
                thread(text).map_err(|e| e.code),
                Err(ErrorCode::BadRequest),
                "{text:?}"
            );
        }
    }
}
