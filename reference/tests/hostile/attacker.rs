//! The attacker client of the hostile-peer suite (issue 17): libp2p identities that speak
//! `/threads/sync/1` with the reference crate's codec and message types, but send whatever the
//! test tells them, and count everything a victim tells them.
//!
//! Every identity runs as a task on one [`Crowd`]'s runtime thread. An identity is either a
//! *stranger* (no thread, no keys: it only injects and counts) or an *insider*: a sans-IO
//! [`Peer`] on an in-memory store, driven exactly as `threads-node` drives one, that can be
//! invited, join and replicate like any member, and besides that inject forged messages.
//!
//! Everything a victim sends is decoded and counted in [`Stats`] before the insider's peer sees
//! it. A stranger in *auto-pull* mode pulls every log it learns of, from whoever named it, as a
//! thief copying a thread would.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::{AsyncRead, AsyncWrite, AsyncWriteExt, StreamExt};
use libp2p::gossipsub::{self, IdentTopic, MessageAuthenticity, ValidationMode};
use libp2p::identity::Keypair;
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{Multiaddr, PeerId, StreamProtocol, Swarm, identify, noise, tcp, yamux};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use sha2::{Digest, Sha256};
use threads::id::{LogId, ThreadId};
use threads::keys::IdentityKey;
use threads::node::transport::{Answer, Inbound, SYNC_PROTOCOL, SyncCodec};
use threads::store::MemoryStore;
use threads::sync::{Destination, MAX_MESSAGE_BYTES, Message, Peer, Transmit};
use tokio::sync::mpsc;

/// An insider's core peer.
pub type Insider = Peer<ChaCha20Rng, MemoryStore>;

/// What the victims told one identity, decoded.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    /// Sync messages received (requests and gossip), decoded or not.
    pub messages: u64,
    /// Bytes of those messages.
    pub bytes: u64,
    /// `heads` messages received.
    pub heads: u64,
    /// `pull` messages received.
    pub pulls: u64,
    /// `records` messages received.
    pub records_messages: u64,
    /// Envelopes received in `records` messages, repeats included.
    pub records: u64,
    /// Distinct envelopes received (SHA-256 of their bytes).
    pub distinct_records: BTreeSet<[u8; 32]>,
    /// Non-zero counters received, in `heads` entries and `records` messages.
    pub counters: u64,
    /// Every (thread, log) a victim named, in `heads`, `pull` or `records`.
    pub logs: BTreeSet<(ThreadId, LogId)>,
    /// `auth` messages received: challenges and proofs [SYNC-17]. They carry no log ID or counter.
    pub auths: u64,
    /// The nonce of the last `auth` challenge received: what a member proves itself over.
    pub last_nonce: Vec<u8>,
    /// Gossip publications received, on any topic it subscribed to.
    pub publications: u64,
    /// Acknowledgements of this identity's own requests.
    pub acks: u64,
    /// Own requests the victim refused, with their codes [SYNC-25].
    pub refusals: BTreeMap<u16, u64>,
    /// Own requests that failed.
    pub failures: u64,
    /// The victims it connected with.
    pub connected: BTreeSet<PeerId>,
    /// Connections open now, and the most ever open at once.
    pub open: u64,
    pub max_open: u64,
}

impl Stats {
    /// One line for a report.
    pub fn summary(&self) -> String {
        format!(
            "messages {} ({} bytes), heads {}, pulls {}, records {} ({} distinct) in {} messages, \
             counters {}, log IDs {}",
            self.messages,
            self.bytes,
            self.heads,
            self.pulls,
            self.records,
            self.distinct_records.len(),
            self.records_messages,
            self.counters,
            self.logs.len()
        )
    }

    /// Whether a victim leaked anything about a thread: a record, a counter or a log ID.
    pub fn leaked(&self) -> bool {
        self.records > 0 || self.counters > 0 || !self.logs.is_empty()
    }

