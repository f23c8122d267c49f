//! Keys (spec/keys.md §2): identity keys, the three symmetric keys and the key set.
//!
//! | role     | identity key | follow key | read key |
//! |----------|--------------|------------|----------|
//! | writer   | its own log  | yes        | yes      |
//! | reader   |              | yes        | yes      |
//! | follower |              | yes        |          |

use std::fmt;

use ed25519_dalek::{Signer, SigningKey};
use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};

use crate::block;
use crate::error::{Error, ErrorCode, Result};
use crate::id::LogId;

/// Length of every symmetric key [KEY-2].
pub const KEY_LEN: usize = 32;

/// A log's Ed25519 identity key; only the log's writer holds it [KEY-1].
#[derive(Clone)]
pub struct IdentityKey {
    signing: SigningKey,
}

impl IdentityKey {
    /// Draws a new identity key from `rng` [KEY-1].
    pub fn generate(rng: &mut impl CryptoRng) -> IdentityKey {
        IdentityKey {
            signing: SigningKey::generate(rng),
        }
    }

    /// The identity key with this 32-byte RFC 8032 seed [KEY-1].
    pub fn from_seed(seed: &[u8; 32]) -> IdentityKey {
        IdentityKey {
            signing: SigningKey::from_bytes(seed),
        }
    }

    /// The 32-byte seed; a writer persists it and never sends it [KEY-1].
    pub fn seed(&self) -> [u8; 32] {
        self.signing.to_bytes()
    }

    /// The log this key writes [LOGID-1].
    pub fn log_id(&self) -> LogId {
        // A key derived from a seed is never of small order (it is a multiple of the base point).
        LogId::from_public_key(self.signing.verifying_key())
            .expect("an RFC 8032 public key is never of small order")
    }

    /// Signs a record's signing input [SIG-1].
    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).to_bytes()
    }
}

impl fmt::Debug for IdentityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdentityKey({})", self.log_id())
    }
}

/// Defines a 32-byte symmetric key type that never prints its bytes.
macro_rules! symmetric_key {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name([u8; KEY_LEN]);

        impl $name {
            /// Draws a fresh key from `rng` [KEY-2].
            pub fn generate(rng: &mut impl CryptoRng) -> Self {
                let mut key = [0u8; KEY_LEN];
                rng.fill_bytes(&mut key);
                $name(key)
            }

            /// Takes a key from bytes, which must be exactly 32 [KEY-2].
            pub fn from_slice(bytes: &[u8]) -> Result<Self> {
                let key: [u8; KEY_LEN] = bytes.try_into().map_err(|_| {
                    Error::new(
                        ErrorCode::KeyBadLength,
                        format!(concat!(stringify!($name), " has {} bytes, expected 32"), bytes.len()),
                    )
                })?;
                Ok($name(key))
            }

            /// The key's bytes.
            pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
                &self.0
            }
        }

        impl From<[u8; KEY_LEN]> for $name {
            fn from(key: [u8; KEY_LEN]) -> Self {
                $name(key)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(…)"))
            }
        }
    };
}

symmetric_key! {
    /// The thread's follow key: opens the record layer, so followers can verify and serve [KEY-3], [SEAL-3].
    FollowKey
}
symmetric_key! {
    /// The thread's read key: opens the header layer, which carries each event's content key [KEY-3], [SEAL-3].
    ReadKey
}
symmetric_key! {
    /// A per-event content key: seals one event's body and nothing else [KEY-4], [SEAL-3].
    ContentKey
}

/// What a peer holds for a thread besides any identity key [KEY-6].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Holds the follow key only: verifies, stores and serves, cannot read.
    Follower,
    /// Holds the follow and read keys: can verify and read.
    Reader,
}

/// A thread's key set: the follow key and, for readers, the read key [KEY-5].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySet {
    /// The follow key every participant holds.
    pub follow: FollowKey,
    /// The read key, absent from a follower's key set [KEY-6].
    pub read: Option<ReadKey>,
}

