//! The three encryption layers (spec/records.md, [SEAL-1]..[SEAL-4]).
//!
//! Every layer is XChaCha20-Poly1305. Header and body take a fresh random 24-byte nonce; the record
//! layer takes a synthetic nonce derived from its key and content [SEAL-5]. The associated data names
//! the layer, the thread and the log, so a ciphertext cannot be moved to another layer, thread or
//! log even by someone who holds the key.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand_core::CryptoRng;
use sha2::Sha256;

use crate::error::{Error, ErrorCode, Result};
use crate::id::{LogId, ThreadId};
use crate::keys::KEY_LEN;

/// Nonce length of XChaCha20-Poly1305 [SEAL-1].
pub const NONCE_LEN: usize = 24;
/// Authentication tag length [SEAL-1].
pub const TAG_LEN: usize = 16;
/// Bytes a sealed layer adds to its plaintext: nonce and tag [SEAL-1].
pub const OVERHEAD: usize = NONCE_LEN + TAG_LEN;

/// One of the three encryption layers of an event [SEAL-3].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Layer {
    /// The record, sealed with the thread's follow key.
    Record,
    /// The header, sealed with the thread's read key.
    Header,
    /// The body, sealed with the event's content key.
    Body,
}

impl Layer {
    /// The ASCII label that goes into the associated data [SEAL-2].
    pub fn label(self) -> &'static str {
        match self {
            Layer::Record => "record",
            Layer::Header => "header",
            Layer::Body => "body",
        }
    }

    /// The error a failure to open this layer reports [SEAL-4].
    pub fn open_error(self) -> ErrorCode {
        match self {
            Layer::Record => ErrorCode::RecordDecryptFailed,
            Layer::Header => ErrorCode::HeaderDecryptFailed,
            Layer::Body => ErrorCode::BodyDecryptFailed,
        }
    }
}

/// `"threads/v1/" ‖ label ‖ 0x00 ‖ uvarint(len tid) ‖ tid ‖ uvarint(len log) ‖ log` [SEAL-2].
pub fn associated_data(layer: Layer, thread: &ThreadId, log: &LogId) -> Vec<u8> {
    let mut ad = Vec::with_capacity(96);
    ad.extend_from_slice(b"threads/v1/");
    ad.extend_from_slice(layer.label().as_bytes());
    ad.push(0);
    push_length_prefixed(&mut ad, thread.as_bytes());
    push_length_prefixed(&mut ad, &log.to_bytes());
    ad
}

fn push_length_prefixed(out: &mut Vec<u8>, bytes: &[u8]) {
    let mut buf = unsigned_varint::encode::usize_buffer();
    out.extend_from_slice(unsigned_varint::encode::usize(bytes.len(), &mut buf));
    out.extend_from_slice(bytes);
}

/// Seals `plaintext`: `nonce ‖ ciphertext ‖ tag` [SEAL-1].
pub fn seal(key: &[u8; KEY_LEN], ad: &[u8], plaintext: &[u8], rng: &mut impl CryptoRng) -> Vec<u8> {
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill_bytes(&mut nonce);
    seal_with_nonce(key, &nonce, ad, plaintext)
}

/// Seals with a given nonce; callers other than [`seal`] exist only to build test vectors.
pub fn seal_with_nonce(
    key: &[u8; KEY_LEN],
    nonce: &[u8; NONCE_LEN],
    ad: &[u8],
    plaintext: &[u8],
) -> Vec<u8> {
    let cipher = XChaCha20Poly1305::new(key.into());
    let ciphertext = cipher
        .encrypt(
            &XNonce::from(*nonce),
            Payload {
                msg: plaintext,
                aad: ad,
            },
        )
        .expect("XChaCha20-Poly1305 accepts any message below 256 GiB");
    let mut sealed = Vec::with_capacity(OVERHEAD + plaintext.len());
    sealed.extend_from_slice(nonce);
    sealed.extend_from_slice(&ciphertext);
    sealed
}

/// The record layer's synthetic nonce [SEAL-5]: the first 24 bytes of
/// `HMAC-SHA256(key, uvarint(len ad) ‖ ad ‖ plaintext)`.
///
/// Because the nonce is a function of the key and the record, a record has exactly one sealed form
/// and hence one CID. With random nonces anyone holding the follow key could re-seal a genuine
/// record under a new CID and make honest writers look like they forked.
pub fn synthetic_nonce(key: &[u8; KEY_LEN], ad: &[u8], plaintext: &[u8]) -> [u8; NONCE_LEN] {
    let mut mac = <Hmac<Sha256>>::new_from_slice(key).expect("HMAC takes keys of any length");
    let mut buf = unsigned_varint::encode::usize_buffer();
    mac.update(unsigned_varint::encode::usize(ad.len(), &mut buf));
    mac.update(ad);
    mac.update(plaintext);
    let tag = mac.finalize().into_bytes();
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&tag[..NONCE_LEN]);
    nonce
}

/// Seals the record layer with its synthetic nonce [SEAL-5].
pub fn seal_synthetic(key: &[u8; KEY_LEN], ad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    seal_with_nonce(key, &synthetic_nonce(key, ad, plaintext), ad, plaintext)
}

/// Opens the record layer and checks that its nonce is the synthetic one [SEAL-4], [SEAL-5].
pub fn open_synthetic(key: &[u8; KEY_LEN], ad: &[u8], sealed: &[u8]) -> Result<Vec<u8>> {
    let plaintext = open(Layer::Record, key, ad, sealed)?;
    if sealed[..NONCE_LEN] != synthetic_nonce(key, ad, &plaintext) {
        return Err(Error::new(
            ErrorCode::RecordNonceInvalid,
            "record layer was sealed with a nonce other than its synthetic nonce (re-sealed record)",
        ));
    }
    Ok(plaintext)
}

/// Opens a sealed layer; any failure is the layer's own error code [SEAL-4].
pub fn open(layer: Layer, key: &[u8; KEY_LEN], ad: &[u8], sealed: &[u8]) -> Result<Vec<u8>> {
    let fail = |why: &str| {
        Error::new(
            layer.open_error(),
            format!("{} layer: {why}", layer.label()),
        )
    };
    let Some((nonce, ciphertext)) = sealed.split_first_chunk::<NONCE_LEN>() else {
        return Err(fail("shorter than a nonce"));
    };
    if ciphertext.len() < TAG_LEN {
        return Err(fail("shorter than nonce and tag"));
    }
    XChaCha20Poly1305::new(key.into())
        .decrypt(
            &XNonce::from(*nonce),
            Payload {
                msg: ciphertext,
                aad: ad,
            },
        )
        .map_err(|_| fail("authentication failed (wrong key, tampered bytes or wrong thread/log)"))
}
