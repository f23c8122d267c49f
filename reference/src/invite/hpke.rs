//! Sealing a key set to a recipient (spec/invites.md, chapter 5, [INV-2]): HPKE (RFC 9180) base
//! mode with DHKEM(X25519, HKDF-SHA256), HKDF-SHA256 and ChaCha20-Poly1305, to the recipient's
//! Ed25519 key mapped to X25519.

use std::convert::Infallible;

use ed25519_dalek::SigningKey;
use hpke::{Deserializable, OpModeR, OpModeS, Serializable};
use rand_core::{CryptoRng, TryCryptoRng, TryRng};

use crate::error::{Error, ErrorCode, Result};
use crate::id::LogId;
use crate::keys::{IdentityKey, KeySet};

/// The HPKE KEM: DHKEM(X25519, HKDF-SHA256), id 0x0020 [INV-2].
type Kem = hpke::kem::X25519HkdfSha256;
/// The HPKE KDF: HKDF-SHA256, id 0x0001 [INV-2].
type Kdf = hpke::kdf::HkdfSha256;
/// The HPKE AEAD: ChaCha20-Poly1305, id 0x0003 [INV-2].
type Aead = hpke::aead::ChaCha20Poly1305;

/// The HPKE `info` of every invite: ASCII `threads/v1/invite` [INV-2].
pub const HPKE_INFO: &[u8] = b"threads/v1/invite";
/// Length of `enc`, the HPKE encapsulated key (an X25519 public key) [INV-2].
pub const ENC_LEN: usize = 32;
/// Length of the HPKE `ikmE`, the randomness the ephemeral key is derived from [INV-2].
pub const IKM_LEN: usize = 32;

/// The recipient's X25519 public key: its Ed25519 key in Montgomery form (RFC 7748) [INV-2].
pub fn x25519_public_key(peer: &LogId) -> [u8; 32] {
    peer.verifying_key().to_montgomery().to_bytes()
}

/// The recipient's X25519 private key: the clamped first half of SHA-512(seed) [INV-2].
///
/// This is the scalar Ed25519 itself derives from the seed, so the Montgomery form of the
/// Ed25519 public key is its X25519 public key.
pub fn x25519_secret_key(identity: &IdentityKey) -> [u8; 32] {
    let mut scalar = SigningKey::from_bytes(&identity.seed()).to_scalar_bytes();
    // RFC 7748 §5 clamping; HPKE's DeserializePrivateKey clamps too, so this only makes the
    // exported bytes the ones the spec prints.
    scalar[0] &= 0xf8;
    scalar[31] &= 0x7f;
    scalar[31] |= 0x40;
    scalar
}

/// Seals a key set to `recipient` with fresh randomness from `rng` [INV-2].
///
/// Returns `(enc, ct ‖ tag)`. Draws exactly [`IKM_LEN`] bytes, the ephemeral key's `ikmE`.
pub fn seal_key_set(
    keys: &KeySet,
    recipient: &LogId,
    aad: &[u8],
    rng: &mut impl CryptoRng,
) -> Result<([u8; ENC_LEN], Vec<u8>)> {
    let mut ikm = [0u8; IKM_LEN];
    rng.fill_bytes(&mut ikm);
    seal_key_set_with_ikm(keys, recipient, aad, &ikm)
}

/// Seals a key set with the ephemeral key `DeriveKeyPair(ikm_e)` (RFC 9180 §7.1.3) [INV-2].
///
/// For vectors and the worked example, which fix `ikmE`; everyone else uses [`seal_key_set`].
pub fn seal_key_set_with_ikm(
    keys: &KeySet,
    recipient: &LogId,
    aad: &[u8],
    ikm_e: &[u8; IKM_LEN],
) -> Result<([u8; ENC_LEN], Vec<u8>)> {
    hpke_seal(
        &x25519_public_key(recipient),
        HPKE_INFO,
        aad,
        &keys.to_bytes(),
        ikm_e,
    )
}

/// Opens a sealed key set: INVITE_DECRYPT_FAILED, then KEYSET_MALFORMED or KEY_BAD_LENGTH
/// [INV-2], [KEY-5] (steps 4 and 5 of [INV-6]).
pub fn open_key_set(
    recipient: &IdentityKey,
    enc: &[u8; ENC_LEN],
    aad: &[u8],
    sealed: &[u8],
) -> Result<KeySet> {
    let plaintext = hpke_open(&x25519_secret_key(recipient), enc, HPKE_INFO, aad, sealed)?;
    KeySet::from_bytes(&plaintext)
}