    fn count(&mut self, bytes: &[u8]) -> Option<Message> {
        self.messages += 1;
        self.bytes += bytes.len() as u64;
        let message = Message::from_bytes(bytes).ok()?;
        match &message {
            Message::Heads { thread, heads } => {
                self.heads += 1;
                for (log, counter) in heads {
                    self.logs.insert((thread.clone(), *log));
                    self.counters += u64::from(*counter > 0);
                }
            }
            Message::Pull { thread, log, .. } => {
                self.pulls += 1;
                self.logs.insert((thread.clone(), *log));
            }
            Message::Auth { nonce, .. } => {
                self.auths += 1;
                if !nonce.is_empty() {
                    self.last_nonce.clone_from(nonce);
                }
            }
            Message::Records {
                thread,
                log,
                counter,
                envelopes,
            } => {
                self.records_messages += 1;
                self.logs.insert((thread.clone(), *log));
                self.counters += u64::from(*counter > 0);
                self.records += envelopes.len() as u64;
                for envelope in envelopes {
                    self.distinct_records
                        .insert(Sha256::digest(envelope.to_bytes()).into());
                }
            }
        }
        Some(message)
    }
}

/// The attacker's request codec: requests are read with the reference codec, but written as the
/// test built them, frame and all, so that a test can send a frame the reference would refuse to
/// write (a length over the limit, a truncated body). Reading can be stalled: then every inbound
/// stream stays unread, as with a peer that stops reading.
#[derive(Clone)]
struct RawCodec {
    stall: Arc<AtomicBool>,
    /// Set, each frame is written in two halves this many milliseconds apart: a slow sender
    /// whose half-read requests sit in the victim's inbound budget.
    hold_ms: Arc<AtomicU64>,
    /// Set, the second halves held back are sent at once.
    release: Arc<AtomicBool>,
}

impl request_response::Codec for RawCodec {
    type Protocol = StreamProtocol;
    type Request = Vec<u8>;
    type Response = Answer;

    async fn read_request<T>(&mut self, p: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        if self.stall.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        match SyncCodec::default().read_request(p, io).await? {
            Inbound::Message(bytes) => Ok(bytes),
            Inbound::Overloaded => Err(io::Error::other("the attacker's own budget is spent")),
        }
    }

    async fn read_response<T>(&mut self, p: &StreamProtocol, io: &mut T) -> io::Result<Answer>
    where
        T: AsyncRead + Unpin + Send,
    {
        SyncCodec::default().read_response(p, io).await
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        frame: Vec<u8>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        let hold = self.hold_ms.load(Ordering::SeqCst);
        if hold > 0 {
            let half = frame.len() / 2;
            io.write_all(&frame[..half]).await?;
            io.flush().await?;
            let until = tokio::time::Instant::now() + Duration::from_millis(hold);
            while tokio::time::Instant::now() < until && !self.release.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            io.write_all(&frame[half..]).await?;
        } else {
            io.write_all(&frame).await?;
        }
        io.flush().await
    }

    async fn write_response<T>(
        &mut self,
        p: &StreamProtocol,
        io: &mut T,
        answer: Answer,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        SyncCodec::default().write_response(p, io, answer).await
    }
}

/// `uvarint(len) ‖ bytes`: the frame of one message [SYNC-15].
pub fn frame(bytes: &[u8]) -> Vec<u8> {
    let mut buf = unsigned_varint::encode::u64_buffer();
    let mut out = unsigned_varint::encode::u64(bytes.len() as u64, &mut buf).to_vec();
    out.extend_from_slice(bytes);
    out
}

#[derive(NetworkBehaviour)]
struct Behaviour {
    identify: identify::Behaviour,
    gossipsub: gossipsub::Behaviour,
    sync: request_response::Behaviour<RawCodec>,
}

/// Work for an insider's peer, with the current time.
type InsiderJob = Box<dyn FnOnce(&mut Insider, u64) + Send>;

