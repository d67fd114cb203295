"""The HTML report in a real browser (headless Chromium): the diagram and every step render,
capture text stays text, and a screenshot is kept under artifacts/ for people to look at."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from lxml import html as lxml_html

from conftest import DATA, EXAMPLES, ROOT, explained, run_cli

ARTIFACTS = ROOT / "artifacts"
DOCS_SCREENSHOT = ROOT / "docs" / "report-screenshot.png"
SHOWCASE = EXAMPLES / "starttls-dsb.pcapng"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def _chromium() -> str:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip(f"no headless Chromium found (looked for {', '.join(BROWSERS)}); apt-get install -y chromium")


def _browse(page: Path, *extra: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    args = [
        _chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp / 'chromium-profile'}",
        *extra,
        page.as_uri(),
    ]
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)


def _report(capture: Path, tmp: Path) -> Path:
    out = tmp / f"{capture.stem}.html"
    done = run_cli("explain", str(capture), "-o", str(out), "--quiet")
    assert done.returncode == 0, done.stderr
    return out


def test_browser_renders_the_ladder_and_every_step(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    page = _report(SHOWCASE, tmp_path)
    dom = _browse(page, "--dump-dom", tmp=tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    doc = lxml_html.fromstring(dom.stdout)
    _, sessions = explained(str(SHOWCASE))
    svgs = doc.xpath("//figure[@class='ladder']/svg")
    assert len(svgs) == len(sessions) >= 1
    for session, svg in zip(sessions, svgs, strict=True):
        text = " ".join(svg.itertext())
        for position, step in enumerate(session.steps, 1):
            assert f"{position}. {step.title}" in text
            card = doc.get_element_by_id(f"s{session.index}-step{position}")
            assert step.title in card.text_content() and step.explanation in card.text_content()

    ARTIFACTS.mkdir(exist_ok=True)
    for name, size in (("report.png", "1200,3000"), ("report-phone.png", "390,2400")):
        shot = _browse(page, f"--screenshot={ARTIFACTS / name}", f"--window-size={size}", tmp=tmp_path)
        assert shot.returncode == 0, shot.stderr[-2000:]
        assert (ARTIFACTS / name).stat().st_size > 10_000
    if request.config.getoption("--update-golden") or not DOCS_SCREENSHOT.exists():
        DOCS_SCREENSHOT.parent.mkdir(exist_ok=True)
        shutil.copyfile(ARTIFACTS / "report.png", DOCS_SCREENSHOT)


def test_a_script_in_the_subject_stays_text_in_the_browser(tmp_path: Path) -> None:
    page = _report(DATA / "subject-script.pcapng", tmp_path)
    dom = _browse(page, "--dump-dom", tmp=tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    doc = lxml_html.fromstring(dom.stdout)
    assert doc.xpath("//script") == []
    assert doc.xpath("//main//b") == []  # the From display name holds <b>
    cells = doc.xpath("string(//table[@class='transactions'])")
    assert "<script>alert(1)</script>" in cells
