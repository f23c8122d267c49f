#!/usr/bin/env python3
"""Mutation testing of threads-reference through mutant schemata (harness/README.md, "Mutation testing").

cargo-mutants rebuilds the crate and relinks about forty test binaries for every mutant: minutes
each here. This driver compiles every mutant cargo-mutants lists into one build instead
(harness/mutants/schemata rewrites a copy of the tree: each mutant behind a run-time switch,
THREADS_MUTANT=ID), then:

  1. runs every test once without a mutant, recording which switches each test reaches (a test
     that never reaches a mutant's switch runs exactly as without it, so it cannot catch it);
  2. runs, for each mutant, only the tests that reach it, fastest first, until one fails.

A mutant no switch can hold (in a constant context, a const fn, a function returning impl Trait)
runs with --no-switch: a build of its own (the mutant applied to its file's original text), then
every test, fastest first, until one fails.

The tests are the documented test command's (`cargo test -p threads-reference -p threads-vectors
-p threads-harness`, less the same skips as run.sh). The outcomes are cargo-mutants': caught (a
test failed), missed (every test reaching it passed, or none reaches it), unviable (its schema
does not compile: left out of the build), timeout. Resumable: run it again with the same --work
and it goes on where it stopped.

  harness/mutants/schemata.py                      # every mutant (build, trace, then the mutants)
  harness/mutants/schemata.py -f 'reference/src/acl/*'   # only these files' mutants
  harness/mutants/schemata.py --table              # the per-module table and the survivors so far
  harness/mutants/schemata.py --no-switch          # then the mutants without a switch (a build each)
  options: --work DIR (default $TMPDIR/threads-schemata), --jobs N (mutants at once, default 2),
  --fresh (start over: new copy, new build), --limit SECONDS (stop starting mutants after this),
  --shuffle SEED (a seeded random order: stopped early, the mutants run are a uniform sample),
  --recheck (after tests were added: new copy, build and trace; mutants caught before, by name,
  stay caught, the others run again), --export FILE (every mutant and its outcome, one JSON line
  each, sorted by name: the ledger harness/mutants/outcomes.jsonl is such a file), --from FILE
  (--table of a ledger, or --recheck carrying over the mutants it has caught: a run taken up on
  another machine), --verdicts FILE (with --table: the survivors as a table, each with its
  verdict from FILE, `name<TAB>verdict` lines: harness/mutants/verdicts.tsv; with --recheck:
  the survivors judged acceptable stay missed and the timeouts stay timeouts, unrun, so that only
  the survivors judged killed, or not judged yet, run again first).

  harness/mutants/schemata.py --recheck --from harness/mutants/outcomes.jsonl --shuffle 1 \
      --export harness/mutants/outcomes.jsonl    # go on from the committed ledger
"""
import argparse
import concurrent.futures
import fnmatch
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PACKAGES = ["-p", "threads-reference", "-p", "threads-vectors", "-p", "threads-harness"]
# As run.sh: the crash test's kills and the catalogue repeat the suite at length; the packaging
# test needs a release build.
SKIPPED_TESTS = ["a_killed_writer", "kills_at_random_moments", "one_fault_of_each_class",
                 "a_fault_the_suite_misses", "the_packaged_kit_installs"]
# The fault-injection scaffolding: compiled only for the catalogue's driver faults, never in the
# build the tests run, so none of its mutants could be reached.
EXCLUDED_FILES = ["reference/src/fault.rs"]
# ... and its stand-in without the feature, in lib.rs.
SCAFFOLDING = re.compile(r"reference/src/lib\.rs:.* fault::")
# Left out of the build: their schema did not compile ("skipped"), or `&&` turned `||` in a let
# chain, which Rust does not allow (cargo-mutants finds those unviable too).
UNVIABLE = ("skipped", "let chain")


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run(cmd, cwd, env=None, check=True, **kw):
    result = subprocess.run(cmd, cwd=cwd, env=env, text=True, **kw)
    if check and result.returncode != 0:
        sys.exit(f"schemata.py: {' '.join(cmd)} failed ({result.returncode})")
    return result


