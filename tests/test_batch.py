"""Many captures at once: folders, stdin, a bad file among good ones, a process pool and a Dask LocalCluster."""

from __future__ import annotations

import gzip
import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from smtpdoc.batch import InputProblem, expand_inputs

from conftest import DATA, EXAMPLES, ROOT, run_cli

SCHEMA = json.loads((ROOT / "docs" / "json-schema.json").read_text())


def _lines(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.splitlines()]


def _steps(session: dict[str, object]) -> list[str]:
    return [step["name"] for step in session["steps"]]  # type: ignore[attr-defined, index]


def test_a_folder_gives_its_captures_in_order_and_skips_other_files(tmp_path: Path) -> None:
    folder = tmp_path / "ticket"
    (folder / "rotated").mkdir(parents=True)
    names = {
        "b-tls12.pcapng": DATA / "tls12.pcapng",
        "a-resumed.pcapng": DATA / "tls-resumed.pcapng",
        "rotated/c-not-smtp.pcapng": DATA / "not-smtp-on-25.pcapng",
        "rotated/d-plain.pcap.gz": None,
    }
    for name, source in names.items():
        if source is not None:
            (folder / name).write_bytes(source.read_bytes())
    with gzip.open(folder / "rotated/d-plain.pcap.gz", "wb") as packed:
        packed.write(subprocess.run(
            ["editcap", "-F", "pcap", str(EXAMPLES / "plain.pcapng"), "-"], capture_output=True, check=True
        ).stdout)  # fmt: skip
    (folder / "README.md").write_text("notes, not a capture")
    (folder / "b-tls12.keylog").write_bytes((DATA / "tls12.keylog").read_bytes())
    done = run_cli("explain", str(folder), "--format", "jsonl", "--jobs", "2")
    assert done.returncode == 0, done.stderr
    lines = _lines(done.stdout)
    captures = list(dict.fromkeys(str(line["capture"]) for line in lines))
    # sorted by path, subfolders too; README.md and the key log are not captures
    assert captures == [str(folder / n) for n in sorted(names)]
    by_capture = {c: [line for line in lines if line["capture"] == c] for c in captures}
    assert [line["index"] for line in by_capture[str(folder / "a-resumed.pcapng")]] == [1, 2]
    assert len(by_capture[str(folder / "rotated/c-not-smtp.pcapng")]) == 2
    (tls12,) = by_capture[str(folder / "b-tls12.pcapng")]
    assert _steps(tls12)[:7] == [
        "tcp_handshake", "greeting", "ehlo", "ehlo_reply", "starttls", "starttls_reply", "tls_handshake",
    ]  # fmt: skip
    (plain,) = by_capture[str(folder / "rotated/d-plain.pcap.gz")]
    assert plain["transactions"][0]["message"] is not None
    assert all(line["schema"] == "smtpdoc/1" for line in lines)


def test_jsonl_line_is_the_json_session_with_its_capture() -> None:
    capture = str(DATA / "errors.pcapng")
    single = json.loads(run_cli("explain", capture, "--format", "json").stdout)
    (line,) = _lines(run_cli("explain", capture, "--format", "jsonl").stdout)
    assert line.pop("capture") == capture and line.pop("schema") == "smtpdoc/1"
    assert line == single["sessions"][0]
    jsonschema.validate({**single, "sessions": [line]}, SCHEMA)