/// A task for the crowd's runtime.
type Job = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// What a test asks an identity to do.
enum Command {
    /// Dial an address.
    Dial(Multiaddr),
    /// Send a raw frame (see [`frame`]) to a peer, dialing `addr` if not connected.
    Frame(PeerId, Vec<Multiaddr>, Vec<u8>),
    /// Subscribe to a topic.
    Subscribe(String),
    /// Publish raw bytes on a topic.
    Publish(String, Vec<u8>),
    /// Run a closure on the insider's peer (join, append, …), with the current time.
    Insider(InsiderJob),
    /// Stop.
    Quit,
}

/// A handle on one identity.
pub struct Attacker {
    /// Its libp2p identity.
    pub peer: PeerId,
    /// Its log ID (the same key).
    pub log: LogId,
    /// Where it listens.
    pub addr: Arc<Mutex<Option<Multiaddr>>>,
    commands: mpsc::UnboundedSender<Command>,
    /// What victims told it.
    pub stats: Arc<Mutex<Stats>>,
    /// Set, it stops reading inbound streams.
    pub stall: Arc<AtomicBool>,
    /// Set, it pulls every log it learns of from whoever named it.
    pub auto_pull: Arc<AtomicBool>,
    /// Set, it writes each request in two halves this many milliseconds apart.
    pub hold_ms: Arc<AtomicU64>,
    /// Set, the second halves still held back are sent at once.
    pub release: Arc<AtomicBool>,
}

impl Attacker {
    /// Sends `message` to `to` as a well-framed request.
    pub fn send(&self, to: PeerId, addr: &str, message: &Message) {
        self.send_frame(to, addr, frame(&message.to_bytes()));
    }

    /// Sends raw `bytes` as the request (frame included) to `to`.
    pub fn send_frame(&self, to: PeerId, addr: &str, bytes: Vec<u8>) {
        let addr = addr.parse().expect("multiaddr");
        let _ = self.commands.send(Command::Frame(to, vec![addr], bytes));
    }

    /// Dials `addr`.
    pub fn dial(&self, addr: &str) {
        let _ = self
            .commands
            .send(Command::Dial(addr.parse().expect("multiaddr")));
    }

    /// Subscribes to `topic`.
    pub fn subscribe(&self, topic: &str) {
        let _ = self.commands.send(Command::Subscribe(topic.to_owned()));
    }

    /// Publishes `bytes` on `topic`.
    pub fn publish(&self, topic: &str, bytes: Vec<u8>) {
        let _ = self
            .commands
            .send(Command::Publish(topic.to_owned(), bytes));
    }

    /// Runs `f` on the insider's peer and returns its result (panics for a stranger).
    pub fn with_insider<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Insider, u64) -> T + Send + 'static,
    ) -> T {
        let (tx, rx) = std::sync::mpsc::channel();
        let _ = self
            .commands
            .send(Command::Insider(Box::new(move |peer, now| {
                let _ = tx.send(f(peer, now));
            })));
        rx.recv_timeout(Duration::from_secs(120))
            .expect("the insider answers")
    }

    /// A copy of what it was told so far.
    pub fn stats(&self) -> Stats {
        self.stats.lock().expect("stats").clone()
    }
}

impl Drop for Attacker {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Quit);
    }
}

/// A runtime thread that hosts any number of identities.
pub struct Crowd {
    spawn: mpsc::UnboundedSender<Job>,
}

impl Default for Crowd {
    fn default() -> Self {
        Crowd::new()
    }
}

