//! The faults, and how each changes a request or a reply.

use std::str::FromStr;

use serde_json::{Map, Value, json};

use super::emulate::{self, Quirk, State, json_of};
use super::text;
use super::{Class, Fault};
use crate::adapter::Adapter;
use ipld_core::ipld::Ipld;
use threads::sync::Message;

macro_rules! fault {
    ($name:literal, $tag:literal, $class:ident, $summary:literal) => {
        Fault {
            name: $name,
            tag: $tag,
            class: Class::$class,
            summary: $summary,
            caught_by: &[],
        }
    };
    ($name:literal, $tag:literal, $class:ident, $summary:literal, caught_by: $by:expr) => {
        Fault {
            name: $name,
            tag: $tag,
            class: Class::$class,
            summary: $summary,
            caught_by: $by,
        }
    };
}

/// Every fault of the catalogue, by chapter [HP-86].
pub const FAULTS: &[Fault] = &[
    // Chapter 1: identifiers.
    fault!(
        "tid-case-insensitive",
        "TID-9",
        AcceptsInvalid,
        "decodes TID text ignoring the case of its letters"
    ),
    fault!(
        "tid-lenient-padding",
        "TID-9",
        AcceptsInvalid,
        "ignores missing, extra or misplaced `=` padding in TID text"
    ),
    fault!(
        "tid-trailing-bits",
        "TID-9",
        AcceptsInvalid,
        "ignores non-zero trailing bits in TID text"
    ),
    fault!(
        "tid-mixed-base64",
        "TID-7",
        AcceptsInvalid,
        "reads both base64 alphabets (`+/` and `-_`) after `m`, `M`, `u` and `U`"
    ),
    fault!(
        "tid-no-base32hex",
        "TID-7",
        RejectsValid,
        "does not know the base32hex bases (`v`, `V`, `t`, `T`)"
    ),
    fault!(
        "tid-non-minimal-varint",
        "TID-5",
        AcceptsInvalid,
        "accepts non-minimal version and variant varints"
    ),
    fault!(
        "tid-short-random",
        "TID-4",
        AcceptsInvalid,
        "accepts a random part shorter than 16 bytes"
    ),
    fault!(
        "tid-variant-as-version",
        "TID-3",
        WrongCode,
        "reports an unknown variant as TID_UNKNOWN_VERSION"
    ),
    fault!(
        "tid-encode-upper",
        "TID-6",
        BadOutput,
        "writes TID text in base32upper (`B…`)"
    ),
    fault!(
        "thread-create-trailing-bits",
        "TID-6",
        BadOutput,
        "gives a new thread's ID as base32 text with non-zero trailing bits (and reads it back)"
    ),
    fault!(
        "logid-small-order-identity-only",
        "LOGID-3",
        AcceptsInvalid,
        "refuses the identity point as a small-order key, but not the 7 other points of small order"
    ),
    fault!(
        "logid-no-point-check",
        "LOGID-3",
        AcceptsInvalid,
        "does not decode the public key as a curve point"
    ),
    fault!(
        "addr-leading-zeros",
        "ADDR-4",
        AcceptsInvalid,
        "reads ip4 octets and tcp ports with leading zeros"
    ),
    fault!(
        "addr-ipfs-alias",
        "ADDR-3",
        AcceptsInvalid,
        "reads `/ipfs/` as `/p2p/`"
    ),
    fault!(
        "tid-any-version",
        "TID-2",
        AcceptsInvalid,
        "reads a binary TID of any version as version 1"
    ),
    fault!(
        "addr-trailing-slash",
        "ADDR-4",
        AcceptsInvalid,
        "drops a trailing `/` of a log address"
    ),
    fault!(
        "tid-text-as-given",
        "TID-8",
        BadOutput,
        "keeps a decoded TID's text as it was given instead of its canonical form"
    ),
    fault!(
        "tid-random-from-byte-one",
        "TID-1",
        BadOutput,
        "takes the random part to start after the version byte, variant included"
    ),
    fault!(
        "addr-first-ipel",
        "ADDR-2",
        AcceptsInvalid,
        "reads a log address up to its first `/ipel/<log-id>` and ignores the rest"
    ),
    // Chapter 2: keys.
    fault!(
        "identity-from-hashed-seed",
        "KEY-1",
        BadOutput,
        "derives the identity key from the SHA-256 of the seed, not the seed"
    ),
    fault!(
        "keyset-unknown-fields",
        "KEY-5",
        AcceptsInvalid,
        "skips key-set members it does not know"
    ),
    fault!(
        "keyset-encode-field-order",
        "KEY-5",
        BadOutput,
        "encodes a key set with `follow` before `read` (not DAG-CBOR's key order)"
    ),
    fault!(
        "keyset-length-as-malformed",
        "KEY-2",
        WrongCode,
        "reports a key of the wrong length as KEYSET_MALFORMED"
    ),
    fault!(
        "content-key-is-read-key",
        "KEY-4",
        RejectsValid,
        "seals and opens every event's body with the thread's read key instead of a fresh content key"
    ),
    fault!(
        "follower-reads",
        "KEY-7",
        AcceptsInvalid,
        "gives a follower an empty list of events instead of KEY_UNAVAILABLE"
    ),
    // Chapter 3: records and envelopes.
    fault!(
        "forged-signatures",
        "SIG-2",
        AcceptsInvalid,
        "accepts records whose signature does not verify"
    ),
    fault!(
        "ignore-associated-data",
        "SEAL-2",
        AcceptsInvalid,
        "opens seals without checking their associated data"
    ),
    fault!(
        "resealed-as-decrypt-failure",
        "SEAL-5",
        WrongCode,
        "reports a record sealed with another nonce as RECORD_DECRYPT_FAILED"
    ),
    fault!(
        "unsupported-cid-as-malformed",
        "REC-2",
        WrongCode,
        "reports an unsupported CID as BLOCK_MALFORMED"
    ),
    fault!(
        "oversized-as-malformed",
        "REC-4",
        WrongCode,
        "reports a block over 1 MiB as BLOCK_MALFORMED"
    ),
    fault!(
        "record-plaintext-lenient",
        "REC-3",
        AcceptsInvalid,
        "skips members of a record's plaintext it does not know"
    ),
    fault!(
        "signing-input-without-domain",
        "SIG-1",
        BadOutput,
        "signs without the domain-separation prefix"
    ),
    fault!(
        "associated-data-without-layer",
        "SEAL-2",
        BadOutput,
        "leaves the layer's name out of the associated data"
    ),
    fault!(
        "bad-seq-as-malformed",
        "REC-9",
        WrongCode,
        "reports a record with a bad seq or prev as BLOCK_MALFORMED"
    ),
    fault!(
        "envelope-as-block-malformed",
        "ENV-1",
        WrongCode,
        "reports a malformed envelope as BLOCK_MALFORMED"
    ),
    fault!(
        "swapped-block-as-malformed",
        "VERIFY-1",
        WrongCode,
        "reports a block that does not match its CID as BLOCK_MALFORMED"
    ),
    fault!(
        "truncated-seal-as-malformed",
        "SEAL-4",
        WrongCode,
        "reports a seal shorter than its nonce and tag as BLOCK_MALFORMED"
    ),
    fault!(
        "seal-ietf-chacha",
        "SEAL-1",
        RejectsValid,
        "opens seals with IETF ChaCha20-Poly1305 and the nonce's first 12 bytes, without HChaCha20"
    ),
    fault!(
        "stores-refused-records",
        "VERIFY-3",
        AcceptsInvalid,
        "reports a record that fails verification but stores it as the log's next record"
    ),
    // Chapter 4: logs.
    fault!(
        "skip-link-check",
        "LOG-6",
        AcceptsInvalid,
        "appends the next seq without comparing prev with the head"
    ),
    fault!(
        "fork-as-duplicate",
        "LOG-5",
        AcceptsInvalid,
        "takes another record at a held seq for a duplicate"
    ),
    fault!(
        "append-past-gap",
        "LOG-7",
        AcceptsInvalid,
        "appends a record beyond a gap"
    ),
    fault!(
        "duplicate-as-fork",
        "LOG-4",
        RejectsValid,
        "calls a record delivered twice a fork"
    ),
    fault!(
        "heads-counter-off-by-one",
        "LOG-2",
        BadOutput,
        "reports each log's counter one too high"
    ),
    fault!(
        "head-tracks-newest-seen",
        "LOG-3",
        BadOutput,
        "moves the head to a verified record beyond a gap, though only appending moves it"
    ),
    fault!(
        "fork-rewinds-log",
        "LOG-8",
        AcceptsInvalid,
        "reports a fork but rewinds the log to the forking record"
    ),
    fault!(
        "append-replays-randomness",
        "LOG-1",
        BadOutput,
        "draws for every append the randomness of its first: the same content key, header nonce and body nonce"
    ),
    fault!(
        "reader-invite-follow-only",
        "INV-4",
        BadOutput,
        "asked for a reader's invite, takes the key set of a follower: the follow key alone"
    ),
    fault!(
        "join-keys-text-order",
        "INV-7",
        BadOutput,
        "writes a joining writer's join body with its keys in text order (`addrs`, `type`)"
    ),
    fault!(
        "read-newest-first",
        "VERIFY-2",
        WrongOrder,
        "lists a thread's events newest first"
    ),
    // Chapter 5: invites.
    fault!(
        "invite-signature-as-malformed",
        "INV-5",
        WrongCode,
        "reports a bad invite signature as INVITE_MALFORMED"
    ),
    fault!(
        "invite-recipient-after-signature",
        "INV-6",
        WrongCode,
        "checks the signature before the recipient"
    ),
    fault!(
        "leak-plaintext",
        "KEY-6",
        BadOutput,
        "hands a follower the reader's keys"
    ),
    fault!(
        "invite-beyond-acl-as-malformed",
        "INV-9",
        WrongCode,
        "reports an invite beyond what the ACL grants as INVITE_MALFORMED"
    ),
    fault!(
        "recipient-secret-unclamped",
        "INV-2",
        BadOutput,
        "takes the X25519 secret as the first half of SHA-512(seed) without clamping it"
    ),
    fault!(
        "invite-oversized-as-too-large",
        "INV-3",
        WrongCode,
        "reports an invite over 1 MiB as BLOCK_TOO_LARGE, the code of an oversized block"
    ),
    // Chapter 6: access control.
    fault!(
        "ignore-revocation",
        "ACL-2",
        AcceptsInvalid,
        "never takes write away: revocations are dropped"
    ),
    fault!(
        "acl-bypass-as-denied",
        "ACL-6",
        WrongCode,
        "reports a change by a non-admin as ACL_DENIED"
    ),
    fault!(
        "acl-default-ignored",
        "ACL-10",
        RejectsValid,
        "denies every peer without an entry, whatever the default role"
    ),
    fault!(
        "acl-malformed-as-denied",
        "ACL-12",
        WrongCode,
        "reports a malformed ACL event as ACL_DENIED"
    ),
    fault!(
        "acl-ignores-genesis-anchor",
        "ACL-11",
        AcceptsInvalid,
        "folds the ACL without checking the genesis an anchor names"
    ),
    fault!(
        "delete-without-capability",
        "ACL-8",
        AcceptsInvalid,
        "counts a delete by any peer whose records are accepted, whether its entry lists `delete` or not"
    ),
    fault!(
        "cut-exclusive",
        "ACL-7",
        RejectsValid,
        "refuses a lowered peer's record at its cut, keeping only the records before it"
    ),
    fault!(
        "acl-change-clock-zero",
        "ACL-5",
        AcceptsInvalid,
        "takes an ACL change at clock 0, the genesis's clock"
    ),
    fault!(
        "acl-roles-any-order",
        "ACL-3",
        AcceptsInvalid,
        "takes a role list of known names in any order"
    ),
    fault!(
        "genesis-id-unchecked",
        "ACL-4",
        AcceptsInvalid,
        "takes a genesis whose document's `_id` is another thread's"
    ),
    fault!(
        "invite-acl-default-ignored",
        "ACL-9",
        AcceptsInvalid,
        "opening an invite, grants a recipient without an ACL entry any role, whatever `default` says"
    ),
    fault!(
        "invite-acl-membership-only",
        "ACL-15",
        AcceptsInvalid,
        "opening an invite, checks that the recipient has an ACL entry, not that it grants the role"
    ),
    // Chapter 7: sync and membership.
    fault!(
        "serve-pull-ignores-limit",
        "SYNC-5",
        BadOutput,
        "answers a pull with up to the cap, whatever its limit"
    ),
    fault!(
        "serve-pull-descending",
        "SYNC-5",
        WrongOrder,
        "answers a pull newest first"
    ),
    fault!(
        "decide-records-reversed",
        "SYNC-7",
        WrongOrder,
        "lists the records it appended last first"
    ),
    fault!(
        "decode-trailing-bytes",
        "SYNC-2",
        AcceptsInvalid,
        "decodes the longest well-formed prefix of a message"
    ),
    fault!(
        "heads-too-long-as-malformed",
        "SYNC-23",
        WrongCode,
        "reports too many heads as MESSAGE_MALFORMED"
    ),
    fault!(
        "reflected-proof",
        "SYNC-18",
        AcceptsInvalid,
        "accepts a proof whose prover and verifier are swapped"
    ),
    fault!(
        "derive-keys-swapped",
        "SYNC-24",
        BadOutput,
        "derives the gossip key where the proof key belongs, and back"
    ),
    fault!(
        "publication-as-proof-invalid",
        "SYNC-24",
        WrongCode,
        "reports a bad publication as PROOF_INVALID"
    ),
    fault!(
        "never-pulls",
        "SYNC-7",
        BadOutput,
        "never asks to pull after a gap or a stale batch"
    ),
    fault!(
        "pull-fields-32-bit",
        "SYNC-1",
        RejectsValid,
        "reads a pull's `after` and `limit` as 32-bit integers"
    ),
    fault!(
        "reader-drops-unreadable",
        "SYNC-6",
        RejectsValid,
        "a reader drops a record that passes VERIFY-1 but does not open (VERIFY-2)"
    ),
    fault!(
        "ignores-unknown-logs",
        "SYNC-11",
        RejectsValid,
        "drops the records of a log it holds no record of, instead of starting the log"
    ),
    fault!(
        "follower-opens-records",
        "SYNC-14",
        RejectsValid,
        "a follower opens headers like a reader, and fails for want of a read key"
    ),
    fault!(
        "decide-in-seq-order",
        "SYNC-31",
        WrongOrder,
        "verifies a message's records concurrently and decides them in seq order, not message order"
    ),
    fault!(
        "never-pushes",
        "SYNC-4",
        BadOutput,
        "stores an appended record but sends it to no peer: records go out only in answer to pulls"
    ),
    fault!(
        "files-strangers",
        "SYNC-9",
        AcceptsInvalid,
        "files every peer that sends a message about a thread it holds, proven or not, and pushes to it"
    ),
    fault!(
        "answers-unheld-thread",
        "SYNC-3",
        AcceptsInvalid,
        "answers a pull or heads about a thread it does not hold with an empty answer, not a challenge"
    ),
    fault!(
        "answers-failed-proof",
        "SYNC-20",
        AcceptsInvalid,
        "answers the nonce of an auth whose proof fails, instead of ignoring the whole message"
    ),
    fault!(
        "keeps-revoked-proven",
        "SYNC-22",
        AcceptsInvalid,
        "keeps a peer proven after an ACL change lowers it below follow, and goes on pushing to it"
    ),
    fault!(
        "push-counter-final",
        "SYNC-30",
        BadOutput,
        "pushes appends that go out together each with the log's final counter, not its last seq"
    ),
    fault!(
        "restart-loses-last-record",
        "SYNC-13",
        AcceptsInvalid,
        "acknowledges a record before it is durable: restarted, a node lacks the newest of each log"
    ),
    fault!(
        "restart-forgets-peers",
        "SYNC-12",
        NotLive,
        "keeps a thread's peers and their addresses in memory only: restarted, it knows none"
    ),
    // Chapter 8: database.
    fault!(
        "arrival-order-fold",
        "DB-11",
        WrongOrder,
        "folds events in arrival order instead of by clock"
    ),
    fault!(
        "patch-replaces",
        "DB-10",
        BadOutput,
        "a save replaces the document by its patch"
    ),
    fault!(
        "unstable-query-order",
        "DB-18",
        WrongOrder,
        "leaves query ties in an order of its own instead of by document ID"
    ),
    fault!(
        "unauthorised-delete",
        "DB-13",
        AcceptsInvalid,
        "applies a delete whose record the ACL refuses"
    ),
    fault!(
        "serves-strangers",
        "SYNC-21",
        AcceptsInvalid,
        "answers every pull with the records asked for, proven requester or not"
    ),
    fault!(
        "proof-other-peers-nonce",
        "SYNC-19",
        AcceptsInvalid,
        "accepts a proof over the nonce it issued to another peer for the thread"
    ),
    fault!(
        "proof-other-threads-nonce",
        "SYNC-19",
        AcceptsInvalid,
        "accepts a proof over the nonce it issued to the prover for another thread"
    ),
    fault!(
        "proof-stale-nonce",
        "SYNC-19",
        AcceptsInvalid,
        "accepts a proof over a nonce it issued up to ten minutes ago, not at most 120 seconds"
    ),
    fault!(
        "nonce-same-for-every-peer",
        "SYNC-19",
        AcceptsInvalid,
        "challenges every peer, for every thread, with one nonce computed from its peer ID and the clock"
    ),
    fault!(
        "never-retries",
        "SYNC-10",
        NotLive,
        "never sends a pull a second time: a lost pull or its lost answer is never made up",
        caught_by: &["HP-93"]
    ),
    fault!(
        "never-repeats-heads",
        "SYNC-8",
        NotLive,
        "never sends a peer a heads message it sent that peer before (no periodic head exchange)",
        caught_by: &["HP-93"]
    ),
    fault!(
        "db-foreign-body-as-malformed",
        "DB-1",
        RejectsValid,
        "takes a body that is not a database event for a malformed one"
    ),
    fault!(
        "db-clock-unbounded",
        "DB-8",
        AcceptsInvalid,
        "accepts an event whose clock is 0 or 2^53 and above"
    ),
    fault!(
        "view-keys-lexical",
        "DB-15",
        BadOutput,
        "encodes the view's top-level keys in text order, not DAG-CBOR's length-first order"
    ),
    fault!(
        "snapshot-cid-of-view",
        "DB-21",
        BadOutput,
        "gives the snapshot view's CID as the snapshot's CID"
    ),
    fault!(
        "snapshots-never-retaken",
        "DB-22",
        BadOutput,
        "keeps a snapshot once taken, even after a late event sorts before its last key"
    ),
    fault!(
        "resume-drops-malformed",
        "DB-23",
        BadOutput,
        "rebuilding from a snapshot, skips the malformed events instead of recording them"
    ),
    fault!(
        "snapshot-invalid-as-compacted",
        "DB-24",
        WrongCode,
        "reports a stored snapshot that fails its checks as DB_COMPACTED"
    ),
    fault!(
        "compacted-ignores-late-event",
        "DB-27",
        AcceptsInvalid,
        "takes every event at or before a compacted view's last key for covered, and ignores it"
    ),
    fault!(
        "compacted-refuses-covered",
        "DB-26",
        RejectsValid,
        "a compacted view refuses a covered event offered again as DB_COMPACTED, ignoring its heads"
    ),
    fault!(
        "restart-trusts-snapshot",
        "DB-29",
        AcceptsInvalid,
        "restarting, folds from its stored snapshot without checking the record at `last` and `count`"
    ),
    fault!(
        "skips-remote-reducers",
        "DB-13",
        RejectsValid,
        "a node stores other peers' database events but folds only its own into its view",
        caught_by: &["HP-90", "HP-91"]
    ),
    fault!(
        "arrival-order",
        "DB-11",
        WrongOrder,
        "a node folds database events in the order they reach it instead of the order of DB-9",
        caught_by: &["HP-90"]
    ),
    // Appendix H: the harness protocol.
    fault!(
        "hello-acl-without-nodes",
        "HP-14",
        Protocol,
        "lists the feature `acl` without `nodes`",
        caught_by: &["HP-81"]
    ),
    fault!(
        "hello-operation-twice",
        "HP-14",
        Protocol,
        "lists an operation twice",
        caught_by: &["HP-81"]
    ),
    fault!(
        "hello-unknown-feature",
        "HP-14",
        Protocol,
        "lists a feature protocol 1 does not define",
        caught_by: &["HP-81"]
    ),
    fault!(
        "exit-after-reply",
        "HP-23",
        Protocol,
        "exits right after answering keyset.encode",
        caught_by: &["HP-82"]
    ),
    fault!(
        "reply-wrong-id",
        "HP-8",
        Protocol,
        "answers logAddr.decode requests with another id",
        caught_by: &["HP-10"]
    ),
    fault!(
        "replay-without-state",
        "HP-25",
        Protocol,
        "fails log.replay without the state it left"
    ),
    fault!(
        "log-on-stdout",
        "HP-3",
        Protocol,
        "writes a debugging line to standard output before its reply to membership.transcript",
        caught_by: &["HP-10"]
    ),
    fault!(
        "block-buffered-stdout",
        "HP-5",
        Protocol,
        "never flushes standard output, so its replies wait in a buffer (stdout is a pipe)"
    ),
    fault!(
        "reply-twice",
        "HP-6",
        Protocol,
        "writes its reply to seal.associatedData twice"
    ),
    fault!(
        "reply-own-counter",
        "HP-7",
        Protocol,
        "numbers its replies with a counter of its own, from 1 after the hello, instead of copying `id`",
        caught_by: &["HP-10"]
    ),
    fault!(
        "error-code-number",
        "HP-9",
        Protocol,
        "writes an error's code as its number in the registry, not its name",
        caught_by: &["HP-10"]
    ),
    fault!(
        "reply-without-end",
        "HP-53",
        Protocol,
        "adds a debug dump of over 16 MiB to its reply to record.signingInput",
        caught_by: &["HP-10"]
    ),
    fault!(
        "hello-any-protocol",
        "HP-15",
        Protocol,
        "answers a `hello` of any protocol number as if it were protocol 1"
    ),
    fault!(
        "hello-operations-misnamed",
        "HP-14",
        Protocol,
        "a vectors-only adapter that lists its operations as `tid_decode`, not `tid.decode`: nothing runs",
        caught_by: &["HP-84"]
    ),
    fault!(
        "identity-first-only",
        "HP-24",
        Protocol,
        "derives an identity once and answers every later identity.fromSeed with it"
    ),
    fault!(
        "node-reads-clock",
        "HP-29",
        Protocol,
        "a node stamps its records with the time of its own clock, not the request's `time`"
    ),
    fault!(
        "append-seq-from-zero",
        "HP-34",
        Protocol,
        "reports a log.append's `seq` counting from 0"
    ),
    fault!(
        "invite-role-ignored",
        "HP-35",
        Protocol,
        "exports a reader's invite as a follower's, whatever `role` asks for"
    ),
    fault!(
        "accept-without-fetching",
        "HP-36",
        Protocol,
        "joins a thread by invite but asks no peer for its logs, waiting to be sent them"
    ),
    fault!(
        "read-time-in-seconds",
        "HP-40",
        Protocol,
        "gives each event's header time in node.read in seconds, not milliseconds"
    ),
    fault!(
        "acl-set-role-off-by-one",
        "HP-48",
        Protocol,
        "acl.set grants the ordered role below the one named: `read` sets `follow`, `write` `read`"
    ),
    fault!(
        "node-acl-genesis-only",
        "HP-49",
        Protocol,
        "node.acl gives the ACL document of the genesis, without the changes since"
    ),
    fault!(
        "ignores-unsent-messages",
        "HP-101",
        Protocol,
        "drops a delivered message its `from` node never handed the harness, as if forged"
    ),
];