/// RFC 9180 single-shot `Open` in base mode with this chapter's suite [INV-2].
///
/// `sk_r` is the recipient's serialized X25519 private key (clamped on use, as RFC 9180 §7.1.2
/// says), `ct` is ciphertext and tag. Any failure, including an `enc` that makes the shared
/// secret all-zero, is INVITE_DECRYPT_FAILED. Exposed so RFC 9180's own test vectors can be run
/// against the same code path invites use.
pub fn hpke_open(
    sk_r: &[u8; 32],
    enc: &[u8; ENC_LEN],
    info: &[u8],
    aad: &[u8],
    ct: &[u8],
) -> Result<Vec<u8>> {
    let failed =
        |e: hpke::HpkeError| Error::new(ErrorCode::InviteDecryptFailed, format!("HPKE: {e}"));
    let sk = <Kem as hpke::Kem>::PrivateKey::from_bytes(sk_r).map_err(failed)?;
    let enc = <Kem as hpke::Kem>::EncappedKey::from_bytes(enc).map_err(failed)?;
    hpke::single_shot_open::<Aead, Kdf, Kem>(&OpModeR::Base, &sk, &enc, info, ct, aad)
        .map_err(failed)
}

/// RFC 9180 single-shot `Seal` in base mode with this chapter's suite, the ephemeral key being
/// `DeriveKeyPair(ikm_e)` (RFC 9180 §7.1.3) [INV-2].
///
/// Returns `(enc, ct ‖ tag)`. Exposed so vectors can seal what no [`KeySet`] can hold (a
/// malformed key set, for KEYSET_MALFORMED and KEY_BAD_LENGTH inside an invite). Fails only for a
/// public key of small order, whose shared secret would be all zero (RFC 9180 §7.1.4): no valid
/// peer ID maps to one [LOGID-3], so it is reported as LOG_ID_INVALID.
pub fn hpke_seal(
    pk_r: &[u8; 32],
    info: &[u8],
    aad: &[u8],
    pt: &[u8],
    ikm_e: &[u8; IKM_LEN],
) -> Result<([u8; ENC_LEN], Vec<u8>)> {
    let small_order = |e: hpke::HpkeError| {
        Error::new(
            ErrorCode::LogIdInvalid,
            format!("HPKE seal: the recipient's X25519 key has small order ({e})"),
        )
    };
    let pk = <Kem as hpke::Kem>::PublicKey::from_bytes(pk_r).map_err(small_order)?;
    let mut rng = IkmRng::new(*ikm_e);
    let (enc, ct) = hpke::single_shot_seal_with_rng::<Aead, Kdf, Kem>(
        &OpModeS::Base,
        &pk,
        info,
        pt,
        aad,
        &mut rng,
    )
    .map_err(small_order)?;
    // Reproducibility rests on the library drawing ikmE and nothing else; a future version that
    // draws differently must fail loudly here rather than seal with zeros.
    if !rng.used_exactly_once() {
        return Err(Error::new(
            ErrorCode::Internal,
            "the HPKE library drew other randomness than ikmE",
        ));
    }
    let enc: [u8; ENC_LEN] = enc.to_bytes().into();
    Ok((enc, ct))
}

/// Hands the HPKE library the 32 bytes of `ikmE` and nothing else.
///
/// The library derives its ephemeral key as `DeriveKeyPair(32 random bytes)`; feeding it a fixed
/// `ikmE` makes sealing reproducible, which the vectors and RFC 9180's test vectors need. Any
/// other draw is recorded and turned into an error by [`hpke_seal`].
struct IkmRng {
    ikm: [u8; IKM_LEN],
    draws: usize,
    misused: bool,
}

impl IkmRng {
    fn new(ikm: [u8; IKM_LEN]) -> IkmRng {
        IkmRng {
            ikm,
            draws: 0,
            misused: false,
        }
    }

    fn used_exactly_once(&self) -> bool {
        self.draws == 1 && !self.misused
    }
}

impl TryRng for IkmRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        self.misused = true;
        Ok(0)
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        self.misused = true;
        Ok(0)
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        if self.draws == 0 && dst.len() == IKM_LEN {
            dst.copy_from_slice(&self.ikm);
        } else {
            dst.fill(0);
            self.misused = true;
        }
        self.draws += 1;
        Ok(())
    }
}

