//! `threads-conform coverage`: for every requirement stated with MUST (MUST NOT, REQUIRED,
//! SHALL), the cases that check it and the catalogue faults that prove those cases can fail
//! [HP-87].

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use serde_json::{Value, json};
use threads_vectors::lint::CHECKED_ELSEWHERE;
use threads_vectors::manifest::VectorSet;

use super::FAULTS;
use crate::runner::liveness;
use crate::runner::scenario::SCENARIOS;

/// MUST requirements of appendix H that no case cites by tag, and why each is checked anyway:
/// the adapter-side rules of the transport and of the node methods, which every run exercises
/// (a reply that breaks them fails its case as a protocol violation, [HP-10], or fails its scenario
/// step by the result schemas of H.9). `coverage --strict` allows these; a tag that gains a citing
/// case must leave this list (a unit test says so).
pub const EXERCISED_BY_EVERY_RUN: &[(&str, &str)] = &[
    (
        "HP-3",
        "every request and reply of every run travels as HP-3 says",
    ),
    (
        "HP-5",
        "an unflushed reply is a timeout of its case (HP-19)",
    ),
    (
        "HP-9",
        "a failure reply of another shape fails its case as a protocol violation",
    ),
    (
        "HP-23",
        "an adapter that does not reply fails the case as a timeout or crash",
    ),
    ("HP-24", "every vector case is one `vector` request"),
    (
        "HP-25",
        "a log.replay failure without state fails the logs cases (fault replay-without-state)",
    ),
    (
        "HP-29",
        "scenario seeds and clocks are the harness's; checks compare exact values",
    ),
    (
        "HP-34",
        "every log.append step of the scenarios, checked by writer-appends and the result schema",
    ),
    (
        "HP-35",
        "every invite.export step, checked by the roles and keys checks of the scenarios",
    ),
    (
        "HP-36",
        "every invite.accept step, checked by follower-role and reader-role",
    ),
    (
        "HP-40",
        "node.read steps, checked by reader-reads and follower-cannot-read",
    ),
    ("HP-48", "acl.set steps of acl-revocation and db-access"),
];

/// Rules on the kit itself, not on an adapter: what the harness sends [HP-17], how it reads a
/// reply [HP-80], what its reports show [HP-85], what its catalogue and coverage do [HP-86],
/// [HP-87]. No adapter fault can break them, so none proves their cases can fail: the kit's own
/// tests that cite each one do, by failing when the harness breaks it. The report lists them
/// apart, with those tests, and never counts them as faults.
pub const RULES_ON_THE_KIT: &[(&str, &str)] = &[
    ("HP-17", "the requests the harness sends"),
    ("HP-80", "how the harness reads a reply"),
    ("HP-85", "what a failure report shows"),
    ("HP-86", "the catalogue"),
    ("HP-87", "this coverage report"),
];

/// What checks one requirement tag.
#[derive(Debug, Clone, Default)]
pub struct TagCoverage {
    /// The spec file that defines it.
    pub file: String,
    /// Whether its text says MUST, MUST NOT, REQUIRED or SHALL.
    pub must: bool,
    /// Vector cases citing it, as `suite:tcId`.
    pub vectors: Vec<String>,
    /// Live-scenario checks citing it, as `scenario:check`.
    pub checks: Vec<String>,
    /// The kit's own tests that check it where no vector can: the vector lint's list, and the
    /// harness's tests that cite it (`[TAG]` in the test or the comment above it).
    pub elsewhere: Vec<String>,
    /// Catalogue faults that violate it.
    pub faults: Vec<String>,
    /// For a rule on the harness: the catalogue faults whose catch proves the harness enforces
    /// it (their `caught_by`), which the catalogue confirms run by run.
    pub enforcing: Vec<String>,
    /// Driver faults that violate it below the harness protocol, each proven by the reference
    /// test paired with it ([`super::driver`]).
    pub driver: Vec<String>,
}

impl TagCoverage {
    /// Whether some case checks it.
    pub fn has_case(&self) -> bool {
        !(self.vectors.is_empty() && self.checks.is_empty() && self.elsewhere.is_empty())
    }