/// The small-order points of edwards25519 other than the identity, as encoded (y, sign of x).
const SMALL_ORDER: [&str; 7] = [
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0000000000000000000000000000000000000000000000000000000000000080",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
];

const LOG_ID_PREFIX: [u8; 6] = [0x00, 0x24, 0x08, 0x01, 0x12, 0x20];

/// The reply of the reference with fault `name` to `request`.
pub fn handle(name: &str, adapter: &mut Adapter, state: &mut State, request: Value) -> Value {
    let hello = request["method"] == "hello";
    let mut reply = handle_request(name, adapter, state, request);
    match name {
        "reply-own-counter" if !hello => {
            state.replies += 1;
            reply["id"] = state.replies.into();
        }
        "error-code-number" => {
            let number = code(&reply)
                .and_then(threads::error::ErrorCode::from_name)
                .map(|c| c.number());
            if let Some(number) = number {
                reply["error"]["code"] = number.into();
            }
        }
        _ => {}
    }
    reply
}

/// [`handle`] without the faults that change every reply.
fn handle_request(name: &str, adapter: &mut Adapter, state: &mut State, request: Value) -> Value {
    let id = request["id"].clone();
    let method = request["method"].as_str().unwrap_or_default().to_string();
    let operation = request["params"]["operation"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let empty = Map::new();
    let inputs = request["params"]["inputs"]
        .as_object()
        .unwrap_or(&empty)
        .clone();
    let text_in = |key: &str| inputs.get(key).and_then(Value::as_str).map(String::from);
    let hex_in = |key: &str| text_in(key).and_then(|h| hex::decode(h).ok());
    let vector = method == "vector";
    let on = |op: &str| vector && operation == op;
    let mut honest = |request: Value| json_of(adapter.handle(request));
    if let Some(reply) = super::chapters::handle(name, &mut honest, &mut state.watch, &request) {
        return reply;
    }

    // Faults that change the request.
    let changed_text = |f: fn(&str) -> String| -> Value {
        let mut changed = request.clone();
        if let Some(t) = text_in("text") {
            changed["params"]["inputs"]["text"] = f(&t).into();
        }
        changed
    };
    match name {
        "tid-case-insensitive" if on("tid.decode") => return honest(changed_text(text::fold_case)),
        "tid-lenient-padding" if on("tid.decode") => {
            return honest(changed_text(text::fix_padding));
        }
        "tid-trailing-bits" if on("tid.decode") => {
            return honest(changed_text(text::clear_trailing_bits));
        }
        "tid-mixed-base64" if on("tid.decode") => return honest(changed_text(text::mix_base64)),
        "tid-no-base32hex" if on("tid.decode") => {
            if let Some('v' | 'V' | 't' | 'T') = text_in("text").and_then(|t| t.chars().next()) {
                return error(&id, "TID_BAD_MULTIBASE");
            }
        }
        "tid-non-minimal-varint" if on("tid.decodeBytes") => {
            if let Some(bytes) = hex_in("bytes") {
                let mut changed = request.clone();
                changed["params"]["inputs"]["bytes"] =
                    hex::encode(text::minimal_varints(&bytes)).into();
                return honest(changed);
            }
        }
        "addr-leading-zeros" if on("logAddr.decode") => {
            return honest(changed_text(strip_leading_zeros));
        }
        "addr-trailing-slash" if on("logAddr.decode") => {
            return honest(changed_text(|t| t.trim_end_matches('/').to_string()));
        }
        "tid-any-version" if on("tid.decodeBytes") => {
            if let Some(mut bytes) = hex_in("bytes").filter(|b| b.len() > 2 && b[0] < 0x80) {
                bytes[0] = 1;
                let mut changed = request.clone();
                changed["params"]["inputs"]["bytes"] = hex::encode(bytes).into();
                return honest(changed);
            }
        }
        "identity-from-hashed-seed" if on("identity.fromSeed") => {
            if let Some(seed) = hex_in("seed") {
                use sha2::Digest;
                let mut changed = request.clone();
                changed["params"]["inputs"]["seed"] =
                    hex::encode(sha2::Sha256::digest(seed)).into();
                return honest(changed);
            }
        }
        "addr-ipfs-alias" if on("logAddr.decode") => {
            return honest(changed_text(|t| t.replace("/ipfs/", "/p2p/")));
        }
        "addr-first-ipel" if on("logAddr.decode") => return honest(changed_text(first_ipel)),
        "seal-ietf-chacha" if on("seal.openRaw") => {
            if let Some(reply) = open_ietf(&id, &inputs) {
                return reply;
            }
        }
        "record-plaintext-lenient" if on("envelope.verifyFollower") => {
            let reply = honest(request.clone());
            if code(&reply) != Some("BLOCK_MALFORMED") {
                return reply;
            }
            return match emulate::canonical_record(&inputs) {
                Some(envelope) => {
                    let mut changed = request.clone();
                    changed["params"]["inputs"]["envelope"] = hex::encode(envelope).into();
                    honest(changed)
                }
                None => reply,
            };
        }
        "reader-drops-unreadable" if on("sync.decideRecords") && inputs.contains_key("readKey") => {
            if let Some(reply) = emulate::decide_dropping_unreadable(&mut honest, &request) {
                return reply;
            }
        }
        "follower-opens-records" if on("sync.decideRecords") && !inputs.contains_key("readKey") => {
            return error(&id, "KEY_UNAVAILABLE");
        }
        "ignores-unknown-logs"
            if on("sync.decideRecords") && inputs.get("held") == Some(&json!([])) =>
        {
            let result = json!({"appended": [], "counter": 0, "duplicates": 0, "gap": null,
                "pullAfter": null, "rejected": []});
            return json!({"id": id, "result": result});
        }
        "db-clock-unbounded" if on("db.classify") => {
            if let Some(reply) = classify_any_clock(&mut honest, &request) {
                return reply;
            }
        }
        "snapshots-never-retaken" if on("db.snapshot") => {
            if let Some(reply) = emulate::snapshots_kept(&mut honest, &request) {
                return reply;
            }
        }
        "resume-drops-malformed" if on("db.resume") => {
            if let Some(changed) = emulate::without_malformed(&request) {
                return honest(changed);
            }
        }
        "compacted-ignores-late-event" if on("db.resume") => {
            let reply = honest(request.clone());
            if code(&reply) != Some("DB_COMPACTED") {
                return reply;
            }
            return emulate::resume_ignoring_one(&mut honest, &request).unwrap_or(reply);
        }
        "thread-create-trailing-bits" if !vector => return thread_alias(state, honest, request),
        "hello-any-protocol" if method == "hello" => {
            let mut changed = request.clone();
            changed["params"]["protocol"] = 1.into();
            return honest(changed);
        }
        "identity-first-only" if on("identity.fromSeed") => {
            let reply = honest(request.clone());
            if let Some(result) = reply.get("result") {
                let first = state.first_identity.get_or_insert_with(|| result.clone());
                return json!({"id": id, "result": first});
            }
            return reply;
        }
        "node-reads-clock" if method == "log.append" => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            let mut changed = request.clone();
            changed["params"]["time"] = now.into();
            return honest(changed);
        }
        "invite-role-ignored" if method == "invite.export" => {
            let mut changed = request.clone();
            if changed["params"]["role"] == "reader" {
                changed["params"]["role"] = "follower".into();
            }
            return honest(changed);
        }
        "acl-set-role-off-by-one" if method == "acl.set" => {
            let mut changed = request.clone();
            if let Some(roles) = changed["params"]["roles"].as_array_mut() {
                for role in roles.iter_mut() {
                    let below = match role.as_str() {
                        Some("write") => "read",
                        Some("read") => "follow",
                        Some("follow") => "no-access",
                        _ => continue,
                    };
                    *role = below.into();
                }
            }
            return honest(changed);
        }
        "accept-without-fetching" if method == "invite.accept" || method == "node.collect" => {
            let node = request["params"]["node"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let mut reply = honest(request.clone());
            if method == "invite.accept" && reply.get("result").is_some() {
                state.joined.insert(node);
            } else if state.joined.remove(&node)
                && let Some(messages) = member(&mut reply, "messages").and_then(Value::as_array_mut)
            {
                messages.clear();
            }
            return reply;
        }
        "ignores-unsent-messages" if method == "node.collect" || method == "node.deliver" => {
            let node = request["params"]["node"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if method == "node.deliver" {
                let from = request["params"]["from"].as_str().unwrap_or_default();
                let message = request["params"]["message"].as_str().unwrap_or_default();
                if !state
                    .collected
                    .contains(&(from.to_string(), message.to_string()))
                {
                    return json!({"id": id, "result": {}});
                }
                return honest(request);
            }
            let reply = honest(request.clone());
            for sent in reply["result"]["messages"].as_array().into_iter().flatten() {
                if let Some(message) = sent["message"].as_str() {
                    state.collected.insert((node.clone(), message.to_string()));
                }
            }
            return reply;
        }
        "leak-plaintext" if method == "invite.export" => {
            let mut changed = request.clone();
            changed["params"]["role"] = "reader".into();
            return honest(changed);
        }
        "ignore-revocation" if method == "acl.set" => {
            let mut changed = request.clone();
            if let Some(roles) = changed["params"]["roles"].as_array_mut()
                && !roles.iter().any(|r| r == "write")
            {
                roles.retain(|r| r == "delete");
                roles.push("write".into());
            }
            return honest(changed);
        }
        "acl-ignores-genesis-anchor" if vector && operation.starts_with("acl.") => {
            let mut changed = request.clone();
            if let Some(inputs) = changed["params"]["inputs"].as_object_mut() {
                inputs.remove("genesis");
            }
            return honest(changed);
        }
        "truncated-seal-as-malformed"
            if on("seal.open") && hex_in("sealed").is_some_and(|b| b.len() < 40) =>
        {
            return error(&id, "BLOCK_MALFORMED");
        }
        "serve-pull-ignores-limit" if on("sync.servePull") => {
            let mut changed = request.clone();
            changed["params"]["inputs"]["limit"] = 256.into();
            return honest(changed);
        }
        "arrival-order-fold" if vector && operation.starts_with("db.") => {
            if let Some(changed) = emulate::rewrite_events(&request, |i, event| {
                threads::db::DbEvent::new(i as u64 + 1, event.ops).ok()
            }) {
                return honest(changed);
            }
        }
        "patch-replaces" if vector && operation.starts_with("db.") => {
            if let Some(changed) =
                emulate::rewrite_events(&request, |_, e| emulate::save_as_replace(e))
            {
                return honest(changed);
            }
        }
        "unstable-query-order" if on("db.query") => {
            if let Some(ids) = emulate::query_without_tie_break(&inputs) {
                return json!({"id": id, "result": {"ids": ids}});
            }
        }
        "unauthorised-delete" => return unauthorised_delete(state, honest, request),
        "never-retries" if method == "node.collect" => {
            let mut reply = honest(request.clone());
            let pull = |m: &Message| matches!(m, Message::Pull { .. });
            state.sent_once.drop_repeats(&request, &mut reply, pull);
            return reply;
        }
        "never-repeats-heads" if method == "node.collect" => {
            let mut reply = honest(request.clone());
            let heads = |m: &Message| matches!(m, Message::Heads { .. });
            state.sent_once.drop_repeats(&request, &mut reply, heads);
            return reply;
        }
        "serves-strangers" => {
            let mut reply = honest(request.clone());
            state.serves.watch(&request, &mut reply);
            return reply;
        }
        "skip-link-check"
        | "fork-as-duplicate"
        | "append-past-gap"
        | "duplicate-as-fork"
        | "stores-refused-records"
        | "head-tracks-newest-seen"
        | "fork-rewinds-log"
            if on("log.replay") =>
        {
            let quirk = match name {
                "skip-link-check" => Quirk::NoLinkCheck,
                "fork-as-duplicate" => Quirk::ForkIsDuplicate,
                "append-past-gap" => Quirk::AppendsPastGap,
                "stores-refused-records" => Quirk::StoresRefused,
                "head-tracks-newest-seen" => Quirk::HeadTracksNewest,
                "fork-rewinds-log" => Quirk::ForkRewinds,
                _ => Quirk::DuplicateIsFork,
            };
            if let Some(reply) = emulate::replay(quirk, &id, &inputs) {
                return reply;
            }
        }
        "reflected-proof" if on("membership.checkProof") => {
            let reply = honest(request.clone());
            if code(&reply) != Some("PROOF_INVALID") {
                return reply;
            }
            let mut swapped = request.clone();
            swapped["params"]["inputs"]["prover"] = inputs["verifier"].clone();
            swapped["params"]["inputs"]["verifier"] = inputs["prover"].clone();
            return match honest(swapped).get("result") {
                Some(result) => json!({"id": id, "result": result}),
                None => reply,
            };
        }
        "decode-trailing-bytes" if on("sync.decodeMessage") => {
            let reply = honest(request.clone());
            let bytes = hex_in("bytes").unwrap_or_default();
            if code(&reply) != Some("MESSAGE_MALFORMED") {
                return reply;
            }
            for end in (1..bytes.len()).rev() {
                let mut prefix = request.clone();
                prefix["params"]["inputs"]["bytes"] = hex::encode(&bytes[..end]).into();
                let answer = honest(prefix);
                if answer.get("result").is_some() {
                    return answer;
                }
            }
            return reply;
        }
        "acl-default-ignored" if on("acl.decide") => {
            let reply = honest(request.clone());
            let mut evaluate = request.clone();
            evaluate["params"]["operation"] = "acl.evaluate".into();
            let folded = honest(evaluate);
            let peer = text_in("peer").unwrap_or_default();
            let entry = &folded["result"]["document"]["peers"][&peer];
            if reply.get("result").is_some() && entry.is_null() {
                return error(&id, "ACL_DENIED");
            }
            return reply;
        }
        _ => {}
    }

    // Faults that change the reply.
    let mut reply = honest(request.clone());
    match name {
        "tid-short-random" if code(&reply) == Some("TID_SHORT_RANDOM") => {
            let bytes = match operation.as_str() {
                "tid.decodeBytes" => hex_in("bytes"),
                "tid.encode" => tid_bytes(text_in("variant").as_deref(), hex_in("random")),
                _ => None,
            };
            if let Some(result) = bytes.and_then(|b| tid_json(&b)) {
                return json!({"id": id, "result": result});
            }
        }
        "tid-variant-as-version" => {
            recode(&mut reply, "TID_UNKNOWN_VARIANT", "TID_UNKNOWN_VERSION")
        }
        "tid-text-as-given" if on("tid.decode") => {
            if let (Some(text), Some(given)) = (member(&mut reply, "text"), text_in("text")) {
                *text = given.into();
            }
        }
        "tid-random-from-byte-one" if on("tid.decodeBytes") || on("tid.decode") => {
            if let Some(bytes) = member(&mut reply, "bytes")
                .and_then(|b| b.as_str().map(String::from))
                .and_then(|h| hex::decode(h).ok())
                && let Some(random) = member(&mut reply, "random")
            {
                *random = hex::encode(&bytes[1..]).into();
            }
        }
        "tid-encode-upper" if on("tid.encode") => {
            if let Some(text) = member(&mut reply, "text")
                && let Some(t) = text.as_str()
            {
                *text = format!("B{}", t[1..].to_uppercase()).into();
            }
        }
        "logid-small-order-identity-only" | "logid-no-point-check"
            if code(&reply) == Some("LOG_ID_INVALID") =>
        {
            let bytes = match operation.as_str() {
                "logId.decodeBytes" => hex_in("bytes"),
                "logId.decode" => {
                    text_in("text").and_then(|t| multibase::Base::Base58Btc.decode(t).ok())
                }
                _ => None,
            };
            if let Some(bytes) = bytes.filter(|b| b.len() == 38 && b[..6] == LOG_ID_PREFIX) {
                let key = hex::encode(&bytes[6..]);
                if name == "logid-no-point-check" || SMALL_ORDER.contains(&key.as_str()) {
                    let result = json!({"bytes": hex::encode(&bytes), "publicKey": key,
                        "text": text::base58(&bytes)});
                    return json!({"id": id, "result": result});
                }
            }
        }
        "keyset-unknown-fields" if code(&reply) == Some("KEYSET_MALFORMED") => {
            if let Some(result) = hex_in("bytes").and_then(|b| emulate::lenient_keyset(&b)) {
                return json!({"id": id, "result": result});
            }
        }
        "keyset-encode-field-order" if on("keyset.encode") => {
            if let Some(bytes) = member(&mut reply, "bytes")
                && let Some(b) = bytes.as_str().and_then(|h| hex::decode(h).ok())
                && b.len() == 81
                && b[1..6] == *b"\x64read"
            {
                let (read, follow) = (&b[8..40], &b[49..81]);
                let reordered = [&[0xa2][..], &b[40..49], follow, &b[1..8], read].concat();
                *bytes = hex::encode(reordered).into();
            }
        }
        "keyset-length-as-malformed" => recode(&mut reply, "KEY_BAD_LENGTH", "KEYSET_MALFORMED"),
        "follower-reads" if method == "node.read" && code(&reply) == Some("KEY_UNAVAILABLE") => {
            return json!({"id": id, "result": {"events": []}});
        }
        "forged-signatures" if vector && code(&reply) == Some("SIGNATURE_INVALID") => {
            return json!({"id": id, "result": {}});
        }
        "ignore-associated-data" if vector && operation.starts_with("seal.open") => {
            if let Some(reply) = open_without_ad(&id, &inputs) {
                return reply;
            }
        }
        "resealed-as-decrypt-failure" => {
            recode(&mut reply, "RECORD_NONCE_INVALID", "RECORD_DECRYPT_FAILED");
        }
        "unsupported-cid-as-malformed" => recode(&mut reply, "CID_UNSUPPORTED", "BLOCK_MALFORMED"),
        "oversized-as-malformed" => recode(&mut reply, "BLOCK_TOO_LARGE", "BLOCK_MALFORMED"),
        "signing-input-without-domain" if on("record.signingInput") => {
            drop_label(&mut reply, "bytes", |b| {
                b.iter().position(|x| *x == 0).map(|i| (0, i + 1))
            });
        }
        "associated-data-without-layer" if on("seal.associatedData") => {
            // "threads/v1/<layer>" 00 …: the layer's name goes.
            drop_label(&mut reply, "ad", |b| {
                let start = b"threads/v1/".len();
                let end = b.iter().position(|x| *x == 0)?;
                (end > start).then_some((start, end))
            });
        }
        "heads-counter-off-by-one" if method == "node.heads" => {
            if let Some(logs) = member(&mut reply, "logs").and_then(Value::as_object_mut) {
                for head in logs.values_mut() {
                    if let Some(n) = head["counter"].as_u64() {
                        head["counter"] = (n + 1).into();
                    }
                }
            }
        }
        "read-newest-first" if method == "node.read" => reverse(&mut reply, "events"),
        "invite-signature-as-malformed" => {
            recode(&mut reply, "INVITE_SIGNATURE_INVALID", "INVITE_MALFORMED");
        }
        "invite-recipient-after-signature" => {
            recode(
                &mut reply,
                "INVITE_WRONG_RECIPIENT",
                "INVITE_SIGNATURE_INVALID",
            );
        }
        "invite-beyond-acl-as-malformed" if on("invite.open") => {
            recode(&mut reply, "ACL_DENIED", "INVITE_MALFORMED");
        }
        "never-pulls" if on("sync.decideRecords") => {
            if let Some(pull) = member(&mut reply, "pullAfter") {
                *pull = Value::Null;
            }
        }
        "pull-fields-32-bit" if on("sync.decodeMessage") => {
            let message = &reply["result"]["message"];
            let wide = |k: &str| message[k].as_u64().is_some_and(|n| n > u64::from(u32::MAX));
            if message["type"] == "pull" && (wide("after") || wide("limit")) {
                return error(&id, "MESSAGE_MALFORMED");
            }
        }
        "view-keys-lexical" if on("db.fold") => {
            if let Some(view) = member(&mut reply, "view")
                && let Some(bytes) = view.as_str().and_then(|h| hex::decode(h).ok())
                && let Some(lexical) = emulate::keys_in_text_order(&bytes)
            {
                *view = hex::encode(&lexical).into();
                if let Some(cid) = member(&mut reply, "viewCid") {
                    *cid = threads::block::cid_of(&lexical).to_string().into();
                }
            }
        }
        "snapshot-cid-of-view" if on("db.snapshot") => {
            if let Some(views) = member(&mut reply, "viewCids").cloned()
                && let Some(snapshots) = member(&mut reply, "snapshotCids")
            {
                *snapshots = views;
            }
        }
        "snapshot-invalid-as-compacted" if on("db.resume") => {
            recode(&mut reply, "DB_SNAPSHOT_INVALID", "DB_COMPACTED");
        }
        "content-key-is-read-key"
            if on("envelope.verifyReader") && reply.get("result").is_some() =>
        {
            return error(&id, "BODY_DECRYPT_FAILED");
        }
        "recipient-secret-unclamped" if on("invite.recipientKeys") => {
            use sha2::Digest;
            if let Some(secret) = member(&mut reply, "x25519Secret")
                && let Some(seed) = hex_in("seed")
            {
                *secret = hex::encode(&sha2::Sha512::digest(seed)[..32]).into();
            }
        }
        "invite-oversized-as-too-large"
            if on("invite.open") && hex_in("invite").is_some_and(|b| b.len() > 1 << 20) =>
        {
            recode(&mut reply, "INVITE_MALFORMED", "BLOCK_TOO_LARGE");
        }
        "invite-acl-default-ignored" | "invite-acl-membership-only"
            if on("invite.open") && code(&reply) == Some("ACL_DENIED") =>
        {
            let has_entry = name == "invite-acl-membership-only";
            if let Some(result) = open_beside_acl(&inputs, has_entry) {
                return json!({"id": id, "result": result});
            }
        }
        "delete-without-capability"
            if on("acl.checkChange") && code(&reply) == Some("ACL_DENIED") =>
        {
            let delete = emulate::opened_event(&inputs)
                .filter(|(_, _, body)| body.get("type") == Some(&Ipld::String("delete".into())));
            if let Some((author, seq, _)) = delete {
                let mut accepts = request.clone();
                accepts["params"]["operation"] = "acl.acceptsRecord".into();
                accepts["params"]["inputs"]["author"] = author.into();
                accepts["params"]["inputs"]["seq"] = seq.into();
                if honest(accepts).get("result").is_some() {
                    return json!({"id": id, "result": {}});
                }
            }
        }
        "acl-change-clock-zero" | "acl-roles-any-order"
            if on("acl.checkChange") && code(&reply) == Some("ACL_MALFORMED") =>
        {
            if let Some((_, _, body)) = emulate::opened_event(&inputs)
                && body.get("type") == Some(&Ipld::String("acl".into()))
                && match name {
                    "acl-change-clock-zero" => body.get("clock") == Some(&Ipld::Integer(0)),
                    _ => unsorted_roles(&body),
                }
            {
                return json!({"id": id, "result": {}});
            }
        }
        "cut-exclusive" if on("acl.acceptsRecord") && reply.get("result").is_some() => {
            let mut evaluate = request.clone();
            evaluate["params"]["operation"] = "acl.evaluate".into();
            let cuts = &honest(evaluate)["result"]["cuts"];
            let author = text_in("author").unwrap_or_default();
            if cuts[&author].as_u64().is_some() && cuts[&author] == inputs["seq"] {
                return error(&id, "ACL_DENIED");
            }
        }
        "genesis-id-unchecked"
            if on("acl.acceptsRecord") && code(&reply) == Some("ACL_MALFORMED") =>
        {
            if let Some(verdict) = genesis_without_id_check(&inputs) {
                return match verdict {
                    Ok(()) => json!({"id": id, "result": {}}),
                    Err(code) => error(&id, code),
                };
            }
        }
        "acl-bypass-as-denied" => recode(&mut reply, "ACL_BYPASS", "ACL_DENIED"),
        "acl-malformed-as-denied" => recode(&mut reply, "ACL_MALFORMED", "ACL_DENIED"),
        "bad-seq-as-malformed" => recode(&mut reply, "RECORD_BAD_SEQ", "BLOCK_MALFORMED"),
        "envelope-as-block-malformed" if on("envelope.verifyFollower") => {
            recode(&mut reply, "ENVELOPE_MALFORMED", "BLOCK_MALFORMED");
        }
        "swapped-block-as-malformed" => recode(&mut reply, "CID_MISMATCH", "BLOCK_MALFORMED"),
        // A body that is no database event at all ("not mine") is reported malformed.
        "db-foreign-body-as-malformed"
            if on("db.classify") && reply.get("result").is_some_and(|r| r["clock"].is_null()) =>
        {
            return error(&id, "DB_MALFORMED");
        }
        "serve-pull-descending" if on("sync.servePull") => reverse(&mut reply, "records"),
        "decide-records-reversed" if on("sync.decideRecords") => reverse(&mut reply, "appended"),
        "heads-too-long-as-malformed" => recode(&mut reply, "HEADS_TOO_LONG", "MESSAGE_MALFORMED"),
        "derive-keys-swapped" if on("membership.deriveKeys") => {
            if let Some(result) = reply.get_mut("result").and_then(Value::as_object_mut)
                && let (Some(gossip), Some(proof)) =
                    (result.remove("gossipKey"), result.remove("proofKey"))
            {
                result.insert("gossipKey".into(), proof);
                result.insert("proofKey".into(), gossip);
            }
        }
        "publication-as-proof-invalid" => {
            recode(&mut reply, "PUBLICATION_INVALID", "PROOF_INVALID")
        }
        "hello-acl-without-nodes" if method == "hello" => {
            if let Some(features) = reply["result"]["capabilities"]["scenarios"].as_array_mut() {
                features.retain(|f| f != "nodes");
            }
        }
        "hello-unknown-feature" if method == "hello" => {
            if let Some(features) = reply["result"]["capabilities"]["scenarios"].as_array_mut() {
                features.push("teleport".into());
            }
        }
        "hello-operation-twice" if method == "hello" => {
            if let Some(ops) = reply["result"]["capabilities"]["operations"].as_array_mut()
                && let Some(first) = ops.first().cloned()
            {
                ops.push(first);
            }
        }
        "reply-wrong-id" if on("logAddr.decode") => {
            reply["id"] = (id.as_u64().unwrap_or_default() + 1).into();
        }
        "hello-operations-misnamed" if method == "hello" => {
            if let Some(capabilities) = member(&mut reply, "capabilities") {
                if let Some(ops) = capabilities["operations"].as_array_mut() {
                    for op in ops.iter_mut() {
                        *op = op.as_str().unwrap_or_default().replace('.', "_").into();
                    }
                }
                capabilities["scenarios"] = json!([]);
            }
        }
        "append-seq-from-zero" if method == "log.append" => {
            if let Some(seq) = member(&mut reply, "seq")
                && let Some(n) = seq.as_u64()
            {
                *seq = n.saturating_sub(1).into();
            }
        }
        "read-time-in-seconds" if method == "node.read" => {
            for event in member(&mut reply, "events")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                if let Some(ms) = event["time"].as_u64() {
                    event["time"] = (ms / 1000).into();
                }
            }
        }
        "node-acl-genesis-only" if method == "node.acl" => {
            if let Some(document) = member(&mut reply, "document") {
                let admins = document["admins"].clone();
                if let Some(peers) = document["peers"].as_object_mut() {
                    peers.retain(|peer, _| {
                        admins
                            .as_array()
                            .is_some_and(|a| a.contains(&peer.as_str().into()))
                    });
                }
            }
        }
        "replay-without-state" if on("log.replay") => {
            if let Some(error) = reply["error"].as_object_mut() {
                error.remove("state");
            }
        }
        _ => {}
    }
    reply
}

fn code(reply: &Value) -> Option<&str> {
    reply["error"]["code"].as_str()
}

fn error(id: &Value, code: &str) -> Value {
    json!({"id": id, "error": {"code": code, "message": "refused"}})
}

/// Replaces the error code `from` by `to`.
fn recode(reply: &mut Value, from: &str, to: &str) {
    if code(reply) == Some(from) {
        reply["error"]["code"] = to.into();
    }
}

/// A member of a success reply's result, never created where it is missing (indexing a
/// `Value` mutably would add it, and turn an error reply into a malformed one).
fn member<'a>(reply: &'a mut Value, name: &str) -> Option<&'a mut Value> {
    reply.get_mut("result")?.get_mut(name)
}

