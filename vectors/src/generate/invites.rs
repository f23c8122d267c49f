//! Suite `invites`: HPKE as invites use it (with RFC 9180's own example), the recipient's X25519
//! keys, and opening invites check by check (spec chapter 5, and the ACL checks of [INV-9]).

use ed25519_dalek::{Signer, SigningKey};
use rand_chacha::ChaCha20Rng;
use rand_core::Rng;
use serde_json::{Value, json};
use threads::ErrorCode as E;
use threads::acl::{
    Acl, AclAnchor, AclChange, AclDocument, AclEvent, AclEventRef, AclOp, Genesis, Role, Roles,
};
use threads::id::{LOG_ID_PREFIX, LogId, ThreadId, Variant};
use threads::invite::{
    self, HPKE_INFO, IKM_LEN, Invite, InviteRole, InviteTerms, LogEntry, MAX_INVITE_SIZE,
    SIGNATURE_CONTEXT,
};
use threads::keys::{IdentityKey, KeySet};
use threads::record::Position;

use super::forge::{Writer, add_group_order, after};
use super::keys::RFC8032_SEEDS;
use super::records::TIME;
use super::{Intent, SuiteBuilder, random_seed};
use crate::format::SuiteFile;
use threads_fixtures::cbor;

/// RFC 9180 Appendix A.2.1: mode_base, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
/// ChaCha20Poly1305; the encryption of sequence number 0.
pub mod rfc9180 {
    /// info: "Ode on a Grecian Urn".
    pub const INFO: &str = "4f6465206f6e2061204772656369616e2055726e";
    /// The recipient's serialized private key.
    pub const SK_RM: &str = "8057991eef8f1f1af18f4a9491d16a1ce333f695d4db8e38da75975c4478e0fb";
    /// The encapsulated key.
    pub const ENC: &str = "1afa08d3dec047a643885163f1180476fa7ddb54c6a8029ea33f95796bf2ac4a";
    /// aad: "Count-0".
    pub const AAD: &str = "436f756e742d30";
    /// The ciphertext and tag.
    pub const CT: &str = "1c5250d8034ec2b784ba2cfd69dbdb8af406cfe3ff938e131f0def8c8b60b4db21993c62ce81883d2dd1b51a28";
    /// pt: "Beauty is truth, truth beauty".
    pub const PT: &str = "4265617574792069732074727574682c20747275746820626561757479";
}

/// spec/invites.md 5.11: the worked example, an invite to read a raw thread, computed
/// independently of the reference (Python and OpenSSL).
mod worked_example {
    /// The recipient's seed: RFC 8032 §7.1 TEST 2.
    pub const RECIPIENT_SEED: &str =
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb";
    /// The invite, 569 bytes.
    pub const INVITE: &str = "a96361636cf663656e635820729d6561d2f278f4d70a0410502f81249b75689a7b0dfeb4d489aed6d481e3626373696758406fc41e62877f66af63b0fb73c192fbd11af9f0d66b17450e031254d3ac724748e9969de6a7398811838b586f0eba7b631443bb1388574f4c7acd7d724230d504646b65797358614515c54be39fec88934382bfaa1633feb4f1856368fdb38fd18ccfabcfc3e2f01d1cea47ef016d7e12c79f8c0b6e2f1a181c4e6e30aae0dfdc4bfc27697eb22d7ef4cbe5c7af24a04e468e9193ecba948d08541e7e6fa64a485312a9019eb12d58646c6f677381a2636c6f675826002408011220d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a65616464727381788a2f6970342f3132372e302e302e312f7463702f343030362f7032702f313244334b6f6f57427467336161524d6a78776564683833614769556b7753784477555a6b7a754a63666171556d6f37523370712f6970656c2f313244334b6f6f57514b31776e65666f4c7263564862626e6635744c7a626f705564334b336246416f4a704137594a674c35705664726f6c65667265616465726674687265616458220155000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f67696e76697465725826002408011220d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a69726563697069656e7458260024080112203d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";
}

type Result<T> = std::result::Result<T, String>;

/// An invalid invite case: section, flags, comment, the invite's bytes and the error it must give.
type InviteCase<'a> = (&'a str, &'a [&'a str], &'a str, Vec<u8>, E);

fn err(error: threads::Error) -> String {
    error.to_string()
}

struct World {
    raw: ThreadId,
    /// An access-controlled thread whose creator is the inviter.
    ac: ThreadId,
    inviter: IdentityKey,
    recipient: IdentityKey,
    bystander: IdentityKey,
    keys: KeySet,
}

fn world(rng: &mut ChaCha20Rng) -> World {
    let inviter = IdentityKey::from_seed(&random_seed(rng));
    let recipient = IdentityKey::from_seed(&random_seed(rng));
    let bystander = IdentityKey::from_seed(&random_seed(rng));
    World {
        raw: ThreadId::generate(Variant::Raw, rng),
        ac: ThreadId::generate(Variant::AccessControlled, rng),
        inviter,
        recipient,
        bystander,
        keys: KeySet::generate(rng),
    }
}

/// A log address: `log` served by `peer` [ADDR-1].
fn address(peer: &LogId, log: &LogId) -> String {
    format!("/ip4/127.0.0.1/tcp/4006/p2p/{peer}/ipel/{log}")
}

impl World {
    /// The logs an inviter lists: its own, served by the bystander's peer, and the bystander's.
    fn logs(&self) -> Vec<LogEntry> {
        let (mine, other) = (self.inviter.log_id(), self.bystander.log_id());
        vec![
            LogEntry {
                log: mine,
                addrs: vec![address(&other, &mine)],
            },
            LogEntry {
                log: other,
                addrs: vec![],
            },
        ]
    }

    fn terms(&self, thread: &ThreadId, role: InviteRole, acl: Option<Vec<u8>>) -> InviteTerms {
        InviteTerms {
            thread: thread.clone(),
            role,
            recipient: self.recipient.log_id(),
            logs: self.logs(),
            acl,
        }
    }

    fn create(&self, terms: InviteTerms, rng: &mut ChaCha20Rng) -> Result<Invite> {
        Invite::create(&self.inviter, terms, &self.keys, rng).map_err(err)
    }

    fn raw_invite(&self, role: InviteRole, rng: &mut ChaCha20Rng) -> Result<Invite> {
        self.create(self.terms(&self.raw, role, None), rng)
    }

