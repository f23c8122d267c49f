//! The libp2p side of a node (spec/sync.md, chapter 7): one [`Swarm`] that carries sync messages
//! as opaque bytes, so that the [`crate::sync::Peer`] alone decides what they mean.
//!
//! - tcp + noise + yamux: every connection is authenticated by the peers' Ed25519 identities, so
//!   the [`PeerId`] a message arrives from is the sender's log ID, not a claim inside the message;
//! - request-response on [`SYNC_PROTOCOL`]: one message per request, length-prefixed, answered by
//!   an empty acknowledgement (pulls are answered by a separate request the other way, because
//!   the peer answers when it is ready, not within the request);
//! - gossipsub, one topic per thread named by the topic the peer derives from its follow key
//!   [SYNC-24], with signed messages and
//!   strict validation, for records pushed to everyone interested at once;
//! - identify, through which each side learns where the other listens.
//!
//! # Bounds (issue 17)
//!
//! A peer must not be able to make this node hold unbounded memory on its behalf, so the
//! transport bounds what it queues and accepts, whatever the protocol above asks for:
//!
//! - outbound: at most [`MAX_IN_FLIGHT_PER_PEER`] messages and [`MAX_QUEUED_BYTES_PER_PEER`]
//!   bytes waiting for one peer's acknowledgement, and [`MAX_QUEUED_BYTES`] for all peers
//!   together. A message past a budget is dropped, counted in [`NetStats`] and logged with the
//!   code [`PEER_OVERLOADED`]; the sync recovers it (a dropped pull answer is pulled again, a
//!   dropped push or heads is made up by the next head exchange) [SYNC-10]. A peer that stops
//!   reading holds its budget until [`REQUEST_TIMEOUT`] frees it.
//! - a message to a peer that is neither connected nor has an address (they expire,
//!   [SYNC-9]) is dropped at once and counted as unreachable, instead of a dial that cannot work;
//! - inbound: a request is at most [`MAX_MESSAGE_BYTES`] and is buffered as its bytes arrive,
//!   never by its declared length; at most [`MAX_STREAMS_PER_CONNECTION`] requests in flight
//!   per connection, both ways; and at most [`MAX_INBOUND_BYTES`] of requests held at once, from
//!   all peers together, read or being read and not yet handed to the sync, of which at most
//!   [`MAX_INBOUND_BYTES_PER_PEER`] for any one peer (charged to the authenticated sender as the
//!   bytes arrive, see [`SyncCodec`]). A request past either is read to its end without being
//!   kept and answered with a refusal carrying PEER_OVERLOADED, which the sender counts
//!   ([`NetStats::refused_by_peers`]) and makes up for as it does for a lost message [SYNC-25],
//!   [SYNC-26], [SYNC-28];
//! - connections: [`MAX_ESTABLISHED_PER_PEER`] per peer, [`MAX_ESTABLISHED`] in all,
//!   [`MAX_PENDING_INCOMING`] handshakes at once; idle ones close after [`IDLE_TIMEOUT`].

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, StreamExt};
use libp2p::core::ConnectedPoint;
use libp2p::core::Endpoint;
use libp2p::core::transport::PortUse;
use libp2p::gossipsub::{self, IdentTopic, MessageAuthenticity, PublishError, ValidationMode};
use libp2p::identity::Keypair;
use libp2p::request_response::{
    self, OutboundFailure, OutboundRequestId, ProtocolSupport, ResponseChannel,
};
use libp2p::swarm::{
    ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour, SwarmEvent, THandler,
    THandlerInEvent, THandlerOutEvent, ToSwarm,
};
use libp2p::{
    Multiaddr, PeerId, StreamProtocol, Swarm, connection_limits, identify, noise, tcp, yamux,
};

use crate::error::{Error, ErrorCode, Result};
use crate::sync::MAX_MESSAGE_BYTES;

/// The request-response protocol that carries one sync message per request.
pub const SYNC_PROTOCOL: StreamProtocol = StreamProtocol::new("/threads/sync/1");

/// The identify protocol version this node announces.
const IDENTIFY_VERSION: &str = "/threads/1";

/// Room for gossipsub's own framing (topic, sequence number, signature, public key) around one
/// sync message, so that every message the request path accepts also fits on the gossip path.
const GOSSIP_OVERHEAD: usize = 64 * 1024;

/// How long a request may wait for its acknowledgement. Generous: a full 8 MiB message on a
/// loaded machine; a lost request costs nothing but time, since the peer retries on its tick. A
/// peer that stops reading holds its outbound budget this long at most.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a connection with no request in flight is kept. Peers of a thread exchange heads
/// every 5 s [SYNC-8], so only connections nobody syncs over go idle this long.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Messages to one peer sent and not yet acknowledged, at most; later ones are dropped.
pub const MAX_IN_FLIGHT_PER_PEER: usize = 32;

/// Bytes of messages to one peer sent and not yet acknowledged, at most: four full pull answers
/// ([`crate::sync::MAX_BATCH_BYTES`]), or two of the largest messages.
pub const MAX_QUEUED_BYTES_PER_PEER: usize = 16 << 20;

/// Bytes of messages to all peers together sent and not yet acknowledged, at most.
pub const MAX_QUEUED_BYTES: usize = 64 << 20;

/// Requests in flight on one connection, inbound and outbound together; a stream past it is
/// refused and its sender retries [SYNC-10].
pub const MAX_STREAMS_PER_CONNECTION: usize = 16;

/// Connections to one peer at most: one, and a second when both dial at once.
pub const MAX_ESTABLISHED_PER_PEER: u32 = 2;

/// Connections at most, to all peers.
pub const MAX_ESTABLISHED: u32 = 512;

/// Incoming connections still in their handshake, at most.
pub const MAX_PENDING_INCOMING: u32 = 64;

/// Most bytes of inbound sync requests the node holds at once, from all peers: read or being
/// read, and not yet handed to the sync [SYNC-26].
pub const MAX_INBOUND_BYTES: usize = 32 << 20;

/// Most bytes of [`MAX_INBOUND_BYTES`] held for any one peer, over all its connections: half,
/// so that one peer, however it floods, leaves the other half to everyone else; and as much as
/// a sender keeps unacknowledged for one peer ([`MAX_QUEUED_BYTES_PER_PEER`]), so that a sender
/// within that bound is never refused by its share [SYNC-28], [SYNC-29].
pub const MAX_INBOUND_BYTES_PER_PEER: usize = 16 << 20;

/// How much of a request the codec reads at a time: the budget is taken as bytes arrive.
const READ_CHUNK: usize = 16 * 1024;

/// The name of [`ErrorCode::PeerOverloaded`]: logged when an outbound message is dropped because
/// a budget is spent, and sent in the refusal of an inbound request past the inbound budget
/// [SYNC-25], [SYNC-26].
pub const PEER_OVERLOADED: &str = "PEER_OVERLOADED";

/// The node's network behaviours, polled together by the swarm.
#[derive(NetworkBehaviour)]
struct Behaviour {
    limits: connection_limits::Behaviour,
    identify: identify::Behaviour,
    gossipsub: gossipsub::Behaviour,
    sync: SyncBehaviour,
}

/// The request-response behaviour of [`SYNC_PROTOCOL`], unchanged but for one thing: while it
/// builds a connection's handler, the budget knows the connection's peer, so the codec cloned
/// into that handler charges the peer's share [SYNC-28]. The codec alone never learns a peer:
/// libp2p gives it none.
struct SyncBehaviour {
    inner: request_response::Behaviour<SyncCodec>,
    budget: InboundBudget,
}

type SyncInner = request_response::Behaviour<SyncCodec>;

impl NetworkBehaviour for SyncBehaviour {
    type ConnectionHandler = <SyncInner as NetworkBehaviour>::ConnectionHandler;
    type ToSwarm = <SyncInner as NetworkBehaviour>::ToSwarm;

    fn handle_pending_inbound_connection(
        &mut self,
        id: ConnectionId,
        local: &Multiaddr,
        remote: &Multiaddr,
    ) -> std::result::Result<(), ConnectionDenied> {
        self.inner
            .handle_pending_inbound_connection(id, local, remote)
    }

