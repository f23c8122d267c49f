//! Node instances for the harness's live scenarios (spec/harness-protocol.md, node methods): each is
//! a reference [`Peer`] whose messages the harness carries.

use std::collections::BTreeMap;
use std::str::FromStr;

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use serde_json::{Map, Value, json};
use threads::id::{LogId, ThreadId, Variant};
use threads::keys::{IdentityKey, KeySet, Role};
use threads::sync::{Invite, Message, Peer};
use threads::{Error, ErrorCode, Result};

/// The harness's named nodes.
#[derive(Default)]
pub struct Nodes {
    peers: BTreeMap<String, Peer<ChaCha20Rng>>,
    names: BTreeMap<LogId, String>,
}

/// Typed access to a request's params; missing or ill-typed ones are BAD_REQUEST.
struct Params<'a>(&'a Map<String, Value>);

impl Params<'_> {
    fn str(&self, key: &str) -> Result<&str> {
        self.0.get(key).and_then(Value::as_str).ok_or_else(|| {
            Error::new(
                ErrorCode::BadRequest,
                format!("param {key} must be a string"),
            )
        })
    }

    fn hex(&self, key: &str) -> Result<Vec<u8>> {
        hex::decode(self.str(key)?)
            .map_err(|e| Error::new(ErrorCode::BadRequest, format!("param {key}: {e}")))
    }

    fn u64(&self, key: &str) -> Result<u64> {
        self.0.get(key).and_then(Value::as_u64).ok_or_else(|| {
            Error::new(
                ErrorCode::BadRequest,
                format!("param {key} must be an unsigned integer"),
            )
        })
    }

    fn thread(&self) -> Result<ThreadId> {
        ThreadId::from_str(self.str("thread")?)
    }
}

impl Nodes {
    /// Handles one node method.
    pub fn handle(&mut self, method: &str, params: &Map<String, Value>) -> Result<Value> {
        let p = Params(params);
        let name = p.str("node")?.to_string();
        match method {
            "node.create" => return self.create(name, &p),
            "node.deliver" => {
                let from = self.peer_id(p.str("from")?)?;
                let bytes = p.hex("message")?;
                let peer = self.peer_mut(&name)?;
                // Like a network peer, a node drops a message it cannot decode [HP-37].
                if let Ok(message) = Message::from_bytes(&bytes) {
                    peer.receive(from, message);
                }
                return Ok(json!({}));
            }
            _ => {}
        }
        let peer = self
            .peers
            .get_mut(&name)
            .ok_or_else(|| Error::new(ErrorCode::BadRequest, format!("no node named {name}")))?;
        match method {
            "thread.create" => {
                let variant = match p.str("variant")? {
                    "raw" => Variant::Raw,
                    "access-controlled" => Variant::AccessControlled,
                    other => {
                        return Err(Error::new(
                            ErrorCode::BadRequest,
                            format!("unknown variant {other}"),
                        ));
                    }
                };
                let (thread, log) = peer.create_thread(variant)?;
                Ok(json!({"thread": thread.to_string(), "log": log.to_string()}))
            }
            "log.append" => {
                let (log, seq, cid) = peer.append(&p.thread()?, &p.hex("body")?, p.u64("time")?)?;
                Ok(json!({"log": log.to_string(), "seq": seq, "recordCid": cid.to_string()}))
            }
            "invite.export" => {
                let role = match p.str("role")? {
                    "reader" => Role::Reader,
                    "follower" => Role::Follower,
                    other => {
                        return Err(Error::new(
                            ErrorCode::BadRequest,
                            format!("unknown role {other}"),
                        ));
                    }
                };
                Ok(json!({"invite": hex::encode(encode_invite(&peer.invite(&p.thread()?, role)?))}))
            }
            "invite.accept" => {
                let invite = decode_invite(&p.hex("invite")?)?;
                let reply = json!({"thread": invite.thread.to_string(), "role": role_name(invite.keys.role())});
                peer.join(invite);
                Ok(reply)
            }
            "node.collect" => {
                let outbox = peer.take_outbox();
                let messages: Vec<Value> = outbox
                    .into_iter()
                    .filter_map(|(to, message)| {
                        let to = self.names.get(&to)?;
                        Some(json!({"to": to, "message": hex::encode(message.to_bytes())}))
                    })
                    .collect();
                Ok(json!({"messages": messages}))
            }
            "node.heads" => {
                let logs: Map<String, Value> = peer
                    .heads(&p.thread()?)?
                    .into_iter()
                    .map(|(log, (head, counter))| {
                        (
                            log.to_string(),
                            json!({"head": head.map(|c| c.to_string()), "counter": counter}),
                        )
                    })
                    .collect();
                Ok(json!({"logs": logs}))
            }
            "node.read" => {
                let events: Vec<Value> = peer
                    .read(&p.thread()?)?
                    .into_iter()
                    .map(|e| {
                        json!({
                            "log": e.record.log().to_string(),
                            "seq": e.record.seq(),
                            "body": hex::encode(&e.body),
                            "time": e.header.time,
                        })
                    })
                    .collect();
                Ok(json!({"events": events}))
            }
            // The harness stops carrying messages to and from a stopped node; its state is kept.
            "node.stop" => Ok(json!({})),
            other => Err(Error::new(
                ErrorCode::Unsupported,
                format!("unknown method {other}"),
            )),
        }
    }

