//! Chapter 5, invites: RFC 9180, X25519 keys by hand, invites opened with the `hpke` crate.

use std::collections::BTreeMap;

use ipld_core::ipld::Ipld;
use serde_json::{Value, json};
use sha2::{Digest, Sha512};

use crate::acl::Doc;
use crate::cbor::{exact_map, get, is_canonical};
use crate::common::{LOG_ID_PREFIX, base32, base58, cases, hex_of, load, parse_tid, valid_peer};
use crate::keys::RFC8032;

type HpkeKem = hpke::kem::X25519HkdfSha256;

/// RFC 9180 Appendix A.2.1 (mode_base, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
/// ChaCha20Poly1305), sequence number 0, as published.
mod rfc9180_a21 {
    pub const INFO: &str = "4f6465206f6e2061204772656369616e2055726e";
    pub const SK_RM: &str = "8057991eef8f1f1af18f4a9491d16a1ce333f695d4db8e38da75975c4478e0fb";
    pub const ENC: &str = "1afa08d3dec047a643885163f1180476fa7ddb54c6a8029ea33f95796bf2ac4a";
    pub const AAD: &str = "436f756e742d30";
    pub const CT: &str = "1c5250d8034ec2b784ba2cfd69dbdb8af406cfe3ff938e131f0def8c8b60b4db21993c62ce81883d2dd1b51a28";
    pub const PT: &[u8] = b"Beauty is truth, truth beauty";
}

/// RFC 9180 single-shot open with the `hpke` crate; `None` for any failure.
fn hpke_open(sk: &[u8], enc: &[u8], info: &[u8], aad: &[u8], ct: &[u8]) -> Option<Vec<u8>> {
    use hpke::{Deserializable, Kem};
    let sk = <HpkeKem as Kem>::PrivateKey::from_bytes(sk).ok()?;
    let enc = <HpkeKem as Kem>::EncappedKey::from_bytes(enc).ok()?;
    hpke::single_shot_open::<hpke::aead::ChaCha20Poly1305, hpke::kdf::HkdfSha256, HpkeKem>(
        &hpke::OpModeR::Base,
        &sk,
        &enc,
        info,
        ct,
        aad,
    )
    .ok()
}

/// X25519 of the base point, by the `hpke` crate: the public key of a private key.
fn x25519_base(sk: &[u8; 32]) -> Vec<u8> {
    use hpke::{Deserializable, Kem, Serializable};
    let sk = <HpkeKem as Kem>::PrivateKey::from_bytes(sk).unwrap();
    <HpkeKem as Kem>::sk_to_pk(&sk).to_bytes().to_vec()
}

/// The recipient's X25519 private key: SHA-512(seed), first half, clamped (RFC 8032 §5.1.5,
/// RFC 7748 §5) [INV-2].
fn x25519_secret(seed: &[u8]) -> [u8; 32] {
    let mut sk: [u8; 32] = Sha512::digest(seed)[..32].try_into().unwrap();
    sk[0] &= 0xf8;
    sk[31] &= 0x7f;
    sk[31] |= 0x40;
    sk
}

/// Arithmetic modulo p = 2^255 - 19 on eight little-endian 32-bit limbs, written out by hand for
/// the birational map of RFC 7748 §4.1.
mod field {
    pub type Fe = [u32; 8];
    const P: Fe = [
        0xffff_ffed,
        0xffff_ffff,
        0xffff_ffff,
        0xffff_ffff,
        0xffff_ffff,
        0xffff_ffff,
        0xffff_ffff,
        0x7fff_ffff,
    ];

    fn at_least_p(a: &Fe) -> bool {
        for i in (0..8).rev() {
            if a[i] != P[i] {
                return a[i] > P[i];
            }
        }
        true
    }

    /// a - b limb by limb with borrows, for a >= b.
    fn limb_sub(a: &Fe, b: &Fe) -> Fe {
        let mut out = [0u32; 8];
        let mut borrow = 0i64;
        for i in 0..8 {
            let d = i64::from(a[i]) - i64::from(b[i]) - borrow;
            borrow = i64::from(d < 0);
            out[i] = d.rem_euclid(1 << 32) as u32;
        }
        out
    }

    /// Reduces a number given as limbs of any size (each a u128) modulo p; 2^256 = 38 (mod p).
    fn reduce(mut limbs: Vec<u128>) -> Fe {
        loop {
            let mut carry = 0u128;
            for limb in limbs.iter_mut() {
                let v = *limb + carry;
                *limb = v & 0xffff_ffff;
                carry = v >> 32;
            }
            while carry > 0 {
                limbs.push(carry & 0xffff_ffff);
                carry >>= 32;
            }
            if limbs.len() <= 8 {
                break;
            }
            let high = limbs.split_off(8);
            for (i, h) in high.into_iter().enumerate() {
                limbs[i % 8] += h * if i < 8 { 38 } else { 38 * 38 };
            }
        }
        let mut out = [0u32; 8];
        for (o, l) in out.iter_mut().zip(limbs) {
            *o = l as u32;
        }
        while at_least_p(&out) {
            out = limb_sub(&out, &P);
        }
        out
    }

