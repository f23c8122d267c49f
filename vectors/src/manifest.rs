//! The signed manifest `vectors/MANIFEST`: versions and the SHA-256 of every file, signed as a
//! C2SP signed note (<https://c2sp.org/signed-note>) with Ed25519, so any Ed25519 library can check it.
//!
//! ```text
//! threads-vectors
//! spec 0.5.0
//! suites 0.5.0
//! <sha256 hex>  <path>
//! ...
//!
//! — threads-vectors <base64(key ID ‖ signature)>
//! ```
//!
//! The signature covers the note text: every line above the blank line, each ending in `\n`. The
//! key ID is the first four bytes of SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key).
//!
//! **Trust.** A manifest is trusted only when it is signed by the published key, pinned in this
//! crate as [`PINNED_PUBLIC_KEY`] (and printed in `spec/README.md`), or by a key the user names
//! explicitly (`--trust-key HEX`). The `vector-signing.pub` inside a checked directory is never
//! trusted: whoever can change the files can change it too. Every check returns the signing
//! key's [`fingerprint`], which the tools print.
//!
//! **Embedded set.** [`VectorSet::embedded`] is the signed set compiled into this crate (and so
//! into every binary that links it), so the tools need no source tree at run time.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use data_encoding::BASE64;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::format::{SPEC_VERSION, SUITES_VERSION};

/// The signer name in the note.
pub const KEY_NAME: &str = "threads-vectors";
/// The file holding the public key (hex) beside the manifest.
pub const PUBLIC_KEY_FILE: &str = "vector-signing.pub";
/// Directories whose files the manifest covers.
pub const COVERED_DIRS: &[&str] = &["schemas", "suites"];
/// Single files the manifest covers.
pub const COVERED_FILES: &[&str] = &["README.md", PUBLIC_KEY_FILE];
/// The manifest's file name.
pub const MANIFEST_FILE: &str = "MANIFEST";

/// The published vector-signing public key (Ed25519, hex), the one printed in `spec/README.md`.
/// A manifest signed by any other key is refused unless the user trusts that key explicitly.
pub const PINNED_PUBLIC_KEY: &str =
    "0568ccf1f0ba10d02a1cd7bccd1af19a2c8bec30fcd36f7e1337e332c15336a8";

macro_rules! embed {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_bytes!(concat!("../", $path)) as &[u8])),*]
    };
}

/// Every covered file of the published set, compiled in: `(path, bytes)`, sorted by path.
const EMBEDDED_FILES: &[(&str, &[u8])] = embed!(
    "README.md",
    "schemas/acl.schema.json",
    "schemas/db.schema.json",
    "schemas/invites.schema.json",
    "schemas/keys.schema.json",
    "schemas/logs.schema.json",
    "schemas/membership.schema.json",
    "schemas/records.schema.json",
    "schemas/sync.schema.json",
    "schemas/tid.schema.json",
    "suites/acl.json",
    "suites/db.json",
    "suites/invites.json",
    "suites/keys.json",
    "suites/logs.json",
    "suites/membership.json",
    "suites/records.json",
    "suites/sync.json",
    "suites/tid.json",
    "vector-signing.pub",
);
/// The published set's signed manifest, compiled in.
const EMBEDDED_MANIFEST: &[u8] = include_bytes!("../MANIFEST");

/// What is wrong with a vector directory; each variant says exactly what.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The signing or public key is unusable.
    #[error("key: {0}")]
    Key(String),
    /// The manifest's layout is not the one above.
    #[error("MANIFEST is malformed: {0}")]
    Malformed(String),
    /// The signature does not verify.
    #[error("MANIFEST signature does not verify with public key {0}")]
    BadSignature(String),
    /// The manifest is signed by no trusted key: neither the pinned one nor one passed explicitly.
    #[error(
        "MANIFEST is not signed by a trusted key: its signature names key ID {key_ids}, while the \
         published vector-signing key pinned in this program has fingerprint {pinned} (key ID \
         {pinned_id}){offered}. Vectors signed by another key may have been changed by anyone; \
         if you really trust that key, pass it explicitly with --trust-key HEX"
    )]
    UntrustedKey {
        /// The key IDs (hex) named by the manifest's signature lines.
        key_ids: String,
        /// The pinned key's fingerprint.
        pinned: String,
        /// The pinned key's key ID (hex).
        pinned_id: String,
        /// What the directory's own `vector-signing.pub` holds, when it names the signing key.
        offered: String,
    },
    /// Files differ from the manifest.
    #[error("{} file(s) do not match MANIFEST:\n  {}", .0.len(), .0.join("\n  "))]
    Mismatch(Vec<String>),
}

