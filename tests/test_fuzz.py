"""Mutation fuzzing: broken captures are normal input.

Seeded mutations (bit flips, chunks deleted, duplicated or zeroed, truncation, header flips) of
the real captures in examples/ and tests/data/, each run as a user would:
`smtpdoc explain CASE --format json`. No case may end in an internal error (exit 1), print a
traceback, hang, or leave invalid JSON on stdout when the exit code says the output was written
(0, or 5 for a capture cut short).

SMTPDOC_FUZZ_SEED and SMTPDOC_FUZZ_CASES change the run (defaults: seed 9, 300 cases); a
failing case is remade with `python tests/fuzzing.py SEED INDEX OUT`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fuzzing import Case, make_case, seed_captures

SEED = int(os.environ.get("SMTPDOC_FUZZ_SEED", "9"))
CASES = int(os.environ.get("SMTPDOC_FUZZ_CASES", "300"))
# Each case is one smtpdoc process driving one tshark: a worker per core keeps both busy.
WORKERS = max(2, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 2)
DOCUMENTED_EXITS = {0, 4, 5, 6}  # README "Exit codes"; 2 and 3 cannot come from a capture's bytes
OUTPUT_WRITTEN = {0, 5}
CASE_TIMEOUT = 120


def _run(case: Case, workdir: Path) -> str | None:
    """None if smtpdoc took the case in its stride, else what went wrong, in one line."""
    path = workdir / f"case-{case.index}{case.source.suffix}"
    path.write_bytes(case.data)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "smtpdoc", "explain", str(path), "--format", "json"],
            capture_output=True,
            timeout=CASE_TIMEOUT,
            check=False,
            env={**os.environ, "SMTPDOC_DEBUG": ""},
        )
    except subprocess.TimeoutExpired:
        return f"{case.describe()}: no answer after {CASE_TIMEOUT} s"
    finally:
        path.unlink()
    stderr = done.stderr.decode("utf-8", "replace")
    first = stderr.strip().splitlines()[0] if stderr.strip() else ""
    if "Traceback (most recent call last)" in stderr:
        return f"{case.describe()}: traceback on stderr: {stderr.strip().splitlines()[-1]}"
    if done.returncode == 1 or "internal error" in stderr:
        return f"{case.describe()}: internal error (exit {done.returncode}): {first}"
    if done.returncode not in DOCUMENTED_EXITS:
        return f"{case.describe()}: exit {done.returncode}, which the README does not document: {first}"
    if done.returncode in OUTPUT_WRITTEN:
        try:
            report = json.loads(done.stdout)
        except ValueError as exc:
            return f"{case.describe()}: exit {done.returncode} with invalid JSON on stdout ({exc})"
        if not isinstance(report, dict) or report.get("schema") != "smtpdoc/1":
            return f"{case.describe()}: exit {done.returncode}, stdout is JSON but not an smtpdoc/1 report"
    return None


def test_the_mutations_start_from_every_real_capture() -> None:
    sources = seed_captures()
    names = {path.name for path in sources}
    assert {"starttls.pcapng", "plaintext-after-starttls.pcapng", "tls12.pcapng"} <= names
    assert not any("broken" in path.parts for path in sources)
    cases = [make_case(SEED, index, sources) for index in range(CASES)]
    assert {case.source for case in cases} == set(sources[: min(CASES, len(sources))])
    assert all(case.data != case.source.read_bytes() for case in cases)
    again = make_case(SEED, 7, sources)
    assert (again.source, again.data) == (cases[7].source, cases[7].data)  # one case is remade alone


@pytest.mark.skipif(CASES < 1, reason="SMTPDOC_FUZZ_CASES=0")
def test_mutated_captures_never_crash_smtpdoc(tmp_path: Path) -> None:
    sources = seed_captures()
    cases = [make_case(SEED, index, sources) for index in range(CASES)]
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        problems = [p for p in pool.map(lambda case: _run(case, tmp_path), cases) if p is not None]
    assert not problems, f"{len(problems)} of {CASES} cases (seed {SEED}):\n" + "\n".join(problems)
