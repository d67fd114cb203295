"""Benchmark `smtpdoc explain --format json` against a bare tshark pass, and its memory.

    .venv/bin/python bench/run.py [--repeats 3] [--small 1000] [--large 10000]

1. Builds (or reuses, cached in bench/out/) captures of SMALL and LARGE
   STARTTLS sessions with bench/make_capture.py.
2. Checks that smtpdoc's JSON for the SMALL capture has SMALL sessions, each
   with the whole STARTTLS walkthrough: a benchmark of wrong output is worthless.
3. On the SMALL capture, runs `tshark -n -r FILE > /dev/null` and
   `python -m smtpdoc explain FILE --format json > /dev/null` alternately,
   REPEATS times each, and prints the ratio of the medians.
4. Runs smtpdoc once on the LARGE capture; prints peak RSS of smtpdoc's Python
   process and of its tshark child at both sizes, and the growth LARGE/SMALL.

Last line: ratio=X.XX mem_1k=..MiB mem_10k=..MiB mem_growth=X.XX
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import make_capture  # noqa: E402  (bench/ is not a package)

OUT = HERE / "out"
WRAPPER = HERE / "rusage_wrapper.py"
WALKTHROUGH = (
    "tcp_handshake",
    "greeting",
    "ehlo",
    "ehlo_reply",
    "starttls",
    "starttls_reply",
    "tls_handshake",
    "encrypted",
    "close",
)


@dataclass
class SmtpdocRun:
    seconds: float
    self_kib: int
    children_kib: int


def capture_for(count: int, source: Path) -> Path:
    path = OUT / f"starttls-{count}-{make_capture.source_digest(source)}.pcapng"
    for stale in OUT.glob(f"starttls-{count}-*"):
        if not stale.name.startswith(path.stem):  # made from an older source or generator
            stale.unlink()
    if not path.exists():
        started = time.perf_counter()
        frames = make_capture.write_capture(source, count, path)
        print(f"built {path.name}: {count} sessions, {frames} frames in {time.perf_counter() - started:.1f} s")
    return path


def run_tshark(tshark: str, capture: Path) -> float:
    started = time.perf_counter()
    subprocess.run([tshark, "-n", "-r", str(capture)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def run_smtpdoc(capture: Path, output: Path | None = None) -> SmtpdocRun:
    args = [sys.executable, str(WRAPPER), "", "explain", str(capture), "--format", "json"]
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as report:
        args[2] = report.name
    try:
        with open(output or os.devnull, "wb") as out:
            started = time.perf_counter()
            done = subprocess.run(args, stdout=out, stderr=subprocess.PIPE, check=False)
            seconds = time.perf_counter() - started
        if done.returncode != 0:
            sys.exit(f"smtpdoc failed on {capture} (exit {done.returncode}): {done.stderr.decode(errors='replace')}")
        usage = json.loads(Path(report.name).read_text())
    finally:
        os.unlink(report.name)
    return SmtpdocRun(seconds=seconds, self_kib=usage["self_kib"], children_kib=usage["children_kib"])


def check_output(path: Path, count: int) -> list[str]:
    """Problems with smtpdoc's JSON for a capture of `count` copies of the STARTTLS session."""
    problems: list[str] = []
    with path.open(encoding="utf-8") as f:
        report = json.load(f)
    sessions = report.get("sessions", [])
    if len(sessions) != count:
        problems.append(f"{len(sessions)} sessions, expected {count}")
    ports = {s["client"]["port"] for s in sessions}
    if len(ports) != len(sessions):
        problems.append(f"{len(sessions)} sessions but {len(ports)} distinct client ports")
    for session in sessions:
        names = iter(step["name"] for step in session["steps"])
        missing = [want for want in WALKTHROUGH if not any(name == want for name in names)]
        if missing:
            steps = [step["name"] for step in session["steps"]]
            problems.append(f"session {session['index']}: steps {steps} lack {missing} (in this order)")
            break
    return problems


def mib(kib: int) -> float:
    return kib / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each command (default 3)")
    parser.add_argument("--small", type=int, default=1000, help="sessions in the timed capture (default 1000)")
    parser.add_argument(
        "--large", type=int, default=10000, help="sessions in the memory capture (default 10000; 0: skip)"
    )
    parser.add_argument("--source", type=Path, default=make_capture.DEFAULT_SOURCE, help="recorded session")
    args = parser.parse_args()
    tshark = shutil.which(os.environ.get("SMTPDOC_TSHARK", "tshark"))
    if tshark is None:
        sys.exit("bench: tshark not found (install it, or set SMTPDOC_TSHARK)")
    if not args.source.exists():
        sys.exit(f"bench: source capture {args.source} does not exist (run examples/make_examples.sh)")

    small = capture_for(args.small, args.source)
    large = capture_for(args.large, args.source) if args.large else None

    # Warm-up (page cache, .pyc files) doubling as the correctness check.
    json_out = OUT / f"{small.stem}.json"
    first = run_smtpdoc(small, json_out)
    problems = check_output(json_out, args.small)
    if problems:
        print("smtpdoc's output is wrong, not benchmarking it:", *problems, sep="\n  ", file=sys.stderr)
        return 1
    print(f"checked {json_out.name}: {args.small} sessions, each with {', '.join(WALKTHROUGH)}")
    run_tshark(tshark, small)

    tshark_times: list[float] = []
    smtpdoc_runs: list[SmtpdocRun] = [first]
    timed: list[SmtpdocRun] = []
    for _ in range(args.repeats):
        tshark_times.append(run_tshark(tshark, small))
        timed.append(run_smtpdoc(small))
    smtpdoc_runs += timed
    t_tshark = statistics.median(tshark_times)
    t_smtpdoc = statistics.median(r.seconds for r in timed)
    ratio = t_smtpdoc / t_tshark

    mem_small = max(r.self_kib for r in smtpdoc_runs)
    tshark_small = max(r.children_kib for r in smtpdoc_runs)
    big = run_smtpdoc(large) if large else None

    rows = [
        ("tshark -n -r (median, s)", f"{t_tshark:.2f}", ""),
        ("smtpdoc explain json (median, s)", f"{t_smtpdoc:.2f}", f"{big.seconds:.2f}" if big else "-"),
        ("smtpdoc python peak RSS (MiB)", f"{mib(mem_small):.1f}", f"{mib(big.self_kib):.1f}" if big else "-"),
        ("its tshark child peak RSS (MiB)", f"{mib(tshark_small):.1f}", f"{mib(big.children_kib):.1f}" if big else "-"),
    ]
    print()
    print(f"{'':34}{args.small:>10} sessions{args.large:>10} sessions")
    for label, at_small, at_large in rows:
        print(f"{label:34}{at_small:>19}{at_large:>19}")
    print(
        f"runs: tshark {', '.join(f'{t:.2f}' for t in tshark_times)} s; "
        f"smtpdoc {', '.join(f'{r.seconds:.2f}' for r in timed)} s"
    )
    mem_large = f"{mib(big.self_kib):.1f}MiB" if big else "n/a"
    growth = f"{big.self_kib / mem_small:.2f}" if big else "n/a"
    print(f"ratio={ratio:.2f} mem_1k={mib(mem_small):.1f}MiB mem_10k={mem_large} mem_growth={growth}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
