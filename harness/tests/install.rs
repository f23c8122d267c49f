//! Installs `threads-conform` the way an implementer gets it, from the packaged crates, and runs
//! it from an empty directory (issue 19: "a kit implementers can install").
//!
//! 1. `cargo package --no-verify` of threads-fixtures, threads-reference, threads-vectors and
//!    threads-harness: the `.crate` files `cargo publish` would upload, in dependency order.
//! 2. Each `.crate` is unpacked. Their manifests name one another by version (from crates.io);
//!    a `[patch.crates-io]` (given with `--config`) points each at its unpacked package, so every
//!    one of them is built from its packaged form and nothing from the checkout.
//! 3. `cargo install --path <unpacked threads-harness> --locked --offline` into a temporary root,
//!    with the `Cargo.lock` that `cargo package` wrote into the harness's `.crate` (its entries
//!    for the kit's own crates turned into the path entries the patch produces; every third-party
//!    crate keeps the exact version and checksum that was packaged).
//! 4. The installed binary is copied into an empty directory and runs the whole suite there,
//!    against the reference compiled into it and against the Python example adapter (copied
//!    from the unpacked package).
//!
//! `cargo publish --dry-run` (CI, `.ci/run`) checks the other half: that each package builds and
//! verifies from its `.crate` against the others through cargo's temporary registry.
//!
//! The test compiles the kit in release mode (a few minutes the first time; the build is kept in
//! `target/install-test/`, the unpacked crates in the system's temporary directory), so it runs only when `THREADS_INSTALL_TEST=1`, as CI sets it; else it
//! says that it was skipped. It needs `python3` and `tar`.

#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sha2::Digest;

