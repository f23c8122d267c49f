//! Writes valid inputs for the fuzz targets into `seeds/TARGET/`, built with the same fixed keys
//! the targets use, so that coverage-guided runs start past the signature and seal checks that
//! random bytes never pass: honest envelopes [ENV-1], sync messages carrying them [SYNC-4],
//! invites to the targets' recipient [INV-2], key sets [KEY-5], IDs [TID-1], [LOGID-1], control
//! lines and adapter replies [HP-3].
//!
//! ```sh
//! cargo run --manifest-path reference/fuzz/Cargo.toml --example seeds   # then run.sh minimises
//! ```

use std::fs;
use std::path::Path;

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use threads::block;
use threads::envelope::Envelope;
use threads::id::{LogId, ThreadId, Variant};
use threads::invite::{Invite, InviteRole, InviteTerms, LogEntry};
use threads::keys::{ContentKey, FollowKey, IdentityKey, KeySet, ReadKey};
use threads::record::{self, Event, Header, Position};
use threads::seal::{self, Layer};
use threads::sync::Message;
use threads::verify;

/// The fixed context of the `envelope` target: thread, writer and keys.
struct Context {
    thread: ThreadId,
    writer: IdentityKey,
    keys: KeySet,
}

impl Context {
    fn new() -> Context {
        Context {
            thread: ThreadId::from_parts(Variant::Raw, &[7; 32]).expect("32 bytes"),
            writer: IdentityKey::from_seed(&[1; 32]),
            keys: KeySet {
                follow: FollowKey::from([2; 32]),
                read: Some(ReadKey::from([3; 32])),
            },
        }
    }

    fn log(&self) -> LogId {
        self.writer.log_id()
    }

    /// The honest envelope of `body` at `position`, as a writer seals it [ENV-1].
    fn envelope(&self, position: Position, body: &[u8], rng: &mut ChaCha20Rng) -> Envelope {
        let log = self.log();
        let sealed = |layer: Layer, key: &[u8; 32], plain: &[u8], rng: &mut ChaCha20Rng| {
            let ad = seal::associated_data(layer, &self.thread, &log);
            block::encode_byte_string(&seal::seal(key, &ad, plain, rng))
        };
        let header = Header {
            content_key: ContentKey::generate(rng),
            time: 1_700_000_000 + position.seq,
        };
        let read = self.keys.read.as_ref().expect("a writer's keys");
        let body = sealed(Layer::Body, header.content_key.as_bytes(), body, rng);
        let header = sealed(Layer::Header, read.as_bytes(), &header.to_bytes(), rng);
        let event = Event {
            body: block::cid_of(&body),
            header: block::cid_of(&header),
        }
        .to_bytes();
        let signed = record::sign(
            &self.thread,
            &self.writer,
            block::cid_of(&event),
            position.prev,
            position.seq,
        );
        let ad = seal::associated_data(Layer::Record, &self.thread, &log);
        let record = block::encode_byte_string(&seal::seal_synthetic(
            self.keys.follow.as_bytes(),
            &ad,
            &signed.to_bytes(),
        ));
        Envelope {
            record,
            event,
            header,
            body,
        }
    }

    /// A log of `count` linked envelopes from seq 1.
    fn chain(&self, count: u64, rng: &mut ChaCha20Rng) -> Vec<Envelope> {
        let mut position = Position { seq: 1, prev: None };
        let mut chain = Vec::new();
        for seq in 1..=count {
            let envelope = self.envelope(position, format!("event {seq}").as_bytes(), rng);
            position = Position {
                seq: seq + 1,
                prev: Some(envelope.record_cid()),
            };
            chain.push(envelope);
        }
        chain
    }
}

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds").join(target);
    fs::create_dir_all(&dir).expect("seeds directory");
    fs::write(dir.join(name), bytes).expect("seed file");
}

