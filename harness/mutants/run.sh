#!/usr/bin/env bash
# Mutation testing of threads-reference with cargo-mutants (issue 15, item 6; harness/README.md,
# "Mutation testing"). Slow: by hand, never a CI gate.
#
#   harness/mutants/run.sh                           # every mutant of the reference (hours)
#   harness/mutants/run.sh -f reference/src/sync/pulls.rs -f reference/src/acl/fold.rs
#   harness/mutants/run.sh -f 'reference/src/db/*.rs' --shard 1/8   # a sample: one mutant in eight
#   harness/mutants/run.sh --list                    # mutants per module, nothing built
#   harness/mutants/run.sh --table DIR/mutants.out   # the per-module table of an earlier run
#   options: --shuffle (a random order: stop it at any time for a random sample), --iterate (skip
#   what the last run in the same output caught), -F REGEX (only those mutants; cargo-mutants 27
#   applies it to every genre but struct-field deletions, so give -f too), -E REGEX (not those),
#   -o DIR (output, default $THREADS_MUTANTS_DIR/out), --keep (keep the seeded target dir for the next run),
#   --no-baseline (skip the run of the unmutated tree: only when it is known to pass, since a
#   test command that fails for another reason would count every mutant as caught).
#   THREADS_MUTANTS_DIR (default $TMPDIR/threads-mutants) holds the copy, its target dir and the
#   output, outside the repository; THREADS_MUTANTS_TIMEOUT is the per-mutant test timeout (600 s).
#
# The tests each mutant faces (the "documented test command"): the reference's own unit and
# integration tests, the vector tests (threads-vectors: every suite, the independent checks) and
# the harness tests (threads-harness: live scenarios, faulty implementations), i.e.
#   cargo test -p threads-reference -p threads-vectors -p threads-harness
# minus the tests below, which only re-run those same checks at length or need a release build.
# Why not a copy per mutant: cargo-mutants' own scratch copy starts from an empty target dir, a
# full build of libp2p and redb. Instead the tree is copied once (outside the repository), its
# target dir seeded with hard links to this checkout's, and the mutants applied there in place.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
work=${THREADS_MUTANTS_DIR:-${TMPDIR:-/tmp}/threads-mutants}
out=""
keep=0
baseline=run
table_only=""
list=0
args=()

usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    -f|--file) args+=(--file "$2"); shift 2 ;;
    -e|--exclude) args+=(--exclude "$2"); shift 2 ;;
    -F|--re) args+=(--re "$2"); shift 2 ;;
    -E|--exclude-re) args+=(--exclude-re "$2"); shift 2 ;;
    --shard) args+=(--shard "$2"); shift 2 ;;
    --shuffle) args+=(--shuffle); shift ;;
    --iterate) args+=(--iterate); shift ;;
    -o|--output) out=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --no-baseline) baseline=skip; shift ;;
    --list) list=1; shift ;;
    --table) table_only=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

# The per-module table: a module is a file of reference/src, or its directory for acl/, sync/, db/...
table() {
  python3 - "$1/outcomes.json" <<'PY'
import json, sys, collections
outcomes = json.load(open(sys.argv[1]))["outcomes"]
kinds = {"CaughtMutant": "caught", "MissedMutant": "missed", "Unviable": "unviable", "Timeout": "timeout"}
rows = collections.defaultdict(collections.Counter)
for o in outcomes:
    scenario = o["scenario"]
    if not isinstance(scenario, dict) or "Mutant" not in scenario:
        continue
    path = scenario["Mutant"]["file"].removeprefix("reference/src/")
    module = path.split("/")[0].removesuffix(".rs")
    rows[module][kinds.get(o["summary"], o["summary"])] += 1
    rows[module]["mutants"] += 1
total = collections.Counter()
print("| module | mutants | caught | missed | unviable | timeout | score |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
def line(name, c):
    viable = c["caught"] + c["missed"]
    score = f"{100 * c['caught'] / viable:.1f} %" if viable else "n/a"
    print(f"| {name} | {c['mutants']} | {c['caught']} | {c['missed']} | {c['unviable']} | {c['timeout']} | {score} |")
for module in sorted(rows):
    line(f"`{module}`", rows[module])
    total.update(rows[module])
line("**all**", total)
PY
}

if [ -n "$table_only" ]; then table "$table_only"; exit 0; fi

if ! command -v cargo-mutants >/dev/null; then
  nice -n 19 cargo install --locked cargo-mutants
fi

if [ "$list" = 1 ]; then
  cd "$repo"
  cargo mutants --list -p threads-reference "${args[@]}" | cut -d: -f1 \
    | sed -e 's#^reference/src/##' -e 's#/.*##' -e 's#\.rs$##' | sort | uniq -c | sort -rn
  exit 0
fi

out=${out:-$work/out}
mkdir -p "$work" "$out"
src=$work/src
cleanup() {
  rm -rf "$src"
  if [ "$keep" = 0 ]; then rm -rf "$work/target"; fi
}
trap cleanup EXIT

# A copy of the working tree as it is (uncommitted tests included), without its target dir.
rm -rf "$src" && mkdir -p "$src"
(cd "$repo" && tar --exclude=./target --exclude=./.git --exclude=./reference/fuzz/target -cf - .) | tar -xf - -C "$src"
if [ ! -d "$work/target" ] && [ -d "$repo/target/debug" ]; then
  mkdir -p "$work/target" && cp -al "$repo/target/debug" "$work/target/debug"
fi
export CARGO_TARGET_DIR=$work/target

# Skipped: the crash test's kills and the catalogue (they repeat the suite many times over; the
# catalogue's own fault list is a separate measure, HP-86), the packaging test (a release build).
skip=(--skip a_killed_writer --skip kills_at_random_moments --skip one_fault_of_each_class --skip a_fault_the_suite_misses
  --skip the_packaged_kit_installs)
nice -n 19 cargo mutants --in-place -d "$src" -p threads-reference \
  --test-package threads-reference --test-package threads-vectors --test-package threads-harness \
  --baseline "$baseline" --timeout "${THREADS_MUTANTS_TIMEOUT:-600}" --build-timeout 1800 \
  --output "$out" "${args[@]}" -- -- "${skip[@]}" || true
table "$out/mutants.out"
echo "outcomes: $out/mutants.out (missed.txt, caught.txt, unviable.txt, timeout.txt)"
