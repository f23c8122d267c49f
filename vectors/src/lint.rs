//! Consistency checks over the vector files and the spec: schema validity, unique tcIds, accurate
//! counts, documented flags, existing spec sections, and coverage of every requirement tag.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use serde_json::Value;

use crate::format::SuiteFile;
use crate::ops;

/// The spec chapters whose every requirement the vectors must cite.
pub const COVERED_CHAPTERS: &[&str] = &[
    "identifiers.md",
    "keys.md",
    "records.md",
    "logs.md",
    "invites.md",
    "acl.md",
    "sync.md",
    "database.md",
];

/// Requirements no vector can check, because they constrain behaviour (over time, between peers,
/// or with randomness) or lie outside every vector operation, with the live harness scenario or
/// test that checks them instead. An entry that begins "in part" names where the part no vector
/// can reach is checked (a size limit, behaviour over time) for a tag that vectors also cite.
pub const CHECKED_ELSEWHERE: &[(&str, &str)] = &[
    (
        "DB-28",
        "behaviour of a running peer over time: reference/src/db/tests.rs \
         db_28_a_peer_keeps_its_latest_snapshot_with_its_events_and_restarts_from_it (the store \
         holds the latest snapshot after each write, including after an event that moves it)",
    ),
    (
        "DB-29",
        "a peer's own storage, which no vector operation reads: reference/src/db/tests.rs \
         db_29_a_restart_skips_the_covered_records_and_refuses_rows_that_do_not_check and \
         db_28_a_peer_keeps_its_latest_snapshot_with_its_events_and_restarts_from_it",
    ),
    (
        "DB-25",
        "a prohibition: no sync message type of SYNC-1 carries a snapshot (the sync suite refuses \
         any other type with MESSAGE_MALFORMED), and the only way the reference builds a view from \
         a snapshot, DbView::resume, takes the events it checks the snapshot against (db vectors \
         DbResume, DB-24)",
    ),
    (
        "SYNC-35",
        "reference/src/db/tests.rs sync_35_a_peer_that_compacted_its_view_still_serves_every_record: \
         a new member pulls the whole history from a peer whose view is compacted",
    ),
    (
        "DB-13",
        "reference/src/db/tests.rs a_revoked_writers_later_events_are_stored_but_never_applied: \
         which events a peer applies follows its ACL state (ACL-7, ACL-8) over time; the db \
         vectors fold a given set of applied events",
    ),
    (
        "INV-4",
        "harness scenario acl-revocation, checks reader-keys and follower-keys: what an inviter \
         sends is behaviour (each invited peer gets exactly the keys of its role); the invites \
         vectors check what a recipient accepts",
    ),
    (
        "INV-7",
        "harness scenario acl-revocation, check writer-accepted (the invited writer joins with a \
         join event that the reader holds); the join body's own rules in reference/tests/invites.rs \
         an_invited_writer_joins_and_the_inviter_reads_its_join and malformed_join_bodies_are_refused \
         (no vector operation decodes a join body)",
    ),
    (
        "ACL-14",
        "reference/tests/acl.rs entity_acls_decide_for_their_entity: entity ACLs belong to the \
         application, and no vector operation decides with one",
    ),
    (
        "SYNC-2",
        "in part: the 8 MiB limit, which no vector file of reasonable size can reach, by \
         reference/src/sync/message.rs malformed_and_oversized_messages_are_message_malformed; the \
         rest of SYNC-2 is cited by the sync vectors",
    ),
    (
        "SYNC-3",
        "reference/tests/sync.rs \
         messages_about_unknown_threads_get_only_a_challenge_and_from_itself_nothing; \
         reference/tests/membership.rs an_unknown_thread_and_a_bad_proof_get_answers_of_the_same_shape",
    ),
    (
        "SYNC-4",
        "reference/tests/sync.rs \
         an_appended_record_is_pushed_to_every_peer_of_the_thread_and_published_on_its_topic; \
         reference/src/sync/mod.rs new_records_are_pushed_to_peers_that_pulled; \
         reference/tests/sync.rs \
         a_peer_that_missed_pushes_catches_up_at_the_next_head_exchange and \
         peers_converge_after_loss_duplication_and_reordering (pushes lost, duplicated, reordered); \
         gossipsub itself in reference/src/node/transport.rs \
         a_request_and_a_gossip_message_cross_between_two_swarms",
    ),
    (
        "SYNC-5",
        "in part: the 4 MiB batch limit, which needs more than 8 MiB of hex in a vector file, by \
         reference/tests/sync.rs a_pull_answer_is_cut_at_the_byte_limit_and_the_puller_pulls_the_rest; \
         the rest of SYNC-5 is cited by the sync vectors (sync.servePull)",
    ),
    (
        "SYNC-8",
        "reference/tests/sync.rs a_peer_that_missed_pushes_catches_up_at_the_next_head_exchange \
         (a follower's periodic heads bring a reader that missed pushes up to date with the writer \
         offline) and peers_converge_after_loss_duplication_and_reordering",
    ),
    (
        "SYNC-9",
        "reference/src/book.rs addresses_expire_after_their_ttl_unless_refreshed and \
         an_address_naming_another_peer_is_not_filed_under_this_one (the address book); \
         reference/tests/node.rs a_reader_catches_up_from_a_follower_while_the_writer_is_offline \
         (the writer's invite lists the follower's address for every log, and the reader syncs \
         from the follower alone) and a_follower_killed_mid_catch_up_restarts_consistent_and_catches_up \
         (restarted, it reaches the writer at its stored address); reference/tests/sync.rs \
         a_restarted_peer_still_knows_where_its_thread_peers_are; harness scenario \
         writer-follower-reader, checks follower-heads \
         and reader-heads (the head book)",
    ),
    (
        "SYNC-10",
        "reference/tests/sync.rs \
         an_unanswered_pull_is_sent_again_with_backoff_and_only_one_waits_at_a_time; \
         reference/src/book.rs retries_back_off_exponentially_to_a_cap",
    ),
    (
        "SYNC-32",
        "reference/tests/pipelining.rs \
         a_window_of_pulls_asks_for_disjoint_consecutive_ranges_and_answers_in_reverse_are_decided_in_order \
         and a_window_of_one_is_one_pull_at_a_time (which pulls a peer sends, and when, is \
         behaviour over time; a vector decides one message)",
    ),
    (
        "SYNC-33",
        "reference/tests/pipelining.rs \
         a_lost_answer_is_pulled_again_on_its_own_clock_and_releases_the_held_ones and \
         forged_answers_are_held_at_most_one_per_pull_and_never_stored",
    ),
    (
        "SYNC-34",
        "reference/tests/pipelining.rs (the same records appended in log order whatever the \
         order answers arrive in); simulator sweeps of every scenario with pipelining on, \
         crash-restart included (simulator/src/scenarios.rs)",
    ),
    (
        "SYNC-12",
        "reference/tests/sync.rs a_peer_whose_store_fails_acknowledges_nothing_more_and_stops; \
         reference/tests/node.rs a_follower_killed_mid_catch_up_restarts_consistent_and_catches_up \
         (threads-node killed with SIGKILL while it ingests: no counter behind what it reported); \
         reference/src/store/redb.rs refused_puts_change_nothing_on_disk (batches only in seq \
         order, and no record before its thread's description)",
    ),
    (
        "SYNC-13",
        "reference/tests/sync.rs a_peer_reopened_from_its_store_holds_every_record_and_the_same_heads \
         and stored_data_that_no_longer_verifies_is_store_corrupt; reference/tests/node.rs \
         a_follower_killed_mid_catch_up_restarts_consistent_and_catches_up (heads rebuilt from the \
         store match it)",
    ),
    (
        "SYNC-14",
        "in part: what a follower does over time, by reference/tests/sync.rs \
         peers_converge_after_loss_duplication_and_reordering (a follower never reads), harness \
         scenario writer-follower-reader (checks follower-heads, follower-cannot-read, reader-heads \
         with the writer offline) and reference/tests/node.rs \
         a_reader_catches_up_from_a_follower_while_the_writer_is_offline; sync.decideRecords \
         vectors check that readers and followers append the same records",
    ),
    (
        "SYNC-15",
        "reference/tests/node.rs a_reader_catches_up_from_a_follower_while_the_writer_is_offline \
         (threads-node processes over loopback TCP with Noise and Yamux, messages on \
         /threads/sync/1); reference/src/node/transport.rs \
         frames_round_trip_and_oversized_ones_are_refused (the length prefix, the 00 \
         acknowledgement, a prefix over 8 MiB refused before the rest is read)",
    ),
    (
        "SYNC-16",
        "reference/src/node/transport.rs a_request_and_a_gossip_message_cross_between_two_swarms \
         (a publication crosses between two swarms whose gossipsub signs and strictly validates \
         messages); the topic and the sealed payload by the membership vectors (SYNC-24); \
         Peer::handle_publication by reference/src/sync/tests.rs \
         publications_are_opened_decided_and_their_unproven_relays_not_filed",
    ),
    (
        "SYNC-25",
        "reference/src/node/transport.rs a_refusal_carries_its_code_on_the_wire (the refusal \
         frame's bytes, and bodies that are neither empty nor a registered refusal refused) and \
         a_peer_past_the_budget_is_told_so_and_the_next_request_gets_through (between two swarms)",
    ),
    (
        "SYNC-26",
        "reference/src/node/transport.rs \
         a_request_past_the_inbound_budget_is_drained_and_gives_its_bytes_back; \
         reference/tests/hostile.rs requests_past_the_inbound_budget_are_refused_with_a_code \
         (half-sent requests from six strangers past the node-wide budget: refusals with code \
         710, every byte given back, bounded memory)",
    ),
    (
        "SYNC-27",
        "reference/src/node/transport.rs \
         a_peer_past_the_budget_is_told_so_and_the_next_request_gets_through (a refused request \
         is settled and counted in refused_by_peers, never handled; the next one that fits is); \
         the sync's recovery of undelivered messages by SYNC-8 and SYNC-10's tests",
    ),
    (
        "SYNC-28",
        "reference/src/node/transport.rs one_peer_past_its_share_is_refused_while_another_is_read \
         (the codec charges each connection's peer; past its share a request is drained and \
         refused while the node's budget has room) and a_live_connection_charges_its_peer_share \
         (between two swarms, every byte charged to the authenticated sender); \
         reference/tests/hostile.rs \
         one_peer_past_its_share_is_refused_while_an_honest_peer_catches_up (one identity's \
         32 MiB of half-sent requests: at most its 16 MiB share held, the rest refused with 710, \
         an honest follower catches up meanwhile)",
    ),
    (
        "SYNC-29",
        "a sender's bound, behaviour over time: reference/tests/hostile.rs \
         pulls_from_a_peer_that_stops_reading_stay_within_the_budget (at most 16 MiB queued for \
         one peer) and one_peer_past_its_share_is_refused_while_an_honest_peer_catches_up (a \
         sender within it is never refused beside a flooder: the writer's refused_by_peers is 0)",
    ),
    (
        "SYNC-19",
        "reference/tests/membership.rs relayed_reflected_and_replayed_proofs_fail (a proof over an \
         expired nonce, or presented to another verifier, is refused; one over a live nonce is \
         accepted) and a_restarted_peer_re_proves_and_sync_resumes (a restart voids nonces and \
         proofs); the nonce is the verifier's choice, so no vector can pin it",
    ),
    (
        "SYNC-20",
        "reference/tests/membership.rs the_handshake_completes_after_any_loss_followed_by_delivery \
         (proptest), an_unknown_thread_and_a_bad_proof_get_answers_of_the_same_shape and \
         relayed_reflected_and_replayed_proofs_fail (a bad proof gets no answer); the proof itself \
         by the membership vectors (SYNC-18)",
    ),
    (
        "SYNC-21",
        "reference/tests/membership.rs \
         a_stranger_who_knows_the_tid_gets_no_record_counter_or_log_id (a writer, a reader and a \
         follower send a stranger only auth messages and file nothing) and \
         a_restarted_peer_re_proves_and_sync_resumes; reference/tests/sync.rs and \
         reference/src/sync/tests.rs prove every peer before it is served",
    ),
    (
        "SYNC-22",
        "reference/tests/membership.rs a_revoked_peer_is_refused_by_readers_and_writers_at_once; \
         simulator scenario revoked-member (a revoked member keeps pulling, pushing and replaying \
         its old proofs: no pull, records or heads from a reader or writer holding the \
         revocation, nothing kept from it; the broken peer ignores-revocation is caught, \
         simulator/tests/broken.rs)",
    ),
    (
        "SYNC-30",
        "reference/src/sync/tests.rs \
         a_batch_append_is_one_store_write_and_reaches_peers_like_single_appends and \
         batch_appends_over_the_limit_or_without_a_log_are_refused; reference/tests/node.rs \
         kills_at_random_moments_lose_nothing_acknowledged (bursts of appends written at once are \
         group-committed; a kill loses none that was answered) and \
         a_follower_killed_mid_catch_up_restarts_consistent_and_catches_up (stdin appends batched)",
    ),
    (
        "SYNC-31",
        "reference/src/sync/tests.rs verification_on_threads_decides_as_inline (a duplicate, a \
         bad signature and a gap decided alike on 1, 2, 3 and 8 threads)",
    ),
];