fn reverse(reply: &mut Value, name: &str) {
    if let Some(items) = member(reply, name).and_then(Value::as_array_mut) {
        items.reverse();
    }
}

/// Removes the byte range `cut` finds from the hex result `member`.
fn drop_label(reply: &mut Value, name: &str, cut: impl Fn(&[u8]) -> Option<(usize, usize)>) {
    if let Some(value) = member(reply, name)
        && let Some(b) = value.as_str().and_then(|h| hex::decode(h).ok())
        && let Some((start, end)) = cut(&b)
    {
        *value = hex::encode([&b[..start], &b[end..]].concat()).into();
    }
}

/// `addr-leading-zeros`: leading zeros of decimal components dropped before decoding.
fn strip_leading_zeros(text: &str) -> String {
    let parts: Vec<String> = text
        .split('/')
        .map(|part| {
            if part.len() > 1 && part.chars().all(|c| c.is_ascii_digit()) {
                let trimmed = part.trim_start_matches('0');
                if trimmed.is_empty() {
                    "0".into()
                } else {
                    trimmed.into()
                }
            } else if part.contains('.')
                && part
                    .split('.')
                    .all(|o| o.chars().all(|c| c.is_ascii_digit()) && !o.is_empty())
            {
                part.split('.')
                    .map(|o| match o.trim_start_matches('0') {
                        "" => "0",
                        t => t,
                    })
                    .collect::<Vec<_>>()
                    .join(".")
            } else {
                part.to_string()
            }
        })
        .collect();
    parts.join("/")
}