/// The kit's packages threads-conform is built from, in dependency order.
const PACKAGES: &[&str] = &[
    "threads-fixtures",
    "threads-reference",
    "threads-vectors",
    "threads-harness",
];

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn run(command: &mut Command) -> Output {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The packaged lock file, with the kit's own crates as path entries (what the patch makes them).
fn lock_for_patched(lock: &str) -> String {
    let mut out = String::new();
    let mut ours = false;
    for line in lock.lines() {
        if line == "[[package]]" {
            ours = false;
        }
        if let Some(name) = line.strip_prefix("name = ") {
            ours = PACKAGES.contains(&name.trim_matches('"'));
        }
        if ours && (line.starts_with("source = ") || line.starts_with("checksum = ")) {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[test]
fn the_packaged_kit_installs_and_runs_outside_the_checkout() {
    if std::env::var("THREADS_INSTALL_TEST").as_deref() != Ok("1") {
        eprintln!(
            "skipped: set THREADS_INSTALL_TEST=1 to package, install and run threads-conform \
             (a release build; .ci/run does)"
        );
        return;
    }
    let root = workspace();
    let work = root.join("target/install-test");
    // Unpacked outside the checkout (inside it, cargo would take them for workspace members), at
    // a path fixed per checkout, so that the release build in `work` is reused from run to run.
    let unpacked = std::env::temp_dir().join(format!(
        "threads-install-test-{}",
        hex::encode(&sha2::Sha256::digest(root.to_string_lossy().as_bytes())[..6])
    ));
    let _ = fs::remove_dir_all(&unpacked);
    fs::create_dir_all(&unpacked).unwrap();

    // 1. Package (the working tree as it is: CI's is a clean checkout).
    let mut package = cargo();
    package
        .current_dir(&root)
        .args(["package", "--no-verify", "--locked", "--allow-dirty"])
        .arg("--target-dir")
        .arg(work.join("target"));
    for name in PACKAGES {
        package.args(["-p", name]);
    }
    run(&mut package);

    // 2. Unpack, and patch each crate to its unpacked form.
    let mut patch = Vec::new();
    for name in PACKAGES {
        let crate_file = work.join(format!("target/package/{name}-{VERSION}.crate"));
        // `-m`: the files get the time of unpacking, not the time stored in the `.crate`, so the
        // kit's crates are always rebuilt from them (a stored time older than the kept build would
        // let cargo reuse a stale one); third-party crates stay built.
        run(Command::new("tar")
            .arg("-xzmf")
            .arg(&crate_file)
            .arg("-C")
            .arg(&unpacked));
        let dir = unpacked.join(format!("{name}-{VERSION}"));
        patch.push(format!(
            "patch.crates-io.{name}.path={:?}",
            dir.to_str().unwrap()
        ));
    }
    let harness = unpacked.join(format!("threads-harness-{VERSION}"));
    let lock = fs::read_to_string(harness.join("Cargo.lock")).unwrap();
    fs::write(harness.join("Cargo.lock"), lock_for_patched(&lock)).unwrap();

    // 3. Install into a temporary root.
    let install_root = tempfile::tempdir().unwrap();
    let mut install = cargo();
    install
        .current_dir(&unpacked)
        .env("CARGO_TARGET_DIR", work.join("target"))
        .args([
            "install",
            "--locked",
            "--offline",
            "--bin",
            "threads-conform",
        ])
        .arg("--path")
        .arg(&harness)
        .arg("--root")
        .arg(install_root.path());
    for p in &patch {
        install.arg("--config").arg(p);
    }
    run(&mut install);

    // 4. Copy the binary alone into an empty directory and run it there.
    let empty = tempfile::tempdir().unwrap();
    let exe = empty.path().join("threads-conform");
    fs::copy(install_root.path().join("bin/threads-conform"), &exe).unwrap();
    drop(install_root);
    let conform = |args: &[&str]| {
        let mut command = Command::new(&exe);
        command
            .current_dir(empty.path())
            .env_remove("CARGO_MANIFEST_DIR")
            .args(args);
        command
    };

    let version = run(&mut conform(&["--version"]));
    let version = String::from_utf8_lossy(&version.stdout).into_owned();
    assert!(version.contains(&format!("kit {VERSION}")), "{version}");
    assert!(
        version.contains(&format!(
            "vectors MANIFEST sha256 {}",
            threads_vectors::manifest::VectorSet::embedded_manifest_sha256()
        )),
        "{version}"
    );

    let json = empty.path().join("report.json");
    let full = run(&mut conform(&["run", "--json", json.to_str().unwrap()]));
    let summary = String::from_utf8_lossy(&full.stdout).into_owned();
    // Installed alone, without threads-sim, the liveness group [HP-93] is the one skip, and
    // the report says why.
    assert!(
        summary.contains(" 0 failed, 1 skipped\n")
            && summary
                .contains("SKIPPED liveness liveness (all 1 runs): threads-sim was not found"),
        "the full suite against the bundled reference:\n{summary}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["vectors"]["source"], "embedded");
    assert_eq!(report["vectors"]["signingKey"]["pinned"], true);

    let adapter = empty.path().join("threads_adapter.py");
    fs::copy(harness.join("adapters/python/threads_adapter.py"), &adapter).unwrap();
    let python = run(&mut conform(&[
        "run",
        "--impl",
        &format!("python3 {}", adapter.to_str().unwrap()),
    ]));
    let summary = String::from_utf8_lossy(&python.stdout).into_owned();
    assert!(
        summary.contains("threads-python-example") && summary.contains(" 0 failed, "),
        "the Python example adapter:\n{summary}"
    );

    let exported = empty.path().join("vectors");
    run(&mut conform(&[
        "vectors",
        "export",
        exported.to_str().unwrap(),
    ]));
    assert!(
        threads_vectors::manifest::verify_dir(&exported, &[])
            .unwrap()
            .pinned
    );
}

#[test]
fn the_lock_rewrite_touches_only_the_kits_crates() {
    let lock = "[[package]]\nname = \"hex\"\nversion = \"0.4.3\"\nsource = \"registry+x\"\nchecksum = \"ab\"\n\n[[package]]\nname = \"threads-vectors\"\nversion = \"0.1.0\"\nsource = \"registry+x\"\nchecksum = \"cd\"\ndependencies = [\n \"hex\",\n]\n";
    let out = lock_for_patched(lock);
    assert!(out.contains(
        "name = \"hex\"\nversion = \"0.4.3\"\nsource = \"registry+x\"\nchecksum = \"ab\"\n"
    ));
    assert!(out.contains("name = \"threads-vectors\"\nversion = \"0.1.0\"\ndependencies"));
}