impl ManifestError {
    /// A stable code naming the kind of problem, for scripts and reports.
    pub fn code(&self) -> &'static str {
        match self {
            ManifestError::Io { .. } => "VECTORS_IO",
            ManifestError::Key(_) => "VECTORS_BAD_KEY",
            ManifestError::Malformed(_) => "VECTORS_MANIFEST_MALFORMED",
            ManifestError::BadSignature(_) => "VECTORS_BAD_SIGNATURE",
            ManifestError::UntrustedKey { .. } => "VECTORS_UNTRUSTED_KEY",
            ManifestError::Mismatch(_) => "VECTORS_DIGEST_MISMATCH",
        }
    }
}

/// A vector set checked against its manifest: what a report says it was judged against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// How many files the manifest lists (all of them checked).
    pub files: usize,
    /// The SHA-256 (hex) of the `MANIFEST` file itself: it names every file's digest, so it
    /// names the whole set.
    pub manifest_sha256: String,
    /// The public key (hex) whose signature verified.
    pub key: String,
    /// That key's [`fingerprint`].
    pub fingerprint: String,
    /// That key's C2SP key ID (hex).
    pub key_id: String,
    /// Whether that key is the pinned, published one (`false`: trusted with `--trust-key`).
    pub pinned: bool,
}

impl Verified {
    /// One line saying which key signed the set, for every run to print.
    pub fn key_line(&self) -> String {
        if self.pinned {
            format!(
                "vectors signed by the published key {} (key ID {}, pinned)",
                self.fingerprint, self.key_id
            )
        } else {
            format!(
                "WARNING: vectors signed by key {} (key ID {}), trusted with --trust-key; it is NOT \
                 the published key {}",
                self.fingerprint,
                self.key_id,
                fingerprint_hex(PINNED_PUBLIC_KEY).unwrap_or_default()
            )
        }
    }
}

/// A key's fingerprint: `SHA256:` and the SHA-256 (hex) of its 32 raw bytes, so that
/// `xxd -r -p vector-signing.pub | sha256sum` recomputes it.
pub fn fingerprint(public: &[u8; 32]) -> String {
    format!("SHA256:{}", hex::encode(Sha256::digest(public)))
}

/// The [`fingerprint`] of a key given in hex.
pub fn fingerprint_hex(public_hex: &str) -> Result<String, ManifestError> {
    Ok(fingerprint(&hex32(public_hex, "the public key")?))
}

/// The pinned key's fingerprint.
pub fn pinned_fingerprint() -> String {
    fingerprint_hex(PINNED_PUBLIC_KEY).unwrap_or_default()
}

fn verifying_key(public_hex: &str, what: &str) -> Result<VerifyingKey, ManifestError> {
    VerifyingKey::from_bytes(&hex32(public_hex, what)?)
        .map_err(|e| ManifestError::Key(format!("{what} is not a curve point: {e}")))
}

/// A vector set held in memory: the covered files and the manifest, checked or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VectorSet {
    /// Every covered file, by path relative to the set's directory (`/`-separated).
    pub files: BTreeMap<String, Vec<u8>>,
    /// The `MANIFEST` file.
    pub manifest: Vec<u8>,
}

impl VectorSet {
    /// The published set compiled into this crate.
    pub fn embedded() -> VectorSet {
        VectorSet {
            files: EMBEDDED_FILES
                .iter()
                .map(|(path, bytes)| (path.to_string(), bytes.to_vec()))
                .collect(),
            manifest: EMBEDDED_MANIFEST.to_vec(),
        }
    }

