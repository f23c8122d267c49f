//! Node instances for the harness's live scenarios (spec/harness-protocol.md, node methods): each is
//! a reference [`Peer`] whose messages the harness carries.

use std::collections::BTreeMap;
use std::str::FromStr;

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use serde_json::{Map, Value, json};
use threads::acl::Roles;
use threads::id::{LogId, ThreadId, Variant};
use threads::invite::InviteRole;
use threads::keys::IdentityKey;
use threads::sync::{Message, Peer};
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
            "invite.export" => {
                let role = InviteRole::from_name(p.str("role")?).ok_or_else(|| {
                    Error::new(
                        ErrorCode::BadRequest,
                        "role must be follower, reader or writer",
                    )
                })?;
                let recipient = self.peer_id(p.str("recipient")?)?;
                let thread = p.thread()?;
                let invite = self.peer_mut(&name)?.invite(&thread, role, recipient)?;
                return Ok(json!({"invite": hex::encode(invite)}));
            }
            "acl.set" => {
                let target = self.peer_id(p.str("peer")?)?;
                let names: Vec<String> =
                    p.0.get("roles")
                        .and_then(Value::as_array)
                        .map(|roles| {
                            roles
                                .iter()
                                .filter_map(|r| r.as_str().map(String::from))
                                .collect()
                        })
                        .ok_or_else(|| {
                            Error::new(
                                ErrorCode::BadRequest,
                                "param roles must be an array of role names",
                            )
                        })?;
                let roles = Roles::from_names(&names)?;
                let (thread, time) = (p.thread()?, p.u64("time")?);
                let cid = self
                    .peer_mut(&name)?
                    .set_roles(&thread, target, roles, time)?;
                return Ok(json!({"recordCid": cid.to_string()}));
            }
            "node.deliver" => {
                let from = self.peer_id(p.str("from")?)?;
                let bytes = p.hex("message")?;
                let peer = self.peer_mut(&name)?;
                // Like a network peer, a node drops a message it cannot decode [HP-37].
                if let Ok(message) = Message::from_bytes(&bytes) {
                    peer.receive(from, message)?;
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
                let (thread, log) = peer.create_thread(variant, p.u64("time")?)?;
                Ok(json!({"thread": thread.to_string(), "log": log.to_string()}))
            }
            "log.append" => {
                let (log, seq, cid) = peer.append(&p.thread()?, &p.hex("body")?, p.u64("time")?)?;
                Ok(json!({"log": log.to_string(), "seq": seq, "recordCid": cid.to_string()}))
            }
            "invite.accept" => {
                let (thread, role) = peer.join(&p.hex("invite")?, p.u64("time")?)?;
                Ok(json!({"thread": thread.to_string(), "role": role.name()}))
            }
            "node.acl" => {
                let document = peer.acl_document(&p.thread()?)?;
                Ok(json!({"document": serde_json::to_value(&document).unwrap_or(Value::Null)}))
            }
            "node.keys" => {
                let keys = peer.keys(&p.thread()?)?;
                Ok(json!({
                    "followKey": hex::encode(keys.follow.as_bytes()),
                    "readKey": keys.read.as_ref().map(|k| hex::encode(k.as_bytes())),
                }))
            }
            "node.collect" => {
                let outbox = peer.take_messages();
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
            // Capability "ticks" (HP-51): retries and head exchange come out of the next collect.
            "node.tick" => {
                peer.tick(p.u64("time")?)?;
                Ok(json!({}))
            }
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