def test_stdin_is_spooled_and_explained_like_the_file() -> None:
    capture = EXAMPLES / "starttls.pcapng"
    with capture.open("rb") as stdin:
        done = subprocess.run(
            [sys.executable, "-m", "smtpdoc", "explain", "-", "--format", "json"],
            stdin=stdin, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (report,) = json.loads(done.stdout)  # several inputs: a JSON array of reports
    jsonschema.validate(report, SCHEMA)
    assert report["capture"] == "stdin"
    from_file = json.loads(run_cli("explain", str(capture), "--format", "json").stdout)
    assert report["sessions"] == from_file["sessions"]


def test_stdin_and_keylog_decrypt_the_inner_steps() -> None:
    capture, keylog = DATA / "tls12.pcapng", DATA / "tls12.keylog"
    with capture.open("rb") as stdin:
        done = subprocess.run(
            [sys.executable, "-m", "smtpdoc", "explain", "-", "--keylog", str(keylog), "--format", "jsonl"],
            stdin=stdin, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (session,) = _lines(done.stdout)
    inner = [step["name"] for step in session["steps"] if step["inside_tls"]]  # type: ignore[attr-defined]
    assert inner[:2] == ["ehlo", "ehlo_reply"] and "mail_from" in inner


def test_one_bad_file_is_reported_and_the_others_explained(tmp_path: Path) -> None:
    bad = tmp_path / "garbage.pcap"
    bad.write_bytes(b"this is not a capture\n" * 10)
    good = [str(EXAMPLES / "plain.pcapng"), str(DATA / "bdat.pcapng")]
    done = run_cli("explain", good[0], str(bad), good[1], "--jobs", "2", "--brief", "--no-color")
    assert done.returncode == 4  # not a capture, as for one file
    assert "Traceback" not in done.stderr
    (error,) = done.stderr.splitlines()
    assert error.startswith(f"smtpdoc: cannot read '{bad}'") and "isn't a capture file" in error
    first, second = done.stdout.index(f"smtpdoc — {good[0]}"), done.stdout.index(f"smtpdoc — {good[1]}")
    assert first < second
    table = done.stdout[done.stdout.index("3 captures") :].splitlines()
    assert table[1].split()[:2] == ["capture", "sessions"]
    assert table[3].startswith(good[0]) and table[3].endswith("explained")
    assert table[4].startswith(str(bad)) and table[4].endswith("failed")
    assert table[-1].split()[:2] == ["total", "2"] and table[-1].endswith("2 explained, 1 failed")


def test_results_keep_the_order_of_the_arguments() -> None:
    names = [str(DATA / n) for n in ("tls12.pcapng", "bdat.pcapng", "auth-xoauth2.pcapng", "errors.pcapng")]
    for order in (names, names[::-1]):
        done = run_cli("explain", *order, "--format", "jsonl", "--jobs", "2")
        assert done.returncode == 0, done.stderr
        assert [line["capture"] for line in _lines(done.stdout)] == order


def test_output_file_is_written_whole_and_no_temporary_is_left(tmp_path: Path) -> None:
    out = tmp_path / "all.json"
    done = run_cli("explain", str(DATA / "bdat.pcapng"), str(DATA / "pipelining.pcapng"), "-o", str(out))
    assert done.returncode == 0, done.stderr
    reports = json.loads(out.read_text())
    assert [r["capture"] for r in reports] == [str(DATA / "bdat.pcapng"), str(DATA / "pipelining.pcapng")]
    assert [len(r["sessions"]) for r in reports] == [1, 1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["all.json"]


def test_html_takes_one_capture() -> None:
    done = run_cli("explain", str(DATA / "bdat.pcapng"), str(DATA / "errors.pcapng"), "--format", "html")
    assert done.returncode == 2 and "one page per capture" in done.stderr


def test_empty_folder_and_twice_stdin_are_input_problems(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a capture")
    with pytest.raises(InputProblem, match="holds no capture"):
        expand_inputs([str(tmp_path)])
    with pytest.raises(InputProblem, match="given twice"):
        expand_inputs(["-", "-"])
    done = run_cli("explain", str(tmp_path))
    assert done.returncode == 2 and "holds no capture" in done.stderr and "Traceback" not in done.stderr


def test_dask_local_cluster_of_two_workers_gives_what_the_pool_gives() -> None:
    pytest.importorskip("distributed", reason="the cluster extra is not installed: pip install -e '.[cluster,test]'")
    names = [str(DATA / n) for n in ("tls12.pcapng", "starttls-refused.pcapng", "auth-failed-535.pcapng")]
    pool = run_cli("explain", *names, "--format", "jsonl", "--jobs", "1")
    cluster = run_cli("explain", *names, "--format", "jsonl", "--dask", "local", "--jobs", "2")
    assert cluster.returncode == 0, cluster.stderr
    assert [line["capture"] for line in _lines(cluster.stdout)] == names
    assert _lines(cluster.stdout) == _lines(pool.stdout)


def test_dask_scheduler_that_does_not_answer_is_one_line() -> None:
    pytest.importorskip("distributed", reason="the cluster extra is not installed: pip install -e '.[cluster,test]'")
    done = run_cli("explain", str(DATA / "bdat.pcapng"), "--dask", "tcp://127.0.0.1:9")
    assert done.returncode == 9
    (line,) = done.stderr.splitlines()
    assert line.startswith("smtpdoc: cannot use the Dask cluster at 'tcp://127.0.0.1:9'")


def test_the_three_cluster_commands_of_the_readme(tmp_path: Path) -> None:
    """`dask scheduler`, `dask worker ADDRESS --nworkers 2 --nthreads 1`, `smtpdoc explain ... --dask ADDRESS`."""
    pytest.importorskip("distributed", reason="the cluster extra is not installed: pip install -e '.[cluster,test]'")
    dask = Path(sys.executable).with_name("dask")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    log = (tmp_path / "dask.log").open("w")
    started = [
        subprocess.Popen([str(dask), "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                         stdout=log, stderr=log, cwd=tmp_path),
    ]  # fmt: skip
    try:
        started.append(
            subprocess.Popen([str(dask), "worker", address, "--nworkers", "2", "--nthreads", "1", "--no-dashboard"],
                             stdout=log, stderr=log, cwd=tmp_path)
        )  # fmt: skip
        names = [str(DATA / "tls12.pcapng"), str(DATA / "bdat.pcapng"), str(tmp_path / "errors-copy.pcapng")]
        Path(names[2]).write_bytes((DATA / "errors.pcapng").read_bytes())
        done = run_cli("explain", *names, "--format", "jsonl", "--dask", address)
        assert done.returncode == 0, done.stderr + (tmp_path / "dask.log").read_text()
        lines = _lines(done.stdout)
        assert [line["capture"] for line in lines] == names
        assert lines == _lines(run_cli("explain", *names, "--format", "jsonl", "--jobs", "1").stdout)
    finally:
        for proc in reversed(started):
            proc.terminate()
        for proc in started:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


def test_ctrl_c_stops_the_workers_with_one_line(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    import make_capture

    busy = tmp_path / "busy-0.pcapng"
    make_capture.write_capture(make_capture.DEFAULT_SOURCE, 1000, busy)
    for i in range(1, 6):
        (tmp_path / f"busy-{i}.pcapng").write_bytes(busy.read_bytes())
    proc = subprocess.Popen(
        [sys.executable, "-m", "smtpdoc", "explain", str(tmp_path), "--jobs", "2", "--format", "jsonl"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    first = json.loads(proc.stdout.readline())  # the first capture is done; the others are being explained
    assert first["capture"] == str(busy)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    (line,) = err.splitlines()  # no worker's traceback
    assert line.startswith("smtpdoc: interrupted; ") and line.endswith("capture(s) were explained before.")
    assert len(out.splitlines()) < 5 * 1000  # stopped: the last captures were never written


def test_each_capture_gets_fail_on_min_severity_and_the_key_log_warning(tmp_path: Path) -> None:
    """Several captures go through the single-capture job: --fail-on, --min-severity and the key log hold."""
    plain, starttls = str(EXAMPLES / "plain.pcapng"), str(EXAMPLES / "starttls.pcapng")
    single = json.loads(run_cli("explain", plain, "--format", "json").stdout)
    severities = {f["severity"] for s in single["sessions"] for f in s["findings"]}
    assert severities - {"critical"}, "plain.pcapng should have a finding below critical"
    failed = run_cli("explain", plain, starttls, "--format", "jsonl", "--fail-on", "info")
    assert failed.returncode == 7, failed.stderr
    lines = [json.loads(line) for line in failed.stdout.splitlines()]
    assert [line["capture"] for line in lines][:1] == [plain]
    kept = run_cli("explain", plain, starttls, "--format", "jsonl", "--min-severity", "critical")
    assert kept.returncode == 0, kept.stderr
    found = {f["severity"] for line in kept.stdout.splitlines() for f in json.loads(line)["findings"]}
    assert found <= {"critical"}
    keylog = str(EXAMPLES / "starttls.keylog")
    report = tmp_path / "both.jsonl"
    done = run_cli("explain", plain, plain, "--keylog", keylog, "-o", str(report))
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("decrypted nothing") == 2
    assert len(report.read_text(encoding="utf-8").splitlines()) == 2 * len(single["sessions"])
    assert [p.name for p in tmp_path.iterdir()] == ["both.jsonl"]  # no temporary file left beside it
