"""--format zeek and --format csv: one row per transaction, checked against Zeek itself.

For every corpus trace with a baseline smtp.log, `smtpdoc explain --format zeek` must
write Zeek's header lines and agree with Zeek's rows column by column, in Zeek's own
syntax (escapes, `(empty)`, `-`); the columns smtpdoc never fills hold Zeek's unset mark.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from test_corpus import DIFFERENCES, SET_FIELDS

from smtpdoc.render.rows import UNFILLED, ZEEK_COLUMNS

from conftest import EXAMPLES, NO_CORPUS, ZEEK, read_zeek_log, run_cli, zeek_baselines

MASKED = {"ts", "uid"}  # Zeek's baselines mask them: compared as present


def _zeek_output(capture: Path) -> tuple[str, list[dict[str, str]]]:
    done = run_cli("explain", str(capture), "--format", "zeek")
    assert done.returncode == 0, done.stderr
    return done.stdout, _rows(done.stdout)


def _rows(text: str) -> list[dict[str, str]]:
    fields: list[str] = []
    rows = []
    for line in text.splitlines():
        if line.startswith("#fields"):
            fields = line.split("\t")[1:]
        elif line and not line.startswith("#"):
            rows.append(dict(zip(fields, line.split("\t"), strict=True)))
    return rows


def _same(column: str, zeek: str, ours: str) -> bool:
    if column in SET_FIELDS:
        return set(zeek.split(",")) == set(ours.split(","))
    return zeek == ours


@pytest.mark.skipif(not ZEEK.is_dir(), reason=NO_CORPUS)
@pytest.mark.parametrize(("baseline", "trace"), zeek_baselines())
def test_zeek_rows_agree_with_zeeks_smtp_log(baseline: str, trace: str) -> None:
    text, ours = _zeek_output(ZEEK / "traces" / trace)
    theirs = read_zeek_log(ZEEK / "baselines" / baseline)
    expected_head = [
        line for line in (ZEEK / "baselines" / baseline).read_text().splitlines() if line.startswith("#")
    ]
    head = [line for line in text.splitlines() if line.startswith("#")]
    for prefix in ("#separator", "#set_separator", "#empty_field", "#unset_field", "#path", "#fields", "#types"):
        assert [h for h in head if h.startswith(prefix)] == [h for h in expected_head if h.startswith(prefix)]
    assert len(ours) == len(theirs), f"{trace}: Zeek logs {len(theirs)} rows, smtpdoc wrote {len(ours)}"
    wrong = []
    for index, (row, mine) in enumerate(zip(theirs, ours, strict=True)):
        assert list(mine) == [name for name, _ in ZEEK_COLUMNS]
        for column, value in mine.items():
            if column in MASKED:
                assert value != "-" and row[column] != "-", column
            elif column in UNFILLED:
                assert value == "-", f"{column} is never filled, so it must be Zeek's unset mark"
            elif (trace, index, column) in DIFFERENCES:
                assert not _same(column, row[column], value), f"documented difference vanished: {column}"
            elif not _same(column, row[column], value):
                wrong.append(f"#{index} {column}: zeek={row[column]!r} smtpdoc={value!r}")
    assert not wrong, "\n".join(wrong)


def test_zeek_escapes_separators_and_markers() -> None:
    from smtpdoc.render.zeek import field

    assert field("a\tb", "string") == "a\\x09b"
    assert field("", "string") == "(empty)"
    assert field("-", "string") == "\\x2d"
    assert field(["x,y", "z"], "set[string]") == "x\\x2cy,z"
    assert field(None, "string") == "-"
    assert field(True, "bool") == "T"


def test_csv_has_one_row_per_transaction_with_recipients_and_codes() -> None:
    done = run_cli("explain", str(EXAMPLES / "plain.pcapng"), "--format", "csv")
    assert done.returncode == 0, done.stderr
    (row,) = list(csv.DictReader(io.StringIO(done.stdout)))
    assert row["mail_from"] == "bob@example.test"
    assert row["recipients"] == "alice@example.test; carol@example.test"
    assert row["recipient_codes"] == "250; 250"
    assert row["subject"] == "plain SMTP, two recipients"
    assert row["last_reply"].startswith("250 2.0.0 Ok: queued as")
    assert row["tls"] == "no" and row["method"] == "DATA"


def test_csv_cells_cannot_become_spreadsheet_formulas() -> None:
    from smtpdoc.render.csv import cell

    assert cell("=HYPERLINK(1)", "subject") == "'=HYPERLINK(1)"
    assert cell(-1, "message_size") == "-1"