    /// The SHA-256 (hex) of the embedded `MANIFEST`.
    pub fn embedded_manifest_sha256() -> String {
        hex::encode(Sha256::digest(EMBEDDED_MANIFEST))
    }

    /// Reads the covered files and the manifest of a directory.
    pub fn read_dir(dir: &Path) -> Result<VectorSet, ManifestError> {
        let mut files = BTreeMap::new();
        for sub in COVERED_DIRS {
            let entries = fs::read_dir(dir.join(sub)).map_err(|source| ManifestError::Io {
                path: dir.join(sub),
                source,
            })?;
            for entry in entries {
                let entry = entry.map_err(|source| ManifestError::Io {
                    path: dir.join(sub),
                    source,
                })?;
                let name = entry.file_name().to_string_lossy().into_owned();
                files.insert(format!("{sub}/{name}"), read(&entry.path())?);
            }
        }
        for file in COVERED_FILES {
            files.insert(file.to_string(), read(&dir.join(file))?);
        }
        Ok(VectorSet {
            files,
            manifest: read(&dir.join(MANIFEST_FILE))?,
        })
    }

    /// Writes every file and the manifest into `dir` (created if missing).
    pub fn write_to(&self, dir: &Path) -> Result<(), ManifestError> {
        let all = self
            .files
            .iter()
            .map(|(p, b)| (p.as_str(), b))
            .chain([(MANIFEST_FILE, &self.manifest)]);
        for (path, bytes) in all {
            let target = dir.join(path);
            if let Some(parent) = target.parent() {
                fs::create_dir_all(parent).map_err(|source| ManifestError::Io {
                    path: parent.to_path_buf(),
                    source,
                })?;
            }
            fs::write(&target, bytes).map_err(|source| ManifestError::Io {
                path: target.clone(),
                source,
            })?;
        }
        Ok(())
    }

    /// The bytes of a covered file, by its relative path.
    pub fn file(&self, path: &str) -> Option<&[u8]> {
        self.files.get(path).map(Vec::as_slice)
    }

    /// Parses a suite file (`suites/<name>.json`).
    pub fn suite(&self, name: &str) -> Result<crate::format::SuiteFile, String> {
        let path = format!("suites/{name}.json");
        let bytes = self
            .file(&path)
            .ok_or_else(|| format!("{path}: not in the vector set"))?;
        serde_json::from_slice(bytes).map_err(|e| format!("{path}: {e}"))
    }

    /// Checks the manifest's signature against the pinned key and the keys in `trusted` (hex),
    /// then every digest, and that no covered file is missing from or extra to the manifest.
    pub fn verify(&self, trusted: &[String]) -> Result<Verified, ManifestError> {
        let mut keys = vec![(verifying_key(PINNED_PUBLIC_KEY, "the pinned key")?, true)];
        for hex in trusted {
            keys.push((
                verifying_key(hex, "the key passed with --trust-key")?,
                false,
            ));
        }
        let manifest = std::str::from_utf8(&self.manifest)
            .map_err(|_| ManifestError::Malformed("not UTF-8".into()))?;
        let (text, signatures) = manifest
            .split_once("\n\n")
            .ok_or_else(|| ManifestError::Malformed("no blank line before the signature".into()))?;
        let text = format!("{text}\n");
        let (public, pinned) = check_signature(&text, signatures, &keys, self)?;
        let listed = parse_listing(&text)?;
        let actual: BTreeMap<String, String> = self
            .files
            .iter()
            .map(|(p, b)| (p.clone(), hex::encode(Sha256::digest(b))))
            .collect();
        let mut problems = Vec::new();
        for (path, digest) in &listed {
            match actual.get(path) {
                None => problems.push(format!("{path}: listed in MANIFEST but missing")),
                Some(d) if d != digest => {
                    problems.push(format!("{path}: sha256 is {d}, MANIFEST says {digest}"))
                }
                Some(_) => {}
            }
        }
        for path in actual.keys().filter(|p| !listed.contains_key(*p)) {
            problems.push(format!("{path}: present but not listed in MANIFEST"));
        }
        if !problems.is_empty() {
            return Err(ManifestError::Mismatch(problems));
        }
        Ok(Verified {
            files: listed.len(),
            manifest_sha256: hex::encode(Sha256::digest(&self.manifest)),
            key: hex::encode(public.as_bytes()),
            fingerprint: fingerprint(public.as_bytes()),
            key_id: hex::encode(key_id(&public)),
            pinned,
        })
    }
}

