"""Benchmark many captures at once: `--jobs 1` vs `--jobs 2` vs `--dask local`, and what workers send back.

    .venv/bin/python bench/batch.py [--repeats 1]      # about 3 minutes on a quiet 2-core machine

1. Builds (or reuses, in bench/out/batch/) 20 small captures (2-6 STARTTLS sessions each,
   58-174 frames) and 4 large ones (1,000 sessions, 29,000 frames each) with
   bench/make_capture.py.
2. Checks the output first: `--jobs 2` and `--dask local` must print exactly what `--jobs 1`
   prints, one jsonl line per session of every capture, in input order.
3. Times `python -m smtpdoc explain FOLDER --format jsonl > /dev/null` with `--jobs 1`,
   `--jobs 2` and `--dask local --jobs 2` on each folder (REPEATS runs each, alternating;
   the median counts), and prints speed-ups over `--jobs 1` measured in this one run.
4. In-process, on the large captures with a pool of two: workers that render the jsonl
   themselves and send back text (what smtpdoc does) against workers that send back the
   model's dataclasses (pickled) for the parent to render; then, for one large capture, the
   CPU each part costs (render jsonl/terminal, send text, pickle/unpickle the model).

Last line: small_jobs2=X.XX small_dask=X.XX large_jobs2=X.XX large_dask=X.XX text_over_model=X.XX
(speed-ups over --jobs 1; text_over_model: the model's time over the text's, wall and CPU)
"""

from __future__ import annotations

import argparse
import hashlib
import io
import pickle
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import make_capture  # noqa: E402  (bench/ is not a package)

from smtpdoc import render  # noqa: E402
from smtpdoc.batch import CaptureInput, Job, explain_one  # noqa: E402
from smtpdoc.explain import Settings, explain_capture  # noqa: E402
from smtpdoc.model import Report, Session  # noqa: E402
from smtpdoc.render import RenderOptions  # noqa: E402
from smtpdoc.tshark import find_tshark  # noqa: E402

OUT = HERE / "out" / "batch"
SMALL_SESSIONS = (2, 3, 4, 5, 6)  # x 29 frames: 58-174 frames per capture
SMALL_COUNT = 20
LARGE_SESSIONS = 1000
LARGE_COUNT = 4
MODES = {
    "--jobs 1": ["--jobs", "1"],
    "--jobs 2": ["--jobs", "2"],
    "--dask local": ["--dask", "local", "--jobs", "2"],
}


def build(folder: Path, sessions: list[int]) -> list[Path]:
    digest = make_capture.source_digest(make_capture.DEFAULT_SOURCE)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, count in enumerate(sessions):
        path = folder / f"{i:02d}-{count}-{digest}.pcapng"
        if not path.exists():
            make_capture.write_capture(make_capture.DEFAULT_SOURCE, count, path)
        paths.append(path)
    for stale in folder.glob("*.pcapng"):
        if stale not in paths:
            stale.unlink()
    return paths


def smtpdoc(folder: Path, mode: list[str]) -> tuple[float, bytes]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "smtpdoc", "explain", str(folder), "--format", "jsonl", *mode],
        capture_output=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"smtpdoc {' '.join(mode)} failed on {folder}: {done.stderr.decode()}")
    return seconds, done.stdout


def check(folder: Path, expected_sessions: int, outputs: dict[str, bytes]) -> None:
    reference = outputs["--jobs 1"]
    lines = reference.splitlines()
    if len(lines) != expected_sessions:
        raise SystemExit(f"{folder}: {len(lines)} sessions in the output, {expected_sessions} expected")
    for mode, output in outputs.items():
        if output != reference:
            raise SystemExit(f"{folder}: {mode} printed something else than --jobs 1")


# -- what a worker sends back ---------------------------------------------------------------
def _model(capture: CaptureInput, job: Job) -> tuple[Report, list[Session]]:
    report, _outcome = explain_capture(capture.path, job.tshark or find_tshark(), job.settings)
    sessions = list(report.sessions)
    report.sessions = []
    return report, sessions


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _pool_seconds(
    captures: list[CaptureInput], job: Job, worker: Callable[..., object], parent: bool
) -> tuple[float, float]:
    """(wall, CPU) seconds: CPU counts this process, the workers and their tshark children."""
    cpu = _cpu()
    started = time.perf_counter()
    out = io.StringIO()
    with ProcessPoolExecutor(max_workers=2) as pool:
        for result in [pool.submit(worker, capture, job) for capture in captures]:
            done = result.result()
            if parent:
                report, sessions = done  # type: ignore[misc]
                report.sessions = sessions
                render.by_name("jsonl")(report, out, job.options)
            else:
                out.write(done.text)  # type: ignore[attr-defined]
    return time.perf_counter() - started, _cpu() - cpu