    /// The ACL of the access-controlled thread: a genesis by the inviter holding `document`, then
    /// `changes` by the inviter at clocks 1, 2, …, each a real record of the inviter's log.
    fn anchor(
        &self,
        document: AclDocument,
        changes: &[AclOp],
        rng: &mut ChaCha20Rng,
    ) -> Result<AclAnchor> {
        let writer = Writer {
            thread: self.ac.clone(),
            identity: self.inviter.clone(),
            keys: self.keys.clone(),
        };
        let author = self.inviter.log_id();
        let body = AclEvent::Genesis { acl: document };
        let mut prev = writer.envelope(Position::FIRST, &body.to_bytes(), TIME, rng);
        let event = AclEventRef {
            author,
            seq: 1,
            cid: prev.record_cid(),
            body,
        };
        let genesis = Genesis::new(&self.ac, &event).map_err(err)?;
        let mut events = Vec::new();
        for (clock, op) in (1u64..).zip(changes) {
            let body = AclEvent::Change(AclChange::new(clock, op.clone()).map_err(err)?);
            let seq = clock + 1;
            let envelope = writer.envelope(after(&prev, clock), &body.to_bytes(), TIME + seq, rng);
            events.push(AclEventRef {
                author,
                seq,
                cid: envelope.record_cid(),
                body,
            });
            prev = envelope;
        }
        Ok(AclAnchor::of(&Acl::from_events(genesis, events)))
    }

    /// The usual genesis document of the access-controlled thread, with the recipient's entry.
    fn document(&self, recipient: Roles) -> AclDocument {
        AclDocument::for_thread(&self.ac, self.inviter.log_id())
            .with_peer(self.recipient.log_id(), recipient)
    }

    fn ac_invite(
        &self,
        role: InviteRole,
        anchor: &AclAnchor,
        rng: &mut ChaCha20Rng,
    ) -> Result<Invite> {
        self.create(self.terms(&self.ac, role, Some(anchor.to_bytes())), rng)
    }

    /// The invite with its key set replaced by `plaintext` sealed to `pk` under `aad` and `info`,
    /// re-signed by the inviter so that only the sealed keys are wrong.
    fn resealed(
        &self,
        invite: &Invite,
        seal: Seal,
        plaintext: &[u8],
        rng: &mut ChaCha20Rng,
    ) -> Result<Invite> {
        let pk = seal
            .pk
            .unwrap_or_else(|| invite::x25519_public_key(&invite.recipient));
        let aad = seal.aad.unwrap_or_else(|| invite.header());
        let mut ikm = [0u8; IKM_LEN];
        rng.fill_bytes(&mut ikm);
        let (enc, sealed) =
            invite::hpke_seal(&pk, seal.info.unwrap_or(HPKE_INFO), &aad, plaintext, &ikm)
                .map_err(err)?;
        let mut changed = invite.clone();
        changed.enc = enc;
        changed.sealed_keys = sealed;
        changed.sign_with(&self.inviter);
        Ok(changed)
    }
}

/// How [`World::resealed`] seals; `None` is what an honest inviter uses.
#[derive(Default)]
struct Seal<'a> {
    pk: Option<[u8; 32]>,
    aad: Option<Vec<u8>>,
    info: Option<&'a [u8]>,
}

/// An invite's fields other than `sig`, each already CBOR-encoded, for crafting invites the
/// reference's encoder would never write.
type Fields = Vec<(String, Vec<u8>)>;

/// DAG-CBOR map order: shorter keys first, then bytewise.
fn canonical(mut fields: Fields) -> Fields {
    fields.sort_by(|(a, _), (b, _)| (a.len(), a.as_bytes()).cmp(&(b.len(), b.as_bytes())));
    fields
}

fn encode_map(fields: &Fields) -> Vec<u8> {
    let entries: Vec<(&str, Vec<u8>)> = fields
        .iter()
        .map(|(key, value)| (key.as_str(), value.clone()))
        .collect();
    cbor::map(&entries)
}

/// A CBOR array of already encoded items.
pub(super) fn array(items: &[Vec<u8>]) -> Vec<u8> {
    [cbor::head(4, items.len() as u64), items.concat()].concat()
}

fn log_entry_cbor(log: &[u8], addrs: &[String]) -> Vec<u8> {
    let addrs: Vec<Vec<u8>> = addrs.iter().map(|a| cbor::text(a)).collect();
    cbor::map(&[("log", cbor::bytes(log)), ("addrs", array(&addrs))])
}

fn unsigned_fields(invite: &Invite) -> Fields {
    let logs: Vec<Vec<u8>> = invite
        .logs
        .iter()
        .map(|entry| log_entry_cbor(&entry.log.to_bytes(), &entry.addrs))
        .collect();
    let field = |name: &str, value: Vec<u8>| (name.to_string(), value);
    canonical(vec![
        field(
            "acl",
            invite.acl.as_deref().map_or(vec![cbor::NULL], cbor::bytes),
        ),
        field("enc", cbor::bytes(&invite.enc)),
        field("keys", cbor::bytes(&invite.sealed_keys)),
        field("logs", array(&logs)),
        field("role", cbor::text(invite.role.name())),
        field("thread", cbor::bytes(invite.thread.as_bytes())),
        field("inviter", cbor::bytes(&invite.inviter.to_bytes())),
        field("recipient", cbor::bytes(&invite.recipient.to_bytes())),
    ])
}

fn set(mut fields: Fields, name: &str, value: Vec<u8>) -> Fields {
    match fields.iter_mut().find(|(key, _)| key == name) {
        Some(field) => field.1 = value,
        None => fields.push((name.to_string(), value)),
    }
    canonical(fields)
}

fn remove(mut fields: Fields, name: &str) -> Fields {
    fields.retain(|(key, _)| key != name);
    fields
}

/// The fields signed by `signer` over exactly their own map [INV-5], with `sig` added; the
/// entries in canonical order.
fn signed_fields(fields: Fields, signer: &IdentityKey) -> Fields {
    let fields = canonical(fields);
    let message = [SIGNATURE_CONTEXT, &encode_map(&fields)].concat();
    let sig = SigningKey::from_bytes(&signer.seed())
        .sign(&message)
        .to_bytes();
    set(fields, "sig", cbor::bytes(&sig))
}

fn signed(fields: Fields, signer: &IdentityKey) -> Vec<u8> {
    encode_map(&signed_fields(fields, signer))
}