/// Every requirement tag defined (`**[TAG]**`) in the spec's Markdown files, by file.
pub fn spec_tags(spec_dir: &Path) -> Result<BTreeMap<String, String>, String> {
    let mut tags = BTreeMap::new();
    let entries = fs::read_dir(spec_dir).map_err(|e| format!("{}: {e}", spec_dir.display()))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        // README.md shows tags as examples of the notation; only chapters define requirements.
        if !name.ends_with(".md") || name == "README.md" {
            continue;
        }
        let text = fs::read_to_string(entry.path()).map_err(|e| format!("{name}: {e}"))?;
        for piece in text.split("**[").skip(1) {
            if let Some((tag, _)) = piece.split_once("]**")
                && is_tag(tag)
            {
                tags.insert(tag.to_string(), name.clone());
            }
        }
    }
    Ok(tags)
}

fn is_tag(s: &str) -> bool {
    s.split_once('-').is_some_and(|(area, n)| {
        !area.is_empty()
            && area.chars().all(|c| c.is_ascii_uppercase())
            && !n.is_empty()
            && n.chars().all(|c| c.is_ascii_digit())
    })
}

/// Loads a suite file, naming the file in any error.
pub fn load(path: &Path) -> Result<SuiteFile, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Lints the vector directory against the spec directory; returns the problems found.
pub fn lint(vectors_dir: &Path, spec_dir: &Path, suites: &[&str]) -> Result<Vec<String>, String> {
    let tags = spec_tags(spec_dir)?;
    let mut problems = Vec::new();
    let mut cited = BTreeSet::new();
    for suite in suites {
        let path = vectors_dir.join("suites").join(format!("{suite}.json"));
        let schema_path = vectors_dir
            .join("schemas")
            .join(format!("{suite}.schema.json"));
        let raw: Value = serde_json::from_str(
            &fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?,
        )
        .map_err(|e| format!("{}: {e}", path.display()))?;
        let schema: Value = serde_json::from_str(
            &fs::read_to_string(&schema_path)
                .map_err(|e| format!("{}: {e}", schema_path.display()))?,
        )
        .map_err(|e| format!("{}: {e}", schema_path.display()))?;
        let validator = jsonschema::validator_for(&schema)
            .map_err(|e| format!("{}: {e}", schema_path.display()))?;
        for error in validator.iter_errors(&raw) {
            problems.push(format!(
                "{suite}: schema: {error} at {}",
                error.instance_path()
            ));
        }
        let file = load(&path)?;
        problems.extend(lint_file(&file, &tags, &mut cited));
    }
    let covered: BTreeSet<&String> = tags
        .iter()
        .filter(|(_, file)| COVERED_CHAPTERS.contains(&file.as_str()))
        .map(|(tag, _)| tag)
        .collect();
    let withdrawn = withdrawn_tags(spec_dir)?;
    for tag in covered
        .into_iter()
        .filter(|t| !withdrawn.contains(t.as_str()))
    {
        let elsewhere = CHECKED_ELSEWHERE.iter().any(|(t, _)| t == tag);
        if !cited.contains(tag.as_str()) && !elsewhere {
            problems.push(format!(
                "{tag} ({}) is cited by no vector and not listed as checked elsewhere",
                tags[tag]
            ));
        }
    }
    problems.extend(lint_anchors(spec_dir)?);
    problems.extend(lint_pinned_key(vectors_dir, spec_dir));
    if let Some(root) = spec_dir.parent() {
        problems.extend(lint_doc_tags(root, &tags)?);
    }
    Ok(problems)
}