/// The binary TID of a variant name and a random part.
fn tid_bytes(variant: Option<&str>, random: Option<Vec<u8>>) -> Option<Vec<u8>> {
    let code = match variant? {
        "raw" => 0x55,
        "access-controlled" => 0x70,
        _ => return None,
    };
    Some([&[1, code][..], &random?].concat())
}

/// The JSON of a binary TID with single-byte varints, decoded without the random part's bounds.
fn tid_json(bytes: &[u8]) -> Option<Value> {
    let variant = match bytes.get(..2)? {
        [1, 0x55] => "raw",
        [1, 0x70] => "access-controlled",
        _ => return None,
    };
    Some(
        json!({"bytes": hex::encode(bytes), "random": hex::encode(&bytes[2..]),
        "text": text::base32_text(bytes), "variant": variant}),
    )
}

/// `seal.open` with empty associated data in place of the layer's.
fn open_without_ad(id: &Value, inputs: &Map<String, Value>) -> Option<Value> {
    use threads::seal::{self, Layer};
    let key: [u8; 32] = hex::decode(inputs.get("key")?.as_str()?)
        .ok()?
        .try_into()
        .ok()?;
    let sealed = hex::decode(inputs.get("sealed")?.as_str()?).ok()?;
    Some(match seal::open(Layer::Body, &key, &[], &sealed) {
        Ok(plain) => json!({"id": id, "result": {"plaintext": hex::encode(plain)}}),
        Err(_) => error(id, "BODY_DECRYPT_FAILED"),
    })
}

