#!/usr/bin/env bash
# Runs the cargo-fuzz targets coverage-guided, one after the other, for a fixed time each, and
# prints what each did: executions, executions per second, coverage, corpus, findings.
#
#   reference/fuzz/run.sh [-s SECONDS] [TARGET...]      # every target when none is named
#
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz --locked`).
#
# Each target grows its working corpus in corpus/TARGET (not committed) and also reads the
# committed, minimised seeds in seeds/TARGET. A crash, timeout, leak or out-of-memory input is
# saved in artifacts/TARGET by libFuzzer; the script then goes on with the next target and exits
# 1 at the end. One target runs at a time, in a single libFuzzer process (one core): the machines
# that run this are shared. FUZZ_ARGS adds libFuzzer options, e.g. FUZZ_ARGS='-jobs=2 -workers=2'.
set -uo pipefail
cd "$(dirname "$0")"

seconds=60
while getopts "s:h" opt; do
  case "$opt" in
    s) seconds="$OPTARG" ;;
    *) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
  echo "run.sh: -s takes a whole number of seconds, not '$seconds'" >&2
  exit 2
fi

all=$(cargo +nightly fuzz list) || { echo "run.sh: needs nightly and cargo-fuzz" >&2; exit 2; }
if [ $# -eq 0 ]; then
  # shellcheck disable=SC2086
  set -- $all
fi
for target in "$@"; do
  if ! grep -qx -- "$target" <<<"$all"; then
    echo "run.sh: no target '$target'; the targets are:" $all >&2
    exit 2
  fi
done

# Built once for all targets, so that no target's time goes to compiling.
cargo +nightly fuzz build || exit 2

logs=target/fuzz-logs
mkdir -p "$logs"
# Findings are the artifact files libFuzzer writes; slow-unit reports are listed, not counted.
findings_in() { find "artifacts/$1" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'timeout-*' \
  -o -name 'leak-*' -o -name 'oom-*' \) 2>/dev/null | sort; }
stat_of() { sed -n "s/^stat::$2: *//p" "$1" | tail -n 1; }

rows=()
found=0
for target in "$@"; do
  mkdir -p "corpus/$target" "artifacts/$target"
  before=$(findings_in "$target")
  dirs=("corpus/$target")
  if [ -d "seeds/$target" ]; then dirs+=("seeds/$target"); fi
  log="$logs/$target.log"
  echo "==> $target: ${seconds}s, corpus ${dirs[*]}, log reference/fuzz/$log" >&2
  # -timeout: an input that takes 10 s is a hang worth a report; -rss_limit_mb: the default, said.
  # shellcheck disable=SC2086
  cargo +nightly fuzz run "$target" "${dirs[@]}" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    ${FUZZ_ARGS:-} >"$log" 2>&1
  status=$?
  new=$(comm -13 <(printf '%s\n' "$before") <(findings_in "$target") | sed '/^$/d')
  last=$(grep -E '^#[0-9]+[[:space:]]' "$log" | tail -n 1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p' <<<"$last")
  execs=$(stat_of "$log" number_of_executed_units)
  rate=$(stat_of "$log" average_exec_per_sec)
  result="none"
  if [ "$status" -ne 0 ] || [ -n "$new" ]; then
    found=1
    result="exit $status; ${new:-no artifact}"
    echo "!!! $target: finding (exit $status), log reference/fuzz/$log:" >&2
    grep -E 'panicked|ERROR: libFuzzer|SUMMARY|Test unit written' "$log" | head -n 8 >&2
  fi
  rows+=("$(printf '%-16s %6ss %12s %8s %6s %7s %12s  %s' "$target" "$seconds" "${execs:-?}" \
    "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$result")")
done

printf '\n%-16s %7s %12s %8s %6s %7s %12s  %s\n' target time executions exec/s cov ft corpus findings
printf '%s\n' "${rows[@]}"
exit "$found"