impl Crowd {
    /// Starts the runtime thread.
    pub fn new() -> Crowd {
        let (spawn, mut jobs) = mpsc::unbounded_channel::<Job>();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                while let Some(job) = jobs.recv().await {
                    tokio::spawn(job);
                }
            });
            runtime.shutdown_background();
        });
        Crowd { spawn }
    }

    /// A stranger: a fresh identity from `seed`, holding no thread.
    pub fn stranger(&self, seed: u64) -> Attacker {
        self.start(identity(seed), None)
    }

    /// An insider: an identity from `seed` with a core peer of its own.
    pub fn insider(&self, seed: u64) -> Attacker {
        let identity = identity(seed);
        let rng = ChaCha20Rng::seed_from_u64(seed ^ 0x5eed);
        let peer = Peer::new(identity.clone(), rng);
        self.start(identity, Some(peer))
    }

    fn start(&self, identity: IdentityKey, insider: Option<Insider>) -> Attacker {
        let keypair = Keypair::ed25519_from_bytes(identity.seed()).expect("ed25519 key");
        let peer = keypair.public().to_peer_id();
        let (commands, inbox) = mpsc::unbounded_channel();
        let handle = Attacker {
            peer,
            log: identity.log_id(),
            addr: Arc::new(Mutex::new(None)),
            commands,
            stats: Arc::default(),
            stall: Arc::default(),
            auto_pull: Arc::default(),
            hold_ms: Arc::default(),
            release: Arc::default(),
        };
        let task = Task {
            addr: Arc::clone(&handle.addr),
            stats: Arc::clone(&handle.stats),
            stall: Arc::clone(&handle.stall),
            auto_pull: Arc::clone(&handle.auto_pull),
            hold_ms: Arc::clone(&handle.hold_ms),
            release: Arc::clone(&handle.release),
            have: BTreeMap::new(),
            insider,
        };
        let _ = self.spawn.send(Box::pin(task.run(keypair, inbox)));
        handle
    }
}

/// A deterministic identity.
pub fn identity(seed: u64) -> IdentityKey {
    IdentityKey::generate(&mut ChaCha20Rng::seed_from_u64(seed))
}

/// `count` distinct, valid log IDs nobody writes: the forged logs of a poisoning `heads`.
pub fn forged_logs(seed: u64, count: usize) -> Vec<LogId> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut logs: Vec<LogId> = (0..count)
        .map(|_| IdentityKey::generate(&mut rng).log_id())
        .collect();
    logs.sort();
    logs
}