    pub fn from_bytes(bytes: &[u8; 32]) -> Fe {
        reduce(
            bytes
                .chunks(4)
                .map(|c| u128::from(u32::from_le_bytes(c.try_into().unwrap())))
                .collect(),
        )
    }

    pub fn to_bytes(a: &Fe) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (chunk, limb) in out.chunks_mut(4).zip(a) {
            chunk.copy_from_slice(&limb.to_le_bytes());
        }
        out
    }

    pub fn one() -> Fe {
        [1, 0, 0, 0, 0, 0, 0, 0]
    }

    pub fn add(a: &Fe, b: &Fe) -> Fe {
        reduce(
            a.iter()
                .zip(b)
                .map(|(x, y)| u128::from(*x) + u128::from(*y))
                .collect(),
        )
    }

    /// a - b as a + (p - b); both reduced.
    pub fn sub(a: &Fe, b: &Fe) -> Fe {
        add(a, &limb_sub(&P, b))
    }

    pub fn mul(a: &Fe, b: &Fe) -> Fe {
        let mut wide = vec![0u128; 16];
        for i in 0..8 {
            for j in 0..8 {
                wide[i + j] += u128::from(a[i]) * u128::from(b[j]);
            }
        }
        reduce(wide)
    }

    /// a^(p - 2) = 1/a (Fermat).
    pub fn invert(a: &Fe) -> Fe {
        let mut e = P;
        e[0] -= 2;
        let mut result = one();
        for bit in (0..255).rev() {
            result = mul(&result, &result);
            if (e[bit / 32] >> (bit % 32)) & 1 == 1 {
                result = mul(&result, a);
            }
        }
        result
    }
}

/// The Montgomery u of an Ed25519 public key: u = (1 + y) / (1 - y) mod p (RFC 7748 §4.1).
fn montgomery_u(edwards: &[u8; 32]) -> [u8; 32] {
    let mut y = *edwards;
    y[31] &= 0x7f;
    let y = field::from_bytes(&y);
    let one = field::one();
    let u = field::mul(&field::add(&one, &y), &field::invert(&field::sub(&one, &y)));
    field::to_bytes(&u)
}

fn ed25519_public(seed: &[u8]) -> [u8; 32] {
    ed25519_dalek::SigningKey::from_bytes(seed.try_into().unwrap())
        .verifying_key()
        .to_bytes()
}

/// spec/invites.md 5.11 prints the X25519 key pair of RFC 8032 TEST 2's seed.
const SPEC_TEST2_X25519: (&str, &str) = (
    "25c704c594b88afc00a76b69d1ed2b984d7e22550f3ed0802d04fbcd07d38d47",
    "68bd9ed75882d52815a97585caf4790a7f6c6b3b7f821c5e259a24b02e502e51",
);