    fn create(&mut self, name: String, p: &Params) -> Result<Value> {
        if self.peers.contains_key(&name) {
            return Err(Error::new(
                ErrorCode::BadRequest,
                format!("a node named {name} exists"),
            ));
        }
        let seed: [u8; 32] = p
            .hex("seed")?
            .try_into()
            .map_err(|_| Error::new(ErrorCode::BadRequest, "seed must be 32 bytes"))?;
        // The node's identity and all its randomness come from the harness's seed.
        let mut rng = ChaCha20Rng::from_seed(seed);
        let peer = Peer::new(IdentityKey::generate(&mut rng), rng);
        let id = peer.id();
        self.names.insert(id, name.clone());
        self.peers.insert(name, peer);
        Ok(json!({"peer": id.to_string()}))
    }

    fn peer_id(&self, name: &str) -> Result<LogId> {
        self.peers
            .get(name)
            .map(Peer::id)
            .ok_or_else(|| Error::new(ErrorCode::BadRequest, format!("no node named {name}")))
    }

    fn peer_mut(&mut self, name: &str) -> Result<&mut Peer<ChaCha20Rng>> {
        self.peers
            .get_mut(name)
            .ok_or_else(|| Error::new(ErrorCode::BadRequest, format!("no node named {name}")))
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Reader => "reader",
        Role::Follower => "follower",
    }
}

/// The invite blob is implementation-defined in harness protocol 1: this adapter uses JSON.
fn encode_invite(invite: &Invite) -> Vec<u8> {
    let texts = |ids: &[LogId]| ids.iter().map(LogId::to_string).collect::<Vec<_>>();
    json!({
        "thread": invite.thread.to_string(),
        "keys": hex::encode(invite.keys.to_bytes()),
        "logs": texts(&invite.logs),
        "peers": texts(&invite.peers),
    })
    .to_string()
    .into_bytes()
}

fn decode_invite(bytes: &[u8]) -> Result<Invite> {
    let bad = |why: String| Error::new(ErrorCode::BadRequest, format!("invite: {why}"));
    let value: Value = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
    let ids = |key: &str| -> Result<Vec<LogId>> {
        value[key]
            .as_array()
            .ok_or_else(|| bad(format!("{key} must be an array")))?
            .iter()
            .map(|v| LogId::from_str(v.as_str().unwrap_or_default()))
            .collect()
    };
    let keys =
        hex::decode(value["keys"].as_str().unwrap_or_default()).map_err(|e| bad(e.to_string()))?;
    Ok(Invite {
        thread: ThreadId::from_str(value["thread"].as_str().unwrap_or_default())?,
        keys: KeySet::from_bytes(&keys)?,
        logs: ids("logs")?,
        peers: ids("peers")?,
    })
}