    /// Whether a catalogue fault proves its cases can fail: one that violates it, or one whose
    /// catch shows the harness enforcing it.
    pub fn has_fault(&self) -> bool {
        !(self.faults.is_empty() && self.enforcing.is_empty() && self.driver.is_empty())
    }

    /// The kit's own tests that cite it, under `harness/tests/` or in a unit test of `src/`.
    pub fn kit_tests(&self) -> Vec<&str> {
        self.elsewhere
            .iter()
            .filter(|t| t.starts_with("harness/"))
            .map(String::as_str)
            .collect()
    }
}

/// Whether `tag` is a rule on the kit ([`RULES_ON_THE_KIT`]).
pub fn on_the_kit(tag: &str) -> bool {
    RULES_ON_THE_KIT.iter().any(|(t, _)| *t == tag)
}

/// Every tag of the chapters in `spec_dir`, with what checks it.
pub fn collect(spec_dir: &Path, set: &VectorSet) -> Result<BTreeMap<String, TagCoverage>, String> {
    let mut tags = requirement_texts(spec_dir)?;
    for name in threads_vectors::generate::SUITES {
        let file = set.suite(name)?;
        for group in &file.test_groups {
            for case in &group.tests {
                if let Some(tag) = tags.get_mut(&case.spec_section) {
                    tag.vectors.push(format!("{name}:{}", case.tc_id));
                }
            }
        }
    }
    for scenario in SCENARIOS {
        for check in scenario.checks {
            if let Some(tag) = tags.get_mut(check.spec) {
                tag.checks.push(scenario.case_name(check));
            }
        }
    }
    if let Some(tag) = tags.get_mut(liveness::TAG) {
        tag.checks
            .push("liveness:<scenario>/seed-<n> (every simulator scenario, every seed)".into());
    }
    for (tag, what) in CHECKED_ELSEWHERE {
        if let Some(tag) = tags.get_mut(*tag) {
            tag.elsewhere.push(what.to_string());
        }
    }
    if let Some(root) = spec_dir.parent() {
        for (cited, test) in harness_tests(&root.join("harness"))? {
            if let Some(tag) = tags.get_mut(&cited) {
                tag.elsewhere.push(test);
            }
        }
    }
    for fault in FAULTS {
        if let Some(tag) = tags.get_mut(fault.tag) {
            tag.faults.push(fault.name.to_string());
        }
        for rule in fault.caught_by {
            if let Some(tag) = tags.get_mut(*rule) {
                tag.enforcing.push(fault.name.to_string());
            }
        }
    }
    for fault in super::driver::DRIVER_FAULTS {
        if let Some(tag) = tags.get_mut(fault.tag) {
            tag.driver.push(fault.name.to_string());
        }
    }
    Ok(tags)
}

/// Each tag defined in the chapters (`**[TAG]**`), with whether its text, up to the next tag or
/// heading, states a requirement with MUST, REQUIRED or SHALL.
fn requirement_texts(spec_dir: &Path) -> Result<BTreeMap<String, TagCoverage>, String> {
    let mut out = BTreeMap::new();
    let entries = fs::read_dir(spec_dir).map_err(|e| format!("{}: {e}", spec_dir.display()))?;
    let mut files: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    files.sort();
    for path in files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !name.ends_with(".md") || name == "README.md" {
            continue;
        }
        let text = fs::read_to_string(&path).map_err(|e| format!("{name}: {e}"))?;
        for piece in text.split("**[").skip(1) {
            let Some((tag, body)) = piece.split_once("]**") else {
                continue;
            };
            if !is_tag(tag) {
                continue;
            }
            let end = ["<a id=", "\n#"]
                .iter()
                .filter_map(|m| body.find(m))
                .min()
                .unwrap_or(body.len());
            let body = &body[..end];
            let must = ["MUST", "REQUIRED", "SHALL"]
                .iter()
                .any(|w| body.contains(w));
            out.insert(
                tag.to_string(),
                TagCoverage {
                    file: name.clone(),
                    must,
                    ..TagCoverage::default()
                },
            );
        }
    }
    Ok(out)
}