/// Opens an invite by [INV-6] and [INV-9] with raw decoding and crypto; the output the vectors
/// expect, or the first failing check's code.
fn open_invite(seed: &[u8], bytes: &[u8]) -> Result<Value, &'static str> {
    const MALFORMED: &str = "INVITE_MALFORMED";
    if bytes.len() > 1 << 20 {
        return Err(MALFORMED);
    }
    let keys = [
        "acl",
        "enc",
        "inviter",
        "keys",
        "logs",
        "recipient",
        "role",
        "sig",
        "thread",
    ];
    let mut map = exact_map(bytes, &keys).ok_or(MALFORMED)?;
    let field = |name: &str| match get(&map, name) {
        Some(Ipld::Bytes(b)) => Ok(b.clone()),
        _ => Err(MALFORMED),
    };
    let (enc, sealed, sig) = (field("enc")?, field("keys")?, field("sig")?);
    let (inviter, recipient, thread) = (field("inviter")?, field("recipient")?, field("thread")?);
    let Some(Ipld::String(role)) = get(&map, "role") else {
        return Err(MALFORMED);
    };
    let role = role.clone();
    let (variant, _) = parse_tid(&thread).map_err(|_| MALFORMED)?;
    let acl = match get(&map, "acl") {
        Some(Ipld::Null) => None,
        Some(Ipld::Bytes(b)) => Some(b.clone()),
        _ => return Err(MALFORMED),
    };
    let Some(Ipld::List(entries)) = get(&map, "logs") else {
        return Err(MALFORMED);
    };
    let mut logs = Vec::new();
    for entry in entries {
        let Ipld::Map(entry) = entry else {
            return Err(MALFORMED);
        };
        let (Some(Ipld::Bytes(log)), Some(Ipld::List(addrs)), 2) =
            (get(entry, "log"), get(entry, "addrs"), entry.len())
        else {
            return Err(MALFORMED);
        };
        if !valid_peer(log) {
            return Err(MALFORMED);
        }
        let suffix = format!("/ipel/{}", base58(log));
        let mut texts = Vec::new();
        for addr in addrs {
            match addr {
                Ipld::String(a) if a.ends_with(&suffix) && a.contains("/p2p/") => {
                    texts.push(a.clone())
                }
                _ => return Err(MALFORMED),
            }
        }
        logs.push((log.clone(), texts));
    }
    let sorted = logs.windows(2).all(|w| w[0].0 < w[1].0);
    if enc.len() != 32
        || sig.len() != 64
        || !["follower", "reader", "writer"].contains(&role.as_str())
        || !valid_peer(&inviter)
        || !valid_peer(&recipient)
        || !sorted
        || (variant == "raw") != acl.is_none()
    {
        return Err(MALFORMED);
    }
    // Step 2: the recipient.
    let me = [&LOG_ID_PREFIX[..], &ed25519_public(seed)].concat();
    if recipient != me {
        return Err("INVITE_WRONG_RECIPIENT");
    }
    // Step 3: the signature over the map without "sig".
    map.remove("sig");
    let message = [
        &b"threads/v1/invite-signature\0"[..],
        &serde_ipld_dagcbor::to_vec(&Ipld::Map(map)).unwrap(),
    ]
    .concat();
    let key = ed25519_dalek::VerifyingKey::from_bytes(inviter[6..].try_into().unwrap()).unwrap();
    let signature = ed25519_dalek::Signature::from_slice(&sig).unwrap();
    key.verify_strict(&message, &signature)
        .map_err(|_| "INVITE_SIGNATURE_INVALID")?;
    // Step 4: HPKE with the header as aad.
    let header = Ipld::Map(BTreeMap::from([
        ("inviter".to_string(), Ipld::Bytes(inviter.clone())),
        ("recipient".to_string(), Ipld::Bytes(recipient.clone())),
        ("role".to_string(), Ipld::String(role.clone())),
        ("thread".to_string(), Ipld::Bytes(thread.clone())),
    ]));
    let aad = serde_ipld_dagcbor::to_vec(&header).unwrap();
    let plaintext = hpke_open(
        &x25519_secret(seed),
        &enc,
        b"threads/v1/invite",
        &aad,
        &sealed,
    )
    .ok_or("INVITE_DECRYPT_FAILED")?;
    // Step 5: the key set.
    let key_set = exact_map(&plaintext, &["follow", "read"])
        .or_else(|| exact_map(&plaintext, &["follow"]))
        .ok_or("KEYSET_MALFORMED")?;
    let key_of = |name: &str| match get(&key_set, name) {
        None => Ok(None),
        Some(Ipld::Bytes(k)) if k.len() == 32 => Ok(Some(hex::encode(k))),
        Some(Ipld::Bytes(_)) => Err("KEY_BAD_LENGTH"),
        Some(_) => Err("KEYSET_MALFORMED"),
    };
    let (follow, read) = (key_of("follow")?.unwrap(), key_of("read")?);
    // Step 6: the role and the keys agree.
    if (role == "follower") == read.is_some() {
        return Err(MALFORMED);
    }
    // INV-9: the anchor, its document, and the role it grants.
    if let Some(anchor) = &acl {
        let bad = "ACL_MALFORMED";
        let anchor = exact_map(anchor, &["creator", "document", "genesis"]).ok_or(bad)?;
        let (Some(Ipld::Bytes(creator)), Some(Ipld::Bytes(document)), Some(Ipld::Link(genesis))) = (
            get(&anchor, "creator"),
            get(&anchor, "document"),
            get(&anchor, "genesis"),
        ) else {
            return Err(bad);
        };
        let supported = genesis.version() == cid::Version::V1
            && genesis.codec() == 0x71
            && genesis.hash().code() == 0x12
            && genesis.hash().digest().len() == 32;
        let node: Ipld = serde_ipld_dagcbor::from_slice(document).map_err(|_| bad)?;
        let doc = Doc::from_ipld(&node)
            .filter(|_| is_canonical(&node, document))
            .ok_or(bad)?;
        if !valid_peer(creator) || !supported || doc.id != format!("b{}", base32(&thread)) {
            return Err(bad);
        }
        let needed = match role.as_str() {
            "follower" => "follow",
            "reader" => "read",
            _ => "write",
        };
        if !doc.may(&base58(&me), needed) {
            return Err("ACL_DENIED");
        }
    }
    let logs: Vec<Value> = logs
        .iter()
        .map(|(log, addrs)| json!({"addrs": addrs, "log": base58(log)}))
        .collect();
    Ok(json!({
        "acl": acl.map(hex::encode),
        "followKey": follow,
        "inviter": base58(&inviter),
        "logs": logs,
        "readKey": read,
        "role": role,
        "thread": format!("b{}", base32(&thread)),
    }))
}

