"""`smtpdoc lab` end to end through the real tshark: the bundled examples' worksheets (goldens in
examples/worksheets/, refreshed only with --update-golden), the key's filters checked in tshark,
marking a sheet from the key (100%) and a wrong one (exact misses), and bad input."""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path
from typing import Any

import pytest

from smtpdoc.annotate import read_comments
from smtpdoc.lab.filters import selected_frames
from smtpdoc.lab.view import View
from smtpdoc.tshark import Tshark

from conftest import DATA, EXAMPLES, run_cli

WORKSHEETS = EXAMPLES / "worksheets"
TEXT_FILES = ("worksheet.md", "worksheet.html", "answers.md", "answers.html", "answer-sheet.toml", "key.json")


def _examples() -> list[Path]:
    return sorted(EXAMPLES.glob("*.pcapng"))


def _lab_args(capture: Path, out: Path, *extra: str) -> list[str]:
    keylog = capture.with_suffix(".keylog")
    keys = ["--keylog", str(keylog)] if keylog.exists() else []
    return ["lab", str(capture), "-o", str(out), *keys, *extra]


@pytest.fixture(scope="module")
def labs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The lab folder `smtpdoc lab` writes now for every bundled example."""
    root = tmp_path_factory.mktemp("labs")
    made = {}
    for capture in _examples():
        out = root / capture.stem
        done = run_cli(*_lab_args(capture, out))
        assert done.returncode == 0, done.stderr
        assert f"into '{out}'" in done.stdout
        made[capture.stem] = out
    return made


def _key(lab: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((lab / "key.json").read_text())
    return data


def _question(lab: Path, qid: str) -> dict[str, Any]:
    return next(q for q in _key(lab)["questions"] if q["id"] == qid)


def _answer(question: dict[str, Any], part: str) -> Any:
    return next(p["expected"] for p in question["parts"] if p["name"] == part)


def test_every_example_has_a_worksheet_folder_equal_to_what_lab_writes_now(
    labs: dict[str, Path], tshark: Tshark, request: pytest.FixtureRequest
) -> None:
    update = request.config.getoption("--update-golden")
    assert set(labs) == {"plain", "starttls", "starttls-dsb", "starttls-ipv6"}
    for name, lab in labs.items():
        golden = WORKSHEETS / name
        if update:
            shutil.rmtree(golden, ignore_errors=True)
            shutil.copytree(lab, golden)
        assert sorted(p.name for p in golden.iterdir()) == sorted(p.name for p in lab.iterdir()), name
        for file in TEXT_FILES:
            assert (golden / file).read_text() == (lab / file).read_text(), f"{name}/{file} differs; --update-golden"
        annotated = f"{name}-annotated.pcapng"
        assert read_comments(tshark, str(golden / annotated)) == read_comments(tshark, str(lab / annotated)), name
        keylog = EXAMPLES / f"{name}.keylog"
        if keylog.exists():
            assert (golden / keylog.name).read_bytes() == keylog.read_bytes()


def test_the_worksheet_follows_the_walkthrough_with_this_captures_facts(labs: dict[str, Path]) -> None:
    lab = labs["starttls"]
    assert _answer(_question(lab, "tcp_handshake"), "frames") == [1, 2, 3]
    greeting = _question(lab, "greeting")
    assert (_answer(greeting, "frame"), _answer(greeting, "host")) == ([4], "mail.example.test")
    assert greeting["position"] == 2 and greeting["where"].startswith("step 2 of session 1")
    ehlo = _question(lab, "ehlo")
    assert (_answer(ehlo, "frame"), _answer(ehlo, "client")) == ([6], "client.example.test")
    assert _answer(_question(lab, "extensions"), "extensions") == [
        "PIPELINING", "SIZE", "VRFY", "ETRN", "STARTTLS", "ENHANCEDSTATUSCODES", "8BITMIME", "DSN", "SMTPUTF8", "CHUNKING",
    ]  # fmt: skip
    size = _question(lab, "size_limit")
    assert size["parts"][0]["shown"] == "34.2 MiB (35,882,577 bytes)" and size["frames"] == [8]
    starttls = _question(lab, "starttls")
    assert (_answer(starttls, "frame"), _answer(starttls, "reply"), starttls["frames"]) == ([9], "220", [9, 10])
    tls = _question(lab, "tls_agreed")
    assert (_answer(tls, "frame"), _answer(tls, "version"), _answer(tls, "cipher")) == (
        [12], "TLS 1.3", "TLS_AES_256_GCM_SHA384",
    )  # fmt: skip
    decrypted = _question(lab, "decrypted")
    assert (_answer(decrypted, "frame"), _answer(decrypted, "command")) == ([15], "EHLO")
    assert _answer(_question(lab, "extensions_inside_tls"), "removed") == ["STARTTLS"]
    envelope = _question(lab, "envelope")
    assert (_answer(envelope, "sender"), _answer(envelope, "recipients")) == (
        "bob@example.test",
        ["alice@example.test"],
    )
    assert _answer(_question(lab, "subject"), "subject") == "smtpdoc walkthrough"
    worksheet = (lab / "worksheet.md").read_text()
    assert "smtpdoc profile install" in worksheet
    assert "wireshark -C smtpdoc -o tls.keylog_file:starttls.keylog -r starttls-annotated.pcapng" in worksheet
    answers = (lab / "answers.md").read_text()
    assert "Before any mail is exchanged, the client opens a TCP connection" in answers  # the step's explanation


def test_a_question_whose_facts_the_capture_lacks_is_not_asked(labs: dict[str, Path]) -> None:
    plain = {q["id"] for q in _key(labs["plain"])["questions"]}
    assert {"smtp_filter", "greeting", "envelope", "starttls_not_used"} <= plain
    assert not plain & {"starttls", "tls_agreed", "hidden", "decrypted", "extensions_inside_tls"}
    recipients = _answer(_question(labs["plain"], "envelope"), "recipients")
    assert recipients == ["alice@example.test", "carol@example.test"]
    assert _answer(_question(labs["plain"], "starttls_not_used"), "frame") == [8]
    ipv6 = {q["id"] for q in _key(labs["starttls-ipv6"])["questions"]}
    assert "hidden" not in ipv6 and "decrypted" in ipv6  # decrypted with its key log


def test_without_keys_the_worksheet_asks_what_cannot_be_seen(tmp_path: Path) -> None:
    done = run_cli("lab", str(EXAMPLES / "starttls.pcapng"), "-o", str(tmp_path / "lab"))
    assert done.returncode == 0, done.stderr
    key = _key(tmp_path / "lab")
    hidden = next(q for q in key["questions"] if q["id"] == "hidden")
    assert hidden["text"].startswith("What can you not see after frame 13, and why?")
    assert hidden["frames"] == list(range(14, 28))
    assert hidden["filter"] == "tls.app_data && !tls.handshake && !tls.change_cipher_spec"
    assert "19 records, 1188 bytes from the client and 2065 bytes from the server" in hidden["parts"][0]["expected"]
    ids = {q["id"] for q in key["questions"]}
    assert not ids & {"decrypted", "envelope", "subject", "extensions_inside_tls"}
    assert key["keylog"] is None and not list((tmp_path / "lab").glob("*.keylog"))


def test_every_answer_filter_selects_exactly_its_frames_in_tshark(labs: dict[str, Path], tshark: Tshark) -> None:
    for name, lab in labs.items():
        key = _key(lab)
        keylog = str(lab / key["keylog"]) if key["keylog"] else None
        view = View(str(lab / key["capture"]), keylog, tuple(key["decode_as"]))
        native = [q for q in key["questions"] if not q["filter"].startswith("frame.number")]
        assert len(native) == len(key["questions"]), (name, [q["id"] for q in key["questions"] if q not in native])
        for question in key["questions"]:
            frames = selected_frames(tshark, view, question["filter"])
            assert frames == question["frames"], (name, question["id"], question["filter"])


def _sheet_from_key(key: dict[str, Any]) -> dict[str, dict[str, Any]]:
    sheet: dict[str, dict[str, Any]] = {}
    for question in key["questions"]:
        answers = sheet.setdefault(question["key"], {})
        for part in question["parts"]:
            if part["kind"] == "number":
                answers[part["name"]] = f"{part['expected']:.{part['precision']}f} {part['unit']}"
            else:
                answers[part["name"]] = part["shown"] if part["kind"] in ("filter", "text") else part["expected"]
    return sheet


def _toml(sheet: dict[str, dict[str, Any]]) -> str:
    lines = []
    for table, values in sheet.items():
        lines.append(f"[{table}]")
        lines += [f"{name} = {json.dumps(value)}" for name, value in values.items()]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("name", ["plain", "starttls", "starttls-dsb", "starttls-ipv6"])
def test_a_sheet_answered_from_the_key_scores_full_marks(labs: dict[str, Path], tmp_path: Path, name: str) -> None:
    key = _key(labs[name])
    sheet = tmp_path / "answers.toml"
    sheet.write_text(_toml(_sheet_from_key(key)))
    assert tomllib.loads(sheet.read_text())  # what a student hands in is TOML
    done = run_cli("lab", "check", str(labs[name]), str(sheet))
    assert done.returncode == 0, done.stdout + done.stderr
    marked = sum(p["kind"] != "text" for q in key["questions"] for p in q["parts"])
    assert f"Score: {marked}/{marked} (100%)" in done.stdout
    assert "wrong" not in done.stdout and "missing" not in done.stdout
    texts = sum(p["kind"] == "text" for q in key["questions"] for p in q["parts"])
    if texts:
        assert f"For the teacher ({texts} free-text answers, not marked)" in done.stdout


def test_a_wrong_sheet_gets_the_exact_miss_count_and_the_right_answers(labs: dict[str, Path], tmp_path: Path) -> None:
    lab = labs["starttls"]
    key = _key(lab)
    sheet = _sheet_from_key(key)
    by_id = {q["id"]: q["key"] for q in key["questions"]}
    # Right in another form: these must still count.
    sheet[by_id["size_limit"]]["size"] = "35882577 bytes"
    sheet[by_id["tcp_handshake"]]["frames"] = "1-3"
    sheet[by_id["greeting"]]["host"] = "MAIL.EXAMPLE.TEST"
    sheet[by_id["tls_agreed"]]["version"] = "TLSv1.3"
    sheet[by_id["smtp_filter"]]["filter"] = "smtp || imf"  # selects the same frames
    # Six misses:
    sheet[by_id["greeting"]]["frame"] = 5
    sheet[by_id["size_limit"]]["size"] = "35 MiB"
    sheet[by_id["starttls"]]["reply"] = "250"
    sheet[by_id["extensions"]]["extensions"] = ["SIZE", "STARTTLS"]
    del sheet[by_id["envelope"]]["sender"]
    sheet[by_id["tls_agreed"]]["cipher"] = "TLS_AES_128_GCM_SHA256"
    wrong_filter = tmp_path / "bad-filter.toml"
    sheet_path = tmp_path / "answers.toml"
    sheet_path.write_text(_toml(sheet))
    done = run_cli("lab", "check", str(lab), str(sheet_path))
    assert done.returncode == 11, done.stderr
    marked = sum(p["kind"] != "text" for q in key["questions"] for p in q["parts"])
    assert f"Score: {marked - 6}/{marked} ({round(100 * (marked - 6) / marked)}%)" in done.stdout
    lines = done.stdout.splitlines()
    assert sum(line.lstrip().startswith(("wrong", "missing")) for line in lines) == 6
    greeting = by_id["greeting"]
    assert f"wrong   {greeting}.frame: you wrote '5'; the answer is 4" in done.stdout
    assert f"missing {by_id['envelope']}.sender: the answer is bob@example.test" in done.stdout
    assert "the answer is 34.2 MiB (35,882,577 bytes)" in done.stdout
    assert "the answer is TLS_AES_256_GCM_SHA384" in done.stdout
    assert "(8 missing)" in done.stdout  # of the ten extensions

    # A filter that does not compile is a wrong answer, not a crash; one that selects other frames too.
    for bad, why in (("smtp &&", "does not compile"), ("tcp", "it selects frames 1-30 instead of")):
        sheet = _sheet_from_key(key)
        sheet[by_id["smtp_filter"]]["filter"] = bad
        wrong_filter.write_text(_toml(sheet))
        done = run_cli("lab", "check", str(lab), str(wrong_filter))
        assert done.returncode == 11, done.stderr
        assert f"Score: {marked - 1}/{marked}" in done.stdout
        assert why in done.stdout and "Traceback" not in done.stderr


def test_questions_n_picks_deterministically_with_the_seed(tmp_path: Path) -> None:
    capture = EXAMPLES / "starttls-dsb.pcapng"
    picked = {}
    for run, seed in (("a", "1"), ("b", "1"), ("c", "2")):
        done = run_cli("lab", str(capture), "-o", str(tmp_path / run), "--questions", "4", "--seed", seed)
        assert done.returncode == 0, done.stderr
        key = _key(tmp_path / run)
        assert [q["key"] for q in key["questions"]] == ["q1", "q2", "q3", "q4"]
        picked[run] = [q["id"] for q in key["questions"]]
    assert picked["a"] == picked["b"] and picked["a"] != picked["c"]
    every = [q["id"] for q in _key(tmp_path / "a")["questions"]]
    assert len(set(every)) == 4


def test_findings_become_questions(tmp_path: Path) -> None:
    done = run_cli("lab", str(DATA / "auth-plain-cleartext.pcapng"), "-o", str(tmp_path / "auth"))
    assert done.returncode == 0, done.stderr
    auth = _question(tmp_path / "auth", "auth_cleartext")
    assert auth["text"] == "The client logs in with AUTH in frame 9. Was the password protected? How can you tell?"
    assert (_answer(auth, "mechanism"), auth["frames"]) == ("PLAIN", [9])
    assert _answer(auth, "protected").startswith("No. The client used PLAIN before any TLS")
    written = "".join(p.read_text() for p in (tmp_path / "auth").iterdir() if p.suffix != ".pcapng")
    assert "AGFsaWNlAHMzY3JldC1QYXNzdzByZA" not in written and "s3cret" not in written  # redacted everywhere

    done = run_cli("lab", str(DATA / "starttls-refused.pcapng"), "-o", str(tmp_path / "refused"))
    assert done.returncode == 0, done.stderr
    assert _answer(_question(tmp_path / "refused", "starttls"), "reply") == "454"
    generic = _question(tmp_path / "refused", "finding:cleartext_after_refusal")
    assert "Session continued in the clear after STARTTLS failed" in generic["text"]
    assert generic["parts"][0]["kind"] == "text"


def test_capture_text_is_escaped_in_every_page(tmp_path: Path) -> None:
    done = run_cli("lab", str(DATA / "subject-script.pcapng"), "-o", str(tmp_path / "lab"))
    assert done.returncode == 0, done.stderr
    subject = _answer(_question(tmp_path / "lab", "subject"), "subject")
    assert "<script>" in subject
    for page in ("worksheet.html", "answers.html"):
        assert "<script" not in (tmp_path / "lab" / page).read_text()
    assert "&lt;script&gt;" in (tmp_path / "lab" / "answers.html").read_text()
    assert "<script" not in (tmp_path / "lab" / "answers.md").read_text()


def test_bad_input_is_a_sentence_and_an_exit_code(tmp_path: Path) -> None:
    out = tmp_path / "nothing"
    done = run_cli("lab", str(DATA / "not-smtp-on-25.pcapng"), "-o", str(out))
    assert done.returncode == 10 and "holds no SMTP session" in done.stderr and not out.exists()
    junk = tmp_path / "junk.pcapng"
    junk.write_bytes(b"not a capture at all\n" * 10)
    done = run_cli("lab", str(junk), "-o", str(out))
    assert done.returncode == 4 and len(done.stderr.strip().splitlines()) == 1 and not out.exists()
    done = run_cli("lab", "check", str(tmp_path), str(junk))
    assert done.returncode == 2 and "has no key.json" in done.stderr
    lab = tmp_path / "lab"
    assert run_cli("lab", str(EXAMPLES / "plain.pcapng"), "-o", str(lab), "--questions", "2").returncode == 0
    broken = tmp_path / "broken.toml"
    broken.write_text("[q1\nfilter = smtp\n")
    done = run_cli("lab", "check", str(lab), str(broken))
    assert done.returncode == 2 and "is not valid TOML" in done.stderr and "Traceback" not in done.stderr
    done = run_cli("lab", "--questions", "0", str(EXAMPLES / "plain.pcapng"), "-o", str(lab))
    assert done.returncode == 2


def test_an_smtp_port_tshark_does_not_know_is_decoded_as_smtp_for_students_and_marker(tmp_path: Path) -> None:
    capture = DATA / "starttls-port-2525.pcapng"
    lab = tmp_path / "lab"
    done = run_cli("lab", str(capture), "-o", str(lab), "--keylog", str(capture.with_suffix(".keylog")))
    assert done.returncode == 0, done.stderr
    key = _key(lab)
    assert key["decode_as"] == [2525]
    assert [q["id"] for q in key["questions"] if q["filter"].startswith("frame.number")] == []
    assert (
        "wireshark -C smtpdoc -d tcp.port==2525,smtp -o tls.keylog_file:starttls-port-2525.keylog"
        in (lab / "worksheet.md").read_text()
    )
    sheet = tmp_path / "answers.toml"
    sheet.write_text(_toml(_sheet_from_key(key)))
    done = run_cli("lab", "check", str(lab), str(sheet))
    assert done.returncode == 0 and "(100%)" in done.stdout, done.stdout


def test_the_smtp_filter_question_is_not_asked_when_tsharks_smtp_frames_differ(tmp_path: Path) -> None:
    # Pipelined commands: tshark's smtp filter does not select exactly the frames smtpdoc read SMTP in,
    # so no filter answer could be marked fairly.
    done = run_cli("lab", str(DATA / "pipelining.pcapng"), "-o", str(tmp_path / "lab"))
    assert done.returncode == 0, done.stderr
    ids = [q["id"] for q in _key(tmp_path / "lab")["questions"]]
    assert "smtp_filter" not in ids and "greeting" in ids


def test_with_several_sessions_the_questions_and_filters_are_about_the_first(tmp_path: Path, tshark: Tshark) -> None:
    capture = DATA / "tls-resumed.pcapng"
    lab = tmp_path / "lab"
    done = run_cli("lab", str(capture), "-o", str(lab), "--keylog", str(capture.with_suffix(".keylog")))
    assert done.returncode == 0, done.stderr
    assert "the capture has 2 SMTP sessions; the questions are about the first" in done.stdout
    key = _key(lab)
    smtp = _question(lab, "smtp_filter")
    assert smtp["text"] == "Which display filter shows only the SMTP frames of session 1 (tcp.stream 0)?"
    assert smtp["filter"] == "tcp.stream == 0 && smtp"
    view = View(str(lab / key["capture"]), str(lab / key["keylog"]))
    assert selected_frames(tshark, view, "smtp") != smtp["frames"]  # the second session's frames too
    assert "The capture holds 2 SMTP sessions; the questions are about session 1" in (lab / "worksheet.md").read_text()
