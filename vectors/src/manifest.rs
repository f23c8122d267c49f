//! The signed manifest `vectors/MANIFEST`: versions and the SHA-256 of every file, signed as a
//! C2SP signed note (<https://c2sp.org/signed-note>) with Ed25519, so any Ed25519 library can check it.
//!
//! ```text
//! threads-vectors
//! spec 0.1.0
//! suites 0.1.0
//! <sha256 hex>  <path>
//! ...
//!
//! — threads-vectors <base64(key ID ‖ signature)>
//! ```
//!
//! The signature covers the note text: every line above the blank line, each ending in `\n`. The
//! key ID is the first four bytes of SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key).

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
    /// Files differ from the manifest.
    #[error("{} file(s) do not match MANIFEST:\n  {}", .0.len(), .0.join("\n  "))]
    Mismatch(Vec<String>),
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

/// Checks `dir/MANIFEST`'s signature with the public key in `dir/vector-signing.pub` (or `public_hex`),
/// then every digest, and that no covered file is missing from or extra to the manifest.
/// Returns how many files were checked.
pub fn verify(dir: &Path, public_hex: Option<&str>) -> Result<usize, ManifestError> {
    let published = match public_hex {
        Some(hex) => hex.to_string(),
        None => String::from_utf8(read(&dir.join(PUBLIC_KEY_FILE))?).unwrap_or_default(),
    };
    let public = VerifyingKey::from_bytes(&hex32(&published, "the public key")?)
        .map_err(|e| ManifestError::Key(format!("public key is not a curve point: {e}")))?;
    let manifest = String::from_utf8(read(&dir.join("MANIFEST"))?)
        .map_err(|_| ManifestError::Malformed("not UTF-8".into()))?;
    let (text, signatures) = manifest
        .split_once("\n\n")
        .ok_or_else(|| ManifestError::Malformed("no blank line before the signature".into()))?;
    let text = format!("{text}\n");
    check_signature(&text, signatures, &public)?;
    let listed = parse_listing(&text)?;
    let actual = digests(dir)?;
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
    if problems.is_empty() {
        Ok(listed.len())
    } else {
        Err(ManifestError::Mismatch(problems))
    }
}

fn check_signature(
    text: &str,
    signatures: &str,
    public: &VerifyingKey,
) -> Result<(), ManifestError> {
    let bad = || ManifestError::BadSignature(hex::encode(public.as_bytes()));
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
        if name != KEY_NAME || blob.len() != 68 || blob[..4] != key_id(public) {
            continue;
        }
        let signature = Signature::from_slice(&blob[4..]).map_err(|_| bad())?;
        return public
            .verify_strict(text.as_bytes(), &signature)
            .map_err(|_| bad());
    }
    Err(bad())
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