fn main() {
    let mut rng = ChaCha20Rng::seed_from_u64(18);
    let cx = Context::new();
    let (thread, log) = (cx.thread.clone(), cx.log());
    let chain = cx.chain(3, &mut rng);
    // The seeds are worth something only if they pass the checks the target runs.
    let mut accepted = threads::log::Log::new();
    for envelope in &chain {
        let record = verify::verify_follower(envelope, &thread, &log, &cx.keys.follow)
            .expect("a follower verifies the seed");
        accepted.accept(&record).expect("the seeds link");
        verify::verify_reader(envelope, &thread, &log, &cx.keys).expect("a reader opens the seed");
    }
    for (i, envelope) in chain.iter().enumerate() {
        write("envelope", &format!("seq-{}", i + 1), &envelope.to_bytes());
    }

    let messages = [
        Message::Pull {
            thread: thread.clone(),
            log,
            after: 1,
            limit: 64,
        },
        Message::Records {
            thread: thread.clone(),
            log,
            counter: 3,
            envelopes: chain.clone(),
        },
        Message::Heads {
            thread: thread.clone(),
            heads: vec![(log, 3)],
        },
    ];
    for (name, message) in ["pull", "records", "heads"].iter().zip(&messages) {
        assert_eq!(Message::from_bytes(&message.to_bytes()).as_ref(), Ok(message));
        write("sync_message", name, &message.to_bytes());
    }

    // The `invite` target opens invites as the identity of seed [4; 32].
    let recipient = IdentityKey::from_seed(&[4; 32]);
    for role in [InviteRole::Follower, InviteRole::Reader, InviteRole::Writer] {
        let terms = InviteTerms {
            thread: thread.clone(),
            role,
            recipient: recipient.log_id(),
            logs: vec![LogEntry {
                log,
                addrs: vec![format!("/ip4/127.0.0.1/tcp/4001/p2p/{log}/ipel/{log}")],
            }],
            acl: None,
        };
        let invite = Invite::create(&cx.writer, terms, &cx.keys, &mut rng).expect("an invite");
        Invite::open(&invite.to_bytes(), &recipient).expect("the recipient opens the seed");
        write("invite", role.name(), &invite.to_bytes());
    }

    write("key_set", "reader", &cx.keys.to_bytes());
    write("key_set", "follower", &cx.keys.for_follower().to_bytes());
    write("thread_id", "bytes", thread.as_bytes());
    write("thread_id", "text", thread.to_string().as_bytes());
    write("log_id_and_addr", "bytes", &log.to_bytes());
    write("log_id_and_addr", "text", log.to_string().as_bytes());
    write(
        "log_id_and_addr",
        "addr",
        format!("/ip4/127.0.0.1/tcp/4001/p2p/{log}/ipel/{log}").as_bytes(),
    );

    let invite_hex: String = Invite::create(
        &cx.writer,
        InviteTerms {
            thread: thread.clone(),
            role: InviteRole::Follower,
            recipient: recipient.log_id(),
            logs: Vec::new(),
            acl: None,
        },
        &cx.keys,
        &mut rng,
    )
    .expect("an invite")
    .to_bytes()
    .iter()
    .map(|b| format!("{b:02x}"))
    .collect();
    let control = format!(
        "id\ncreate raw\nappend {thread} hello, world\nheads {thread}\nread {thread}\n\
         invite {thread} follower {log}\njoin {invite_hex}\n\
         connect /ip4/127.0.0.1/tcp/4001/p2p/{log}\ncounters\nthreads\nstop\n"
    );
    write("node_control", "commands", control.as_bytes());

    // The `harness_reply` target takes its first byte as the pending request's id.
    let replies = [
        "{\"id\":7,\"ok\":true,\"tid\":\"x\"}\n",
        "{\"id\":7,\"ok\":false,\"code\":\"BAD_REQUEST\",\"message\":\"no\"}\n",
        "{\"id\":8,\"ok\":true}\n{\"id\":7,\"ok\":true,\"events\":[{\"seq\":1}]}\n",
    ];
    for (i, reply) in replies.iter().enumerate() {
        let mut input = vec![7];
        input.extend_from_slice(reply.as_bytes());
        write("harness_reply", &format!("reply-{i}"), &input);
    }
}