/// An invite of exactly `target` bytes: the valid `base` with addresses added to its first log.
fn sized(w: &World, base: &Invite, target: usize) -> Result<Vec<u8>> {
    let mut invite = base.clone();
    let (peer, log) = (w.bystander.log_id(), invite.logs[0].log);
    let standard = address(&peer, &log);
    loop {
        let deficit = target
            .checked_sub(invite.to_bytes().len())
            .ok_or("the filler overshot")?;
        if (150..=250).contains(&deficit) {
            break;
        }
        if deficit < 150 {
            return Err("the filler overshot".into());
        }
        let n = ((deficit - 200) / (standard.len() + 2)).max(1);
        invite.logs[0]
            .addrs
            .extend(std::iter::repeat_n(standard.clone(), n));
    }
    // One last address whose DNS name makes up the difference exactly: within a text's two-byte
    // head (24 to 255 bytes), each byte of padding adds one byte to the invite.
    let last_address = |pad: usize| {
        format!(
            "/dns4/{}.example/tcp/4006/p2p/{peer}/ipel/{log}",
            "a".repeat(pad)
        )
    };
    invite.logs[0].addrs.push(last_address(1));
    let short = invite.to_bytes().len();
    let pad = (target + 1)
        .checked_sub(short)
        .ok_or("the filler overshot")?;
    let end = invite.logs[0].addrs.len() - 1;
    invite.logs[0].addrs[end] = last_address(pad);
    invite.sign_with(&w.inviter);
    let bytes = invite.to_bytes();
    if bytes.len() != target {
        return Err(format!(
            "the filler made {} bytes, not {target}",
            bytes.len()
        ));
    }
    Ok(bytes)
}

/// Generates the `invites` suite.
pub fn generate() -> Result<SuiteFile> {
    let mut s = SuiteBuilder::new(
        "invites",
        &[
            "HPKE as invites use it (RFC 9180 base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,",
            "ChaCha20Poly1305), the X25519 keys of a peer, and opening invites: every check of INV-6",
            "in its order, then the ACL checks of INV-9 (spec/invites.md). An invalid invite breaks",
            "one rule and is otherwise valid, re-signed by the inviter unless the signature is the",
            "point. Bytes are lower-case hex; IDs are in their text forms.",
        ],
    );
    notes(&mut s);
    let w = world(&mut s.rng("world"));
    let mut rng = s.rng("hpke-open");
    hpke_open(&mut s, &w, &mut rng)?;
    let mut rng = s.rng("recipient-keys");
    recipient_keys(&mut s, &mut rng);
    let mut rng = s.rng("open-valid");
    open_valid(&mut s, &w, &mut rng)?;
    let mut rng = s.rng("open-malformed");
    open_malformed(&mut s, &w, &mut rng)?;
    let mut rng = s.rng("open-steps");
    open_steps(&mut s, &w, &mut rng)?;
    let mut rng = s.rng("open-acl");
    open_acl(&mut s, &w, &mut rng)?;
    s.finish()
}