/// The tests under `dir` (`tests/` and `src/`, recursively), each with the tags it cites in
/// brackets in its body or the doc comment above it: (tag, `path fn`).
fn harness_tests(dir: &Path) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.join("tests"), dir.join("src")];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            let entries = fs::read_dir(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            stack.extend(entries.flatten().map(|e| e.path()));
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let shown = path
            .strip_prefix(dir.parent().unwrap_or(dir))
            .unwrap_or(&path);
        for (name, region) in test_regions(&text) {
            for tag in bracketed_tags(region) {
                out.push((tag, format!("{} {name}", shown.display())));
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Each `#[test]` function of a Rust file: its name, and its text from the doc comment above it
/// to the next test.
fn test_regions(text: &str) -> Vec<(&str, &str)> {
    // Only an attribute that opens its line: `#[test]` in a comment or a string is none.
    let starts: Vec<usize> = text
        .match_indices("#[test]")
        .map(|(i, _)| i)
        .filter(|&i| {
            text[..i]
                .rsplit('\n')
                .next()
                .is_some_and(|l| l.trim().is_empty())
        })
        .collect();
    // The doc comment lines right above the attribute belong to the test, not to the one before.
    let froms: Vec<usize> = starts
        .iter()
        .map(|&start| {
            let mut from = start;
            for line in text[..start].lines().rev().skip(1) {
                if !line.trim_start().starts_with("///") {
                    break;
                }
                from = from.saturating_sub(line.len() + 1);
            }
            from
        })
        .collect();
    let mut out = Vec::new();
    for (k, &start) in starts.iter().enumerate() {
        let end = froms.get(k + 1).copied().unwrap_or(text.len()).max(start);
        let body = &text[start..end];
        let name = body
            .split_once("fn ")
            .and_then(|(_, rest)| rest.split('(').next())
            .unwrap_or("?");
        out.push((name, &text[froms[k]..end]));
    }
    out
}

/// The tags written in brackets (`[HP-82]`) in `text`.
fn bracketed_tags(text: &str) -> Vec<String> {
    text.split('[')
        .skip(1)
        .filter_map(|piece| piece.split_once(']').map(|(tag, _)| tag))
        .filter(|tag| is_tag(tag))
        .map(String::from)
        .collect()
}

fn is_tag(s: &str) -> bool {
    s.split_once('-').is_some_and(|(area, n)| {
        !area.is_empty()
            && area.chars().all(|c| c.is_ascii_uppercase())
            && !n.is_empty()
            && n.chars().all(|c| c.is_ascii_digit())
    })
}

fn sorted_tags(tags: &BTreeMap<String, TagCoverage>) -> Vec<(&String, &TagCoverage)> {
    let mut list: Vec<_> = tags.iter().filter(|(_, c)| c.must).collect();
    list.sort_by_key(|(tag, c)| {
        let (area, n) = tag.split_once('-').unwrap_or_default();
        (
            c.file.clone(),
            area.to_string(),
            n.parse::<u32>().unwrap_or(0),
        )
    });
    list
}

/// The text report: one line per MUST tag, then the tags without a case and without a fault.
pub fn render(tags: &BTreeMap<String, TagCoverage>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:10} {:22} {:>7} {:>7} {:>9}  faults",
        "tag", "chapter", "vectors", "checks", "elsewhere"
    );
    let list = sorted_tags(tags);
    for (tag, c) in &list {
        let _ = writeln!(
            out,
            "{tag:10} {:22} {:>7} {:>7} {:>9}  {}",
            c.file,
            c.vectors.len(),
            c.checks.len(),
            c.elsewhere.len(),
            faults_column(tag, c)
        );
    }
    let no_case: Vec<&str> = list
        .iter()
        .filter(|(t, c)| !c.has_case() && !allowed(t))
        .map(|(t, _)| t.as_str())
        .collect();
    let exercised: Vec<&str> = list
        .iter()
        .filter(|(t, c)| !c.has_case() && allowed(t))
        .map(|(t, _)| t.as_str())
        .collect();
    let no_fault = without_fault(tags);
    let kit: Vec<(&String, &TagCoverage)> = list
        .iter()
        .filter(|(t, _)| on_the_kit(t))
        .copied()
        .collect();
    let enforced = list
        .iter()
        .filter(|(_, c)| c.faults.is_empty() && !c.enforcing.is_empty())
        .count();
    let driven: Vec<(&String, &TagCoverage)> = list
        .iter()
        .filter(|(_, c)| !c.driver.is_empty())
        .copied()
        .collect();
    let _ = writeln!(
        out,
        "\n{} MUST tags: {} checked by a case, {} exercised by every run, {} with a catalogue \
         fault ({} of them by the enforcement a fault's catch proves, {} by a driver fault), {} \
         rules on the kit",
        list.len(),
        list.len() - no_case.len() - exercised.len(),
        exercised.len(),
        list.iter().filter(|(_, c)| c.has_fault()).count(),
        enforced,
        driven.len(),
        kit.len()
    );
    let _ = writeln!(
        out,
        "exercised by every run, cited by no case ({}, coverage::EXERCISED_BY_EVERY_RUN): {}",
        exercised.len(),
        exercised.join(" ")
    );
    let _ = writeln!(
        out,
        "NO CASE ({}): {}",
        no_case.len(),
        if no_case.is_empty() {
            "none".to_string()
        } else {
            no_case.join(" ")
        }
    );
    let _ = writeln!(
        out,
        "rules on the kit, proven by the kit's tests, never by a fault ({}, \
         coverage::RULES_ON_THE_KIT):",
        kit.len()
    );
    for (tag, c) in &kit {
        let tests = c.kit_tests();
        let _ = writeln!(
            out,
            "  {tag:7} {}",
            if tests.is_empty() {
                "NO TEST cites it".to_string()
            } else {
                tests.join(", ")
            }
        );
    }
    let _ = writeln!(
        out,
        "driver faults, below the harness protocol, proven by the reference's own tests ({}, \
         catalogue::driver):",
        driven.len()
    );
    for (tag, c) in &driven {
        for name in &c.driver {
            let test = super::driver::find(name)
                .map(|f| format!("{} {}", f.target.shown(), f.test))
                .unwrap_or_default();
            let _ = writeln!(out, "  {tag:8} {name:32} {test}");
        }
    }
    let _ = writeln!(
        out,
        "NO FAULT ({}): {}",
        no_fault.len(),
        if no_fault.is_empty() {
            "none".to_string()
        } else {
            no_fault.join(" ")
        }
    );
    out
}

/// The report's faults column: the faults that violate the tag, then those whose catch proves
/// the harness enforces it, or `kit` for a rule on the kit.
fn faults_column(tag: &str, c: &TagCoverage) -> String {
    let mut parts = c.faults.clone();
    parts.extend(c.driver.iter().map(|d| format!("driver:{d}")));
    if !c.enforcing.is_empty() {
        parts.push(format!("enforced against: {}", c.enforcing.join(" ")));
    }
    if parts.is_empty() {
        return if on_the_kit(tag) { "kit" } else { "-" }.to_string();
    }
    parts.join(" ")
}

/// The MUST tags no catalogue fault proves, rules on the kit left out (their tests prove them).
pub fn without_fault(tags: &BTreeMap<String, TagCoverage>) -> Vec<String> {
    sorted_tags(tags)
        .into_iter()
        .filter(|(t, c)| !c.has_fault() && !on_the_kit(t))
        .map(|(t, _)| t.clone())
        .collect()
}

/// The tags of `tags` stated with MUST that no case checks and [`EXERCISED_BY_EVERY_RUN`] does
/// not explain: what `--strict` fails on.
pub fn uncovered(tags: &BTreeMap<String, TagCoverage>) -> Vec<String> {
    sorted_tags(tags)
        .into_iter()
        .filter(|(t, c)| !c.has_case() && !allowed(t))
        .map(|(t, _)| t.clone())
        .collect()
}

fn allowed(tag: &str) -> bool {
    EXERCISED_BY_EVERY_RUN.iter().any(|(t, _)| *t == tag)
}

/// The JSON report: `{kind: "coverage", tags: [{tag, file, vectors, checks, elsewhere, faults}],
/// noCase, noFault}`.
pub fn to_json(tags: &BTreeMap<String, TagCoverage>) -> Value {
    let list = sorted_tags(tags);
    let items: Vec<Value> = list
        .iter()
        .map(|(tag, c)| {
            json!({"tag": tag, "file": c.file, "vectors": c.vectors, "checks": c.checks,
                "elsewhere": c.elsewhere, "faults": c.faults, "enforcedAgainst": c.enforcing,
                "driverFaults": c.driver,
                "onTheKit": on_the_kit(tag)})
        })
        .collect();
    json!({
        "kind": "coverage",
        "tags": items,
        "noCase": uncovered(tags),
        "exercised": list.iter().filter(|(t, c)| !c.has_case() && allowed(t))
            .map(|(t, _)| t.as_str()).collect::<Vec<_>>(),
        "noFault": without_fault(tags),
        "onTheKit": list.iter().filter(|(t, _)| on_the_kit(t))
            .map(|(t, c)| json!({"tag": t, "tests": c.kit_tests()})).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [HP-87]: the list of MUST tags without a case is empty, the allow-list holds only tags
    /// that still need it, and every fault is counted on its tag.
    #[test]
    fn every_must_of_the_spec_is_checked_by_a_case_and_every_fault_is_counted() {
        let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec");
        let tags = collect(&spec, &VectorSet::embedded()).expect("coverage");
        assert!(tags.values().filter(|c| c.must).count() > 100);
        assert_eq!(uncovered(&tags), Vec::<String>::new());
        for (tag, _) in EXERCISED_BY_EVERY_RUN {
            let c = &tags[*tag];
            assert!(
                c.must && !c.has_case(),
                "{tag} no longer needs the allow-list"
            );
        }
        // A fault may break a normative definition stated without MUST (SEAL-2's associated
        // data); the report counts it on that tag all the same.
        for fault in FAULTS {
            assert!(tags[fault.tag].faults.iter().any(|f| f == fault.name));
        }
        // A driver fault counts on its tag, a MUST below the harness protocol.
        for fault in super::super::driver::DRIVER_FAULTS {
            let c = &tags[fault.tag];
            assert!(c.must && c.has_fault(), "{}", fault.name);
            assert!(c.driver.iter().any(|f| f == fault.name));
        }
        let report = render(&tags);
        let (_, driven) = report
            .split_once("driver faults, below the harness protocol")
            .expect("the driver faults are listed apart");
        for fault in super::super::driver::DRIVER_FAULTS {
            assert!(driven.contains(fault.test), "{}", fault.name);
            assert!(!without_fault(&tags).iter().any(|t| t == fault.tag));
        }
        // A rule on the kit is proven by the kit's tests that cite it, never by a fault; a fault's
        // `caught_by` names rules on the harness stated with MUST.
        for (tag, _) in RULES_ON_THE_KIT {
            let c = &tags[*tag];
            assert!(c.must && !c.kit_tests().is_empty(), "{tag}: {c:?}");
            assert!(c.faults.is_empty() && c.enforcing.is_empty(), "{tag}");
        }
        for fault in FAULTS {
            for rule in fault.caught_by {
                assert!(
                    tags[*rule].must && !on_the_kit(rule),
                    "{}: {rule}",
                    fault.name
                );
            }
        }
        // The small-order points are cited by the vectors that try them.
        let logid3 = &tags["LOGID-3"].vectors;
        assert!(logid3.len() >= 16, "{logid3:?}");
        assert!(
            tags["TID-6"]
                .checks
                .iter()
                .any(|c| c.ends_with("/thread-id"))
        );
    }
}