impl TryCryptoRng for IkmRng {}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    fn unhex(text: &str) -> Vec<u8> {
        hex::decode(text).expect("test hex is valid")
    }

    fn array<const N: usize>(text: &str) -> [u8; N] {
        unhex(text)
            .try_into()
            .expect("test hex has the right length")
    }

    // RFC 9180 Appendix A.2.1: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20Poly1305,
    // mode_base; the key pairs and the encryption of sequence number 0.
    const A21_INFO: &str = "4f6465206f6e2061204772656369616e2055726e";
    const A21_IKM_E: &str = "909a9b35d3dc4713a5e72a4da274b55d3d3821a37e5d099e74a647db583a904b";
    const A21_PK_RM: &str = "4310ee97d88cc1f088a5576c77ab0cf5c3ac797f3d95139c6c84b5429c59662a";
    const A21_SK_RM: &str = "8057991eef8f1f1af18f4a9491d16a1ce333f695d4db8e38da75975c4478e0fb";
    const A21_ENC: &str = "1afa08d3dec047a643885163f1180476fa7ddb54c6a8029ea33f95796bf2ac4a";
    const A21_PT: &str = "4265617574792069732074727574682c20747275746820626561757479";
    const A21_AAD: &str = "436f756e742d30";
    const A21_CT: &str = "1c5250d8034ec2b784ba2cfd69dbdb8af406cfe3ff938e131f0def8c8b60b4db21993c62ce81883d2dd1b51a28";

    #[test]
    fn opens_rfc9180_a_2_1_sequence_0() {
        let pt = hpke_open(
            &array(A21_SK_RM),
            &array(A21_ENC),
            &unhex(A21_INFO),
            &unhex(A21_AAD),
            &unhex(A21_CT),
        );
        assert_eq!(pt, Ok(unhex(A21_PT)));
    }

    #[test]
    fn seals_rfc9180_a_2_1_sequence_0_from_ikm_e() {
        // The same ikmE must give the published enc and ciphertext: this pins down that the
        // ephemeral key is DeriveKeyPair(ikmE), as INV-2 says.
        let (enc, ct) = hpke_seal(
            &array(A21_PK_RM),
            &unhex(A21_INFO),
            &unhex(A21_AAD),
            &unhex(A21_PT),
            &array(A21_IKM_E),
        )
        .expect("A.2.1 seals");
        assert_eq!(hex::encode(enc), A21_ENC);
        assert_eq!(hex::encode(ct), A21_CT);
    }

    #[test]
    fn rfc9180_a_2_1_rejects_any_change() {
        let (sk, enc) = (array(A21_SK_RM), array(A21_ENC));
        let (info, aad, ct) = (unhex(A21_INFO), unhex(A21_AAD), unhex(A21_CT));
        let code = |r: Result<Vec<u8>>| r.map_err(|e| e.code);
        let failed = Err(ErrorCode::InviteDecryptFailed);
        assert_eq!(code(hpke_open(&sk, &enc, b"other info", &aad, &ct)), failed);
        assert_eq!(code(hpke_open(&sk, &enc, &info, b"Count-1", &ct)), failed);
        assert_eq!(code(hpke_open(&sk, &enc, &info, &aad, &ct[1..])), failed);
        assert_eq!(code(hpke_open(&sk, &enc, &info, &aad, &ct[..15])), failed);
        assert_eq!(code(hpke_open(&sk, &[9; 32], &info, &aad, &ct)), failed);
        // The all-zero u-coordinate has small order: the shared secret would be all zero.
        assert_eq!(code(hpke_open(&sk, &[0; 32], &info, &aad, &ct)), failed);
        // Long info strings are hashed by this suite and must neither panic nor open.
        assert_eq!(code(hpke_open(&sk, &enc, &[7; 70_000], &aad, &ct)), failed);
    }

    #[test]
    fn sealing_to_a_small_order_key_is_refused() {
        let sealed = hpke_seal(&[0; 32], HPKE_INFO, b"", b"pt", &[1; IKM_LEN]);
        assert_eq!(sealed.map_err(|e| e.code), Err(ErrorCode::LogIdInvalid));
    }

    #[test]
    fn suite_is_the_one_inv_2_names() {
        assert_eq!(<Kem as hpke::Kem>::KEM_ID, 0x0020);
        assert_eq!(<Kdf as hpke::kdf::Kdf>::KDF_ID, 0x0001);
        assert_eq!(<Aead as hpke::aead::Aead>::AEAD_ID, 0x0003);
    }

    #[test]
    fn x25519_keys_of_an_identity_form_a_pair() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        for _ in 0..8 {
            let identity = IdentityKey::generate(&mut rng);
            let sk = <Kem as hpke::Kem>::PrivateKey::from_bytes(&x25519_secret_key(&identity))
                .expect("32 bytes");
            let pk: [u8; 32] = <Kem as hpke::Kem>::sk_to_pk(&sk).to_bytes().into();
            assert_eq!(pk, x25519_public_key(&identity.log_id()));
        }
    }

    #[test]
    fn ikm_rng_reports_any_other_draw() {
        let mut rng = IkmRng::new([1; IKM_LEN]);
        let mut buf = [0u8; IKM_LEN];
        rng.try_fill_bytes(&mut buf).ok();
        assert_eq!(buf, [1; IKM_LEN]);
        assert!(rng.used_exactly_once());
        rng.try_fill_bytes(&mut buf).ok();
        assert_eq!(buf, [0; IKM_LEN]);
        assert!(!rng.used_exactly_once());
        let mut short = IkmRng::new([1; IKM_LEN]);
        short.try_next_u64().ok();
        assert!(!short.used_exactly_once());
        // A word drawn besides ikmE is a misuse too: the seal would not be the reproducible one.
        let mut word = IkmRng::new([1; IKM_LEN]);
        word.try_fill_bytes(&mut buf).ok();
        word.try_next_u32().ok();
        assert!(!word.used_exactly_once(), "a u32 drawn besides ikmE");
        let mut long = IkmRng::new([1; IKM_LEN]);
        long.try_fill_bytes(&mut buf).ok();
        long.try_next_u64().ok();
        assert!(!long.used_exactly_once(), "a u64 drawn besides ikmE");
    }
}