def transfer_costs(path: Path, job: Job) -> None:
    """CPU seconds, in this process, of what each way of sending results back costs per capture."""
    report, _outcome = explain_capture(str(path), job.tshark or find_tshark(), job.settings)
    sessions = list(report.sessions)
    report.sessions = sessions
    print("per 1,000-session capture (CPU s, one process): what the parent pays is serial")
    for fmt in ("jsonl", "terminal"):
        started = time.process_time()
        out = io.StringIO()
        render.by_name(fmt)(report, out, job.options)
        rendered = time.process_time()
        blob = pickle.dumps(out.getvalue(), protocol=pickle.HIGHEST_PROTOCOL)
        pickle.loads(blob)
        moved = time.process_time()
        print(
            f"  {fmt:<9} render {rendered - started:6.2f}   send its text {moved - rendered:5.2f}"
            f" ({len(blob) / 1e6:.1f} MB)"
        )
    started = time.process_time()
    blob = pickle.dumps((report.capture, sessions), protocol=pickle.HIGHEST_PROTOCOL)
    pickled = time.process_time()
    pickle.loads(blob)
    print(
        f"  the model: pickle {pickled - started:.2f}, unpickle {time.process_time() - pickled:.2f}"
        f" ({len(blob) / 1e6:.1f} MB)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=1, help="timed runs of each mode (default 1)")
    args = parser.parse_args()
    small = OUT / "small"
    large = OUT / "large"
    small_paths = build(small, [SMALL_SESSIONS[i % len(SMALL_SESSIONS)] for i in range(SMALL_COUNT)])
    large_paths = build(large, [LARGE_SESSIONS] * LARGE_COUNT)
    expected = {small: sum(int(p.name.split("-")[1]) for p in small_paths), large: LARGE_SESSIONS * LARGE_COUNT}
    medians: dict[tuple[Path, str], float] = {}
    for folder in (small, large):
        times: dict[str, list[float]] = {mode: [] for mode in MODES}
        outputs: dict[str, bytes] = {}
        for _ in range(args.repeats):
            for mode, flags in MODES.items():
                seconds, outputs[mode] = smtpdoc(folder, flags)
                times[mode].append(seconds)
        check(folder, expected[folder], outputs)
        digest = hashlib.sha256(outputs["--jobs 1"]).hexdigest()[:12]
        print(f"{folder.name}: {len(list(folder.glob('*.pcapng')))} captures, {expected[folder]} sessions, "
              f"identical jsonl from every mode (sha256 {digest})")  # fmt: skip
        for mode in MODES:
            medians[folder, mode] = statistics.median(times[mode])
    print()
    print(f"{'wall seconds (median)':<24}{'20 small':>12}{'4 large':>12}")
    for mode in MODES:
        print(f"{mode:<24}{medians[small, mode]:>12.2f}{medians[large, mode]:>12.2f}")
    ratios = {
        f"{name}_{key}": medians[folder, "--jobs 1"] / medians[folder, mode]
        for name, folder in (("small", small), ("large", large))
        for key, mode in (("jobs2", "--jobs 2"), ("dask", "--dask local"))
    }
    tshark = find_tshark()
    job = Job(Settings(), "jsonl", RenderOptions(), tshark=tshark)
    captures = [CaptureInput(str(p), str(p)) for p in large_paths]
    as_text, text_cpu = _pool_seconds(captures, job, explain_one, parent=False)
    as_model, model_cpu = _pool_seconds(captures, job, _model, parent=True)
    print()
    print("pool of 2 on the 4 large captures, jsonl:")
    print(f"  workers render, send text:            {as_text:6.2f} s wall, {text_cpu:6.2f} s CPU")
    print(f"  workers send the model, parent renders: {as_model:6.2f} s wall, {model_cpu:6.2f} s CPU")
    ratios["text_over_model"] = as_model / as_text
    ratios["text_over_model_cpu"] = model_cpu / text_cpu
    print()
    transfer_costs(large_paths[0], job)
    print()
    print(" ".join(f"{key}={value:.2f}" for key, value in ratios.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