    fn handle_established_inbound_connection(
        &mut self,
        id: ConnectionId,
        peer: PeerId,
        local: &Multiaddr,
        remote: &Multiaddr,
    ) -> std::result::Result<THandler<Self>, ConnectionDenied> {
        let inner = &mut self.inner;
        self.budget.for_connection(peer, || {
            inner.handle_established_inbound_connection(id, peer, local, remote)
        })
    }

    fn handle_pending_outbound_connection(
        &mut self,
        id: ConnectionId,
        peer: Option<PeerId>,
        addresses: &[Multiaddr],
        role: Endpoint,
    ) -> std::result::Result<Vec<Multiaddr>, ConnectionDenied> {
        self.inner
            .handle_pending_outbound_connection(id, peer, addresses, role)
    }

    fn handle_established_outbound_connection(
        &mut self,
        id: ConnectionId,
        peer: PeerId,
        addr: &Multiaddr,
        role: Endpoint,
        port_use: PortUse,
    ) -> std::result::Result<THandler<Self>, ConnectionDenied> {
        let inner = &mut self.inner;
        self.budget.for_connection(peer, || {
            inner.handle_established_outbound_connection(id, peer, addr, role, port_use)
        })
    }

    fn on_swarm_event(&mut self, event: FromSwarm) {
        self.inner.on_swarm_event(event)
    }

    fn on_connection_handler_event(
        &mut self,
        peer: PeerId,
        id: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        self.inner.on_connection_handler_event(peer, id, event)
    }

    fn poll(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        self.inner.poll(cx)
    }
}

/// What the transport held back and dropped, for the `counters` command and the tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct NetStats {
    /// Messages sent and not yet acknowledged, to all peers.
    pub in_flight: u64,
    /// Their bytes.
    pub queued_bytes: u64,
    /// The most messages ever waiting for one peer; never above [`MAX_IN_FLIGHT_PER_PEER`].
    pub peak_peer_in_flight: u64,
    /// The most bytes ever waiting for one peer; never above [`MAX_QUEUED_BYTES_PER_PEER`].
    pub peak_peer_queued_bytes: u64,
    /// The most bytes ever waiting for all peers; never above [`MAX_QUEUED_BYTES`].
    pub peak_queued_bytes: u64,
    /// Messages dropped because a budget was spent ([`PEER_OVERLOADED`]).
    pub dropped: u64,
    /// Their bytes.
    pub dropped_bytes: u64,
    /// Messages dropped because their peer had neither a connection nor an address.
    pub unreachable: u64,
    /// Messages sent that failed: refused past the peer's stream bound, timed out, connection
    /// lost or not dialed.
    pub failed: u64,
    /// [`MAX_QUEUED_BYTES_PER_PEER`], so that a reader of the counters sees the bound.
    pub queued_bytes_budget: u64,
    /// Bytes of inbound requests held now (read or being read, not yet handed to the sync).
    pub inbound_bytes: u64,
    /// [`MAX_INBOUND_BYTES`].
    pub inbound_bytes_budget: u64,
    /// Inbound requests this node refused with PEER_OVERLOADED [SYNC-26], [SYNC-28].
    pub refused: u64,
    /// Those of them refused because their peer's share was spent [SYNC-28].
    pub refused_share: u64,
    /// The most bytes of inbound requests ever held for one peer; never above
    /// `inbound_bytes_per_peer_budget` [SYNC-28].
    pub peak_peer_inbound_bytes: u64,
    /// [`MAX_INBOUND_BYTES_PER_PEER`].
    pub inbound_bytes_per_peer_budget: u64,
    /// Requests of this node that their peer refused [SYNC-27].
    pub refused_by_peers: u64,
}

/// The messages one peer has not acknowledged yet.
#[derive(Debug, Default, Clone, Copy)]
struct Queue {
    messages: usize,
    bytes: usize,
    /// A drop was logged since the queue last emptied: one warning per overload, not per drop.
    warned: bool,
}

/// How a sync request was answered [SYNC-25].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Received and handled: an empty frame.
    Received,
    /// Not handled: a frame holding the canonical DAG-CBOR map `{"code": number}`.
    Refused(ErrorCode),
}

/// The body of a refusal [SYNC-25].
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Refusal {
    code: u16,
}

impl Answer {
    /// The answer's frame body [SYNC-25].
    pub fn to_bytes(self) -> Vec<u8> {
        match self {
            Answer::Received => Vec::new(),
            Answer::Refused(code) => crate::block::encode(&Refusal {
                code: code.number(),
            }),
        }
    }

    /// Decodes a frame body: empty, or a refusal with a registered code; MESSAGE_MALFORMED
    /// otherwise [SYNC-25].
    pub fn from_bytes(bytes: &[u8]) -> Result<Answer> {
        if bytes.is_empty() || crate::fault::on("refusal-read-as-received") {
            return Ok(Answer::Received);
        }
        let refusal: Refusal = crate::block::decode_canonical(bytes, ErrorCode::MessageMalformed)?;
        ErrorCode::from_number(refusal.code)
            .map(Answer::Refused)
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::MessageMalformed,
                    format!("a refusal with the unknown code {}", refusal.code),
                )
            })
    }
}

/// A request as the codec read it [SYNC-26].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// The message's bytes; they hold their share of the inbound budget until the transport
    /// hands them on.
    Message(Vec<u8>),
    /// Read past the inbound budget: not kept, to be refused with PEER_OVERLOADED.
    Overloaded,
}

/// The bytes of inbound requests a node holds, in all [SYNC-26] and per sending peer
/// [SYNC-28], shared by its codecs and its transport.
#[derive(Debug, Clone)]
pub struct InboundBudget {
    held: Arc<Mutex<Held>>,
    limit: usize,
    peer_limit: usize,
    /// The peer of the connection whose handler is being built: read once, when the
    /// behaviour's codec is cloned into that connection (see [`SyncBehaviour`]).
    connecting: Arc<Mutex<Option<PeerId>>>,
}

/// What an [`InboundBudget`] holds now.
#[derive(Debug, Default)]
struct Held {
    all: usize,
    /// Only peers holding bytes now: an entry leaves when its peer's bytes are all given back,
    /// so the map is bounded by the requests being read, not by the peers ever seen.
    peers: BTreeMap<Option<PeerId>, usize>,
    peak_peer: usize,
    refused_share: u64,
    /// Bytes ever charged to no peer: none on a node's connections (their codecs know their
    /// peer), so a test can tell that the peer reached the codec.
    unknown: u64,
}

/// Why [`InboundBudget::take`] refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Over {
    /// The node's budget [SYNC-26].
    Node,
    /// The sending peer's share [SYNC-28].
    Share,
}