/// The published key in three places must be one key: the one pinned in the binaries
/// ([`crate::manifest::PINNED_PUBLIC_KEY`]), `vector-signing.pub` and the block under "Vector
/// signing key" in `spec/README.md`.
pub fn lint_pinned_key(vectors_dir: &Path, spec_dir: &Path) -> Vec<String> {
    use crate::manifest::{PINNED_PUBLIC_KEY, PUBLIC_KEY_FILE};
    let mut problems = Vec::new();
    let file = vectors_dir.join(PUBLIC_KEY_FILE);
    match fs::read_to_string(&file) {
        Ok(text) if text.trim() == PINNED_PUBLIC_KEY => {}
        Ok(text) => problems.push(format!(
            "{PUBLIC_KEY_FILE} holds {:?}, not the key pinned in the binaries ({PINNED_PUBLIC_KEY})",
            text.trim()
        )),
        Err(e) => problems.push(format!("{}: {e}", file.display())),
    }
    let readme = spec_dir.join("README.md");
    match fs::read_to_string(&readme) {
        Ok(text) => {
            // Every 64-hex-digit line of the section must be the pinned key, and there must be one.
            let section = text
                .split_once("## Vector signing key")
                .map(|(_, rest)| rest.split("\n## ").next().unwrap_or(rest))
                .unwrap_or("");
            let keys: Vec<&str> = section
                .lines()
                .map(str::trim)
                .filter(|l| l.len() == 64 && l.bytes().all(|b| b.is_ascii_hexdigit()))
                .collect();
            if keys.is_empty() {
                problems.push(
                    "spec/README.md prints no vector-signing key under \"## Vector signing key\""
                        .to_string(),
                );
            }
            for key in keys.into_iter().filter(|k| *k != PINNED_PUBLIC_KEY) {
                problems.push(format!(
                    "spec/README.md prints the vector-signing key {key}, not the key pinned in \
                     the binaries ({PINNED_PUBLIC_KEY})"
                ));
            }
        }
        Err(e) => problems.push(format!("{}: {e}", readme.display())),
    }
    problems
}