struct Task {
    addr: Arc<Mutex<Option<Multiaddr>>>,
    stats: Arc<Mutex<Stats>>,
    stall: Arc<AtomicBool>,
    auto_pull: Arc<AtomicBool>,
    hold_ms: Arc<AtomicU64>,
    release: Arc<AtomicBool>,
    /// What a stranger pulled so far, per (thread, log).
    have: BTreeMap<(ThreadId, LogId), u64>,
    insider: Option<Insider>,
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Task {
    async fn run(mut self, keypair: Keypair, mut inbox: mpsc::UnboundedReceiver<Command>) {
        let stall = Arc::clone(&self.stall);
        let hold_ms = Arc::clone(&self.hold_ms);
        let release = Arc::clone(&self.release);
        let mut swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
            .with_tokio()
            .with_tcp(
                tcp::Config::default().nodelay(true),
                noise::Config::new,
                yamux::Config::default,
            )
            .expect("tcp")
            .with_behaviour(|key| {
                let gossip = gossipsub::ConfigBuilder::default()
                    .validation_mode(ValidationMode::Strict)
                    .max_transmit_size(MAX_MESSAGE_BYTES + 64 * 1024)
                    .build()
                    .expect("gossipsub config");
                Behaviour {
                    identify: identify::Behaviour::new(identify::Config::new(
                        "/threads/1".to_owned(),
                        key.public(),
                    )),
                    gossipsub: gossipsub::Behaviour::new(
                        MessageAuthenticity::Signed(key.clone()),
                        gossip,
                    )
                    .expect("gossipsub"),
                    // Many streams, long timeouts: this side must never be what gives up first.
                    sync: request_response::Behaviour::with_codec(
                        RawCodec {
                            stall,
                            hold_ms,
                            release,
                        },
                        [(SYNC_PROTOCOL, ProtocolSupport::Full)],
                        request_response::Config::default()
                            .with_request_timeout(Duration::from_secs(600))
                            .with_max_concurrent_streams(100_000),
                    ),
                }
            })
            .expect("behaviour")
            .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(600)))
            .build();
        swarm
            .listen_on("/ip4/127.0.0.1/tcp/0".parse().expect("addr"))
            .expect("listen");
        if let Some(peer) = &mut self.insider {
            peer.handle_timeout(unix_ms()).expect("insider timeout");
        }
        loop {
            let wake = self.insider.as_ref().and_then(Insider::poll_timeout);
            let sleep = async {
                match wake {
                    Some(at) => {
                        tokio::time::sleep(Duration::from_millis(at.saturating_sub(unix_ms())))
                            .await
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                event = swarm.select_next_some() => self.on_event(&mut swarm, event),
                command = inbox.recv() => match command {
                    None | Some(Command::Quit) => return,
                    Some(command) => self.on_command(&mut swarm, command),
                },
                () = sleep => {
                    if let Some(peer) = &mut self.insider {
                        peer.handle_timeout(unix_ms()).expect("insider timeout");
                    }
                }
            }
            self.drain(&mut swarm);
        }
    }

    fn on_command(&mut self, swarm: &mut Swarm<Behaviour>, command: Command) {
        match command {
            Command::Dial(addr) => drop(swarm.dial(addr)),
            Command::Frame(to, addrs, bytes) => {
                swarm
                    .behaviour_mut()
                    .sync
                    .send_request_with_addresses(&to, bytes, addrs);
            }
            Command::Subscribe(topic) => {
                let _ = swarm
                    .behaviour_mut()
                    .gossipsub
                    .subscribe(&IdentTopic::new(topic));
            }
            Command::Publish(topic, bytes) => {
                let _ = swarm
                    .behaviour_mut()
                    .gossipsub
                    .publish(IdentTopic::new(topic), bytes);
            }
            Command::Insider(f) => {
                if let Some(peer) = &mut self.insider {
                    f(peer, unix_ms());
                }
            }
            Command::Quit => {}
        }
    }

    fn on_event(&mut self, swarm: &mut Swarm<Behaviour>, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::NewListenAddr { address, .. } => {
                let mut addr = self.addr.lock().expect("addr");
                if addr.is_none() {
                    let me = *swarm.local_peer_id();
                    *addr = Some(address.clone().with_p2p(me).unwrap_or(address.clone()));
                    if let Some(peer) = &mut self.insider {
                        peer.set_listen_addrs(vec![address]);
                    }
                }
            }
            SwarmEvent::ConnectionClosed { .. } => self.stats.lock().expect("stats").open -= 1,
            SwarmEvent::ConnectionEstablished {
                peer_id, endpoint, ..
            } => {
                {
                    let mut stats = self.stats.lock().expect("stats");
                    stats.connected.insert(peer_id);
                    stats.open += 1;
                    stats.max_open = stats.max_open.max(stats.open);
                }
                if let (Some(peer), libp2p::core::ConnectedPoint::Dialer { address, .. }) =
                    (&mut self.insider, endpoint)
                    && let Ok(log) = LogId::try_from(peer_id)
                {
                    let _ = peer.add_address(unix_ms(), log, address);
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                ..
            })) => {
                if let (Some(peer), Ok(log)) = (&mut self.insider, LogId::try_from(peer_id)) {
                    for addr in info.listen_addrs {
                        let _ = peer.add_address(unix_ms(), log, addr);
                    }
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                propagation_source,
                message,
                ..
            })) => self.on_publication(propagation_source, &message),
            SwarmEvent::Behaviour(BehaviourEvent::Sync(event)) => match event {
                request_response::Event::Message {
                    peer,
                    message:
                        request_response::Message::Request {
                            request, channel, ..
                        },
                    ..
                } => {
                    self.on_message(swarm, peer, &request);
                    let _ = swarm
                        .behaviour_mut()
                        .sync
                        .send_response(channel, Answer::Received);
                }
                request_response::Event::Message {
                    message: request_response::Message::Response { response, .. },
                    ..
                } => {
                    let mut stats = self.stats.lock().expect("stats");
                    match response {
                        Answer::Received => stats.acks += 1,
                        Answer::Refused(code) => {
                            *stats.refusals.entry(code.number()).or_default() += 1;
                        }
                    }
                }
                request_response::Event::OutboundFailure { .. } => {
                    self.stats.lock().expect("stats").failures += 1;
                }
                _ => {}
            },
            _ => {}
        }
    }

    /// Counts a victim's message, pulls on as a thief would, and hands it to the insider.
    fn on_message(&mut self, swarm: &mut Swarm<Behaviour>, from: PeerId, bytes: &[u8]) {
        let message = self.stats.lock().expect("stats").count(bytes);
        if let (Some(message), true) = (&message, self.auto_pull.load(Ordering::SeqCst)) {
            for pull in self.thief_pulls(message) {
                swarm
                    .behaviour_mut()
                    .sync
                    .send_request(&from, frame(&pull.to_bytes()));
            }
        }
        if let (Some(peer), Ok(log)) = (&mut self.insider, LogId::try_from(from)) {
            peer.handle_message(unix_ms(), log, bytes)
                .expect("insider store");
        }
    }

    /// Counts a publication as received, and hands it to the insider as `threads-node` does: sealed
    /// under the thread's topic key, judged by the core [SYNC-24].
    fn on_publication(&mut self, relay: PeerId, message: &gossipsub::Message) {
        {
            let mut stats = self.stats.lock().expect("stats");
            stats.publications += 1;
            stats.count(&message.data);
        }
        if let (Some(peer), Ok(log)) = (&mut self.insider, LogId::try_from(relay)) {
            peer.handle_publication(unix_ms(), log, message.topic.as_str(), &message.data)
                .expect("insider store");
        }
    }

    /// The pulls a thief sends on hearing `message`: every log it is behind on.
    fn thief_pulls(&mut self, message: &Message) -> Vec<Message> {
        let behind: Vec<(ThreadId, LogId, u64)> = match message {
            Message::Heads { thread, heads } => heads
                .iter()
                .map(|(log, counter)| (thread.clone(), *log, *counter))
                .collect(),
            Message::Records {
                thread,
                log,
                counter,
                envelopes,
            } => {
                let have = self.have.entry((thread.clone(), *log)).or_default();
                *have += envelopes.len() as u64;
                vec![(thread.clone(), *log, *counter)]
            }
            Message::Pull { .. } | Message::Auth { .. } => Vec::new(),
        };
        behind
            .into_iter()
            .filter_map(|(thread, log, counter)| {
                let have = self.have.get(&(thread.clone(), log)).copied().unwrap_or(0);
                (counter > have).then_some(Message::Pull {
                    thread,
                    log,
                    after: have,
                    limit: 256,
                })
            })
            .collect()
    }

    /// Sends what the insider's peer wants sent, as `threads-node` does.
    fn drain(&mut self, swarm: &mut Swarm<Behaviour>) {
        let Some(peer) = &mut self.insider else {
            return;
        };
        for thread in peer.threads() {
            if let Ok(topic) = peer.topic(&thread) {
                let _ = swarm
                    .behaviour_mut()
                    .gossipsub
                    .subscribe(&IdentTopic::new(topic));
            }
        }
        while let Some(Transmit { destination, bytes }) = peer.poll_transmit() {
            match destination {
                Destination::Peer(to) => {
                    let addrs = peer.addresses(&to);
                    swarm.behaviour_mut().sync.send_request_with_addresses(
                        &to.to_peer_id(),
                        frame(&bytes),
                        addrs,
                    );
                }
                Destination::Topic(thread) => {
                    if let Ok(topic) = peer.topic(&thread) {
                        let _ = swarm
                            .behaviour_mut()
                            .gossipsub
                            .publish(IdentTopic::new(topic), bytes);
                    }
                }
            }
        }
        while peer.poll_event().is_some() {}
    }
}
