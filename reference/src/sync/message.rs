//! The sync messages and their wire form (spec/sync.md, [SYNC-1], [SYNC-2]).

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use crate::block;
use crate::envelope::Envelope;
use crate::error::{Error, ErrorCode, Result};
use crate::id::{LogId, ThreadId};
use crate::membership::{AUTH_NONCE_LEN, PROOF_LEN};

/// Most records one `Records` message carries; a puller asks again after a full batch [SYNC-5].
pub const PULL_LIMIT: u64 = 256;

/// Most bytes of envelopes a `Records` message carries, unless its first envelope alone is larger
/// [SYNC-5]. With [`MAX_MESSAGE_BYTES`] this leaves room for one record of the largest size.
pub const MAX_BATCH_BYTES: usize = 4 << 20;

/// Largest encoded message a peer accepts [SYNC-2]: a full batch plus one largest record.
pub const MAX_MESSAGE_BYTES: usize = 8 << 20;

/// Most entries one `heads` message lists; a sender splits longer head lists [SYNC-23].
pub const MAX_HEADS_ENTRIES: usize = 1024;

/// A message between peers [SYNC-1].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Asks for the records of `log` after seq `after`, oldest first, at most `limit` [SYNC-5].
    Pull {
        /// The thread.
        thread: ThreadId,
        /// The log.
        log: LogId,
        /// The requester's counter for the log.
        after: u64,
        /// Most records wanted.
        limit: u64,
    },
    /// Contiguous records of one log, oldest first: a pull's answer or a push [SYNC-4], [SYNC-6].
    Records {
        /// The thread.
        thread: ThreadId,
        /// The log.
        log: LogId,
        /// The sender's counter for the log: a receiver still behind it pulls again [SYNC-7].
        counter: u64,
        /// The envelopes, in seq order.
        envelopes: Vec<Envelope>,
    },
    /// The sender's counter for some or all logs of a thread it holds: head exchange [SYNC-8],
    /// at most [`MAX_HEADS_ENTRIES`] [SYNC-23].
    Heads {
        /// The thread.
        thread: ThreadId,
        /// Each log and the sender's counter for it, in log ID order.
        heads: Vec<(LogId, u64)>,
    },
    /// A membership challenge, a proof, or both [SYNC-17].
    Auth {
        /// The thread.
        thread: ThreadId,
        /// Empty, or the sender's 16-byte challenge to the receiver.
        nonce: Vec<u8>,
        /// Empty, or the sender's 32-byte proof over the receiver's nonce [SYNC-18].
        proof: Vec<u8>,
    },
}

/// Wire form of [`Message`]: canonical DAG-CBOR with a `type` field [SYNC-1].
#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
enum Wire {
    Pull {
        after: u64,
        limit: u64,
        log: ByteBuf,
        thread: ByteBuf,
    },
    Records {
        counter: u64,
        envelopes: Vec<ByteBuf>,
        log: ByteBuf,
        thread: ByteBuf,
    },
    Heads {
        heads: Vec<WireHead>,
        thread: ByteBuf,
    },
    Auth {
        nonce: ByteBuf,
        proof: ByteBuf,
        thread: ByteBuf,
    },
}

/// One entry of a `heads` message.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireHead {
    counter: u64,
    log: ByteBuf,
}

impl Message {
    /// The canonical DAG-CBOR encoding [SYNC-1].
    pub fn to_bytes(&self) -> Vec<u8> {
        block::encode(&self.to_wire())
    }

