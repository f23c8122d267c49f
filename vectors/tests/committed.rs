//! The committed vector files: the reference passes every case, regeneration is byte-identical,
//! the lint is clean and the signed manifest verifies.

// Helpers outside `#[test]` functions unwrap too: clippy.toml only covers test functions.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use threads_vectors::generate::{self, SUITES};
use threads_vectors::{lint, manifest, run};

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_reference_passes_every_committed_vector() {
    let mut total = 0;
    for suite in SUITES {
        let file = lint::load(&vectors_dir().join("suites").join(format!("{suite}.json"))).unwrap();
        assert!(file.number_of_tests > 0, "{suite} has no cases");
        let report = run::run_suite(&file);
        assert!(
            report.failures.is_empty(),
            "{suite}: {:#?}",
            report.failures
        );
        assert_eq!(report.passed, file.number_of_tests);
        total += report.passed;
    }
    assert!(total > 150, "only {total} cases");
}

#[test]
fn regeneration_is_byte_identical_to_the_committed_files() {
    for (path, text) in generate::all_files().unwrap() {
        let committed = std::fs::read_to_string(vectors_dir().join(&path)).unwrap();
        assert!(
            committed == text,
            "{path} differs from a fresh generation; run `threads-vectors generate --out vectors` and re-sign"
        );
    }
}

#[test]
fn generation_is_deterministic_within_one_process() {
    assert_eq!(
        generate::all_files().unwrap(),
        generate::all_files().unwrap()
    );
}

