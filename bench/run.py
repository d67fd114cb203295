"""Benchmark `smtpdoc explain` against the tshark passes it cannot avoid, and its memory.

    .venv/bin/python bench/run.py [--repeats 3] [--small 1000] [--large 10000] [--peer 50]

Builds (or reuses, cached in bench/out/) replays of examples/starttls.pcapng with
bench/make_capture.py: SMALL and LARGE back-to-back sessions, PEER sessions for the
pyshark loop, a mixed capture (20 SMTP among 2,000 HTTPS-like sessions) and a keyed
one (100 sessions with examples/starttls.keylog, which decrypts every copy). Checks
that smtpdoc's JSON holds every session's whole STARTTLS walkthrough (a benchmark of
wrong output is worthless), then times each command REPEATS times, alternating, and
prints every ratio of issue 11 beside its goal. Wall-clock medians; the machine is
shared, so only ratios taken in one run compare.

Last line: ratio=X.XX (JSON over the floor pass, SMALL) mem_1k=.. mem_10k=.. mem_growth=..
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import make_capture  # noqa: E402  (bench/ is not a package)

from smtpdoc import pdml_args  # noqa: E402

OUT = HERE / "out"
WRAPPER = HERE / "rusage_wrapper.py"
PEER = HERE / "pyshark_peer.py"
KEYLOG = REPO / "examples" / "starttls.keylog"
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
# What the floor pass prints: the fields smtpdoc's reader reads (frame number, time and
# lengths among them: the reader asks for them as fields and drops PDML's geninfo).
FLOOR_FIELDS = pdml_args.FIELDS


@dataclass
class SmtpdocRun:
    seconds: float
    self_kib: int
    children_kib: int
    self_cpu: float
    children_cpu: float


def capture_for(count: int, source: Path, *, mix: bool = False) -> Path:
    kind = "mixed" if mix else "starttls"
    path = OUT / f"{kind}-{count}-{make_capture.source_digest(source)}.pcapng"
    for stale in OUT.glob(f"{kind}-{count}-*"):
        if not stale.name.startswith(path.stem):  # made from an older source or generator
            stale.unlink()
    if not path.exists():
        started = time.perf_counter()
        frames = make_capture.write_capture(source, count, path, mix=mix)
        print(f"built {path.name}: {count} SMTP sessions, {frames} frames in {time.perf_counter() - started:.1f} s")
    return path


def timed(args: Sequence[str], tries: int = 1) -> float:
    for attempt in range(tries):
        started = time.perf_counter()
        done = subprocess.run(list(args), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
        if done.returncode == 0:
            return time.perf_counter() - started
        print(
            f"bench: {' '.join(args[:2])}... failed (try {attempt + 1}): {done.stderr.decode(errors='replace')[-300:]}"
        )
    return float("nan")


def bare(tshark: str, capture: Path) -> list[str]:
    return [tshark, "-n", "-r", str(capture)]


def floor(tshark: str, capture: Path) -> list[str]:
    args = [tshark, "-n", "-r", str(capture), "-T", "fields"]
    for name in FLOOR_FIELDS:
        args += ["-e", name]
    return [*args, *pdml_args.TSHARK_OPTIONS, "-Y", pdml_args.DISPLAY_FILTER]


def run_smtpdoc(capture: Path, *extra: str, output: Path | None = None, fmt: str = "json") -> SmtpdocRun:
    args = [sys.executable, str(WRAPPER), "", "explain", str(capture), "--format", fmt, "-q", *extra]
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
    return SmtpdocRun(
        seconds=seconds,
        self_kib=usage["self_kib"],
        children_kib=usage["children_kib"],
        self_cpu=usage.get("self_cpu", 0.0),
        children_cpu=usage.get("children_cpu", 0.0),
    )


def check_output(path: Path, count: int, *, decrypted: bool = False) -> list[str]:
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
        if decrypted and not (session.get("tls") or {}).get("decrypted"):
            problems.append(f"session {session['index']}: not decrypted with {KEYLOG.name}")
            break
    return problems


def mib(kib: int) -> float:
    return kib / 1024


def medians(repeats: int, commands: dict[str, Callable[[], float]]) -> dict[str, float]:
    """Each command REPEATS times, round-robin so that a busy moment hits all alike."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeats):
        for name, command in commands.items():
            times[name].append(command())
    return {name: statistics.median(values) for name, values in times.items()}