/// spec/invites.md 5.11: the worked example's invite, as printed.
const SPEC_INVITE: &str = "a96361636cf663656e635820729d6561d2f278f4d70a0410502f81249b75689a7b0dfeb4d489aed6d481e3626373696758406fc41e62877f66af63b0fb73c192fbd11af9f0d66b17450e031254d3ac724748e9969de6a7398811838b586f0eba7b631443bb1388574f4c7acd7d724230d504646b65797358614515c54be39fec88934382bfaa1633feb4f1856368fdb38fd18ccfabcfc3e2f01d1cea47ef016d7e12c79f8c0b6e2f1a181c4e6e30aae0dfdc4bfc27697eb22d7ef4cbe5c7af24a04e468e9193ecba948d08541e7e6fa64a485312a9019eb12d58646c6f677381a2636c6f675826002408011220d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a65616464727381788a2f6970342f3132372e302e302e312f7463702f343030362f7032702f313244334b6f6f57427467336161524d6a78776564683833614769556b7753784477555a6b7a754a63666171556d6f37523370712f6970656c2f313244334b6f6f57514b31776e65666f4c7263564862626e6635744c7a626f705564334b336246416f4a704137594a674c35705664726f6c65667265616465726674687265616458220155000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f67696e76697465725826002408011220d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a69726563697069656e7458260024080112203d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";

#[test]
fn invites_vectors_agree_with_rfc9180_hand_derived_keys_and_raw_crypto() {
    use rfc9180_a21 as a21;
    let (mut published, mut spec_key, mut spec_invite, mut opened) = (0, 0, 0, 0);
    for (op, inputs, case) in cases(&load("invites")) {
        let expected = &case["expected"];
        let valid = case["result"] == "valid";
        let id = &case["tcId"];
        match op.as_str() {
            "hpke.open" => {
                let got = hpke_open(
                    &hex_of(&inputs["skR"]),
                    &hex_of(&inputs["enc"]),
                    &hex_of(&inputs["info"]),
                    &hex_of(&inputs["aad"]),
                    &hex_of(&inputs["ct"]),
                );
                assert_eq!(got.is_some(), valid, "tcId {id}");
                if let Some(plaintext) = got {
                    assert_eq!(hex_of(&expected["plaintext"]), plaintext, "tcId {id}");
                }
                let is_a21 = [
                    ("skR", a21::SK_RM),
                    ("enc", a21::ENC),
                    ("info", a21::INFO),
                    ("aad", a21::AAD),
                    ("ct", a21::CT),
                ]
                .iter()
                .all(|(k, v)| inputs[*k] == *v);
                if is_a21 {
                    assert!(valid, "RFC 9180 A.2.1 must be a valid case");
                    assert_eq!(hex_of(&expected["plaintext"]), a21::PT);
                    published += 1;
                }
            }
            "invite.recipientKeys" => {
                let seed = hex_of(&inputs["seed"]);
                let secret = x25519_secret(&seed);
                let public = montgomery_u(&ed25519_public(&seed));
                assert_eq!(hex_of(&expected["x25519Secret"]), secret, "tcId {id}");
                assert_eq!(hex_of(&expected["x25519Public"]), public, "tcId {id}");
                assert_eq!(x25519_base(&secret), public, "tcId {id}: X25519(skR, 9)");
                if inputs["seed"] == RFC8032[1].0 {
                    assert_eq!(expected["x25519Public"], SPEC_TEST2_X25519.0);
                    assert_eq!(expected["x25519Secret"], SPEC_TEST2_X25519.1);
                    spec_key += 1;
                }
            }
            "invite.open" => {
                let got = open_invite(
                    &hex_of(&inputs["recipientSeed"]),
                    &hex_of(&inputs["invite"]),
                );
                match case["errorCode"].as_str() {
                    None => assert_eq!(got.as_ref(), Ok(expected), "tcId {id}"),
                    Some(code) => assert_eq!(got.err(), Some(code), "tcId {id}"),
                }
                if inputs["invite"] == SPEC_INVITE {
                    assert!(valid);
                    spec_invite += 1;
                }
                opened += usize::from(valid);
            }
            other => panic!("unexpected operation {other}"),
        }
    }
    assert_eq!((published, spec_key, spec_invite), (1, 1, 1));
    assert!(opened >= 10, "only {opened} valid invites");
}