fn hex_of(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

fn hpke_open(s: &mut SuiteBuilder, w: &World, rng: &mut ChaCha20Rng) -> Result<()> {
    use rfc9180 as r;
    let published =
        json!({"skR": r::SK_RM, "enc": r::ENC, "info": r::INFO, "aad": r::AAD, "ct": r::CT});
    let opened = crate::ops::execute("hpke.open", published.as_object().ok_or("an object")?)
        .map_err(|f| f.error.to_string())?;
    if opened["plaintext"] != r::PT {
        return Err("RFC 9180 A.2.1 does not open to its published plaintext".into());
    }
    s.group("HpkeOpen", "hpke.open", published);
    s.case(
        "INV-2",
        &["PUBLISHED"],
        "RFC 9180 A.2.1 (mode_base, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20Poly1305), sequence number 0",
        json!({}),
        Intent::Valid,
    );
    let mut tampered = hex::decode(r::CT).map_err(|e| e.to_string())?;
    let last = tampered.len() - 1;
    tampered[last] ^= 0x01;
    let failed = Intent::Invalid(E::InviteDecryptFailed);
    let cases: Vec<(&[&str], &str, Value)> = vec![
        (
            &["TAMPERED"],
            "A.2.1 with the tag's last bit flipped",
            json!({"ct": hex_of(&tampered)}),
        ),
        (
            &["WRONG_AAD"],
            "A.2.1 opened with aad \"Count-1\"",
            json!({"aad": hex_of(b"Count-1")}),
        ),
        (
            &["WRONG_INFO"],
            "A.2.1 opened with the invites' info instead of its own",
            json!({"info": hex_of(HPKE_INFO)}),
        ),
        (
            &["TRUNCATED"],
            "A.2.1's ciphertext cut to 15 bytes: shorter than a tag",
            json!({"ct": &r::CT[..30]}),
        ),
        (
            &["SMALL_ORDER_ENC"],
            "an all-zero enc: the shared secret would be all zero",
            json!({"enc": hex_of(&[0; 32])}),
        ),
        (
            &["TRUNCATED"],
            "an enc of 31 bytes is no X25519 public key",
            json!({"enc": &r::ENC[..62]}),
        ),
    ];
    for (flags, comment, input) in cases {
        s.case("INV-2", flags, comment, input, failed);
    }
    // A key set sealed the way invites seal it.
    let invite = w.raw_invite(InviteRole::Reader, rng)?;
    let sealed = json!({
        "skR": hex_of(&invite::x25519_secret_key(&w.recipient)),
        "enc": hex_of(&invite.enc),
        "info": hex_of(HPKE_INFO),
        "aad": hex_of(&invite.header()),
        "ct": hex_of(&invite.sealed_keys),
    });
    s.case(
        "INV-2",
        &["NORMAL"],
        "a reader invite's sealed key set: info \"threads/v1/invite\", aad the invite's header",
        sealed.clone(),
        Intent::Valid,
    );
    let mut lifted = sealed.clone();
    lifted["aad"] = hex_of(&invite::header_bytes(
        &invite.thread,
        InviteRole::Writer,
        &invite.inviter,
        &invite.recipient,
    ))
    .into();
    s.case(
        "INV-2",
        &["LIFTED_KEYS"],
        "the same key set opened under the header of a writer invite",
        lifted,
        failed,
    );
    let mut wrong_key = sealed;
    wrong_key["skR"] = hex_of(&invite::x25519_secret_key(&w.bystander)).into();
    s.case(
        "INV-2",
        &["WRONG_RECIPIENT_KEY"],
        "the same key set opened with another peer's X25519 key",
        wrong_key,
        failed,
    );
    Ok(())
}

fn recipient_keys(s: &mut SuiteBuilder, rng: &mut ChaCha20Rng) {
    s.group("InviteRecipientKeys", "invite.recipientKeys", json!({}));
    for (i, seed) in RFC8032_SEEDS.iter().enumerate() {
        let comment = format!(
            "RFC 8032 §7.1 TEST {}: the clamped half of SHA-512(seed), the Montgomery form of its public key",
            i + 1
        );
        s.case(
            "INV-2",
            &["RFC8032"],
            &comment,
            json!({"seed": seed}),
            Intent::Valid,
        );
    }
    for _ in 0..2 {
        s.case(
            "INV-2",
            &["NORMAL"],
            "a seed drawn from the suite's seeded RNG",
            json!({"seed": hex_of(&random_seed(rng))}),
            Intent::Valid,
        );
    }
}

fn invite_input(bytes: &[u8]) -> Value {
    json!({"invite": hex_of(bytes)})
}

fn open_valid(s: &mut SuiteBuilder, w: &World, rng: &mut ChaCha20Rng) -> Result<()> {
    s.group(
        "InviteOpen",
        "invite.open",
        json!({"recipientSeed": hex_of(&w.recipient.seed())}),
    );
    for (role, comment) in [
        (
            InviteRole::Reader,
            "a reader invite in a raw thread: the follow and read keys",
        ),
        (
            InviteRole::Follower,
            "a follower invite in a raw thread: the follow key only",
        ),
        (
            InviteRole::Writer,
            "a writer invite in a raw thread: the follow and read keys",
        ),
    ] {
        let invite = w.raw_invite(role, rng)?;
        if signed(unsigned_fields(&invite), &w.inviter) != invite.to_bytes() {
            return Err("the crafting helpers do not re-encode a valid invite exactly".into());
        }
        s.case(
            "INV-1",
            &["NORMAL"],
            comment,
            invite_input(&invite.to_bytes()),
            Intent::Valid,
        );
    }
    let grant = w.anchor(w.document(Roles::of(Role::Write)), &[], rng)?;
    for (role, comment) in [
        (
            InviteRole::Follower,
            "a follower invite in an access-controlled thread whose ACL grants the recipient write",
        ),
        (
            InviteRole::Reader,
            "a reader invite in an access-controlled thread whose ACL grants the recipient write",
        ),
        (
            InviteRole::Writer,
            "a writer invite in an access-controlled thread whose ACL grants the recipient write",
        ),
    ] {
        let invite = w.ac_invite(role, &grant, rng)?;
        s.case(
            "INV-9",
            &["NORMAL"],
            comment,
            invite_input(&invite.to_bytes()),
            Intent::Valid,
        );
    }
    let by_default = w.anchor(
        AclDocument::for_thread(&w.ac, w.inviter.log_id()).with_default(Role::Follow),
        &[],
        rng,
    )?;
    let invite = w.ac_invite(InviteRole::Follower, &by_default, rng)?;
    s.case(
        "ACL-2",
        &["NORMAL"],
        "a follower invite to a peer without an entry, whose default role is follow",
        invite_input(&invite.to_bytes()),
        Intent::Valid,
    );
    let delete_only = w.anchor(
        w.document(Roles::NONE.with_delete())
            .with_default(Role::Read),
        &[],
        rng,
    )?;
    let invite = w.ac_invite(InviteRole::Reader, &delete_only, rng)?;
    s.case(
        "ACL-10",
        &["NORMAL"],
        "a reader invite to a peer whose entry lists only delete: its role is the default, read",
        invite_input(&invite.to_bytes()),
        Intent::Valid,
    );
    let mut terms = w.terms(&w.raw, InviteRole::Reader, None);
    terms.logs.clear();
    let invite = w.create(terms, rng)?;
    s.case(
        "INV-3",
        &["NORMAL"],
        "an invite listing no logs",
        invite_input(&invite.to_bytes()),
        Intent::Valid,
    );
    let bytes = sized(w, &w.raw_invite(InviteRole::Reader, rng)?, MAX_INVITE_SIZE)?;
    s.case(
        "INV-3",
        &["BOUNDARY"],
        "an invite of exactly 1 MiB (many addresses) is allowed",
        invite_input(&bytes),
        Intent::Valid,
    );
    s.case(
        "INV-6",
        &["WORKED_EXAMPLE"],
        "the worked example of spec/invites.md 5.11: a reader invite from RFC 8032 TEST 1 to TEST 2",
        json!({"recipientSeed": worked_example::RECIPIENT_SEED, "invite": worked_example::INVITE}),
        Intent::Valid,
    );
    Ok(())
}

fn open_malformed(s: &mut SuiteBuilder, w: &World, rng: &mut ChaCha20Rng) -> Result<()> {
    let base = w.raw_invite(InviteRole::Reader, rng)?;
    let valid = base.to_bytes();
    let fields = unsigned_fields(&base);
    let inviter = &w.inviter;
    let mut truncated = valid.clone();
    truncated.pop();
    let mut trailing = valid.clone();
    trailing.push(0x00);
    let mut non_minimal = vec![0xb9, 0x00, 0x09];
    non_minimal.extend_from_slice(&valid[1..]);
    // Canonical entries, with sig moved to the end.
    let mut sig_last = signed_fields(fields.clone(), inviter);
    let at = sig_last
        .iter()
        .position(|(key, _)| key == "sig")
        .ok_or("no sig field")?;
    let sig_field = sig_last.remove(at);
    sig_last.push(sig_field);
    let short_tid = [&[0x01, 0x55][..], &[7; 15]].concat();
    let identity_point = [&LOG_ID_PREFIX[..], &[1], &[0; 31]].concat();
    let (mine, other) = (w.inviter.log_id(), w.bystander.log_id());
    let short_log = log_entry_cbor(&mine.to_bytes()[..37], &[]);
    let extra_entry_field = cbor::map(&[
        ("log", cbor::bytes(&mine.to_bytes())),
        ("addrs", array(&[])),
        ("port", cbor::uint(4006)),
    ]);
    let with_logs = |logs: Vec<LogEntry>| {
        let mut changed = base.clone();
        changed.logs = logs;
        changed.sign_with(inviter);
        changed.to_bytes()
    };
    let mut unsorted = w.logs();
    unsorted.sort_by_key(|entry| std::cmp::Reverse(entry.log));
    let twice = vec![
        LogEntry {
            log: mine,
            addrs: vec![],
        },
        LogEntry {
            log: mine,
            addrs: vec![],
        },
    ];
    let mut not_an_address = w.logs();
    not_an_address[0]
        .addrs
        .push(format!("/ip4/127.0.0.1/tcp/4006/p2p/{other}"));
    let mut other_log = w.logs();
    other_log[0].addrs.push(address(&other, &other));
    let grant = w.anchor(w.document(Roles::of(Role::Write)), &[], rng)?;
    let ac_base = w.ac_invite(InviteRole::Reader, &grant, rng)?;
    let mut no_acl = ac_base.clone();
    no_acl.acl = None;
    no_acl.sign_with(inviter);
    let mut raw_with_acl = base.clone();
    raw_with_acl.acl = Some(grant.to_bytes());
    raw_with_acl.sign_with(inviter);
    let oversized = sized(w, &base, MAX_INVITE_SIZE + 1)?;

    let b = |fields: Fields| signed(fields, inviter);
    let cases: Vec<(&str, &[&str], &str, Vec<u8>)> = vec![
        (
            "INV-3",
            &["MALFORMED_INVITE"],
            "not CBOR at all",
            vec![0xff],
        ),
        (
            "INV-3",
            &["TRUNCATED"],
            "a valid invite without its last byte",
            truncated,
        ),
        (
            "INV-3",
            &["MALFORMED_INVITE"],
            "a valid invite followed by one more byte",
            trailing,
        ),
        (
            "INV-3",
            &["NON_CANONICAL"],
            "fields in a non-canonical order (sig last)",
            encode_map(&sig_last),
        ),
        (
            "INV-3",
            &["NON_CANONICAL"],
            "the map's length in a non-minimal head",
            non_minimal,
        ),
        (
            "INV-3",
            &["MALFORMED_INVITE"],
            "an extra field, signed with the rest",
            b(set(fields.clone(), "expires", cbor::uint(TIME))),
        ),
        (
            "INV-3",
            &["MALFORMED_INVITE"],
            "no logs field",
            b(remove(fields.clone(), "logs")),
        ),
        (
            "INV-3",
            &["MALFORMED_INVITE"],
            "role as a byte string",
            b(set(fields.clone(), "role", cbor::bytes(b"reader"))),
        ),
        (
            "INV-3",
            &["MALFORMED_INVITE"],
            "an enc of 31 bytes",
            b(set(fields.clone(), "enc", cbor::bytes(&base.enc[..31]))),
        ),
        (
            "INV-3",
            &["MALFORMED_INVITE"],
            "a sig of 63 bytes",
            encode_map(&set(fields.clone(), "sig", cbor::bytes(&base.sig[..63]))),
        ),
        (
            "INV-3",
            &["UNKNOWN_ROLE"],
            "role \"admin\"",
            b(set(fields.clone(), "role", cbor::text("admin"))),
        ),
        (
            "INV-3",
            &["UNKNOWN_ROLE"],
            "role \"Reader\": role names are lower case",
            b(set(fields.clone(), "role", cbor::text("Reader"))),
        ),
        (
            "INV-3",
            &["INVALID_ID"],
            "a thread ID with 15 random bytes",
            b(set(fields.clone(), "thread", cbor::bytes(&short_tid))),
        ),
        (
            "INV-3",
            &["INVALID_ID"],
            "an inviter whose key is the identity point (small order)",
            b(set(fields.clone(), "inviter", cbor::bytes(&identity_point))),
        ),
        (
            "INV-3",
            &["INVALID_ID"],
            "a log ID of 37 bytes in logs",
            b(set(fields.clone(), "logs", array(&[short_log]))),
        ),
        (
            "INV-3",
            &["MALFORMED_INVITE"],
            "a logs entry with an extra field",
            b(set(fields.clone(), "logs", array(&[extra_entry_field]))),
        ),
        (
            "INV-3",
            &["UNSORTED_LOGS"],
            "logs in descending order of their log IDs",
            with_logs(unsorted),
        ),
        (
            "INV-3",
            &["UNSORTED_LOGS"],
            "one log listed twice",
            with_logs(twice),
        ),
        (
            "INV-3",
            &["BAD_ADDRESS"],
            "an address without /ipel/<log-id>",
            with_logs(not_an_address),
        ),
        (
            "INV-3",
            &["BAD_ADDRESS"],
            "an address naming another log than its entry's",
            with_logs(other_log),
        ),
        (
            "INV-3",
            &["ACL_FIELD"],
            "an access-controlled thread's invite with acl null",
            no_acl.to_bytes(),
        ),
        (
            "INV-3",
            &["ACL_FIELD"],
            "a raw thread's invite carrying an ACL",
            raw_with_acl.to_bytes(),
        ),
        (
            "INV-3",
            &["MALFORMED_INVITE"],
            "an access-controlled thread's invite whose acl is a text string",
            b(set(unsigned_fields(&ac_base), "acl", cbor::text("acl"))),
        ),
        (
            "INV-3",
            &["OVERSIZED"],
            "an invite of 1 MiB + 1 byte",
            oversized,
        ),
    ];
    for (section, flags, comment, bytes) in cases {
        s.case(
            section,
            flags,
            comment,
            invite_input(&bytes),
            Intent::Invalid(E::InviteMalformed),
        );
    }
    Ok(())
}

fn open_steps(s: &mut SuiteBuilder, w: &World, rng: &mut ChaCha20Rng) -> Result<()> {
    let inviter = &w.inviter;
    let base = w.raw_invite(InviteRole::Reader, rng)?;
    let resign = |mut invite: Invite| {
        invite.sign_with(inviter);
        invite.to_bytes()
    };
    let mut cases: Vec<InviteCase> = Vec::new();

    // Step 2: the recipient, before anything cryptographic.
    let mut for_other = w.terms(&w.raw, InviteRole::Reader, None);
    for_other.recipient = w.bystander.log_id();
    let for_other = w.create(for_other, rng)?;
    let mut for_other_forged = for_other.clone();
    for_other_forged.sig[0] ^= 0x01;
    cases.push((
        "INV-6",
        &["WRONG_RECIPIENT"],
        "an invite for another peer",
        for_other.to_bytes(),
        E::InviteWrongRecipient,
    ));
    cases.push((
        "INV-6",
        &["WRONG_RECIPIENT", "CHECK_ORDER"],
        "an invite for another peer with a broken signature: the recipient is checked first",
        for_other_forged.to_bytes(),
        E::InviteWrongRecipient,
    ));

    // Step 3: the signature.
    let mut flipped = base.clone();
    flipped.sig[10] ^= 0x01;
    let mut zero = base.clone();
    zero.sig = [0; 64];
    let mut malleable = base.clone();
    malleable.sig = add_group_order(malleable.sig);
    let mut by_bystander = base.clone();
    by_bystander.sign_with(&w.bystander);
    let mut role_changed = base.clone();
    role_changed.role = InviteRole::Writer;
    let mut logs_changed = base.clone();
    logs_changed.logs[1]
        .addrs
        .push(address(&w.inviter.log_id(), &w.bystander.log_id()));
    let mut inviter_changed = base.clone();
    inviter_changed.inviter = w.bystander.log_id();
    let other_seal = w.raw_invite(InviteRole::Reader, rng)?;
    let mut keys_changed = base.clone();
    keys_changed.enc = other_seal.enc;
    keys_changed.sealed_keys = other_seal.sealed_keys.clone();
    let grant = w.anchor(w.document(Roles::of(Role::Write)), &[], rng)?;
    let follow_only = w.anchor(w.document(Roles::of(Role::Follow)), &[], rng)?;
    let mut acl_changed = w.ac_invite(InviteRole::Follower, &follow_only, rng)?;
    acl_changed.acl = Some(grant.to_bytes());
    let mut both = base.clone();
    both.sig[3] ^= 0x01;
    both.sealed_keys[0] ^= 0x01;
    let bad_sig = E::InviteSignatureInvalid;
    cases.extend([
        (
            "INV-5",
            &["FORGED_SIGNATURE"][..],
            "one signature bit flipped",
            flipped.to_bytes(),
            bad_sig,
        ),
        (
            "INV-5",
            &["FORGED_SIGNATURE"],
            "an all-zero signature",
            zero.to_bytes(),
            bad_sig,
        ),
        (
            "INV-5",
            &["MALLEABLE_SIGNATURE"],
            "S replaced by S + L: the same signature, non-canonical",
            malleable.to_bytes(),
            bad_sig,
        ),
        (
            "INV-5",
            &["WRONG_SIGNER"],
            "signed by another peer than the inviter it names",
            by_bystander.to_bytes(),
            bad_sig,
        ),
        (
            "INV-5",
            &["WRONG_SIGNER"],
            "the inviter field changed to another peer after signing",
            inviter_changed.to_bytes(),
            bad_sig,
        ),
        (
            "INV-5",
            &["CHANGED_AFTER_SIGNING"],
            "role changed from reader to writer after signing",
            role_changed.to_bytes(),
            bad_sig,
        ),
        (
            "INV-5",
            &["CHANGED_AFTER_SIGNING"],
            "an address added to logs after signing",
            logs_changed.to_bytes(),
            bad_sig,
        ),
        (
            "INV-5",
            &["CHANGED_AFTER_SIGNING"],
            "enc and keys replaced by another sealing of the same key set after signing",
            keys_changed.to_bytes(),
            bad_sig,
        ),
        (
            "INV-5",
            &["CHANGED_AFTER_SIGNING"],
            "the ACL replaced after signing by one that grants the recipient more",
            acl_changed.to_bytes(),
            bad_sig,
        ),
        (
            "INV-6",
            &["FORGED_SIGNATURE", "CHECK_ORDER"],
            "a broken signature and tampered sealed keys: the signature is checked first",
            both.to_bytes(),
            bad_sig,
        ),
    ]);

    // Step 4: opening the sealed key set.
    let failed = E::InviteDecryptFailed;
    let mut tampered = base.clone();
    tampered.sealed_keys[5] ^= 0x01;
    let mut truncated = base.clone();
    truncated.sealed_keys.truncate(15);
    let mut enc_changed = base.clone();
    enc_changed.enc = other_seal.enc;
    let mut zero_enc = base.clone();
    zero_enc.enc = [0; 32];
    let full = w.keys.to_bytes();
    let writer_header = invite::header_bytes(
        &base.thread,
        InviteRole::Writer,
        &base.inviter,
        &base.recipient,
    );
    let under_writer = w.resealed(
        &base,
        Seal {
            aad: Some(writer_header),
            ..Seal::default()
        },
        &full,
        rng,
    )?;
    let mut lifted = base.clone();
    let elsewhere = w.create(
        w.terms(
            &ThreadId::generate(Variant::Raw, rng),
            InviteRole::Reader,
            None,
        ),
        rng,
    )?;
    lifted.enc = elsewhere.enc;
    lifted.sealed_keys = elsewhere.sealed_keys;
    let to_bystander = w.resealed(
        &base,
        Seal {
            pk: Some(invite::x25519_public_key(&w.bystander.log_id())),
            ..Seal::default()
        },
        &full,
        rng,
    )?;
    let edwards = w.resealed(
        &base,
        Seal {
            pk: Some(*w.recipient.log_id().verifying_key().as_bytes()),
            ..Seal::default()
        },
        &full,
        rng,
    )?;
    let other_info = w.resealed(
        &base,
        Seal {
            info: Some(&b"threads/v1/invitation"[..]),
            ..Seal::default()
        },
        &full,
        rng,
    )?;
    cases.extend([
        (
            "INV-2",
            &["TAMPERED"][..],
            "one bit of the sealed key set flipped, re-signed",
            resign(tampered),
            failed,
        ),
        (
            "INV-2",
            &["TRUNCATED"],
            "the sealed key set cut to 15 bytes, re-signed",
            resign(truncated),
            failed,
        ),
        (
            "INV-2",
            &["TAMPERED"],
            "enc of another sealing, re-signed",
            resign(enc_changed),
            failed,
        ),
        (
            "INV-2",
            &["SMALL_ORDER_ENC"],
            "an all-zero enc, re-signed: the shared secret would be all zero",
            resign(zero_enc),
            failed,
        ),
        (
            "INV-2",
            &["LIFTED_KEYS"],
            "the key set sealed under the header of a writer invite, in a reader invite",
            under_writer.to_bytes(),
            failed,
        ),
        (
            "INV-2",
            &["LIFTED_KEYS"],
            "enc and keys lifted from the same inviter's invite to another thread, re-signed",
            resign(lifted),
            failed,
        ),
        (
            "INV-2",
            &["WRONG_RECIPIENT_KEY"],
            "the key set sealed to another peer's X25519 key",
            to_bystander.to_bytes(),
            failed,
        ),
        (
            "INV-2",
            &["WRONG_KEY_MAPPING"],
            "the key set sealed to the Ed25519 public key bytes used as an X25519 key",
            edwards.to_bytes(),
            failed,
        ),
        (
            "INV-2",
            &["WRONG_INFO"],
            "the key set sealed with info \"threads/v1/invitation\"",
            other_info.to_bytes(),
            failed,
        ),
    ]);

    // Step 5: the sealed plaintext is a key set.
    let key = |b: u8| cbor::bytes(&[b; 32]);
    let plaintexts: Vec<(&[&str], &str, Vec<u8>, E)> = vec![
        (
            &["MALFORMED_KEYSET"],
            "the sealed plaintext is a CBOR text, not a key set",
            cbor::text("not a key set"),
            E::KeysetMalformed,
        ),
        (
            &["MALFORMED_KEYSET"],
            "a key set with an unknown field",
            cbor::map(&[("read", key(1)), ("admin", key(2)), ("follow", key(3))]),
            E::KeysetMalformed,
        ),
        (
            &["NON_CANONICAL"],
            "a key set with its fields in a non-canonical order",
            cbor::map(&[("follow", key(3)), ("read", key(1))]),
            E::KeysetMalformed,
        ),
        (
            &["MALFORMED_KEYSET"],
            "a key set whose follow key has 31 bytes",
            cbor::map(&[("read", key(1)), ("follow", cbor::bytes(&[3; 31]))]),
            E::KeyBadLength,
        ),
    ];
    for (flags, comment, plaintext, code) in plaintexts {
        let invite = w.resealed(&base, Seal::default(), &plaintext, rng)?;
        cases.push(("INV-6", flags, comment, invite.to_bytes(), code));
    }

    // Step 6: the key set fits the role.
    let follower = w.raw_invite(InviteRole::Follower, rng)?;
    let writer = w.raw_invite(InviteRole::Writer, rng)?;
    let follow_keys = w.keys.for_follower().to_bytes();
    let mismatch: Vec<(&str, Invite, &[u8])> = vec![
        (
            "a follower invite whose sealed key set carries the read key",
            follower,
            &full,
        ),
        (
            "a reader invite whose sealed key set lacks the read key",
            base.clone(),
            &follow_keys,
        ),
        (
            "a writer invite whose sealed key set lacks the read key",
            writer,
            &follow_keys,
        ),
    ];
    for (comment, invite, plaintext) in mismatch {
        let invite = w.resealed(&invite, Seal::default(), plaintext, rng)?;
        cases.push((
            "INV-6",
            &["ROLE_KEYS_MISMATCH"],
            comment,
            invite.to_bytes(),
            E::InviteMalformed,
        ));
    }
    s.invalid_cases(cases, |bytes| invite_input(&bytes));
    Ok(())
}

/// An ACL anchor crafted field by field: `{"creator", "document", "genesis"}`.
fn anchor_cbor(creator: &LogId, document: Vec<u8>, genesis: &threads::Cid) -> Vec<u8> {
    cbor::map(&[
        ("creator", cbor::bytes(&creator.to_bytes())),
        ("genesis", cbor::link(genesis)),
        ("document", cbor::bytes(&document)),
    ])
}

/// An ACL document crafted field by field, for encodings the reference refuses to write; the
/// peers in canonical order, the admins as given.
pub(super) fn document_cbor(
    id: &str,
    peers: &[(String, Vec<&str>)],
    admins: &[String],
    default: &str,
) -> Vec<u8> {
    let mut peers: Vec<&(String, Vec<&str>)> = peers.iter().collect();
    peers.sort_by(|(a, _), (b, _)| (a.len(), a.as_bytes()).cmp(&(b.len(), b.as_bytes())));
    let peers: Vec<(&str, Vec<u8>)> = peers
        .into_iter()
        .map(|(peer, roles)| {
            let roles: Vec<Vec<u8>> = roles.iter().map(|r| cbor::text(r)).collect();
            (peer.as_str(), array(&roles))
        })
        .collect();
    let admins: Vec<Vec<u8>> = admins.iter().map(|a| cbor::text(a)).collect();
    cbor::map(&[
        ("_id", cbor::text(id)),
        ("peers", cbor::map(&peers)),
        ("admins", array(&admins)),
        ("default", cbor::text(default)),
    ])
}

fn open_acl(s: &mut SuiteBuilder, w: &World, rng: &mut ChaCha20Rng) -> Result<()> {
    let inviter = &w.inviter;
    let grant = w.anchor(w.document(Roles::of(Role::Write)), &[], rng)?;
    // Crafted encodings must match the reference's for a valid anchor.
    let doc = &grant.document;
    let peers: Vec<(String, Vec<&str>)> = doc.peer_names().into_iter().collect::<Vec<_>>();
    let craft = document_cbor(
        doc.id(),
        &peers,
        &doc.admin_names(),
        doc.default_role().name(),
    );
    if anchor_cbor(&grant.creator, craft, &grant.genesis) != grant.to_bytes() {
        return Err("the crafted ACL anchor differs from the reference's encoding".into());
    }
    let with_acl = |role: InviteRole, acl: Vec<u8>, rng: &mut ChaCha20Rng| -> Result<Vec<u8>> {
        let mut invite = w.ac_invite(role, &grant, rng)?;
        invite.acl = Some(acl);
        invite.sign_with(inviter);
        Ok(invite.to_bytes())
    };
    let me = w.recipient.log_id().to_string();
    let creator = w.inviter.log_id().to_string();
    let empty_list = document_cbor(
        doc.id(),
        &[(creator.clone(), vec!["write"]), (me.clone(), vec![])],
        &doc.admin_names(),
        "no-access",
    );
    let other_thread = AclAnchor {
        document: AclDocument::for_thread(
            &ThreadId::generate(Variant::AccessControlled, rng),
            w.inviter.log_id(),
        )
        .with_peer(w.recipient.log_id(), Roles::of(Role::Write)),
        ..grant.clone()
    };
    let raw_genesis = super::forge::raw_codec_cid(b"genesis");
    let follow = w.anchor(w.document(Roles::of(Role::Follow)), &[], rng)?;
    let read = w.anchor(w.document(Roles::of(Role::Read)), &[], rng)?;
    let no_access = w.anchor(
        w.document(Roles::of(Role::NoAccess))
            .with_default(Role::Follow),
        &[],
        rng,
    )?;
    let nobody = w.anchor(AclDocument::for_thread(&w.ac, w.inviter.log_id()), &[], rng)?;
    let lowered = w.anchor(
        w.document(Roles::of(Role::Write)),
        &[AclOp::set_peer(
            w.recipient.log_id(),
            Roles::of(Role::Follow),
            0,
        )],
        rng,
    )?;
    // Step 6 before step 7: a follower invite with the read key and a malformed ACL.
    let follower = w.ac_invite(InviteRole::Follower, &grant, rng)?;
    let mut both = w.resealed(&follower, Seal::default(), &w.keys.to_bytes(), rng)?;
    both.acl = Some(vec![0xa0]);
    both.sign_with(inviter);

    let cases: Vec<InviteCase> = vec![
        (
            "INV-9",
            &["MALFORMED_ACL"],
            "acl is the empty map, not an ACL anchor",
            with_acl(InviteRole::Reader, vec![0xa0], rng)?,
            E::AclMalformed,
        ),
        (
            "ACL-3",
            &["MALFORMED_ACL"],
            "the ACL document's _id is another thread's",
            with_acl(InviteRole::Reader, other_thread.to_bytes(), rng)?,
            E::AclMalformed,
        ),
        (
            "ACL-10",
            &["MALFORMED_ACL"],
            "the ACL document gives the recipient an empty role list",
            with_acl(
                InviteRole::Reader,
                anchor_cbor(&grant.creator, empty_list, &grant.genesis),
                rng,
            )?,
            E::AclMalformed,
        ),
        (
            "INV-9",
            &["MALFORMED_ACL"],
            "the anchor's genesis link uses the raw codec",
            with_acl(
                InviteRole::Reader,
                anchor_cbor(&grant.creator, grant.document.to_bytes(), &raw_genesis),
                rng,
            )?,
            E::AclMalformed,
        ),
        (
            "INV-9",
            &["ACL_NOT_GRANTED"],
            "a reader invite whose ACL grants the recipient follow only",
            with_acl(InviteRole::Reader, follow.to_bytes(), rng)?,
            E::AclDenied,
        ),
        (
            "INV-9",
            &["ACL_NOT_GRANTED"],
            "a writer invite whose ACL grants the recipient read only",
            with_acl(InviteRole::Writer, read.to_bytes(), rng)?,
            E::AclDenied,
        ),
        (
            "ACL-10",
            &["ACL_NOT_GRANTED"],
            "a follower invite to a peer whose entry is no-access, though the default is follow",
            with_acl(InviteRole::Follower, no_access.to_bytes(), rng)?,
            E::AclDenied,
        ),
        (
            "ACL-9",
            &["ACL_NOT_GRANTED"],
            "a follower invite to a peer without an entry, whose default role is no-access",
            with_acl(InviteRole::Follower, nobody.to_bytes(), rng)?,
            E::AclDenied,
        ),
        (
            "ACL-15",
            &["REVOKED_RECIPIENT"],
            "a reader invite to a peer an applied change lowered from write to follow",
            with_acl(InviteRole::Reader, lowered.to_bytes(), rng)?,
            E::AclDenied,
        ),
        (
            "INV-9",
            &["ROLE_KEYS_MISMATCH", "CHECK_ORDER"],
            "a follower invite with the read key and a malformed ACL: the key set is checked first",
            both.to_bytes(),
            E::InviteMalformed,
        ),
    ];
    s.invalid_cases(cases, |bytes| invite_input(&bytes));
    Ok(())
}

fn notes(s: &mut SuiteBuilder) {
    s.note("NORMAL", "BASIC", "A well-formed input.");
    s.note(
        "PUBLISHED",
        "BASIC",
        "A published example from the primitive's specification (RFC 9180 Appendix A.2.1).",
    );
    s.note(
        "WORKED_EXAMPLE",
        "BASIC",
        "The worked example printed in the specification, computed independently of the reference.",
    );
    s.note(
        "RFC8032",
        "BASIC",
        "An RFC 8032 §7.1 test key as the peer key: its Ed25519 public key is published.",
    );
    s.note(
        "BOUNDARY",
        "EDGE_CASE",
        "A value exactly at a limit, which must be accepted.",
    );
    s.note(
        "TAMPERED",
        "AUTH_BYPASS",
        "Changed ciphertext, tag or encapsulated key must not open.",
    );
    s.note(
        "TRUNCATED",
        "MISSING_CHECK",
        "Input cut short: a ciphertext shorter than its tag, a key or an invite missing bytes.",
    );
    s.note(
        "WRONG_AAD",
        "WRONG_PRIMITIVE",
        "Detects an HPKE open that ignores the associated data.",
    );
    s.note(
        "WRONG_INFO",
        "WRONG_PRIMITIVE",
        "Detects an HPKE key schedule that ignores or uses another info string.",
    );
    s.note(
        "SMALL_ORDER_ENC",
        "EDGE_CASE",
        "An encapsulated key of small order: the Diffie-Hellman result is all zero and HPKE must fail (RFC 9180 §7.1.4).",
    );
    s.note(
        "WRONG_RECIPIENT_KEY",
        "CONFUSED_DEPUTY",
        "A key set sealed to, or opened with, another peer's X25519 key.",
    );
    s.note(
        "WRONG_KEY_MAPPING",
        "WRONG_PRIMITIVE",
        "The recipient's X25519 key is the Montgomery form of its Ed25519 key, not the Edwards bytes as they are.",
    );
    s.note(
        "LIFTED_KEYS",
        "CONFUSED_DEPUTY",
        "A sealed key set moved into another invite (another role, thread or header) must not open: the header is the aad.",
    );
    s.note(
        "MALFORMED_INVITE",
        "MISSING_CHECK",
        "An invite that is not the canonical nine-field map of INV-3.",
    );
    s.note(
        "NON_CANONICAL",
        "MALLEABILITY",
        "A DAG-CBOR encoding other than the canonical one.",
    );
    s.note(
        "UNKNOWN_ROLE",
        "MISSING_CHECK",
        "A role other than follower, reader and writer.",
    );
    s.note(
        "INVALID_ID",
        "MISSING_CHECK",
        "A thread, peer or log ID that chapter 1 rejects, inside an invite.",
    );
    s.note(
        "UNSORTED_LOGS",
        "MALLEABILITY",
        "logs must be in ascending log-ID order, each log once.",
    );
    s.note(
        "BAD_ADDRESS",
        "MISSING_CHECK",
        "A log address that is invalid or serves another log than its entry's.",
    );
    s.note(
        "ACL_FIELD",
        "MISSING_CHECK",
        "acl must be null in a raw thread and present in an access-controlled one.",
    );
    s.note(
        "OVERSIZED",
        "RESOURCE_EXHAUSTION",
        "An invite over the 1 MiB limit.",
    );
    s.note(
        "WRONG_RECIPIENT",
        "CONFUSED_DEPUTY",
        "An invite addressed to another peer must be refused before any cryptography.",
    );
    s.note(
        "CHECK_ORDER",
        "FUNCTIONALITY",
        "Two checks fail; the one INV-6 (or INV-9) orders first names the error.",
    );
    s.note(
        "FORGED_SIGNATURE",
        "SIGNATURE_FORGERY",
        "A signature the inviter's key did not make.",
    );
    s.note(
        "MALLEABLE_SIGNATURE",
        "SIGNATURE_MALLEABILITY",
        "A non-canonical S (S >= L) that only strict verification rejects.",
    );
    s.note(
        "WRONG_SIGNER",
        "SIGNATURE_FORGERY",
        "A valid signature by a key other than the one inside the invite's inviter field.",
    );
    s.note(
        "CHANGED_AFTER_SIGNING",
        "SIGNATURE_FORGERY",
        "A field changed after the inviter signed: the signature covers every field but sig.",
    );
    s.note(
        "MALFORMED_KEYSET",
        "MISSING_CHECK",
        "The sealed plaintext is not a valid key set (KEY-5).",
    );
    s.note(
        "ROLE_KEYS_MISMATCH",
        "MISSING_CHECK",
        "A follower invite must not carry the read key, and a reader or writer invite must.",
    );
    s.note(
        "MALFORMED_ACL",
        "MISSING_CHECK",
        "The invite's ACL is not a valid ACL anchor and document for this thread.",
    );
    s.note(
        "ACL_NOT_GRANTED",
        "AUTH_BYPASS",
        "The invite's ACL does not grant the recipient the invited role: the keys must not be used.",
    );
    s.note(
        "REVOKED_RECIPIENT",
        "AUTH_BYPASS",
        "A peer lowered by an applied ACL change must not be given keys its new role does not grant.",
    );
}