fn read(path: &Path) -> Result<Vec<u8>, ManifestError> {
    fs::read(path).map_err(|source| ManifestError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn key_id(public: &VerifyingKey) -> [u8; 4] {
    let mut hasher = Sha256::new();
    hasher.update(KEY_NAME.as_bytes());
    hasher.update(b"\n\x01");
    hasher.update(public.as_bytes());
    let digest = hasher.finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

/// Parses 32 bytes of hex (surrounding whitespace ignored).
fn hex32(text: &str, what: &str) -> Result<[u8; 32], ManifestError> {
    let bytes = hex::decode(text.trim())
        .map_err(|e| ManifestError::Key(format!("{what} is not hex: {e}")))?;
    bytes
        .try_into()
        .map_err(|_| ManifestError::Key(format!("{what} is not 32 bytes")))
}

/// Every covered file's path (relative, `/`-separated) and SHA-256, sorted by path.
pub fn digests(dir: &Path) -> Result<BTreeMap<String, String>, ManifestError> {
    let mut out = BTreeMap::new();
    for sub in COVERED_DIRS {
        let entries = fs::read_dir(dir.join(sub)).map_err(|source| ManifestError::Io {
            path: dir.join(sub),
            source,
        })?;
        for entry in entries {
            let entry = entry.map_err(|source| ManifestError::Io {
                path: dir.join(sub),
                source,
            })?;
            let name = entry.file_name().to_string_lossy().into_owned();
            out.insert(
                format!("{sub}/{name}"),
                hex::encode(Sha256::digest(read(&entry.path())?)),
            );
        }
    }
    for file in COVERED_FILES {
        out.insert(
            file.to_string(),
            hex::encode(Sha256::digest(read(&dir.join(file))?)),
        );
    }
    Ok(out)
}

/// The note text for these digests.
fn note_text(digests: &BTreeMap<String, String>) -> String {
    let mut text = format!("{KEY_NAME}\nspec {SPEC_VERSION}\nsuites {SUITES_VERSION}\n");
    for (path, digest) in digests {
        text.push_str(&format!("{digest}  {path}\n"));
    }
    text
}

/// Writes `dir/MANIFEST`, signed with the hex seed in `key_path`; returns the public key (hex).
pub fn sign(dir: &Path, key_path: &Path) -> Result<String, ManifestError> {
    let seed_text = String::from_utf8(read(key_path)?)
        .map_err(|_| ManifestError::Key("key file is not text".into()))?;
    let signing = SigningKey::from_bytes(&hex32(&seed_text, "the private key")?);
    let public = signing.verifying_key();
    let published = String::from_utf8(read(&dir.join(PUBLIC_KEY_FILE))?).unwrap_or_default();
    if hex32(&published, PUBLIC_KEY_FILE)? != public.to_bytes() {
        return Err(ManifestError::Key(format!(
            "the private key does not belong to the public key in {PUBLIC_KEY_FILE}"
        )));
    }
    let text = note_text(&digests(dir)?);
    let signature = signing.sign(text.as_bytes());
    let blob = [&key_id(&public)[..], &signature.to_bytes()[..]].concat();
    let note = format!("{text}\n\u{2014} {KEY_NAME} {}\n", BASE64.encode(&blob));
    let path = dir.join("MANIFEST");
    fs::write(&path, note).map_err(|source| ManifestError::Io { path, source })?;
    Ok(hex::encode(public.as_bytes()))
}

/// Checks `dir/MANIFEST`'s signature with the pinned key, or with `trusted` (hex) if the user
/// passed one, then every digest; returns how many files were checked. The directory's own
/// `vector-signing.pub` is never trusted.
pub fn verify(dir: &Path, trusted: Option<&str>) -> Result<usize, ManifestError> {
    let trusted: Vec<String> = trusted.map(str::to_string).into_iter().collect();
    verify_dir(dir, &trusted).map(|v| v.files)
}

/// Checks a directory: [`VectorSet::read_dir`], then [`VectorSet::verify`].
pub fn verify_dir(dir: &Path, trusted: &[String]) -> Result<Verified, ManifestError> {
    VectorSet::read_dir(dir)?.verify(trusted)
}

/// Finds a signature line by one of `keys` and checks it; returns the key and whether it is the
/// pinned one.
fn check_signature(
    text: &str,
    signatures: &str,
    keys: &[(VerifyingKey, bool)],
    set: &VectorSet,
) -> Result<(VerifyingKey, bool), ManifestError> {
    let mut seen = Vec::new();
    for line in signatures.lines() {
        let Some(rest) = line.strip_prefix("\u{2014} ") else {
            return Err(ManifestError::Malformed(format!(
                "signature line does not start with an em dash: {line:?}"
            )));
        };
        let Some((name, blob)) = rest.split_once(' ') else {
            return Err(ManifestError::Malformed(format!(
                "signature line has no signature: {line:?}"
            )));
        };
        let blob = BASE64
            .decode(blob.as_bytes())
            .map_err(|e| ManifestError::Malformed(format!("signature is not base64: {e}")))?;
        if name != KEY_NAME || blob.len() != 68 {
            continue;
        }
        seen.push(hex::encode(&blob[..4]));
        let Some((public, pinned)) = keys.iter().find(|(k, _)| blob[..4] == key_id(k)) else {
            continue;
        };
        let bad = || ManifestError::BadSignature(hex::encode(public.as_bytes()));
        let signature = Signature::from_slice(&blob[4..]).map_err(|_| bad())?;
        public
            .verify_strict(text.as_bytes(), &signature)
            .map_err(|_| bad())?;
        return Ok((*public, *pinned));
    }
    if seen.is_empty() {
        return Err(ManifestError::Malformed(format!(
            "no signature line by {KEY_NAME}"
        )));
    }
    // Name what the set's own key file holds, when it is the key that signed: the likely story
    // is a set re-signed by someone else, who replaced the key file too.
    let offered = set
        .file(PUBLIC_KEY_FILE)
        .and_then(|b| std::str::from_utf8(b).ok())
        .and_then(|t| verifying_key(t, PUBLIC_KEY_FILE).ok())
        .filter(|k| seen.contains(&hex::encode(key_id(k))))
        .map(|k| {
            format!(
                "; the set's own {PUBLIC_KEY_FILE} holds that key, {} (fingerprint {}), which \
                 proves nothing, since whoever signed the set could write it",
                hex::encode(k.as_bytes()),
                fingerprint(k.as_bytes())
            )
        })
        .unwrap_or_default();
    Err(ManifestError::UntrustedKey {
        key_ids: seen.join(", "),
        pinned: pinned_fingerprint(),
        pinned_id: verifying_key(PINNED_PUBLIC_KEY, "the pinned key")
            .map(|k| hex::encode(key_id(&k)))
            .unwrap_or_default(),
        offered,
    })
}

fn parse_listing(text: &str) -> Result<BTreeMap<String, String>, ManifestError> {
    let mut lines = text.lines();
    let expected_head = [
        KEY_NAME.to_string(),
        format!("spec {SPEC_VERSION}"),
        format!("suites {SUITES_VERSION}"),
    ];
    for want in &expected_head {
        let got = lines.next().unwrap_or_default();
        if got != want {
            return Err(ManifestError::Malformed(format!(
                "expected header line {want:?}, found {got:?}"
            )));
        }
    }
    lines
        .map(|line| {
            line.split_once("  ")
                .map(|(digest, path)| (path.to_string(), digest.to_string()))
                .ok_or_else(|| {
                    ManifestError::Malformed(format!("not a `sha256  path` line: {line:?}"))
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8032 TEST 1: a key anyone can sign with, standing in for an attacker's.
    const ATTACKER_SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
    const ATTACKER_PUBLIC: &str =
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

    #[test]
    fn the_embedded_set_verifies_with_the_pinned_key() {
        let v = VectorSet::embedded().verify(&[]).unwrap();
        assert!(v.pinned);
        assert_eq!(v.key, PINNED_PUBLIC_KEY);
        assert_eq!(v.key_id, "fb0fa43c", "the key ID vectors/README.md prints");
        assert_eq!(v.manifest_sha256, VectorSet::embedded_manifest_sha256());
        assert_eq!(v.files, EMBEDDED_FILES.len());
        assert!(v.key_line().contains(&pinned_fingerprint()));
    }

    #[test]
    fn a_set_re_signed_with_its_key_file_replaced_is_refused_unless_that_key_is_trusted() {
        let mut set = VectorSet::embedded();
        let tid = set.files.get_mut("suites/tid.json").unwrap();
        let text = String::from_utf8(tid.clone()).unwrap();
        *tid = text
            .replacen("TID_SHORT_RANDOM", "TID_LONG_RANDOM", 1)
            .into_bytes();
        set.files.insert(
            PUBLIC_KEY_FILE.into(),
            format!("{ATTACKER_PUBLIC}\n").into_bytes(),
        );
        // Re-sign as the attacker would.
        let digests = set
            .files
            .iter()
            .map(|(p, b)| (p.clone(), hex::encode(Sha256::digest(b))))
            .collect();
        let text = note_text(&digests);
        let signing = SigningKey::from_bytes(&hex32(ATTACKER_SEED, "seed").unwrap());
        let blob = [
            &key_id(&signing.verifying_key())[..],
            &signing.sign(text.as_bytes()).to_bytes()[..],
        ]
        .concat();
        set.manifest =
            format!("{text}\n\u{2014} {KEY_NAME} {}\n", BASE64.encode(&blob)).into_bytes();

        let err = set.verify(&[]).unwrap_err();
        assert_eq!(err.code(), "VECTORS_UNTRUSTED_KEY");
        let message = err.to_string();
        assert!(message.contains("--trust-key"), "{message}");
        assert!(message.contains(ATTACKER_PUBLIC), "{message}");
        assert!(message.contains(&pinned_fingerprint()), "{message}");

        let v = set.verify(&[ATTACKER_PUBLIC.to_string()]).unwrap();
        assert!(!v.pinned);
        assert_eq!(v.key, ATTACKER_PUBLIC);
        assert!(v.key_line().starts_with("WARNING"), "{}", v.key_line());
        // Trusting another key never stops the published one from verifying.
        assert!(
            VectorSet::embedded()
                .verify(&[ATTACKER_PUBLIC.to_string()])
                .unwrap()
                .pinned
        );
    }

    #[test]
    fn a_bad_trusted_key_and_a_set_without_signature_are_errors() {
        let set = VectorSet::embedded();
        assert_eq!(
            set.verify(&["zz".into()]).unwrap_err().code(),
            "VECTORS_BAD_KEY"
        );
        let mut unsigned = set.clone();
        let text = String::from_utf8(unsigned.manifest.clone()).unwrap();
        unsigned.manifest = format!("{}\n\n", text.split_once("\n\n").unwrap().0).into_bytes();
        assert_eq!(
            unsigned.verify(&[]).unwrap_err().code(),
            "VECTORS_MANIFEST_MALFORMED"
        );
    }

    #[test]
    fn fingerprints_hash_the_raw_key() {
        let key = hex32(PINNED_PUBLIC_KEY, "key").unwrap();
        assert_eq!(
            fingerprint(&key),
            format!("SHA256:{}", hex::encode(Sha256::digest(key)))
        );
    }
}