class Work:
    def __init__(self, root):
        self.root = root
        self.src = os.path.join(root, "src")
        self.target = os.path.join(root, "target")
        self.pristine = os.path.join(root, "pristine")
        self.state_path = os.path.join(root, "state.json")
        self.results_path = os.path.join(root, "results.jsonl")
        self.env = dict(os.environ, CARGO_TARGET_DIR=self.target)
        self.env.pop("THREADS_MUTANT", None)
        self.env.pop("THREADS_MUTANTS_TRACE", None)

    def state(self):
        if os.path.exists(self.state_path):
            with open(self.state_path) as f:
                return json.load(f)
        return {}

    def save(self, state):
        with open(self.state_path + ".tmp", "w") as f:
            json.dump(state, f, indent=1)
        os.replace(self.state_path + ".tmp", self.state_path)


def copy_tree(work):
    """A copy of the working tree as it is, its target dir seeded with hard links to the checkout's."""
    shutil.rmtree(work.src, ignore_errors=True)
    os.makedirs(work.src)
    tar = subprocess.Popen(["tar", "--exclude=./target", "--exclude=./.git", "--exclude=*/target",
                            "-cf", "-", "."], cwd=REPO, stdout=subprocess.PIPE)
    subprocess.run(["tar", "-xf", "-", "-C", work.src], stdin=tar.stdout, check=True)
    tar.wait()
    shutil.rmtree(work.pristine, ignore_errors=True)
    shutil.copytree(os.path.join(work.src, "reference", "src"), work.pristine)
    if not os.path.isdir(work.target) and os.path.isdir(os.path.join(REPO, "target", "debug")):
        os.makedirs(work.target)
        run(["cp", "-al", os.path.join(REPO, "target", "debug"), os.path.join(work.target, "debug")], REPO)


def tool():
    crate = os.path.join(REPO, "harness", "mutants", "schemata")
    run(["cargo", "build", "--release", "--quiet", "--locked"], crate)
    return os.path.join(crate, "target", "release", "threads-mutants-schemata")


def rewrite(work, skip):
    shutil.rmtree(os.path.join(work.src, "reference", "src"))
    shutil.copytree(work.pristine, os.path.join(work.src, "reference", "src"))
    cmd = [tool(), "--root", work.src, "--mutants", os.path.join(work.root, "mutants.json"),
           "--manifest", os.path.join(work.root, "manifest.json")]
    if skip:
        cmd += ["--skip", ",".join(str(i) for i in sorted(skip))]
    for f in EXCLUDED_FILES:
        cmd += ["--exclude-file", f]
    run(cmd, work.src)


SWITCH = re.compile(r"__mutants::on\((\d+)(?:u32)?\)")
# The switch of a deleted match arm: `pat if !on(ID) && guard`.
ARM_SWITCH = re.compile(r"!\s*(?:crate|::threads)::__mutants::on\((\d+)(?:u32)?\)")


def closing_brace(text, pos):
    """The position of the brace that closes the first `{` at or after `pos`."""
    depth, i = 0, text.find("{", pos)
    while 0 <= i < len(text):
        c = text[i]
        if c == '"':
            i += 1
            while i < len(text) and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif c == "'" and i + 2 < len(text) and text[i + 2] == "'":
            i += 2
        elif c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return len(text)