/// `thread-create-trailing-bits`: a thread's ID goes out with its trailing bits set, a text
/// that still looks like base32 (and passes the result's schema); requests naming a thread by
/// that text are read as the canonical one.
fn thread_alias(
    state: &mut State,
    mut honest: impl FnMut(Value) -> Value,
    request: Value,
) -> Value {
    let mut request = request;
    if let Some(thread) = request["params"]["thread"].as_str()
        && let Some(canonical) = state.aliases.get(thread)
    {
        request["params"]["thread"] = canonical.clone().into();
    }
    let mut reply = honest(request);
    let mut rewrite = |value: &mut Value| {
        if let Some(t) = value.as_str() {
            let alias = text::set_trailing_bits(t);
            state.aliases.insert(alias.clone(), t.to_string());
            *value = alias.into();
        }
    };
    if let Some(thread) = member(&mut reply, "thread") {
        rewrite(thread);
    }
    reply
}

/// `unauthorised-delete`: every node applies every delete, whether or not the ACL refuses its
/// record: a document deleted anywhere is gone for every node.
fn unauthorised_delete(
    state: &mut State,
    mut honest: impl FnMut(Value) -> Value,
    request: Value,
) -> Value {
    let params = &request["params"];
    let text = |k: &str| params[k].as_str().unwrap_or_default().to_string();
    let doc = (text("thread"), text("collection"), text("id"));
    if request["method"] == "db.get" && state.deleted.contains(&doc) {
        return json!({"id": request["id"], "result": {"doc": null}});
    }
    let reply = honest(request.clone());
    if request["method"] == "db.delete" && reply.get("result").is_some() {
        state.deleted.insert(doc);
    }
    reply
}