/// The tags whose definition is marked withdrawn (`**[TAG]** *(withdrawn in x.y.z)*`): they keep
/// their paragraph and number, and check nothing.
fn withdrawn_tags(spec_dir: &Path) -> Result<BTreeSet<String>, String> {
    let mut withdrawn = BTreeSet::new();
    for text in spec_chapters(spec_dir)?.values() {
        for piece in text.split("**[").skip(1) {
            if let Some((tag, rest)) = piece.split_once("]**")
                && is_tag(tag)
                && rest.trim_start().starts_with("*(withdrawn")
            {
                withdrawn.insert(tag.to_string());
            }
        }
    }
    Ok(withdrawn)
}

/// The crates' source folders whose doc comments cite spec tags.
const SOURCE_DIRS: &[&str] = &[
    "reference/src",
    "reference/tests",
    "vectors/src",
    "vectors/tests",
    "vectors/fixtures/src",
    "harness/src",
    "harness/tests",
    "simulator/src",
    "simulator/tests",
    "benches/src",
    "benches/benches",
];

/// Every tag definition (`**[TAG]**` at the start of a line) is preceded by its anchor,
/// `<a id="tag"></a>`, so that a link to `file.md#tag` lands on it.
fn lint_anchors(spec_dir: &Path) -> Result<Vec<String>, String> {
    let mut problems = Vec::new();
    for (name, text) in spec_chapters(spec_dir)? {
        for line in text.lines() {
            let Some((before, rest)) = line.split_once("**[") else {
                continue;
            };
            let Some((tag, _)) = rest.split_once("]**") else {
                continue;
            };
            let defines = is_tag(tag) && (before.is_empty() || before.ends_with("</a>"));
            if defines && before != format!("<a id=\"{}\"></a>", tag.to_lowercase()) {
                problems.push(format!(
                    "{name}: the definition of {tag} is not preceded by <a id=\"{}\"></a>",
                    tag.to_lowercase()
                ));
            }
        }
    }
    Ok(problems)
}