class Rewritten:
    """A rewritten file: where each switch's then-branch lies, by line."""

    def __init__(self, text):
        self.text = text
        self.starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]
        self.regions = [(self.line(m.start()), self.line(closing_brace(text, m.end())), int(m.group(1)))
                        for m in SWITCH.finditer(text)]

    def line(self, pos):
        lo, hi = 0, len(self.starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.starts[mid] <= pos:
                lo = mid
            else:
                hi = mid - 1
        return lo + 1

    def innermost(self, line):
        inside = [r for r in self.regions if r[0] <= line <= r[1]]
        return max(inside)[2] if inside else None

    def deleted_arms(self, line, column):
        """The deleted-arm switches of the match whose scrutinee is at (line, column): a match
        left without an arm for some value by deleting arms (E0004) has them all unviable."""
        pos = self.starts[line - 1] + column - 1
        return {int(m.group(1)) for m in ARM_SWITCH.finditer(self.text, pos, closing_brace(self.text, pos))}


def build(work):
    """Builds the schemata; returns the ids its compile errors fall in (None when it built)."""
    cmd = ["cargo", "build", "--tests", "--message-format", "json-diagnostic-short", *PACKAGES]
    proc = run(cmd, work.src, env=work.env, check=False, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    if proc.returncode == 0:
        return None
    bad, unplaced, texts = set(), [], {}
    for line in proc.stdout.splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if msg.get("reason") != "compiler-message" or msg["message"]["level"] != "error":
            continue
        spans = [s for s in msg["message"]["spans"] if s["is_primary"]]
        placed = False
        code = (msg["message"].get("code") or {}).get("code")
        for s in spans:
            path = os.path.join(work.src, s["file_name"])
            if s["file_name"] not in texts and os.path.exists(path):
                with open(path) as f:
                    texts[s["file_name"]] = Rewritten(f.read())
            text = texts.get(s["file_name"])
            if text is None:
                continue
            found = {text.innermost(s["line_start"])} - {None}
            if not found and code == "E0004":
                found = text.deleted_arms(s["line_start"], s["column_start"])
            bad |= found
            placed |= bool(found)
        if not placed and spans:
            unplaced.append(msg["message"]["rendered"])
    if not bad:
        sys.stderr.write("".join(unplaced[:20]) or proc.stdout[-4000:])
        sys.exit("schemata.py: the schemata does not build, and no error falls in a mutant")
    return bad


def prepare(work, fresh, recheck, source=None, verdicts=None):
    state = work.state()
    source = source or work.results_path
    if recheck and os.path.exists(source):
        # Tests only grow between runs: a mutant caught then is caught now. Kept by name (file,
        # line, column and change), so a mutant of code that moved runs again.
        before = load_results(work).values() if source == work.results_path else read_ledger(source)
        kept = [r for r in before if r["outcome"] == "caught" or stays(r, verdicts)]
        os.makedirs(work.root, exist_ok=True)
        with open(os.path.join(work.root, "caught-before.json"), "w") as f:
            json.dump(kept, f)
        # The survivors run first, so that the tests added for them are seen to catch them.
        with open(os.path.join(work.root, "missed-before.json"), "w") as f:
            json.dump(sorted(r["name"] for r in before if r["outcome"] in ("missed", "timeout")
                             and not stays(r, verdicts)), f)
    if fresh or recheck or not state.get("built"):
        os.makedirs(work.root, exist_ok=True)
        log(f"copying the tree to {work.src}")
        copy_tree(work)
        listed = run(["cargo", "mutants", "--list", "--json", "-p", "threads-reference"], work.src,
                     env=work.env, stdout=subprocess.PIPE).stdout
        with open(os.path.join(work.root, "mutants.json"), "w") as f:
            f.write(listed)
        state = {"unviable": [], "built": False}
        work.save(state)
        if os.path.exists(work.results_path):
            os.remove(work.results_path)
        while True:
            rewrite(work, state["unviable"])
            log(f"building the schemata ({len(state['unviable'])} unviable so far)")
            bad = build(work)
            if bad is None:
                break
            state["unviable"] = sorted(set(state["unviable"]) | bad)
            work.save(state)
        state["built"] = True
        work.save(state)
        log("built")
        carry_over(work)
    return state


def stays(result, verdicts):
    """With verdicts (--recheck --verdicts): a survivor judged acceptable stays missed and a
    timeout stays a timeout, unrun; a survivor judged killed, or not judged, runs again. Keeping
    an acceptable survivor missed can only understate the score."""
    if verdicts is None:
        return False
    if result["outcome"] == "timeout":
        return True
    return result["outcome"] == "missed" and verdicts.get(result["name"], "").startswith("acceptable")


def carry_over(work):
    """Writes the results a --recheck keeps: the mutants caught before, under their new ids."""
    path = os.path.join(work.root, "caught-before.json")
    if not os.path.exists(path):
        return
    with open(path) as f:
        before = {r["name"]: r for r in json.load(f)}
    with open(os.path.join(work.root, "manifest.json")) as f:
        manifest = json.load(f)
    with open(work.results_path, "w") as out:
        for m in manifest:
            # Applied, or run with a build of its own (--no-switch); not unviable this time. A
            # mutant now switched at the root of its chain (its text regroups the chain) runs
            # again unless its outcome was measured so: before, it ran as another mutant, the
            # operator replaced in the tree.
            if (m["name"] in before and m["status"] not in ("excluded", *UNVIABLE)
                    and (before[m["name"]].get("regrouped") or not m.get("regrouped"))):
                out.write(json.dumps(dict(before[m["name"]], id=m["id"])) + "\n")
    os.remove(path)


def list_tests(work):
    expr = "not (" + " | ".join(f"test({t})" for t in SKIPPED_TESTS) + ")"
    out = run(["cargo", "nextest", "list", "--message-format", "json", *PACKAGES, "-E", expr],
              work.src, env=work.env, stdout=subprocess.PIPE).stdout
    tests = []
    for suite in json.loads(out)["rust-suites"].values():
        for name, case in sorted(suite["testcases"].items()):
            if case["ignored"] or case["filter-match"]["status"] != "matches":
                continue
            tests.append({"binary": suite["binary-path"], "cwd": suite["cwd"],
                          "suite": suite["binary-id"], "name": name})
    return tests


def run_test(work, test, extra_env, timeout):
    env = dict(work.env, CARGO_MANIFEST_DIR=test["cwd"], RUST_BACKTRACE="0", **extra_env)
    start = time.monotonic()
    proc = subprocess.Popen([test["binary"], "--exact", test["name"], "--test-threads", "1"],
                            cwd=test["cwd"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        code = None
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # anything the test left running
        except ProcessLookupError:
            pass
    return code, time.monotonic() - start


def trace(work, state, jobs):
    if state.get("tests"):
        return state["tests"]
    tests = list_tests(work)
    trace_root = os.path.join(work.root, "trace")
    shutil.rmtree(trace_root, ignore_errors=True)
    log(f"tracing {len(tests)} tests without a mutant")
    done = [0]
    lock = threading.Lock()

    def one(i):
        test = tests[i]
        directory = os.path.join(trace_root, str(i))
        code, seconds = run_test(work, test, {"THREADS_MUTANTS_TRACE": directory}, 1200)
        reached = set()
        for f in os.listdir(directory) if os.path.isdir(directory) else []:
            with open(os.path.join(directory, f)) as fh:
                reached.update(int(x) for x in fh.read().split())
        test.update(passed=code == 0, seconds=round(seconds, 3), reached=sorted(reached))
        with lock:
            done[0] += 1
            if code != 0 or done[0] % 50 == 0:
                log(f"traced {done[0]}/{len(tests)}" + ("" if code == 0 else f": {test['name']} FAILED without a mutant"))

    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        list(pool.map(one, range(len(tests))))
    state["tests"] = tests
    work.save(state)
    return tests


def load_results(work):
    results = {}
    if os.path.exists(work.results_path):
        with open(work.results_path) as f:
            for line in f:
                r = json.loads(line)
                results[r["id"]] = r
    return results


def mutate(work, state, jobs, files, limit, shuffle):
    with open(os.path.join(work.root, "manifest.json")) as f:
        manifest = json.load(f)
    tests = [t for t in state["tests"] if t["passed"]]
    reaching = {}
    for t in tests:
        for m in t["reached"]:
            reaching.setdefault(m, []).append(t)
    results = load_results(work)
    todo = [m for m in manifest if m["status"] == "applied" and m["id"] not in results
            and (not files or any(fnmatch.fnmatch(m["file"], g) for g in files))]
    if shuffle:
        # A seeded order: stopped at any point, what has run is a uniform sample of what is left.
        random.Random(shuffle).shuffle(todo)
    first = os.path.join(work.root, "missed-before.json")
    if os.path.exists(first):
        with open(first) as f:
            again = set(json.load(f))
        todo.sort(key=lambda m: m["name"] not in again)
    log(f"{len(todo)} mutants to run ({len(results)} done before)")
    lock = threading.Lock()
    started = time.monotonic()
    done = [0]

    def one(m):
        if limit and time.monotonic() - started > limit:
            return
        t0 = time.monotonic()
        candidates = sorted(reaching.get(m["id"], []), key=lambda t: t["seconds"])
        outcome, by, ran = "missed", None, 0
        for t in candidates:
            ran += 1
            code, _ = run_test(work, t, {"THREADS_MUTANT": str(m["id"])}, 10 * t["seconds"] + 20)
            if code is None:
                outcome, by = "timeout", t["name"]
                break
            if code != 0:
                outcome, by = "caught", t["name"]
                break
        r = {"id": m["id"], "name": m["name"], "file": m["file"], "outcome": outcome, "by": by,
             "tests_reaching": len(candidates), "tests_run": ran,
             "seconds": round(time.monotonic() - t0, 1)}
        if m.get("regrouped"):
            r["regrouped"] = True
        with lock:
            with open(work.results_path, "a") as f:
                f.write(json.dumps(r) + "\n")
            done[0] += 1
            log(f"[{done[0]}/{len(todo)}] {outcome:7} {m['name']}" + (f" (by {by})" if by else f" ({len(candidates)} tests reach it)"))

    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        list(pool.map(one, todo))


def apply_diff(lines, diff):
    """`lines` (a file's lines, as cargo-mutants saw them) with the mutant's one hunk applied, or
    None when the hunk's old lines are not where it says."""
    hunk = diff.splitlines()[2:]
    start = int(re.match(r"@@ -(\d+)", hunk[0]).group(1)) - 1
    old = [h[1:] for h in hunk[1:] if not h.startswith("+")]
    new = [h[1:] for h in hunk[1:] if not h.startswith("-")]
    if lines[start:start + len(old)] != old:
        return None
    return lines[:start] + new + lines[start + len(old):]


def no_switch(work, state, jobs, limit):
    """The mutants no run-time switch can hold (constant contexts, const fns, `impl Trait`
    returns), one build each: the mutant applied to its file as cargo-mutants lists it (the
    pristine text, without switches), every test that passed without a mutant run, fastest
    first, until one fails. The file and the build are restored afterwards."""
    with open(os.path.join(work.root, "manifest.json")) as f:
        manifest = json.load(f)
    with open(os.path.join(work.root, "mutants.json")) as f:
        diffs = {m["name"]: m["diff"] for m in json.load(f)}
    results = load_results(work)
    todo = [m for m in manifest if m["status"] not in ("applied", "excluded", *UNVIABLE)
            and not SCAFFOLDING.match(m["name"]) and m["id"] not in results]
    tests = sorted((t for t in state["tests"] if t["passed"]), key=lambda t: t["seconds"])
    entries = entry_switches(work, manifest)
    library, others = read_sources(work)
    log(f"{len(todo)} mutants without a switch to run, one build each")
    started = time.monotonic()
    state["built"] = False  # the build is a mutant's until restored below
    work.save(state)
    try:
        for i, m in enumerate(todo):
            if limit and time.monotonic() - started > limit:
                break
            readers = constant_readers(m, entries, library, others)
            reaching = tests if readers is None else [
                t for t in tests if readers[0] & set(t["reached"]) or t["suite"] in readers[1]]
            r = one_build(work, m, diffs[m["name"]], reaching, jobs)
            with open(work.results_path, "a") as f:
                f.write(json.dumps(r) + "\n")
            log(f"[{i + 1}/{len(todo)}] {r['outcome']:8} {m['name']}" + (f" (by {r['by']})" if r["by"] else ""))
    finally:
        log("restoring the schemata build")
        if build(work) is not None:
            sys.exit("schemata.py: the schemata no longer builds after the mutants without a switch")
        state["built"] = True
        work.save(state)


CONST = re.compile(r"\bconst\s+(\w+)\s*:")


def entry_switches(work, manifest):
    """file -> [(first line, last line, ids)]: the functions with a switch at their entry (an
    applied replacement of the function's value), reached whenever the function is called."""
    with open(os.path.join(work.root, "mutants.json")) as f:
        listed = json.load(f)
    applied = {m["id"] for m in manifest if m["status"] == "applied"}
    spans = {}
    for i, m in enumerate(listed):
        if m["genre"] == "FnValue" and i in applied and m.get("function"):
            span = m["function"]["span"]
            key = (m["file"], span["start"]["line"], span["end"]["line"])
            spans.setdefault(key, set()).add(i)
    entries = {}
    for (file, first, last), ids in spans.items():
        entries.setdefault(file, []).append((first, last, ids))
    return entries


def sources(root):
    """(path, lines) of every Rust file under root, target dirs left out."""
    for directory, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != "target" and not d.startswith(".")]
        for name in files:
            if name.endswith(".rs"):
                path = os.path.join(directory, name)
                with open(path, errors="replace") as f:
                    yield path, f.read().split("\n")


def read_sources(work):
    """The library's original text by file (as cargo-mutants names them), and every other Rust
    file of the copy by its path under it: read once for all the mutants without a switch."""
    library = {os.path.join("reference", "src", os.path.relpath(p, work.pristine)): lines
               for p, lines in sources(work.pristine)}
    others = {}
    for path, lines in sources(work.src):
        rel = os.path.relpath(path, work.src)
        if not rel.startswith(os.path.join("reference", "src") + os.sep):
            others[rel] = lines
    return library, others


def constant_readers(m, entries, pristine, others):
    """What can read the constant the mutant changes: (entry switch ids, test suites), or None
    when that is not known, and every test runs. A test sees a constant only by running code
    that names it, or that names a constant defined from it: a library function, whose entry
    switch the trace shows it reached, or test code of its own suite (`#[cfg(test)]` code of the
    library: its unit tests; `tests/NAME.rs`: that file's tests). A name anywhere else (a
    library function without an entry switch, another crate's code) runs every test."""
    line = int(m["name"].split(":")[1])
    defined = CONST.search(pristine[m["file"]][line - 1])
    if not defined:
        return None  # a const fn or an impl Trait function: no name to follow
    names = {defined.group(1)}
    while True:  # constants defined from it change with it
        more = {c for lines in pristine.values() for c in defined_from(lines, names)} - names
        if not more:
            break
        names |= more
    word = re.compile(r"\b(" + "|".join(sorted(names)) + r")\b")
    test_files = test_modules(pristine)
    ids, suites = set(), set()
    for rel, lines in others.items():
        if any(word.search(l.split("//")[0]) for l in lines):
            parts = rel.split(os.sep)
            if len(parts) != 3 or parts[1] != "tests" or parts[0] not in CRATES:
                return None
            suites.add(f"{CRATES[parts[0]]}::{parts[2].removesuffix('.rs')}")
    for file, lines in pristine.items():
        tests_at = test_lines(lines) if file not in test_files else set(range(1, len(lines) + 1))
        for number in mentions(lines, word):
            if number in tests_at:
                suites.add("threads-reference")
                continue
            around = [e for e in entries.get(file, []) if e[0] <= number <= e[1]]
            if not around:
                return None
            ids |= set().union(*(e[2] for e in around))
    return ids, suites


# The test packages' directories and the names nextest gives their test binaries.
CRATES = {"reference": "threads-reference", "vectors": "threads-vectors", "harness": "threads-harness"}


def test_modules(pristine):
    """The library files that are test code whole: declared `#[cfg(test)] mod NAME;`."""
    found = set()
    for file, lines in pristine.items():
        for i, l in enumerate(lines[:-1]):
            declared = re.match(r"\s*(pub(\([^)]*\))?\s+)?mod\s+(\w+)\s*;", lines[i + 1])
            if l.strip() == "#[cfg(test)]" and declared:
                base = os.path.dirname(file)
                if os.path.basename(file) not in ("mod.rs", "lib.rs"):
                    base = file.removesuffix(".rs")
                name = declared.group(3)
                found |= {os.path.join(base, name + ".rs"), os.path.join(base, name, "mod.rs")}
    return found


def test_lines(lines):
    """Line numbers (from 1) of the `#[cfg(test)]` items of a file, by their braces (string and
    character literals left out of the count)."""
    inside = set()
    for i, l in enumerate(lines):
        if l.strip() != "#[cfg(test)]":
            continue
        depth, opened = 0, False
        for j in range(i, len(lines)):
            code = re.sub(r'"(\\.|[^"\\])*"|\'(\\.|[^\'\\])\'', '""', lines[j].split("//")[0])
            depth += code.count("{") - code.count("}")
            opened |= "{" in code
            inside.add(j + 1)
            if (opened and depth <= 0) or (not opened and code.rstrip().endswith(";")):
                break
    return inside


def defined_from(lines, names):
    """The constants whose definition (up to its `;`) names one of `names`."""
    word = re.compile(r"\b(" + "|".join(sorted(names)) + r")\b")
    for i, l in enumerate(lines):
        found = CONST.search(l)
        if found:
            j = i
            while ";" not in lines[j] and j + 1 < len(lines):
                j += 1
            if any(word.search(x.split("//")[0]) for x in [l[found.end():], *lines[i + 1:j + 1]]):
                yield found.group(1)


def mentions(lines, word):
    """Line numbers (from 1) naming `word` in code that runs: not in a comment, a `use`, or a
    constant's own definition (followed through `defined_from` instead)."""
    in_use = False
    for i, l in enumerate(lines):
        code = l.split("//")[0]
        if re.match(r"\s*(pub(\([^)]*\))?\s+)?use\b", code):
            in_use = True
        if in_use:
            in_use = ";" not in code
            continue
        if CONST.search(code) or not word.search(code):
            continue
        yield i + 1


def one_build(work, m, diff, tests, jobs):
    path = os.path.join(work.src, m["file"])
    with open(path) as f:
        schema = f.read()
    with open(os.path.join(work.pristine, m["file"].removeprefix("reference/src/"))) as f:
        pristine = f.read().split("\n")
    mutated = apply_diff(pristine, diff)
    if mutated is None:
        sys.exit(f"schemata.py: the diff of {m['name']} does not apply to {m['file']}")
    t0 = time.monotonic()
    outcome, by, ran = "missed", None, 0
    try:
        with open(path, "w") as f:
            f.write("\n".join(mutated))
        built = run(["cargo", "build", "--tests", "--quiet", *PACKAGES], work.src, env=work.env,
                    check=False, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if built.returncode != 0:
            # Kept, to tell a mutant that does not compile from a build that failed otherwise.
            with open(os.path.join(work.root, "no-switch-unviable.log"), "a") as f:
                lines = built.stderr.splitlines()
                errors = [lines[i:i + 8] for i, l in enumerate(lines) if l.startswith("error")]
                f.write(f"== {m['name']}\n" + "\n".join(sum(errors, [])[:60]) + "\n")
            outcome = "unviable"
        else:
            outcome, by, ran = first_failure(work, tests, jobs)
    finally:
        with open(path, "w") as f:
            f.write(schema)
    return {"id": m["id"], "name": m["name"], "file": m["file"], "outcome": outcome, "by": by,
            "tests_reaching": len(tests) if outcome != "unviable" else 0, "tests_run": ran,
            "seconds": round(time.monotonic() - t0, 1)}


def first_failure(work, tests, jobs):
    """Runs `tests` (fastest first, `jobs` at once) until one fails: (outcome, test, tests run)."""
    stop = threading.Event()
    found = []
    ran = [0]
    lock = threading.Lock()

    def one(t):
        if stop.is_set():
            return
        code, _ = run_test(work, t, {}, 10 * t["seconds"] + 20)
        with lock:
            ran[0] += 1
            if code != 0 and not stop.is_set():
                found.append(("timeout" if code is None else "caught", t["name"]))
                stop.set()

    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        list(pool.map(one, tests))
    return (*found[0], ran[0]) if found else ("missed", None, ran[0])


def module_of(path):
    return path.removeprefix("reference/src/").split("/")[0].removesuffix(".rs")


def wilson(caught, n, z=1.96):
    p = caught / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * ((p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5) / (1 + z * z / n)
    return f"{100 * (centre - half):.0f} to {100 * (centre + half):.0f} %"


def ledger(work):
    """Every mutant listed, with what became of it (caught, missed, timeout, unviable, no switch or
    pending), sorted by name: what --export writes and --from reads."""
    with open(os.path.join(work.root, "manifest.json")) as f:
        manifest = json.load(f)
    results = load_results(work)
    entries = []
    for m in manifest:
        if m["status"] == "excluded" or SCAFFOLDING.match(m["name"]):
            continue
        entry = {"name": m["name"], "file": m["file"]}
        if m["id"] in results:
            r = results[m["id"]]
            entry.update(outcome=r["outcome"], by=r["by"], tests_reaching=r["tests_reaching"])
            if r.get("regrouped"):
                entry["regrouped"] = True  # run as the text reads: a recheck may carry it over
        elif m["status"] in UNVIABLE:
            entry.update(outcome="unviable")
        elif m["status"] == "applied":
            entry.update(outcome="pending")
        else:
            entry.update(outcome="no switch", why=m["status"])
        entries.append(entry)
    return sorted(entries, key=lambda e: e["name"])


def read_ledger(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def export(entries, path):
    with open(path + ".tmp", "w") as f:
        for e in entries:
            f.write(json.dumps(e, sort_keys=True) + "\n")
    os.replace(path + ".tmp", path)
    log(f"{len(entries)} outcomes written to {path}")


COLUMNS = ["mutants", "caught", "missed", "unviable", "timeout", "pending", "no switch"]


def table(entries, out_dir=None, verdicts=None):
    rows = {}
    for e in entries:
        row = rows.setdefault(module_of(e["file"]), dict.fromkeys(COLUMNS, 0))
        row["mutants"] += 1
        row[e["outcome"]] += 1
    print("| module | mutants | caught | missed | unviable | timeout | pending | no switch | score | 95 % interval |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    total = dict.fromkeys(COLUMNS, 0)

    def line(name, r):
        viable = r["caught"] + r["missed"]
        score = f"{100 * r['caught'] / viable:.1f} %" if viable else "n/a"
        # Until every mutant has run, the score is a sample's: its Wilson interval.
        interval = wilson(r["caught"], viable) if r["pending"] and viable else ""
        print(f"| {name} | {r['mutants']} | {r['caught']} | {r['missed']} | {r['unviable']} | "
              f"{r['timeout']} | {r['pending']} | {r['no switch']} | {score} | {interval} |")

    for name in sorted(rows):
        line(f"`{name}`", rows[name])
        for k in total:
            total[k] += rows[name][k]
    line("**all**", total)
    no_switch = [e for e in entries if e["outcome"] == "no switch"]
    if no_switch:
        reasons = {}
        for e in no_switch:
            reasons[e["why"]] = reasons.get(e["why"], 0) + 1
        print("\nno switch (run these with --no-switch), by reason: " + ", ".join(f"{k}: {v}" for k, v in sorted(reasons.items())))
    missed = [e for e in entries if e["outcome"] == "missed"]
    if verdicts is not None:
        survivors(missed, verdicts)
    if out_dir:
        with open(os.path.join(out_dir, "no-switch.txt"), "w") as f:
            f.writelines(f"{e['name']}  [{e['why']}]\n" for e in no_switch)
        with open(os.path.join(out_dir, "missed.txt"), "w") as f:
            f.writelines(f"{e['name']}  [{e['tests_reaching']} tests reach it]\n" for e in missed)
        print(f"\nsurvivors ({len(missed)}): {os.path.join(out_dir, 'missed.txt')}")
    else:
        print(f"\nsurvivors ({len(missed)}):")
        for e in missed:
            print(f"  {e['name']}  [{e['tests_reaching']} tests reach it]")


def read_verdicts(path):
    """name -> verdict, from a file of `name<TAB>verdict` lines (`#` starts a comment line)."""
    verdicts = {}
    with open(path) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                name, verdict = line.rstrip("\n").split("\t", 1)
                verdicts[name] = verdict
    return verdicts


def survivors(missed, verdicts):
    """The survivors as a Markdown table, each with its verdict (harness/README.md, "Survivors")."""
    kinds = {"killed": 0, "acceptable": 0, "not yet judged": 0}
    print("\n| mutant | tests reaching it | verdict |\n| --- | ---: | --- |")
    for e in missed:
        verdict = verdicts.get(e["name"], "not yet judged")
        kinds[next((k for k in kinds if verdict.startswith(k)), "not yet judged")] += 1
        print(f"| `{e['name'].removeprefix('reference/src/')}` | {e['tests_reaching']} | {verdict} |")
    print("\n" + ", ".join(f"{v} {k}" for k, v in kinds.items()))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "threads-schemata"))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("-f", "--file", action="append", default=[])
    parser.add_argument("--fresh", action="store_true")
    parser.add_argument("--recheck", action="store_true")
    parser.add_argument("--table", action="store_true")
    parser.add_argument("--limit", type=float, default=0)
    parser.add_argument("--shuffle", type=int, default=0, metavar="SEED")
    parser.add_argument("--export", metavar="FILE")
    parser.add_argument("--from", dest="source", metavar="FILE")
    parser.add_argument("--verdicts", metavar="FILE")
    parser.add_argument("--no-switch", action="store_true")
    args = parser.parse_args()
    work = Work(os.path.abspath(args.work))
    if args.table:  # with --export: the ledger written, nothing run
        entries = read_ledger(args.source) if args.source else ledger(work)
        if args.export:
            export(entries, args.export)
        if args.table:
            verdicts = read_verdicts(args.verdicts) if args.verdicts else None
            table(entries, None if args.source else work.root, verdicts)
        return
    verdicts = read_verdicts(args.verdicts) if args.verdicts else None
    state = prepare(work, args.fresh, args.recheck, args.source and os.path.abspath(args.source),
                    verdicts)
    trace(work, state, args.jobs)
    if args.no_switch:
        no_switch(work, state, args.jobs, args.limit)
    else:
        mutate(work, state, args.jobs, args.file, args.limit, args.shuffle)
    entries = ledger(work)
    if args.export:
        export(entries, args.export)
    table(entries, work.root)


if __name__ == "__main__":
    main()