/// Wire form of [`KeySet`]; fields in canonical DAG-CBOR order [KEY-5].
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeySetNode {
    #[serde(with = "serde_bytes")]
    follow: Vec<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "serde_bytes")]
    read: Option<Vec<u8>>,
}

impl KeySet {
    /// Draws a fresh follow key and read key for a new thread [KEY-3].
    pub fn generate(rng: &mut impl CryptoRng) -> KeySet {
        KeySet {
            follow: FollowKey::generate(rng),
            read: Some(ReadKey::generate(rng)),
        }
    }

    /// The key set for someone who may only follow: the read key removed [KEY-6].
    pub fn for_follower(&self) -> KeySet {
        KeySet {
            follow: self.follow.clone(),
            read: None,
        }
    }

    /// Which role this key set grants [KEY-6].
    pub fn role(&self) -> Role {
        match self.read {
            Some(_) => Role::Reader,
            None => Role::Follower,
        }
    }

    /// The read key, or KEY_UNAVAILABLE for a follower [KEY-7].
    pub fn read_key(&self) -> Result<&ReadKey> {
        self.read.as_ref().ok_or_else(|| {
            Error::new(
                ErrorCode::KeyUnavailable,
                "this peer only follows the thread and holds no read key",
            )
        })
    }

    /// The canonical DAG-CBOR encoding [KEY-5].
    pub fn to_bytes(&self) -> Vec<u8> {
        block::encode(&KeySetNode {
            follow: self.follow.as_bytes().to_vec(),
            read: self.read.as_ref().map(|k| k.as_bytes().to_vec()),
        })
    }

    /// Decodes a key set, rejecting non-canonical or ill-shaped input [KEY-5].
    pub fn from_bytes(bytes: &[u8]) -> Result<KeySet> {
        let node: KeySetNode = block::decode_canonical(bytes, ErrorCode::KeysetMalformed)?;
        Ok(KeySet {
            follow: FollowKey::from_slice(&node.follow)?,
            read: node.read.as_deref().map(ReadKey::from_slice).transpose()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    #[test]
    fn key_set_round_trips_and_follower_set_omits_read() {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let keys = KeySet::generate(&mut rng);
        assert_eq!(KeySet::from_bytes(&keys.to_bytes()), Ok(keys.clone()));
        let follower = keys.for_follower();
        assert_eq!(follower.role(), Role::Follower);
        assert_eq!(
            follower.read_key().map_err(|e| e.code),
            Err(ErrorCode::KeyUnavailable)
        );
        // The follower's encoding has one map entry, and no "read" key at all.
        let bytes = follower.to_bytes();
        assert_eq!(bytes[0], 0xa1);
        assert!(!bytes.windows(4).any(|w| w == b"read"));
    }

    #[test]
    fn wrong_key_lengths_are_rejected() {
        for len in [0, 16, 31, 33, 64] {
            let err = ReadKey::from_slice(&vec![0; len]).unwrap_err();
            assert_eq!(err.code, ErrorCode::KeyBadLength);
        }
        let short = block::encode(&KeySetNode {
            follow: vec![1; 31],
            read: None,
        });
        assert_eq!(
            KeySet::from_bytes(&short).map_err(|e| e.code),
            Err(ErrorCode::KeyBadLength)
        );
    }

    #[test]
    fn identity_key_matches_rfc8032_test_1() {
        // RFC 8032 §7.1 TEST 1: the seed 9d61b1…7f60 has public key d75a98…511a.
        let seed: [u8; 32] =
            hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
                .unwrap()
                .try_into()
                .unwrap();
        let key = IdentityKey::from_seed(&seed);
        assert_eq!(
            hex::encode(key.log_id().verifying_key().as_bytes()),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
        assert_eq!(key.seed(), seed);
    }
}