/// The spec's chapters (every Markdown file but the README), by file name.
fn spec_chapters(spec_dir: &Path) -> Result<BTreeMap<String, String>, String> {
    let mut chapters = BTreeMap::new();
    let entries = fs::read_dir(spec_dir).map_err(|e| format!("{}: {e}", spec_dir.display()))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".md") && name != "README.md" {
            let text = fs::read_to_string(entry.path()).map_err(|e| format!("{name}: {e}"))?;
            chapters.insert(name, text);
        }
    }
    Ok(chapters)
}

/// Doc comments (`///`, `//!`) in the workspace's Rust sources cite tags one way, `[TAG-N]`, so
/// that `cargo doc` links each to its definition: a tag written without brackets (outside code
/// spans) is a problem, and so is one the spec does not define.
fn lint_doc_tags(root: &Path, tags: &BTreeMap<String, String>) -> Result<Vec<String>, String> {
    let mut problems = Vec::new();
    let mut files = Vec::new();
    for dir in SOURCE_DIRS {
        rust_files(&root.join(dir), &mut files)?;
    }
    files.sort();
    for path in files {
        let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let shown = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .display()
            .to_string();
        for (n, line) in text.lines().enumerate() {
            let trimmed = line.trim_start();
            if !(trimmed.starts_with("///") || trimmed.starts_with("//!")) {
                continue;
            }
            for problem in doc_line_tags(&trimmed[3..], tags) {
                problems.push(format!("{shown}:{}: {problem}", n + 1));
            }
        }
    }
    Ok(problems)
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) -> Result<(), String> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// The problems with the tags one doc-comment line cites, outside its code spans.
fn doc_line_tags(line: &str, tags: &BTreeMap<String, String>) -> Vec<String> {
    let mut problems = Vec::new();
    for (i, prose) in line.split('`').enumerate() {
        if i % 2 == 1 {
            continue;
        }
        let bytes = prose.as_bytes();
        let mut start = 0;
        while start < bytes.len() {
            let Some(offset) = prose[start..].find(|c: char| c.is_ascii_uppercase()) else {
                break;
            };
            let at = start + offset;
            let end = prose[at..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .map_or(prose.len(), |e| at + e);
            let word = &prose[at..end];
            let boundary = at == 0 || !bytes[at - 1].is_ascii_alphanumeric();
            // Only the spec's areas: SHA-256 or UTF-8 are not tags.
            let area = word.split('-').next().unwrap_or_default();
            let spec_area = tags.keys().any(|t| t.split('-').next() == Some(area));
            if boundary && is_tag(word) && spec_area {
                let bracketed = at > 0 && bytes[at - 1] == b'[' && bytes.get(end) == Some(&b']');
                if !bracketed {
                    problems.push(format!("{word} is cited without brackets: write [{word}]"));
                } else if !tags.contains_key(word) {
                    problems.push(format!("[{word}] is not defined in spec/"));
                }
            }
            start = end.max(at + 1);
        }
    }
    problems
}

fn lint_file(
    file: &SuiteFile,
    tags: &BTreeMap<String, String>,
    cited: &mut BTreeSet<String>,
) -> Vec<String> {
    let suite = &file.suite;
    let mut problems = Vec::new();
    let mut ids = BTreeSet::new();
    let mut used_flags = BTreeSet::new();
    if file.number_of_tests != file.cases().count() {
        problems.push(format!(
            "{suite}: numberOfTests is {} but the file has {} cases",
            file.number_of_tests,
            file.cases().count()
        ));
    }
    for group in &file.test_groups {
        if ops::spec_of(&group.operation).is_none() {
            problems.push(format!("{suite}: unknown operation {}", group.operation));
        }
    }
    for (_, case) in file.cases() {
        let id = case.tc_id;
        if !ids.insert(id) {
            problems.push(format!("{suite}: tcId {id} is used twice"));
        }
        if !tags.contains_key(&case.spec_section) {
            problems.push(format!(
                "{suite} tcId {id}: specSection {} is not defined in spec/",
                case.spec_section
            ));
        }
        cited.insert(case.spec_section.clone());
        for flag in &case.flags {
            used_flags.insert(flag.clone());
            if !file.notes.contains_key(flag) {
                problems.push(format!(
                    "{suite} tcId {id}: flag {flag} is not documented in notes"
                ));
            }
        }
        if let Some(code) = &case.error_code
            && threads::ErrorCode::from_name(code).is_none()
        {
            problems.push(format!(
                "{suite} tcId {id}: errorCode {code} is not in the registry"
            ));
        }
    }
    for flag in file.notes.keys().filter(|f| !used_flags.contains(*f)) {
        problems.push(format!("{suite}: note {flag} is used by no case"));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defined() -> BTreeMap<String, String> {
        [("SYNC-4", "sync.md"), ("ACL-6", "acl.md")]
            .into_iter()
            .map(|(t, f)| (t.to_string(), f.to_string()))
            .collect()
    }

    #[test]
    fn doc_tags_are_bracketed_and_defined() {
        let tags = defined();
        assert!(doc_line_tags(" pushes [SYNC-4] and folds [ACL-6].", &tags).is_empty());
        assert!(doc_line_tags(" `SYNC-4` in code, SHA-256, UTF-8, ACL_DENIED", &tags).is_empty());
        let bare = doc_line_tags(" as SYNC-4 says (ACL-6)", &tags);
        assert_eq!(bare.len(), 2, "{bare:?}");
        assert!(bare[0].contains("write [SYNC-4]"));
        let unknown = doc_line_tags(" [SYNC-99]", &tags);
        assert_eq!(
            unknown,
            vec!["[SYNC-99] is not defined in spec/".to_string()]
        );
    }

    #[test]
    fn every_definition_needs_its_anchor() {
        let dir = std::env::temp_dir().join(format!("lint-anchors-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("temp dir");
        let chapter = "<a id=\"sync-4\"></a>**[SYNC-4]** anchored.\n\
                       **[SYNC-5]** not anchored.\n\
                       <a id=\"sync-7\"></a>**[SYNC-6]** the wrong anchor.\n\
                       Cites **[SYNC-4]** in passing.\n";
        fs::write(dir.join("sync.md"), chapter).expect("write");
        fs::write(dir.join("README.md"), "**[TID-4]** an example\n").expect("write");
        let problems = lint_anchors(&dir).expect("lint");
        fs::remove_dir_all(&dir).ok();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("SYNC-5") && problems[1].contains("SYNC-6"));
    }

    #[test]
    fn the_published_key_must_be_the_pinned_one_everywhere() {
        use crate::manifest::PINNED_PUBLIC_KEY;
        let dir = std::env::temp_dir().join(format!("threads-lint-key-{}", std::process::id()));
        let spec = dir.join("spec");
        fs::create_dir_all(&spec).expect("temp dir");
        let readme =
            |key: &str| format!("# x\n\n## Vector signing key\n\n```\n{key}\n```\n\n## Next\n");
        fs::write(
            dir.join("vector-signing.pub"),
            format!("{PINNED_PUBLIC_KEY}\n"),
        )
        .expect("write");
        fs::write(spec.join("README.md"), readme(PINNED_PUBLIC_KEY)).expect("write");
        assert_eq!(lint_pinned_key(&dir, &spec), Vec::<String>::new());
        let other = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
        fs::write(dir.join("vector-signing.pub"), other).expect("write");
        fs::write(spec.join("README.md"), readme(other)).expect("write");
        let problems = lint_pinned_key(&dir, &spec);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[0].starts_with("vector-signing.pub holds"),
            "{problems:?}"
        );
        assert!(
            problems[1].contains("spec/README.md prints the vector-signing key d75a"),
            "{problems:?}"
        );
        fs::write(spec.join("README.md"), "# no key\n").expect("write");
        assert!(lint_pinned_key(&dir, &spec)[1].contains("prints no vector-signing key"));
        fs::remove_dir_all(&dir).ok();
    }
}