def checked(capture: Path, count: int, *extra: str, decrypted: bool = False) -> SmtpdocRun:
    """One run that writes the JSON and must pass the check (also warms the page cache)."""
    json_out = OUT / f"{capture.stem}{'-keys' if extra else ''}.json"
    first = run_smtpdoc(capture, *extra, output=json_out)
    problems = check_output(json_out, count, decrypted=decrypted)
    if problems:
        print(f"smtpdoc's output for {capture.name} is wrong, not benchmarking it:", *problems, sep="\n  ")
        sys.exit(1)
    return first


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each command (default 3)")
    parser.add_argument("--small", type=int, default=1000, help="sessions in the timed capture (default 1000)")
    parser.add_argument("--large", type=int, default=10000, help="sessions in the large capture (0: skip)")
    parser.add_argument("--peer", type=int, default=50, help="sessions for the pyshark loop (0: skip)")
    parser.add_argument("--source", type=Path, default=make_capture.DEFAULT_SOURCE, help="recorded session")
    args = parser.parse_args()
    tshark = shutil.which(os.environ.get("SMTPDOC_TSHARK", "tshark"))
    if tshark is None:
        sys.exit("bench: tshark not found (install it, or set SMTPDOC_TSHARK)")
    if not args.source.exists():
        sys.exit(f"bench: source capture {args.source} does not exist (run examples/make_examples.sh)")

    # smtpdoc timed as a plain install runs: its bytecode written (an editable checkout with
    # PYTHONDONTWRITEBYTECODE set would compile every module on every run); ./bootstrap does
    # the same.
    compileall.compile_dir(str(REPO / "smtpdoc"), quiet=1)
    small = capture_for(args.small, args.source)
    large = capture_for(args.large, args.source) if args.large else None
    peer = capture_for(args.peer, args.source) if args.peer else None
    mixed = capture_for(20, args.source, mix=True)
    keyed = capture_for(100, args.source)
    lab = args.source

    print("floor pass fields:", " ".join(FLOOR_FIELDS))
    print("floor pass filter:", pdml_args.DISPLAY_FILTER)
    first = checked(small, args.small)
    checked(mixed, 20)
    checked(keyed, 100, "--keylog", str(KEYLOG), decrypted=True)
    print(f"checked: {args.small}, 20 (mixed) and 100 (keyed, all decrypted) sessions, each with the walkthrough")

    def smtpdoc(capture: Path, *extra: str, fmt: str = "json") -> Callable[[], float]:
        return lambda: run_smtpdoc(capture, *extra, fmt=fmt).seconds

    runs: list[SmtpdocRun] = [first]

    def json_small() -> float:
        runs.append(run_smtpdoc(small))
        return runs[-1].seconds

    m = medians(
        args.repeats,
        {
            "bare": lambda: timed(bare(tshark, small)),
            "floor": lambda: timed(floor(tshark, small)),
            "json": json_small,
            "terminal": smtpdoc(small, fmt="terminal"),
            "markdown": smtpdoc(small, fmt="markdown"),
            "html": smtpdoc(small, fmt="html"),
            "lab bare": lambda: timed(bare(tshark, lab)),
            "lab json": smtpdoc(lab),
            "mixed bare": lambda: timed(bare(tshark, mixed)),
            "mixed json": smtpdoc(mixed),
            "keyed json": smtpdoc(keyed),
            "keyed json --keylog": smtpdoc(keyed, "--keylog", str(KEYLOG)),
        },
    )
    mem_small = max(r.self_kib for r in runs)
    json_cpu = statistics.median(r.self_cpu for r in runs)
    tshark_cpu = statistics.median(r.children_cpu for r in runs)
    print()
    print(f"{'seconds (median of ' + str(args.repeats) + ')':44}{'value':>10}")
    for name, value in m.items():
        print(f"  {name.replace('lab', lab.name):42}{value:>10.2f}")
    print(f"  {'json: Python CPU / tshark CPU (s)':42}{json_cpu:>6.2f} / {tshark_cpu:.2f}", flush=True)
    big = run_smtpdoc(large) if large else None
    big_floor = timed(floor(tshark, large)) if large else None
    if big is not None and big_floor is not None:
        print(f"  {f'json, {args.large} sessions':42}{big.seconds:>10.2f}")
        print(f"  {f'floor, {args.large} sessions':42}{big_floor:>10.2f}", flush=True)
    peer_times = (timed([sys.executable, str(PEER), str(peer)], tries=2), run_smtpdoc(peer).seconds) if peer else None
    if peer_times is not None:
        print(f"  {f'pyshark loop, {args.peer} sessions':42}{peer_times[0]:>10.2f}")
        print(f"  {f'json, {args.peer} sessions':42}{peer_times[1]:>10.2f}")
    print()
    rows: list[tuple[str, float, str, bool]] = []

    def goal(label: str, value: float, target: str, met: bool) -> None:
        rows.append((label, value, target, met))

    goal(f"json / floor, {args.small} sessions", m["json"] / m["floor"], "<= 1.25", m["json"] / m["floor"] <= 1.25)
    if big is not None and big_floor is not None:
        goal(
            f"json / floor, {args.large} sessions", big.seconds / big_floor, "<= 1.25", big.seconds / big_floor <= 1.25
        )
    for fmt in ("terminal", "markdown", "html"):
        goal(f"{fmt} / json, {args.small} sessions", m[fmt] / m["json"], "<= 1.20", m[fmt] / m["json"] <= 1.2)
    lab_ratio = m["lab json"] / m["lab bare"]
    goal(f"json / bare, {lab.name} (30 frames)", lab_ratio, "<= 1.50", lab_ratio <= 1.5)
    if peer_times is not None:
        # pyshark needs ~0.2 s a session, so it runs on PEER sessions; compared per session
        # with smtpdoc on SMALL (on PEER sessions smtpdoc's start-up would be most of its time).
        speedup = (peer_times[0] / args.peer) / (m["json"] / args.small)
        goal(f"pyshark loop / json, per session ({args.peer} vs {args.small})", speedup, ">= 25", speedup >= 25)
        same = peer_times[0] / peer_times[1]
        goal(f"pyshark loop / json, both on {args.peer} sessions", same, "(as measured)", True)
    if big is not None:
        growth = big.self_kib / mem_small
        goal(f"memory {args.large} / {args.small} sessions", growth, "<= 1.10 (flat)", growth <= 1.1)
        scale = big.seconds / m["json"]
        goal(f"time {args.large} / {args.small} sessions", scale, "<= 10.5", scale <= 10.5)
    mixed_ratio = m["mixed json"] / m["mixed bare"]
    goal("json / bare, mixed (1% SMTP)", mixed_ratio, "<= 2.50", mixed_ratio <= 2.5)
    keys = m["keyed json --keylog"] / m["keyed json"]
    goal("keyed: --keylog / without, 100 sessions", keys, "(no goal)", True)
    print(f"{'ratio':46}{'value':>8}  goal")
    for label, value, target, met in rows:
        print(f"  {label:44}{value:>8.2f}  {target:16}{'met' if met else 'NOT MET'}")
    mem_large = f"{mib(big.self_kib):.1f}MiB" if big else "n/a"
    growth_text = f"{big.self_kib / mem_small:.2f}" if big else "n/a"
    ratio = m["json"] / m["floor"]
    print(f"ratio={ratio:.2f} mem_1k={mib(mem_small):.1f}MiB mem_10k={mem_large} mem_growth={growth_text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