impl InboundBudget {
    /// A budget of `limit` bytes in all, at most `peer_limit` of them for any one peer.
    pub fn new(limit: usize, peer_limit: usize) -> InboundBudget {
        InboundBudget {
            held: Arc::default(),
            limit,
            peer_limit,
            connecting: Arc::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Held> {
        // A panic elsewhere while holding the lock leaves plain counters behind: still usable.
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes `n` bytes for `peer`, unless that would pass the node's limit or the peer's share.
    /// `None` is a connection whose peer is unknown: all of them share one share.
    fn take(&self, peer: Option<PeerId>, n: usize) -> std::result::Result<(), Over> {
        let mut held = self.lock();
        let mine = held.peers.get(&peer).copied().unwrap_or(0);
        if mine + n > self.peer_limit && !crate::fault::on("no-peer-share") {
            held.refused_share += 1;
            return Err(Over::Share);
        }
        if held.all + n > self.limit {
            return Err(Over::Node);
        }
        held.all += n;
        held.peers.insert(peer, mine + n);
        if peer.is_none() {
            held.unknown += n as u64;
        }
        held.peak_peer = held.peak_peer.max(mine + n);
        Ok(())
    }

    /// Gives `n` bytes of `peer`'s back.
    fn give(&self, peer: Option<PeerId>, n: usize) {
        if n == 0 {
            return;
        }
        let mut held = self.lock();
        held.all = held.all.saturating_sub(n);
        // A codec that did not learn its peer charged the unknown account: give back there.
        let account = if held.peers.contains_key(&peer) {
            peer
        } else {
            None
        };
        if let Some(mine) = held.peers.get_mut(&account) {
            *mine = mine.saturating_sub(n);
            if *mine == 0 {
                held.peers.remove(&account);
            }
        }
    }

    /// The bytes held now, from all peers.
    pub fn held(&self) -> usize {
        self.lock().all
    }

    /// The bytes held now for `peer`.
    pub fn held_for(&self, peer: &PeerId) -> usize {
        self.lock().peers.get(&Some(*peer)).copied().unwrap_or(0)
    }

    /// The most bytes ever held for one peer; never above the share [SYNC-28].
    pub fn peak_peer(&self) -> usize {
        self.lock().peak_peer
    }

    /// Requests refused because their peer's share was spent [SYNC-28].
    pub fn refused_share(&self) -> u64 {
        self.lock().refused_share
    }

    /// Runs `build` (which clones the codec into a new connection's handler) with `peer` as
    /// the peer that codec reads for.
    fn for_connection<R>(&self, peer: PeerId, build: impl FnOnce() -> R) -> R {
        *self.connecting.lock().unwrap_or_else(|e| e.into_inner()) = Some(peer);
        let built = build();
        *self.connecting.lock().unwrap_or_else(|e| e.into_inner()) = None;
        built
    }

    fn connecting(&self) -> Option<PeerId> {
        *self.connecting.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Default for InboundBudget {
    fn default() -> InboundBudget {
        InboundBudget::new(MAX_INBOUND_BYTES, MAX_INBOUND_BYTES_PER_PEER)
    }
}

/// Codec of [`SYNC_PROTOCOL`]: a request is one message's bytes behind an unsigned-varint length,
/// read against the node's [`InboundBudget`] and its sender's share of it; the response is one
/// frame, empty ("received") or a refusal with its code [SYNC-25], [SYNC-28].
///
/// libp2p clones the behaviour's codec into each connection's handler, and that one into each
/// stream. A clone made while [`SyncBehaviour`] builds a connection's handler takes that
/// connection's peer, and every stream of the connection inherits it: so the bytes are charged
/// to the authenticated sender as they arrive, before any is kept.
#[derive(Debug, Default)]
pub struct SyncCodec {
    /// The budget inbound requests are read against.
    pub budget: InboundBudget,
    /// The peer this codec reads for; `None` for the behaviour's own copy.
    peer: Option<PeerId>,
}

impl SyncCodec {
    /// A codec reading against `budget`.
    pub fn new(budget: InboundBudget) -> SyncCodec {
        SyncCodec { budget, peer: None }
    }

    /// The peer whose share this codec's requests are charged to.
    pub fn peer(&self) -> Option<PeerId> {
        self.peer
    }
}

impl Clone for SyncCodec {
    fn clone(&self) -> SyncCodec {
        SyncCodec {
            budget: self.budget.clone(),
            peer: self.peer.or_else(|| self.budget.connecting()),
        }
    }
}

impl request_response::Codec for SyncCodec {
    type Protocol = StreamProtocol;
    type Request = Inbound;
    type Response = Answer;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Inbound>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_budgeted(io, &self.budget, self.peer).await
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Answer>
    where
        T: AsyncRead + Unpin + Send,
    {
        let frame = read_frame(io).await?;
        Answer::from_bytes(&frame).map_err(|e| invalid(&e.to_string()))
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: Inbound,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        match req {
            Inbound::Message(bytes) => write_frame(io, &bytes).await,
            Inbound::Overloaded => Err(invalid("an overloaded request is never sent")),
        }
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        answer: Answer,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &answer.to_bytes()).await
    }
}

/// Reads one request frame, taking its bytes from `budget`, on `peer`'s account, as they arrive.
/// Past the node's budget or the peer's share, the rest of the frame is read and dropped (the
/// stream stays usable for the refusal) and what was taken is given back [SYNC-26], [SYNC-28].
/// On an error, nothing stays taken.
async fn read_budgeted<T: AsyncRead + Unpin>(
    io: &mut T,
    budget: &InboundBudget,
    peer: Option<PeerId>,
) -> io::Result<Inbound> {
    let len = read_length(io).await?;
    if len > MAX_MESSAGE_BYTES as u64 && !crate::fault::on("oversized-prefix-read-on") {
        return Err(invalid("a sync message over the size limit"));
    }
    let mut left = len as usize;
    let mut bytes = Vec::new();
    let mut over = false;
    let mut chunk = vec![0u8; READ_CHUNK.min(left.max(1))];
    while left > 0 {
        let want = left.min(chunk.len());
        let n = match io.read(&mut chunk[..want]).await {
            Ok(0) => Err(io::ErrorKind::UnexpectedEof.into()),
            other => other,
        };
        let n = match n {
            Ok(n) => n,
            Err(e) => {
                budget.give(peer, bytes.len());
                return Err(e);
            }
        };
        left -= n;
        if over {
            continue;
        }
        if budget.take(peer, n).is_ok() || crate::fault::on("keeps-request-past-bound") {
            bytes.extend_from_slice(&chunk[..n]);
        } else {
            over = true;
            budget.give(peer, bytes.len());
            bytes = Vec::new();
        }
    }
    Ok(if over {
        Inbound::Overloaded
    } else {
        Inbound::Message(bytes)
    })
}

/// Reads one length-prefixed frame, refusing a length over [`MAX_MESSAGE_BYTES`] before reading
/// on. The buffer grows with the bytes that arrive, not with the length declared, so a peer
/// cannot make this node reserve memory it never sends.
async fn read_frame<T: AsyncRead + Unpin>(io: &mut T) -> io::Result<Vec<u8>> {
    let len = read_length(io).await?;
    if len > MAX_MESSAGE_BYTES as u64 {
        return Err(invalid("a sync message over the size limit"));
    }
    let mut bytes = Vec::new();
    io.take(len).read_to_end(&mut bytes).await?;
    if bytes.len() as u64 != len {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(bytes)
}

/// Reads an unsigned varint, one byte at a time (it is at most 10 bytes long).
async fn read_length<T: AsyncRead + Unpin>(io: &mut T) -> io::Result<u64> {
    let mut buf = [0u8; 10];
    for i in 0..buf.len() {
        io.read_exact(&mut buf[i..=i]).await?;
        if buf[i] & 0x80 == 0 {
            let (len, _) = unsigned_varint::decode::u64(&buf[..=i])
                .map_err(|_| invalid("a frame length that is not a minimal varint"))?;
            return Ok(len);
        }
    }
    Err(invalid("a frame length longer than 10 bytes"))
}

async fn write_frame<T: AsyncWrite + Unpin>(io: &mut T, bytes: &[u8]) -> io::Result<()> {
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(invalid("a sync message over the size limit"));
    }
    let mut len = unsigned_varint::encode::u64_buffer();
    io.write_all(unsigned_varint::encode::u64(bytes.len() as u64, &mut len))
        .await?;
    io.write_all(bytes).await?;
    io.flush().await
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

/// What the network did that the node acts on; everything else is logged here and dropped.
#[derive(Debug)]
pub enum NetEvent {
    /// The node listens on a new address (with its `/p2p/` suffix).
    Listening(Multiaddr),
    /// A connection to `peer` is up; `dialed` is the address this node dialed, if it dialed.
    Connected {
        /// The remote peer.
        peer: PeerId,
        /// The address that reached it, when this node was the dialer.
        dialed: Option<Multiaddr>,
    },
    /// The last connection to `peer` closed.
    Disconnected {
        /// The remote peer.
        peer: PeerId,
    },
    /// `peer` said where it listens (identify).
    Identified {
        /// The remote peer.
        peer: PeerId,
        /// Its listen addresses, as it reports them.
        listen_addrs: Vec<Multiaddr>,
    },
    /// A sync message sent to this node, to be acknowledged with [`Transport::ack`] once handled
    /// and its records stored [SYNC-12], [SYNC-15].
    Request {
        /// The authenticated sender.
        from: PeerId,
        /// The message's bytes, not yet decoded.
        bytes: Vec<u8>,
        /// Where the acknowledgement goes.
        ack: ResponseChannel<Answer>,
    },
    /// A sync message published on a thread's topic.
    Gossip {
        /// The connected peer that passed it on: it holds what it forwards, so it is the one to
        /// ask for anything missing.
        from: PeerId,
        /// The topic it came on.
        topic: String,
        /// The message's bytes, sealed [SYNC-24].
        bytes: Vec<u8>,
    },
}

/// A node's swarm and the few operations the driver needs of it.
pub struct Transport {
    swarm: Swarm<Behaviour>,
    /// Each unacknowledged request: its peer and size.
    in_flight: HashMap<OutboundRequestId, (PeerId, usize)>,
    /// Per peer, what it has not acknowledged.
    queues: BTreeMap<PeerId, Queue>,
    stats: NetStats,
    /// What inbound requests hold, shared with the codec [SYNC-26].
    budget: InboundBudget,
}

impl Transport {
    /// A swarm for `keypair` (tcp + noise + yamux); INTERNAL if libp2p refuses its configuration.
    pub fn new(keypair: Keypair) -> Result<Transport> {
        Transport::with_inbound_budget(keypair, MAX_INBOUND_BYTES, MAX_INBOUND_BYTES_PER_PEER)
    }

    /// [`Transport::new`] with an inbound budget of `limit` bytes, at most `peer_limit` per peer,
    /// instead of [`MAX_INBOUND_BYTES`] and [`MAX_INBOUND_BYTES_PER_PEER`] (for tests that reach
    /// them cheaply).
    pub fn with_inbound_budget(
        keypair: Keypair,
        limit: usize,
        peer_limit: usize,
    ) -> Result<Transport> {
        let budget = InboundBudget::new(limit, peer_limit);
        let codec = SyncCodec::new(budget.clone());
        let swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
            .with_tokio()
            .with_tcp(
                tcp::Config::default().nodelay(true),
                noise::Config::new,
                yamux::Config::default,
            )
            .map_err(internal)?
            .with_behaviour(|key| behaviour(key, codec))
            .map_err(internal)?
            .with_swarm_config(|c| c.with_idle_connection_timeout(IDLE_TIMEOUT))
            .build();
        Ok(Transport {
            swarm,
            in_flight: HashMap::new(),
            queues: BTreeMap::new(),
            stats: NetStats {
                queued_bytes_budget: MAX_QUEUED_BYTES_PER_PEER as u64,
                inbound_bytes_budget: limit as u64,
                inbound_bytes_per_peer_budget: peer_limit as u64,
                ..NetStats::default()
            },
            budget,
        })
    }

    /// What the transport holds and has dropped so far.
    pub fn stats(&self) -> NetStats {
        NetStats {
            inbound_bytes: self.budget.held() as u64,
            refused_share: self.budget.refused_share(),
            peak_peer_inbound_bytes: self.budget.peak_peer() as u64,
            ..self.stats
        }
    }

    /// This node's libp2p identity.
    pub fn local_peer_id(&self) -> PeerId {
        *self.swarm.local_peer_id()
    }

    /// Starts listening on `addr`; ADDR_INVALID if it cannot be listened on.
    pub fn listen(&mut self, addr: Multiaddr) -> Result<()> {
        self.swarm
            .listen_on(addr.clone())
            .map(|_| ())
            .map_err(|e| Error::new(ErrorCode::AddrInvalid, format!("listen on {addr}: {e}")))
    }

    /// Dials `addr` (which may name the peer with `/p2p/`); ADDR_INVALID if it cannot be dialed.
    pub fn dial(&mut self, addr: Multiaddr) -> Result<()> {
        self.swarm
            .dial(addr.clone())
            .map_err(|e| Error::new(ErrorCode::AddrInvalid, format!("dial {addr}: {e}")))
    }

    /// Whether a connection to `peer` is up.
    pub fn is_connected(&self, peer: &PeerId) -> bool {
        self.swarm.is_connected(peer)
    }

    /// Sends one sync message to `peer`, dialing `addrs` first if no connection is up. Delivery is
    /// best effort: a failure is logged, and the peer's own retries make up for it. Past the
    /// peer's or the node's budget, or with no way to reach the peer, the message is dropped and
    /// counted (see the module docs); false then.
    pub fn send(&mut self, peer: PeerId, bytes: Vec<u8>, addrs: Vec<Multiaddr>) -> bool {
        if addrs.is_empty() && !self.is_connected(&peer) {
            self.stats.unreachable += 1;
            tracing::debug!(%peer, "no connection and no address: message dropped");
            return false;
        }
        let len = bytes.len();
        let queue = self.queues.entry(peer).or_default();
        let over = queue.messages >= MAX_IN_FLIGHT_PER_PEER
            || queue.bytes + len > MAX_QUEUED_BYTES_PER_PEER
            || self.stats.queued_bytes as usize + len > MAX_QUEUED_BYTES;
        if over {
            self.stats.dropped += 1;
            self.stats.dropped_bytes += len as u64;
            if !std::mem::replace(&mut queue.warned, true) {
                tracing::warn!(
                    %peer,
                    code = PEER_OVERLOADED,
                    messages = queue.messages,
                    bytes = queue.bytes,
                    "the peer does not take its messages: dropping more until it does"
                );
            }
            return false;
        }
        queue.messages += 1;
        queue.bytes += len;
        self.stats.peak_peer_in_flight = self.stats.peak_peer_in_flight.max(queue.messages as u64);
        self.stats.peak_peer_queued_bytes =
            self.stats.peak_peer_queued_bytes.max(queue.bytes as u64);
        self.stats.in_flight += 1;
        self.stats.queued_bytes += len as u64;
        self.stats.peak_queued_bytes = self.stats.peak_queued_bytes.max(self.stats.queued_bytes);
        let id = self
            .swarm
            .behaviour_mut()
            .sync
            .inner
            .send_request_with_addresses(&peer, Inbound::Message(bytes), addrs);
        self.in_flight.insert(id, (peer, len));
        true
    }

    /// A request was acknowledged or failed: its bytes leave its peer's budget.
    fn settle(&mut self, id: OutboundRequestId) {
        let Some((peer, len)) = self.in_flight.remove(&id) else {
            return;
        };
        self.stats.in_flight -= 1;
        self.stats.queued_bytes -= len as u64;
        if let Some(queue) = self.queues.get_mut(&peer) {
            queue.messages -= 1;
            queue.bytes -= len;
            if queue.messages == 0 {
                self.queues.remove(&peer);
            }
        }
    }

    /// Acknowledges a request once it is handled [SYNC-15].
    pub fn ack(&mut self, ack: ResponseChannel<Answer>) {
        // The requester may have given up waiting; its retry timers cover that case [SYNC-10].
        let _ = self
            .swarm
            .behaviour_mut()
            .sync
            .inner
            .send_response(ack, Answer::Received);
    }

    /// Subscribes to a thread's topic; true if newly subscribed.
    pub fn subscribe(&mut self, topic: &str) -> bool {
        let topic = IdentTopic::new(topic);
        match self.swarm.behaviour_mut().gossipsub.subscribe(&topic) {
            Ok(new) => new,
            Err(e) => {
                tracing::warn!(%topic, error = %e, "cannot subscribe");
                false
            }
        }
    }

    /// Publishes one sync message on a thread's topic. Nobody listening yet is normal (a thread
    /// with no other peer online), so that is not even a warning.
    pub fn publish(&mut self, topic: &str, bytes: Vec<u8>) {
        let topic = IdentTopic::new(topic);
        match self.swarm.behaviour_mut().gossipsub.publish(topic, bytes) {
            Ok(_) | Err(PublishError::NoPeersSubscribedToTopic | PublishError::Duplicate) => {}
            Err(e) => tracing::warn!(error = %e, "gossip publish failed"),
        }
    }

    /// The next event the node acts on. Cancel-safe: an event is only taken from the swarm at the
    /// single await point, and is returned or dropped without awaiting again.
    pub async fn next_event(&mut self) -> NetEvent {
        loop {
            let event = self.swarm.select_next_some().await;
            if let Some(event) = self.convert(event) {
                return event;
            }
        }
    }

    /// Turns a swarm event into a [`NetEvent`], answering inbound requests on the way.
    fn convert(&mut self, event: SwarmEvent<BehaviourEvent>) -> Option<NetEvent> {
        match event {
            SwarmEvent::NewListenAddr { address, .. } => {
                let me = self.local_peer_id();
                Some(NetEvent::Listening(
                    address.with_p2p(me).unwrap_or_else(|a| a),
                ))
            }
            SwarmEvent::ConnectionEstablished {
                peer_id,
                endpoint,
                num_established,
                ..
            } => {
                tracing::debug!(peer = %peer_id, n = num_established.get(), "connection up");
                let dialed = match endpoint {
                    ConnectedPoint::Dialer { address, .. } => Some(address),
                    ConnectedPoint::Listener { .. } => None,
                };
                Some(NetEvent::Connected {
                    peer: peer_id,
                    dialed,
                })
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } => Some(NetEvent::Disconnected { peer: peer_id }),
            SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                tracing::debug!(peer = ?peer_id, %error, "dial failed");
                None
            }
            SwarmEvent::Behaviour(event) => self.behaviour_event(event),
            _ => None,
        }
    }

    fn behaviour_event(&mut self, event: BehaviourEvent) -> Option<NetEvent> {
        match event {
            BehaviourEvent::Identify(identify::Event::Received { peer_id, info, .. }) => {
                Some(NetEvent::Identified {
                    peer: peer_id,
                    listen_addrs: info.listen_addrs,
                })
            }
            BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                propagation_source,
                message,
                ..
            }) => Some(NetEvent::Gossip {
                from: propagation_source,
                topic: message.topic.into_string(),
                bytes: message.data,
            }),
            BehaviourEvent::Sync(event) => self.sync_event(event),
            _ => None,
        }
    }

    fn sync_event(&mut self, event: request_response::Event<Inbound, Answer>) -> Option<NetEvent> {
        match event {
            request_response::Event::Message {
                peer,
                message:
                    request_response::Message::Request {
                        request: Inbound::Message(bytes),
                        channel,
                        ..
                    },
                ..
            } => {
                // The sync handles it now, one message at a time: its bytes leave the budget.
                // Acknowledged only once handled (Transport::ack): an acknowledged record is on
                // disk [SYNC-12]. The answer to a pull travels as its own request.
                self.budget.give(Some(peer), bytes.len());
                Some(NetEvent::Request {
                    from: peer,
                    bytes,
                    ack: channel,
                })
            }
            request_response::Event::Message {
                peer,
                message:
                    request_response::Message::Request {
                        request: Inbound::Overloaded,
                        channel,
                        ..
                    },
                ..
            } => {
                self.stats.refused += 1;
                tracing::debug!(%peer, code = PEER_OVERLOADED, "inbound budget spent: request refused");
                let refusal = Answer::Refused(ErrorCode::PeerOverloaded);
                let _ = self
                    .swarm
                    .behaviour_mut()
                    .sync
                    .inner
                    .send_response(channel, refusal);
                None
            }
            request_response::Event::Message {
                peer,
                message:
                    request_response::Message::Response {
                        request_id,
                        response,
                    },
                ..
            } => {
                self.settle(request_id);
                if let (Answer::Refused(code), false) =
                    (response, crate::fault::on("refusal-counted-as-delivered"))
                {
                    // Not delivered: the sync makes up for it as for a lost message [SYNC-27].
                    self.stats.refused_by_peers += 1;
                    tracing::debug!(%peer, %code, "sync request refused");
                }
                None
            }
            request_response::Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                self.settle(request_id);
                self.stats.failed += 1;
                log_outbound_failure(peer, &error);
                None
            }
            request_response::Event::InboundFailure { peer, error, .. } => {
                tracing::debug!(%peer, %error, "inbound sync request failed");
                None
            }
            _ => None,
        }
    }
}

/// A peer that is offline is part of normal operation (the sync retries); anything else is odd.
fn log_outbound_failure(peer: PeerId, error: &OutboundFailure) {
    match error {
        OutboundFailure::DialFailure | OutboundFailure::ConnectionClosed => {
            tracing::debug!(%peer, %error, "sync request not delivered")
        }
        _ => tracing::warn!(%peer, %error, "sync request failed"),
    }
}

/// Builds the behaviours for the node's key: gossipsub signs with it, identify announces it.
fn behaviour(
    key: &Keypair,
    codec: SyncCodec,
) -> std::result::Result<Behaviour, Box<dyn std::error::Error + Send + Sync>> {
    let gossip_config = gossipsub::ConfigBuilder::default()
        // Every message is signed by its publisher and checked before it is passed on.
        .validation_mode(ValidationMode::Strict)
        .max_transmit_size(MAX_MESSAGE_BYTES + GOSSIP_OVERHEAD)
        .build()?;
    let gossipsub =
        gossipsub::Behaviour::new(MessageAuthenticity::Signed(key.clone()), gossip_config)?;
    let identify = identify::Behaviour::new(identify::Config::new(
        IDENTIFY_VERSION.to_owned(),
        key.public(),
    ));
    let budget = codec.budget.clone();
    let inner = request_response::Behaviour::with_codec(
        codec,
        [(SYNC_PROTOCOL, ProtocolSupport::Full)],
        request_response::Config::default()
            .with_request_timeout(REQUEST_TIMEOUT)
            .with_max_concurrent_streams(MAX_STREAMS_PER_CONNECTION),
    );
    let sync = SyncBehaviour { inner, budget };
    let limits = connection_limits::Behaviour::new(
        connection_limits::ConnectionLimits::default()
            .with_max_established_per_peer(Some(MAX_ESTABLISHED_PER_PEER))
            .with_max_established(Some(MAX_ESTABLISHED))
            .with_max_pending_incoming(Some(MAX_PENDING_INCOMING)),
    );
    Ok(Behaviour {
        limits,
        identify,
        gossipsub,
        sync,
    })
}

fn internal(e: impl std::fmt::Display) -> Error {
    Error::new(ErrorCode::Internal, format!("libp2p setup: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use request_response::Codec;

    /// Two swarms: `a` with an inbound budget of `limit` bytes and a share of `peer_limit` per
    /// peer, and `b`, which sends `a` 5,000 bytes; returns once `b` counts `a`'s refusal, with
    /// `a`'s address.
    async fn refused_send(limit: usize, peer_limit: usize) -> (Transport, Transport, Multiaddr) {
        let mut a = Transport::with_inbound_budget(Keypair::generate_ed25519(), limit, peer_limit)
            .expect("swarm");
        a.listen("/ip4/127.0.0.1/tcp/0".parse().expect("addr"))
            .expect("listen");
        let mut b = transport();
        let a_addr = listen_addr(&mut a, &mut b).await;
        b.send(a.local_peer_id(), vec![1; 5_000], vec![a_addr.clone()]);
        // A refusal is no event of `b`'s (next_event keeps waiting after it): look at its
        // counters between events and on a tick. A sender that takes the refusal for an
        // acknowledgement never counts it [SYNC-27]: fail then, after a generous wait.
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while b.stats().refused_by_peers == 0 {
            tokio::select! {
                event = a.next_event() => assert!(!matches!(event, NetEvent::Request { .. })),
                _ = b.next_event() => {}
                _ = tick.tick() => assert!(
                    tokio::time::Instant::now() < deadline,
                    "the refused request was never counted as refused [SYNC-27]"
                ),
            }
        }
        (a, b, a_addr)
    }

    fn transport() -> Transport {
        let mut node = Transport::new(Keypair::generate_ed25519()).expect("swarm");
        node.listen("/ip4/127.0.0.1/tcp/0".parse().expect("addr"))
            .expect("listen");
        node
    }

    /// Polls both swarms until `a` yields an event `want` accepts.
    /// Two transports, `a` listening: `a`, `b` and `a`'s listen address.
    async fn listening_pair() -> (Transport, Transport, Multiaddr) {
        let (mut a, mut b) = (transport(), transport());
        let a_addr = listen_addr(&mut a, &mut b).await;
        (a, b, a_addr)
    }

    /// `a`'s listen address, once it listens (polling `b` meanwhile).
    async fn listen_addr(a: &mut Transport, b: &mut Transport) -> Multiaddr {
        until(a, b, |e| match e {
            NetEvent::Listening(addr) => Some(addr),
            _ => None,
        })
        .await
    }

    /// A loopback address nobody listens on (a port just bound and let go).
    fn nobody_listens() -> Multiaddr {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = closed.local_addr().expect("port").port();
        drop(closed);
        format!("/ip4/127.0.0.1/tcp/{port}").parse().expect("addr")
    }

    async fn until<T>(
        a: &mut Transport,
        b: &mut Transport,
        mut want: impl FnMut(NetEvent) -> Option<T>,
    ) -> T {
        loop {
            tokio::select! {
                event = a.next_event() => if let Some(found) = want(event) { return found },
                _ = b.next_event() => {}
            }
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_request_and_a_gossip_message_cross_between_two_swarms() {
        let (mut a, mut b, a_addr) = listening_pair().await;
        let a_id = a.local_peer_id();
        b.send(a_id, b"hello".to_vec(), vec![a_addr]);
        let (from, bytes, ack) = until(&mut a, &mut b, |e| match e {
            NetEvent::Request { from, bytes, ack } => Some((from, bytes, ack)),
            _ => None,
        })
        .await;
        a.ack(ack);
        assert_eq!((from, bytes), (b.local_peer_id(), b"hello".to_vec()));

        assert!(a.subscribe("topic"));
        assert!(b.subscribe("topic"));
        // Gossipsub needs to have heard of the other's subscription first: publish until it lands.
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        let bytes = loop {
            tokio::select! {
                event = a.next_event() => if let NetEvent::Gossip { bytes, .. } = event { break bytes },
                _ = b.next_event() => {}
                _ = tick.tick() => b.publish("topic", b"news".to_vec()),
            }
        };
        assert_eq!(bytes, b"news".to_vec());
    }

    /// Checks [SYNC-16] at the bound of [SYNC-2]: a publication sealing ([SYNC-24]: a 24-byte
    /// nonce and a 16-byte tag) a `records` message of MAX_MESSAGE_BYTES, the largest any peer
    /// may send, crosses the gossip path whole, gossipsub's framing and signature included.
    #[tokio::test(flavor = "current_thread")]
    async fn a_publication_of_the_largest_message_crosses_the_gossip_path() {
        let (mut a, mut b, a_addr) = listening_pair().await;
        b.dial(a_addr).expect("dial");
        assert!(a.subscribe("topic"));
        assert!(b.subscribe("topic"));
        // Gossipsub needs to have heard of the other's subscription first: publish until it lands.
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        loop {
            tokio::select! {
                event = a.next_event() => if matches!(event, NetEvent::Gossip { .. }) { break },
                _ = b.next_event() => {}
                _ = tick.tick() => b.publish("topic", b"news".to_vec()),
            }
        }
        let largest = vec![7; MAX_MESSAGE_BYTES + 24 + 16];
        b.publish("topic", largest.clone());
        // A bound far beyond any load: only a publication that never comes reaches it.
        let arrived = tokio::time::timeout(
            Duration::from_secs(120),
            until(&mut a, &mut b, |e| match e {
                NetEvent::Gossip { bytes, .. } if bytes.len() > 4 => Some(bytes),
                _ => None,
            }),
        )
        .await
        .expect("the largest publication never arrived");
        assert!(arrived == largest, "the publication arrives whole");
    }

    /// Checks the inbound bound of issue 17 on the gossip path ([SYNC-2], [SYNC-16]): a
    /// publication larger than the largest message plus gossipsub's overhead never crosses (the
    /// publisher refuses it, and so would a receiver), while a small one published after it does.
    #[tokio::test(flavor = "current_thread")]
    async fn a_publication_past_the_gossip_bound_never_crosses() {
        let (mut a, mut b, a_addr) = listening_pair().await;
        b.dial(a_addr).expect("dial");
        assert!(a.subscribe("topic"));
        assert!(b.subscribe("topic"));
        // Gossipsub needs to have heard of the other's subscription first: publish until it lands.
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        loop {
            tokio::select! {
                event = a.next_event() => if matches!(event, NetEvent::Gossip { .. }) { break },
                _ = b.next_event() => {}
                _ = tick.tick() => b.publish("topic", b"news".to_vec()),
            }
        }
        b.publish("topic", vec![7; MAX_MESSAGE_BYTES + GOSSIP_OVERHEAD + 1]);
        b.publish("topic", b"after".to_vec());
        // A bound far beyond any load: only a publication that never comes reaches it.
        let arrived = tokio::time::timeout(
            Duration::from_secs(120),
            until(&mut a, &mut b, |e| match e {
                NetEvent::Gossip { bytes, .. } if bytes != b"news" => Some(bytes),
                _ => None,
            }),
        )
        .await
        .expect("the small publication never arrived");
        assert!(
            arrived == b"after",
            "a publication of {} bytes crossed",
            arrived.len()
        );
    }

    /// Sends `b`'s messages of `len` bytes to `to` until one is dropped; returns how many went.
    fn send_until_dropped(b: &mut Transport, to: PeerId, addr: &Multiaddr, len: usize) -> usize {
        let mut sent = 0;
        while b.send(to, vec![7; len], vec![addr.clone()]) {
            sent += 1;
        }
        sent
    }

    /// Checks the outbound bound of [SYNC-10]: the bytes a node keeps waiting for one peer's
    /// acknowledgement never pass MAX_QUEUED_BYTES_PER_PEER, also after some of them were
    /// acknowledged: an acknowledged message gives back its own bytes, no more.
    #[tokio::test(flavor = "current_thread")]
    async fn bytes_queued_for_one_peer_stay_in_its_budget_after_acknowledgements() {
        let (mut a, mut b, a_addr) = listening_pair().await;
        let to = a.local_peer_id();
        let len = 5 << 20;
        assert_eq!(send_until_dropped(&mut b, to, &a_addr, len), 3);
        assert!(b.stats().queued_bytes <= MAX_QUEUED_BYTES_PER_PEER as u64);
        // `a` acknowledges the first request it reads and keeps the others waiting.
        let mut waiting = Vec::new();
        let mut acked = false;
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while b.stats().in_flight == 3 {
            tokio::select! {
                event = a.next_event() => if let NetEvent::Request { ack, .. } = event {
                    if acked {
                        waiting.push(ack);
                    } else {
                        a.ack(ack);
                        acked = true;
                    }
                },
                _ = b.next_event() => {}
                _ = tick.tick() => assert!(
                    tokio::time::Instant::now() < deadline,
                    "no request was ever settled"
                ),
            }
        }
        let settled = 3 - b.stats().in_flight as usize;
        let more = send_until_dropped(&mut b, to, &a_addr, len);
        assert_eq!(
            more, settled,
            "each settled message makes room for one of its size"
        );
        let queued = b.stats().queued_bytes;
        assert!(
            queued <= MAX_QUEUED_BYTES_PER_PEER as u64,
            "{queued} bytes queued for one peer"
        );
        drop(waiting);
    }

    /// Checks the outbound bound of [SYNC-10] (issue 17) at its edge: two of the largest messages
    /// fill MAX_QUEUED_BYTES_PER_PEER exactly and both are queued; one byte more for that peer is
    /// dropped and counted, while another peer still has its own budget.
    #[tokio::test(flavor = "current_thread")]
    async fn one_peer_queues_up_to_max_queued_bytes_per_peer_exactly() {
        let mut b = transport();
        let nobody = nobody_listens();
        let to = Keypair::generate_ed25519().public().to_peer_id();
        assert_eq!(MAX_QUEUED_BYTES_PER_PEER, 2 * MAX_MESSAGE_BYTES);
        for _ in 0..2 {
            assert!(b.send(to, vec![7; MAX_MESSAGE_BYTES], vec![nobody.clone()]));
        }
        assert_eq!(b.stats().queued_bytes, MAX_QUEUED_BYTES_PER_PEER as u64);
        assert!(
            !b.send(to, vec![7], vec![nobody.clone()]),
            "one byte past the bound is dropped"
        );
        assert_eq!(b.stats().dropped, 1);
        let other = Keypair::generate_ed25519().public().to_peer_id();
        assert!(
            b.send(other, vec![7], vec![nobody]),
            "another peer's budget"
        );
    }

    /// Checks the outbound bound of [SYNC-10] (issue 17) for all peers together: messages to four
    /// peers, each within its own budget, fill MAX_QUEUED_BYTES exactly and are all queued; one
    /// byte more, to a fifth peer with its whole budget left, is dropped and counted.
    #[tokio::test(flavor = "current_thread")]
    async fn all_peers_together_queue_up_to_max_queued_bytes_exactly() {
        let mut b = transport();
        let nobody = nobody_listens();
        assert_eq!(MAX_QUEUED_BYTES, 4 * MAX_QUEUED_BYTES_PER_PEER);
        for _ in 0..4 {
            let to = Keypair::generate_ed25519().public().to_peer_id();
            for _ in 0..2 {
                assert!(b.send(to, vec![7; MAX_MESSAGE_BYTES], vec![nobody.clone()]));
            }
        }
        assert_eq!(b.stats().queued_bytes, MAX_QUEUED_BYTES as u64);
        let fifth = Keypair::generate_ed25519().public().to_peer_id();
        assert!(
            !b.send(fifth, vec![7], vec![nobody]),
            "one byte past the bound is dropped"
        );
        assert_eq!((b.stats().dropped, b.stats().dropped_bytes), (1, 1));
    }

    /// Checks [SYNC-10]: an acknowledged message leaves its peer's count of messages in flight,
    /// so a peer that takes its messages is sent any number of them, one after another, and none
    /// is dropped.
    #[tokio::test(flavor = "current_thread")]
    async fn a_peer_that_acknowledges_is_sent_more_than_max_in_flight_messages() {
        let (mut a, mut b, a_addr) = listening_pair().await;
        let to = a.local_peer_id();
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        for i in 0..MAX_IN_FLIGHT_PER_PEER + 8 {
            assert!(b.send(to, vec![7; 10], vec![a_addr.clone()]), "message {i}");
            while b.stats().in_flight > 0 {
                tokio::select! {
                    event = a.next_event() => if let NetEvent::Request { ack, .. } = event {
                        a.ack(ack);
                    },
                    _ = b.next_event() => {}
                    _ = tick.tick() => assert!(
                        tokio::time::Instant::now() < deadline,
                        "message {i} was never settled"
                    ),
                }
            }
        }
        assert_eq!(b.stats().dropped, 0);
    }

    /// Checks [SYNC-2]'s bound on the sync protocol's frames: a message of MAX_MESSAGE_BYTES
    /// exactly is written and read back whole; one byte more is refused before a byte is written.
    #[tokio::test(flavor = "current_thread")]
    async fn a_frame_of_max_message_bytes_exactly_is_written_and_read_back() {
        let largest = vec![7; MAX_MESSAGE_BYTES];
        let mut wire = futures::io::Cursor::new(Vec::new());
        write_frame(&mut wire, &largest)
            .await
            .expect("the largest message is written");
        wire.set_position(0);
        let read = read_frame(&mut wire).await.expect("read back");
        assert!(read == largest, "the frame reads back whole");
        let mut refused = futures::io::Cursor::new(Vec::new());
        let err = write_frame(&mut refused, &[7; MAX_MESSAGE_BYTES + 1])
            .await
            .expect_err("one byte more is refused");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(refused.get_ref().is_empty(), "nothing written");
    }

    /// Checks [SYNC-10]: a message to an address nobody listens on fails (the dial fails) and
    /// gives its peer's budget back, instead of waiting for ever: otherwise a peer that was down
    /// when messages were sent would keep its budget spent, and every later message to it would
    /// be dropped.
    #[tokio::test(flavor = "current_thread")]
    async fn a_message_whose_dial_fails_is_counted_failed_and_frees_its_budget() {
        let mut b = transport();
        let nobody = nobody_listens();
        let to = Keypair::generate_ed25519().public().to_peer_id();
        assert!(b.send(to, vec![1; 1000], vec![nobody]));
        assert_eq!(b.stats().in_flight, 1);
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while b.stats().in_flight > 0 {
            tokio::select! {
                _ = b.next_event() => {}
                _ = tick.tick() => assert!(
                    tokio::time::Instant::now() < deadline,
                    "the failed dial never settled the message"
                ),
            }
        }
        let stats = b.stats();
        assert_eq!((stats.failed, stats.queued_bytes), (1, 0));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn frames_round_trip_and_oversized_ones_are_refused() {
        let mut wire = Vec::new();
        let mut codec = SyncCodec::default();
        codec
            .write_request(&SYNC_PROTOCOL, &mut wire, Inbound::Message(b"abc".to_vec()))
            .await
            .expect("write");
        assert_eq!(wire, b"\x03abc");
        let read = codec.read_request(&SYNC_PROTOCOL, &mut &wire[..]).await;
        assert_eq!(read.expect("read"), Inbound::Message(b"abc".to_vec()));

        let mut too_long = unsigned_varint::encode::u64_buffer();
        let prefix = unsigned_varint::encode::u64(MAX_MESSAGE_BYTES as u64 + 1, &mut too_long);
        let read = codec.read_request(&SYNC_PROTOCOL, &mut &prefix[..]).await;
        assert_eq!(read.map_err(|e| e.kind()), Err(io::ErrorKind::InvalidData));
        let read = codec
            .read_request(&SYNC_PROTOCOL, &mut &[0xff; 11][..])
            .await;
        assert_eq!(read.map_err(|e| e.kind()), Err(io::ErrorKind::InvalidData));

        let mut ack = Vec::new();
        codec
            .write_response(&SYNC_PROTOCOL, &mut ack, Answer::Received)
            .await
            .expect("write");
        assert_eq!(ack, [0]);
        let read = codec.read_response(&SYNC_PROTOCOL, &mut &ack[..]).await;
        assert_eq!(read.expect("an empty frame is an ack"), Answer::Received);
    }

    /// A refusal is the frame of `{"code": 710}` [SYNC-25]; a frame that is neither empty nor a
    /// refusal with a registered code is refused by the reader.
    #[tokio::test(flavor = "current_thread")]
    async fn a_refusal_carries_its_code_on_the_wire() {
        let mut codec = SyncCodec::default();
        let mut wire = Vec::new();
        let refusal = Answer::Refused(ErrorCode::PeerOverloaded);
        codec
            .write_response(&SYNC_PROTOCOL, &mut wire, refusal)
            .await
            .expect("write");
        assert_eq!(wire, b"\x09\xa1\x64code\x19\x02\xc6");
        let read = codec.read_response(&SYNC_PROTOCOL, &mut &wire[..]).await;
        assert_eq!(read.expect("read"), refusal);
        for bad in [
            &b"\x01\x00"[..],
            b"\x09\xa1\x64code\x19\x03\xe7",
            b"\x03abc",
        ] {
            let read = codec.read_response(&SYNC_PROTOCOL, &mut &bad[..]).await;
            assert_eq!(
                read.map_err(|e| e.kind()),
                Err(io::ErrorKind::InvalidData),
                "{bad:?}"
            );
        }
    }

    /// Past the inbound budget a request is read to its end and not kept; what it took is given
    /// back, so the next request that fits is read [SYNC-26].
    #[tokio::test(flavor = "current_thread")]
    async fn a_request_past_the_inbound_budget_is_drained_and_gives_its_bytes_back() {
        let budget = InboundBudget::new(READ_CHUNK + 10, READ_CHUNK + 10);
        let mut codec = SyncCodec::new(budget.clone());
        let big = vec![7u8; 3 * READ_CHUNK];
        let mut wire = Vec::new();
        write_frame(&mut wire, &big).await.expect("write");
        write_frame(&mut wire, b"small").await.expect("write");
        let mut input = &wire[..];
        let read = codec.read_request(&SYNC_PROTOCOL, &mut input).await;
        assert_eq!(read.expect("read"), Inbound::Overloaded);
        assert_eq!(budget.held(), 0);
        let read = codec.read_request(&SYNC_PROTOCOL, &mut input).await;
        assert_eq!(read.expect("read"), Inbound::Message(b"small".to_vec()));
        assert_eq!(budget.held(), 5, "held until the transport hands it on");
        assert!(input.is_empty());
    }

    /// Between two swarms: a request past the receiver's budget is refused with
    /// PEER_OVERLOADED, and the sender counts the refusal; one that fits still gets through.
    #[tokio::test(flavor = "current_thread")]
    async fn a_peer_past_the_budget_is_told_so_and_the_next_request_gets_through() {
        let (mut a, mut b, a_addr) = refused_send(1_000, 1_000).await;
        let a_id = a.local_peer_id();
        assert_eq!((a.stats().refused, a.stats().inbound_bytes), (1, 0));
        assert_eq!(b.stats().in_flight, 0, "a refusal settles the request");
        b.send(a_id, b"fits".to_vec(), vec![a_addr]);
        let (bytes, ack) = until(&mut a, &mut b, |e| match e {
            NetEvent::Request { bytes, ack, .. } => Some((bytes, ack)),
            _ => None,
        })
        .await;
        a.ack(ack);
        assert_eq!(bytes, b"fits".to_vec());
        assert_eq!(a.stats().refused, 1);
    }

    /// One peer's requests are charged to its share [SYNC-28]: past it they are drained and
    /// refused while the node's budget still has room, and another peer's request is read; a
    /// codec cloned while a connection's handler is built reads for that connection's peer, and
    /// its streams' clones inherit it.
    #[tokio::test(flavor = "current_thread")]
    async fn one_peer_past_its_share_is_refused_while_another_is_read() {
        let budget = InboundBudget::new(4 * READ_CHUNK, 2 * READ_CHUNK);
        let (flooder, honest) = (PeerId::random(), PeerId::random());
        let prototype = SyncCodec::new(budget.clone());
        let mut flooding = budget.for_connection(flooder, || prototype.clone());
        let mut serving = budget.for_connection(honest, || prototype.clone()).clone();
        assert_eq!(
            prototype.clone().peer(),
            None,
            "only while a handler is built"
        );
        assert_eq!(
            (flooding.peer(), serving.peer()),
            (Some(flooder), Some(honest))
        );

        let mut wire = Vec::new();
        write_frame(&mut wire, &vec![1u8; 2 * READ_CHUNK])
            .await
            .expect("write");
        let held = flooding.read_request(&SYNC_PROTOCOL, &mut &wire[..]).await;
        assert!(matches!(held.expect("read"), Inbound::Message(_)));
        assert_eq!(budget.held_for(&flooder), 2 * READ_CHUNK, "the whole share");
        let mut more = Vec::new();
        write_frame(&mut more, &[2u8; 100]).await.expect("write");
        let refused = flooding.read_request(&SYNC_PROTOCOL, &mut &more[..]).await;
        assert_eq!(refused.expect("read"), Inbound::Overloaded);
        assert_eq!(budget.refused_share(), 1);
        assert_eq!(budget.held(), 2 * READ_CHUNK, "the node's budget had room");

        let mut big = Vec::new();
        write_frame(&mut big, &vec![3u8; 2 * READ_CHUNK])
            .await
            .expect("write");
        let read = serving.read_request(&SYNC_PROTOCOL, &mut &big[..]).await;
        assert!(matches!(read.expect("read"), Inbound::Message(_)));
        assert_eq!(budget.held_for(&honest), 2 * READ_CHUNK);
        assert_eq!(budget.peak_peer(), 2 * READ_CHUNK);
        budget.give(Some(flooder), 2 * READ_CHUNK);
        budget.give(Some(honest), 2 * READ_CHUNK);
        assert_eq!((budget.held(), budget.held_for(&flooder)), (0, 0));
        assert_eq!(budget.lock().unknown, 0);
    }

    /// Between two swarms: with room in the node's budget, a request past the sender's share is
    /// refused with PEER_OVERLOADED, counted as a share refusal; so the codec of a live
    /// connection knows its peer [SYNC-28].
    #[tokio::test(flavor = "current_thread")]
    async fn a_live_connection_charges_its_peer_share() {
        let (mut a, mut b, a_addr) = refused_send(100_000, 1_000).await;
        let a_id = a.local_peer_id();
        let stats = a.stats();
        assert_eq!((stats.refused, stats.refused_share), (1, 1));
        assert!(stats.peak_peer_inbound_bytes <= 1_000);
        b.send(a_id, vec![2; 900], vec![a_addr]);
        let (from, bytes, ack) = until(&mut a, &mut b, |e| match e {
            NetEvent::Request { from, bytes, ack } => Some((from, bytes, ack)),
            _ => None,
        })
        .await;
        a.ack(ack);
        assert_eq!((from, bytes.len()), (b.local_peer_id(), 900));
        assert_eq!(a.stats().peak_peer_inbound_bytes, 900);
        assert_eq!(a.stats().inbound_bytes, 0);
        assert_eq!(
            a.budget.lock().unknown,
            0,
            "every byte charged to its sender"
        );
    }

    /// Checks [SYNC-28]: the budgets a transport reports are the ones it was built with, so an
    /// operator reading `stats` sees the limits its counters are measured against.
    #[tokio::test(flavor = "current_thread")]
    async fn the_stats_report_the_inbound_budgets_the_transport_enforces() {
        let t = Transport::with_inbound_budget(Keypair::generate_ed25519(), 100_000, 1_000)
            .expect("swarm");
        let stats = t.stats();
        assert_eq!(
            (
                stats.inbound_bytes_budget,
                stats.inbound_bytes_per_peer_budget,
                stats.queued_bytes_budget
            ),
            (100_000, 1_000, MAX_QUEUED_BYTES_PER_PEER as u64)
        );
    }

    /// Bytes read on a connection whose peer the codec did not learn are charged to the shared
    /// unknown account [SYNC-28], which the tests of live connections read to tell that every
    /// byte reached its sender's share: it must count what is charged there.
    #[test]
    fn bytes_of_an_unknown_peer_are_counted_on_the_unknown_account() {
        let budget = InboundBudget::new(4 * READ_CHUNK, 2 * READ_CHUNK);
        assert!(budget.take(None, 100).is_ok());
        assert!(budget.take(None, 50).is_ok());
        assert_eq!(budget.lock().unknown, 150);
        assert!(budget.take(Some(PeerId::random()), 10).is_ok());
        assert_eq!(
            budget.lock().unknown,
            150,
            "a known peer's bytes are its own"
        );
    }

    /// Dialing an address this transport itself listens on cannot reach a peer: ADDR_INVALID at
    /// once, as for any address that cannot be dialed, not a silent success.
    #[tokio::test(flavor = "current_thread")]
    async fn dialing_its_own_listen_address_is_addr_invalid() {
        let mut a = transport();
        let own = loop {
            if let NetEvent::Listening(addr) = a.next_event().await {
                break addr;
            }
        };
        // As the swarm knows it: without the `/p2p/` the event adds.
        let mut own = own;
        assert!(matches!(
            own.pop(),
            Some(libp2p::multiaddr::Protocol::P2p(_))
        ));
        let refused = a.dial(own).map_err(|e| e.code);
        assert_eq!(refused, Err(ErrorCode::AddrInvalid));
    }

    /// A message to a peer with a live connection needs no address: it goes out on that
    /// connection. One to a peer with neither is dropped at once, counted as unreachable.
    #[tokio::test(flavor = "current_thread")]
    async fn a_live_connection_needs_no_address_and_no_way_at_all_is_counted_unreachable() {
        let (mut a, mut b, a_addr) = listening_pair().await;
        let a_id = a.local_peer_id();
        assert!(!b.is_connected(&a_id));
        assert!(b.send(a_id, b"first".to_vec(), vec![a_addr]));
        let ack = until(&mut a, &mut b, |e| match e {
            NetEvent::Request { ack, .. } => Some(ack),
            _ => None,
        })
        .await;
        a.ack(ack);
        assert!(
            b.send(a_id, b"second".to_vec(), Vec::new()),
            "sent on the connection"
        );
        assert!(b.is_connected(&a_id));
        let (from, bytes, ack) = until(&mut a, &mut b, |e| match e {
            NetEvent::Request { from, bytes, ack } => Some((from, bytes, ack)),
            _ => None,
        })
        .await;
        a.ack(ack);
        assert_eq!((from, bytes), (b.local_peer_id(), b"second".to_vec()));
        assert_eq!(b.stats().unreachable, 0);

        let mut c = transport();
        assert!(!c.send(a_id, b"lost".to_vec(), Vec::new()));
        assert!(!c.send(a_id, b"lost".to_vec(), Vec::new()));
        assert_eq!(c.stats().unreachable, 2);
    }
}