/// `addr-first-ipel`: the text up to the end of its first `/ipel/<log-id>`; what follows, a
/// second `/ipel` or any component after it, is never read [ADDR-2].
fn first_ipel(text: &str) -> String {
    let parts: Vec<&str> = text.split('/').collect();
    match parts.iter().position(|p| *p == "ipel") {
        Some(i) if i + 1 < parts.len() => parts[..i + 2].join("/"),
        _ => text.to_string(),
    }
}

/// `seal-ietf-chacha`: `seal.openRaw` with ChaCha20-Poly1305 of RFC 8439 under the key itself
/// and the first 12 bytes of the 24-byte nonce: the HChaCha20 subkey step of [SEAL-1] left out.
fn open_ietf(id: &Value, inputs: &Map<String, Value>) -> Option<Value> {
    use chacha20poly1305::aead::{Aead, KeyInit, Payload};
    use chacha20poly1305::{ChaCha20Poly1305, Nonce};
    let hex_of = |k: &str| hex::decode(inputs.get(k)?.as_str()?).ok();
    let key: [u8; 32] = hex_of("key")?.try_into().ok()?;
    let sealed = hex_of("sealed")?;
    let ad = hex_of("ad")?;
    if sealed.len() < 40 {
        return None;
    }
    let cipher = ChaCha20Poly1305::new(&key.into());
    let payload = Payload {
        msg: &sealed[24..],
        aad: &ad,
    };
    let nonce: [u8; 12] = sealed[..12].try_into().ok()?;
    Some(match cipher.decrypt(&Nonce::from(nonce), payload) {
        Ok(plain) => json!({"id": id, "result": {"plaintext": hex::encode(plain)}}),
        Err(_) => error(id, "BODY_DECRYPT_FAILED"),
    })
}