    fn to_wire(&self) -> Wire {
        match self {
            Message::Pull {
                thread,
                log,
                after,
                limit,
            } => Wire::Pull {
                after: *after,
                limit: *limit,
                log: ByteBuf::from(log.to_bytes()),
                thread: ByteBuf::from(thread.as_bytes()),
            },
            Message::Records {
                thread,
                log,
                counter,
                envelopes,
            } => Wire::Records {
                counter: *counter,
                envelopes: envelopes
                    .iter()
                    .map(|e| ByteBuf::from(e.to_bytes()))
                    .collect(),
                log: ByteBuf::from(log.to_bytes()),
                thread: ByteBuf::from(thread.as_bytes()),
            },
            Message::Heads { thread, heads } => Wire::Heads {
                heads: heads
                    .iter()
                    .map(|(log, counter)| WireHead {
                        counter: *counter,
                        log: ByteBuf::from(log.to_bytes()),
                    })
                    .collect(),
                thread: ByteBuf::from(thread.as_bytes()),
            },
            Message::Auth {
                thread,
                nonce,
                proof,
            } => Wire::Auth {
                nonce: ByteBuf::from(nonce.clone()),
                proof: ByteBuf::from(proof.clone()),
                thread: ByteBuf::from(thread.as_bytes()),
            },
        }
    }

    /// Decodes a message [SYNC-2]. A message that is too long, not canonical DAG-CBOR or not of a
    /// defined type, or an `auth` with a nonce or proof of another length [SYNC-17], is
    /// MESSAGE_MALFORMED; a `heads` with more than [`MAX_HEADS_ENTRIES`] entries is HEADS_TOO_LONG
    /// [SYNC-23]; a bad thread ID, log ID or envelope inside it carries that field's own code.
    /// Never panics.
    pub fn from_bytes(bytes: &[u8]) -> Result<Message> {
        if bytes.len() > MAX_MESSAGE_BYTES {
            return Err(Error::new(
                ErrorCode::MessageMalformed,
                format!(
                    "message of {} bytes, at most {MAX_MESSAGE_BYTES} allowed",
                    bytes.len()
                ),
            ));
        }
        let wire: Wire = block::decode_canonical(bytes, ErrorCode::MessageMalformed)?;
        Ok(match wire {
            Wire::Pull {
                after,
                limit,
                log,
                thread,
            } => Message::Pull {
                thread: ThreadId::from_bytes(&thread)?,
                log: LogId::from_bytes(&log)?,
                after,
                limit,
            },
            Wire::Records {
                counter,
                envelopes,
                log,
                thread,
            } => Message::Records {
                thread: ThreadId::from_bytes(&thread)?,
                log: LogId::from_bytes(&log)?,
                counter,
                envelopes: envelopes
                    .iter()
                    .map(|e| Envelope::from_bytes(e))
                    .collect::<Result<_>>()?,
            },
            Wire::Heads { heads, .. } if heads.len() > MAX_HEADS_ENTRIES => {
                return Err(Error::new(
                    ErrorCode::HeadsTooLong,
                    format!(
                        "heads message with {} entries, at most {MAX_HEADS_ENTRIES} allowed",
                        heads.len()
                    ),
                ));
            }
            Wire::Auth { nonce, proof, .. }
                if ![0, AUTH_NONCE_LEN].contains(&nonce.len())
                    || ![0, PROOF_LEN].contains(&proof.len()) =>
            {
                return Err(Error::new(
                    ErrorCode::MessageMalformed,
                    format!(
                        "auth with a nonce of {} bytes (0 or {AUTH_NONCE_LEN}) and a proof of {} (0 or {PROOF_LEN})",
                        nonce.len(),
                        proof.len()
                    ),
                ));
            }
            Wire::Auth {
                nonce,
                proof,
                thread,
            } => Message::Auth {
                thread: ThreadId::from_bytes(&thread)?,
                nonce: nonce.into_vec(),
                proof: proof.into_vec(),
            },
            Wire::Heads { heads, thread } => Message::Heads {
                thread: ThreadId::from_bytes(&thread)?,
                heads: heads
                    .iter()
                    .map(|h| Ok((LogId::from_bytes(&h.log)?, h.counter)))
                    .collect::<Result<_>>()?,
            },
        })
    }

