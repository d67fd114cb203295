"""The lab's HTML pages in a real browser (headless Chromium): every question and blank renders,
capture text stays text, the page prints, and a screenshot is kept for people to look at
(artifacts/, and docs/lab-screenshot.png for the README, written only when missing or with
--update-golden)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from lxml import html as lxml_html

from conftest import DATA, EXAMPLES, ROOT, browse, run_cli

ARTIFACTS = ROOT / "artifacts"
DOCS_SCREENSHOT = ROOT / "docs" / "lab-screenshot.png"
def _lab(capture: Path, out: Path, *extra: str) -> Path:
    done = run_cli("lab", str(capture), "-o", str(out), *extra)
    assert done.returncode == 0, done.stderr
    return out


def test_the_worksheet_and_answers_render_every_question(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    # The committed worksheet (test_lab.py checks that it is what `smtpdoc lab` writes now).
    lab = EXAMPLES / "worksheets" / "starttls"
    key = json.loads((lab / "key.json").read_text())
    for page in ("worksheet.html", "answers.html"):
        dom = browse(lab / page, "--dump-dom", tmp=tmp_path)
        assert dom.returncode == 0, dom.stderr[-2000:]
        doc = lxml_html.fromstring(dom.stdout)
        items = doc.xpath("//li[@class='question']")
        assert [li.get("id") for li in items] == [q["key"] for q in key["questions"]]
        for item, question in zip(items, key["questions"], strict=True):
            text = item.text_content()
            assert question["text"] in text
            for part in question["parts"]:
                if page == "worksheet.html":
                    assert f"{question['key']}.{part['name']}" in text
                    assert part["shown"] not in text or part["kind"] == "frame"  # no answers on the worksheet
                else:
                    assert part["shown"] in text
            if page == "answers.html":
                assert question["filter"] in text and question["explanation"] in text
    worksheet = (lab / "worksheet.html").read_text()
    assert "@media print" in worksheet and "<link" not in worksheet and "<script" not in worksheet
    assert "src=" not in worksheet  # self-contained: nothing to fetch

    pdf = tmp_path / "worksheet.pdf"
    printed = browse(lab / "worksheet.html", f"--print-to-pdf={pdf}", "--no-pdf-header-footer", tmp=tmp_path)
    assert printed.returncode == 0, printed.stderr[-2000:]
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.read_bytes().count(b"/Type /Page") >= 2

    ARTIFACTS.mkdir(exist_ok=True)
    for page, name, size in (
        ("worksheet.html", "lab-worksheet.png", "1000,1600"),
        ("answers.html", "lab-answers.png", "1000,1600"),
        ("worksheet.html", "lab-worksheet-phone.png", "390,1600"),
    ):
        shot = browse(lab / page, f"--screenshot={ARTIFACTS / name}", f"--window-size={size}", tmp=tmp_path)
        assert shot.returncode == 0, shot.stderr[-2000:]
        assert (ARTIFACTS / name).stat().st_size > 10_000
    if request.config.getoption("--update-golden") or not DOCS_SCREENSHOT.exists():
        DOCS_SCREENSHOT.parent.mkdir(exist_ok=True)
        shutil.copyfile(ARTIFACTS / "lab-worksheet.png", DOCS_SCREENSHOT)


def test_a_script_in_the_subject_stays_text_in_the_answers(tmp_path: Path) -> None:
    lab = _lab(DATA / "subject-script.pcapng", tmp_path / "lab")
    dom = browse(lab / "answers.html", "--dump-dom", tmp=tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    doc = lxml_html.fromstring(dom.stdout)
    assert doc.xpath("//script") == []
    assert "<script>alert(1)</script>" in doc.text_content()