/// `db-clock-unbounded`: an event whose clock is out of [DB-8]'s range is classified as if its
/// clock were 1, and answered with the clock it has.
fn classify_any_clock(honest: &mut impl FnMut(Value) -> Value, request: &Value) -> Option<Value> {
    use ipld_core::ipld::Ipld;
    let body = hex::decode(request["params"]["inputs"]["body"].as_str()?).ok()?;
    let Ipld::Map(mut map) = serde_ipld_dagcbor::from_slice::<Ipld>(&body).ok()? else {
        return None;
    };
    let clock = match map.get("clock")? {
        Ipld::Integer(n) if *n == 0 || *n >= 1 << 53 => u64::try_from(*n).ok()?,
        _ => return None,
    };
    map.insert("clock".into(), Ipld::Integer(1));
    let mut changed = request.clone();
    changed["params"]["inputs"]["body"] =
        hex::encode(serde_ipld_dagcbor::to_vec(&Ipld::Map(map)).ok()?).into();
    let mut reply = honest(changed);
    let result = reply.get_mut("result")?;
    result["clock"] = clock.into();
    Some(reply)
}

/// `acl-roles-any-order`: whether an ACL change's op carries a role list of distinct known names
/// that is out of [ACL-3]'s order (sorted, it would be well formed).
fn unsorted_roles(body: &std::collections::BTreeMap<String, Ipld>) -> bool {
    const KNOWN: [&str; 5] = ["delete", "follow", "no-access", "read", "write"];
    let Some(Ipld::Map(op)) = body.get("op") else {
        return false;
    };
    let Some(Ipld::List(roles)) = op.get("roles") else {
        return false;
    };
    let names: Option<Vec<&str>> = roles
        .iter()
        .map(|r| match r {
            Ipld::String(s) if KNOWN.contains(&s.as_str()) => Some(s.as_str()),
            _ => None,
        })
        .collect();
    let Some(names) = names else { return false };
    let mut sorted = names.clone();
    sorted.sort_unstable();
    sorted.dedup();
    sorted.len() == names.len() && sorted != names
}