#[test]
fn the_lint_finds_no_problem() {
    let problems = lint::lint(&vectors_dir(), &vectors_dir().join("../spec"), SUITES).unwrap();
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn the_committed_manifest_verifies_with_the_published_key() {
    let published = std::fs::read_to_string(vectors_dir().join("vector-signing.pub")).unwrap();
    // The key printed in the spec is the key the manifest is checked against.
    let spec = std::fs::read_to_string(vectors_dir().join("../spec/README.md")).unwrap();
    assert!(
        spec.contains(published.trim()),
        "spec/README.md does not print the vector-signing key"
    );
    let files = manifest::verify(&vectors_dir(), None).unwrap();
    assert!(files >= 2 * SUITES.len() + 2);
}

/// Copies the covered files and MANIFEST into a fresh directory, so a test can damage the copy.
fn copy_vectors(to: &Path) {
    for sub in ["suites", "schemas"] {
        std::fs::create_dir_all(to.join(sub)).unwrap();
        for entry in std::fs::read_dir(vectors_dir().join(sub)).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), to.join(sub).join(entry.file_name())).unwrap();
        }
    }
    for file in ["README.md", "vector-signing.pub", "MANIFEST"] {
        std::fs::copy(vectors_dir().join(file), to.join(file)).unwrap();
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("threads-vectors-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn verify_names_a_changed_a_missing_and_an_extra_file() {
    let dir = scratch("tamper");
    copy_vectors(&dir);
    let tid = dir.join("suites/tid.json");
    let mut text = std::fs::read_to_string(&tid).unwrap();
    text = text.replacen("\"valid\"", "\"invalid\"", 1);
    std::fs::write(&tid, text).unwrap();
    std::fs::remove_file(dir.join("schemas/keys.schema.json")).unwrap();
    std::fs::write(dir.join("suites/extra.json"), "{}").unwrap();
    let err = manifest::verify(&dir, None).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("suites/tid.json: sha256 is"), "{message}");
    assert!(
        message.contains("schemas/keys.schema.json: listed in MANIFEST but missing"),
        "{message}"
    );
    assert!(
        message.contains("suites/extra.json: present but not listed"),
        "{message}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn verify_rejects_a_changed_listing_and_another_key() {
    let dir = scratch("sig");
    copy_vectors(&dir);
    let manifest_path = dir.join("MANIFEST");
    let original = std::fs::read_to_string(&manifest_path).unwrap();
    // Change one hex digit of the first digest in the signed text: the signature must fail first.
    let suites = format!("suites {}\n", threads_vectors::format::SUITES_VERSION);
    let pos = original.find(&suites).unwrap() + suites.len();
    let mut bytes = original.clone().into_bytes();
    bytes[pos] = if bytes[pos] == b'0' { b'1' } else { b'0' };
    let changed = String::from_utf8(bytes).unwrap();
    assert_ne!(changed, original);
    std::fs::write(&manifest_path, &changed).unwrap();
    assert!(matches!(
        manifest::verify(&dir, None),
        Err(manifest::ManifestError::BadSignature(_))
    ));
    std::fs::write(&manifest_path, &original).unwrap();
    // A key trusted explicitly is accepted beside the pinned one, never instead of it.
    let other_key = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";
    assert!(manifest::verify(&dir, Some(other_key)).is_ok());
    assert!(manifest::verify(&dir, None).is_ok());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sign_then_verify_round_trips_with_a_test_key_and_refuses_a_mismatched_key() {
    let dir = scratch("sign");
    copy_vectors(&dir);
    // RFC 8032 TEST 1's seed and public key stand in for the real signing key.
    let seed = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
    let public = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
    let key_path = dir.join("test.key");
    std::fs::write(&key_path, seed).unwrap();
    assert!(matches!(
        manifest::sign(&dir, &key_path),
        Err(manifest::ManifestError::Key(_))
    ));
    std::fs::write(dir.join("vector-signing.pub"), public).unwrap();
    assert_eq!(manifest::sign(&dir, &key_path).unwrap(), public);
    let first = std::fs::read(dir.join("MANIFEST")).unwrap();
    manifest::sign(&dir, &key_path).unwrap();
    assert_eq!(
        first,
        std::fs::read(dir.join("MANIFEST")).unwrap(),
        "signing is deterministic"
    );
    // Signed by a key that is not the pinned one: refused, even with the key file beside it.
    assert!(matches!(
        manifest::verify(&dir, None),
        Err(manifest::ManifestError::UntrustedKey { .. })
    ));
    assert!(manifest::verify(&dir, Some(public)).is_ok());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_spec_registry_and_the_reference_registry_are_the_same() {
    let text = std::fs::read_to_string(vectors_dir().join("../spec/errors.md")).unwrap();
    let mut spec: Vec<(u16, String)> = Vec::new();
    for line in text.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if let [_, number, name, ..] = cells.as_slice()
            && let Ok(number) = number.parse::<u16>()
        {
            spec.push((number, name.to_string()));
        }
    }
    let reference: Vec<(u16, String)> = threads::ErrorCode::ALL
        .iter()
        .map(|c| (c.number(), c.name().to_string()))
        .collect();
    assert_eq!(
        spec, reference,
        "spec/errors.md and threads::ErrorCode differ"
    );
}

/// Every object with a `tcId` inside a JSON block of `text`.
fn quoted_cases(text: &str) -> Vec<serde_json::Value> {
    fn collect(value: &serde_json::Value, out: &mut Vec<serde_json::Value>) {
        match value {
            serde_json::Value::Object(map) if map.contains_key("tcId") => out.push(value.clone()),
            serde_json::Value::Object(map) => map.values().for_each(|v| collect(v, out)),
            serde_json::Value::Array(items) => items.iter().for_each(|v| collect(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for block in text.split("```json").skip(1) {
        let json = block.split("```").next().unwrap_or_default();
        if let Ok(value) = serde_json::from_str(json) {
            collect(&value, &mut out);
        }
    }
    out
}

#[test]
fn the_worked_examples_in_the_vectors_readme_quote_the_tid_suite_exactly() {
    let readme = std::fs::read_to_string(vectors_dir().join("README.md")).unwrap();
    let quoted = quoted_cases(&readme);
    assert!(
        quoted.len() >= 2,
        "the README quotes a valid and an invalid case"
    );
    let file = lint::load(&vectors_dir().join("suites/tid.json")).unwrap();
    for case in quoted {
        let id = case["tcId"].as_u64().unwrap();
        let (_, actual) = file.cases().find(|(_, c)| c.tc_id == id).unwrap();
        assert_eq!(
            case,
            serde_json::to_value(actual).unwrap(),
            "README quotes tid tcId {id} wrongly"
        );
    }
}