    /// The thread the message is about.
    pub fn thread(&self) -> &ThreadId {
        match self {
            Message::Pull { thread, .. }
            | Message::Records { thread, .. }
            | Message::Heads { thread, .. }
            | Message::Auth { thread, .. } => thread,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::Variant;
    use crate::keys::IdentityKey;
    use proptest::prelude::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    fn ids(seed: u64) -> (ThreadId, LogId) {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let thread = ThreadId::generate(Variant::Raw, &mut rng);
        (thread, IdentityKey::generate(&mut rng).log_id())
    }

    proptest! {
        #[test]
        fn every_message_round_trips(seed: u64, after: u64, limit: u64, counters in proptest::collection::vec(any::<u64>(), 0..4)) {
            let (thread, log) = ids(seed);
            let messages = [
                Message::Pull { thread: thread.clone(), log, after, limit },
                Message::Heads { thread: thread.clone(), heads: counters.iter().map(|c| (log, *c)).collect() },
                Message::Records { thread: thread.clone(), log, counter: after, envelopes: Vec::new() },
                Message::Auth { thread: thread.clone(), nonce: vec![7; AUTH_NONCE_LEN], proof: Vec::new() },
                Message::Auth { thread, nonce: Vec::new(), proof: vec![limit as u8; PROOF_LEN] },
            ];
            for message in messages {
                prop_assert_eq!(Message::from_bytes(&message.to_bytes()), Ok(message));
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = Message::from_bytes(&bytes);
        }
    }

    #[test]
    fn auth_lengths_and_heads_counts_beyond_the_limits_are_refused() {
        let (thread, log) = ids(3);
        for (nonce, proof) in [(15, 0), (17, 32), (0, 31), (16, 33), (1, 1)] {
            let bytes = Message::Auth {
                thread: thread.clone(),
                nonce: vec![1; nonce],
                proof: vec![2; proof],
            }
            .to_bytes();
            assert_eq!(
                Message::from_bytes(&bytes).map_err(|e| e.code),
                Err(ErrorCode::MessageMalformed)
            );
        }
        let heads = |n: usize| Message::Heads {
            thread: thread.clone(),
            heads: vec![(log, 1); n],
        };
        assert!(Message::from_bytes(&heads(MAX_HEADS_ENTRIES).to_bytes()).is_ok());
        assert_eq!(
            Message::from_bytes(&heads(MAX_HEADS_ENTRIES + 1).to_bytes()).map_err(|e| e.code),
            Err(ErrorCode::HeadsTooLong)
        );
    }

    /// Checks [SYNC-2] at its bound: a well-formed `records` message of exactly
    /// MAX_MESSAGE_BYTES decodes, and the same message one byte longer is MESSAGE_MALFORMED for
    /// its length alone.
    #[test]
    fn sync_2_a_well_formed_message_decodes_up_to_max_message_bytes_exactly() {
        let (thread, log) = ids(2);
        let records = |body: usize| {
            Message::Records {
                thread: thread.clone(),
                log,
                counter: 1,
                envelopes: vec![Envelope {
                    body: vec![7; body],
                    event: Vec::new(),
                    header: Vec::new(),
                    record: Vec::new(),
                }],
            }
            .to_bytes()
        };
        // The body's length prefix is the same size for every length tried here.
        let mut body = MAX_MESSAGE_BYTES - 200;
        body += MAX_MESSAGE_BYTES - records(body).len();
        let at_limit = records(body);
        assert_eq!(at_limit.len(), MAX_MESSAGE_BYTES);
        assert!(Message::from_bytes(&at_limit).is_ok());
        let over = records(body + 1);
        assert_eq!(over.len(), MAX_MESSAGE_BYTES + 1);
        assert_eq!(
            Message::from_bytes(&over).map_err(|e| e.code),
            Err(ErrorCode::MessageMalformed)
        );
    }

    #[test]
    fn malformed_and_oversized_messages_are_message_malformed() {
        let mut oversized = vec![0u8; MAX_MESSAGE_BYTES + 1];
        oversized[0] = 0xa0;
        for bad in [&[][..], &[0xa0], &[0x01, 0x02], &oversized] {
            assert_eq!(
                Message::from_bytes(bad).map_err(|e| e.code),
                Err(ErrorCode::MessageMalformed)
            );
        }
    }
}