/// `invite.open` with the ACL check of [INV-9] done wrongly: the invite opens, for a recipient
/// with (`has_entry`) or without an entry in the ACL document, whatever role the entry or the
/// default grants; `None` when the recipient is not in that case.
fn open_beside_acl(inputs: &Map<String, Value>, has_entry: bool) -> Option<Value> {
    use threads::acl::AclAnchor;
    use threads::invite::{Invite, open_key_set};
    use threads::keys::IdentityKey;
    let hex_of = |k: &str| hex::decode(inputs.get(k)?.as_str()?).ok();
    let seed: [u8; 32] = hex_of("recipientSeed")?.try_into().ok()?;
    let recipient = IdentityKey::from_seed(&seed);
    let invite = Invite::from_bytes(&hex_of("invite")?).ok()?;
    let anchor = AclAnchor::from_bytes(invite.acl.as_deref()?).ok()?;
    if anchor.document.entry(&recipient.log_id()).is_some() != has_entry {
        return None;
    }
    let keys = open_key_set(
        &recipient,
        &invite.enc,
        &invite.header(),
        &invite.sealed_keys,
    )
    .ok()?;
    let logs: Vec<Value> = invite
        .logs
        .iter()
        .map(|entry| json!({"addrs": entry.addrs, "log": entry.log.to_string()}))
        .collect();
    Some(json!({
        "acl": invite.acl.as_ref().map(hex::encode),
        "followKey": hex::encode(keys.follow.as_bytes()),
        "inviter": invite.inviter.to_string(),
        "logs": logs,
        "readKey": keys.read.as_ref().map(|k| hex::encode(k.as_bytes())),
        "role": invite.role.name(),
        "thread": invite.thread.to_string(),
    }))
}

/// `genesis-id-unchecked`: `acl.acceptsRecord` in a thread whose genesis fails only its `_id`
/// check ([ACL-4], step 2): the genesis document is taken as it is, and decides the author's
/// record by its role; `None` when the genesis fails anything else.
fn genesis_without_id_check(inputs: &Map<String, Value>) -> Option<Result<(), &'static str>> {
    use threads::acl::{AclDocument, Action};
    let creator = inputs.get("creator")?.as_str()?;
    let (_, _, body) = emulate::opened_where(inputs, |peer, seq, _| peer == creator && seq == 1)?;
    if body.get("type") != Some(&Ipld::String("acl-genesis".into())) || body.len() != 2 {
        return None;
    }
    let document =
        AclDocument::from_bytes(&serde_ipld_dagcbor::to_vec(body.get("acl")?).ok()?).ok()?;
    let thread = threads::id::ThreadId::from_str(inputs.get("thread")?.as_str()?).ok()?;
    let creator = threads::id::LogId::from_str(creator).ok()?;
    if document.check_thread(&thread).is_ok() || !document.is_admin(&creator) {
        return None;
    }
    let author = threads::id::LogId::from_str(inputs.get("author")?.as_str()?).ok()?;
    Some(
        document
            .may(&author, Action::Write)
            .map_err(|e| e.code.name()),
    )
}
