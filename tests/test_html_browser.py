"""The HTML report in a real browser (headless Chromium): the diagram and every step render,
capture text stays text, and a screenshot is kept under artifacts/ for people to look at."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from lxml import html as lxml_html

from conftest import DATA, EXAMPLES, ROOT, browse, explained, run_cli

ARTIFACTS = ROOT / "artifacts"
DOCS_SCREENSHOT = ROOT / "docs" / "report-screenshot.png"
SHOWCASE = EXAMPLES / "starttls-dsb.pcapng"
def _report(capture: Path, tmp: Path) -> Path:
    out = tmp / f"{capture.stem}.html"
    done = run_cli("explain", str(capture), "-o", str(out), "--quiet")
    assert done.returncode == 0, done.stderr
    return out


def test_browser_renders_the_ladder_and_every_step(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    page = _report(SHOWCASE, tmp_path)
    dom = browse(page, "--dump-dom", tmp=tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    doc = lxml_html.fromstring(dom.stdout)
    _, sessions = explained(str(SHOWCASE))
    svgs = doc.xpath("//figure[@class='ladder']/svg[contains(@class, 'ladder-wide')]")
    assert len(svgs) == len(sessions) >= 1
    for session, svg in zip(sessions, svgs, strict=True):
        text = " ".join(svg.itertext())
        for position, step in enumerate(session.steps, 1):
            assert f"{position}. {step.title}" in text
            card = doc.get_element_by_id(f"s{session.index}-step{position}")
            assert step.title in card.text_content() and step.explanation in card.text_content()

    ARTIFACTS.mkdir(exist_ok=True)
    for name, size in (("report.png", "1200,3000"), ("report-phone.png", "390,2400")):
        shot = browse(page, f"--screenshot={ARTIFACTS / name}", f"--window-size={size}", tmp=tmp_path)
        assert shot.returncode == 0, shot.stderr[-2000:]
        assert (ARTIFACTS / name).stat().st_size > 10_000
    if request.config.getoption("--update-golden") or not DOCS_SCREENSHOT.exists():
        DOCS_SCREENSHOT.parent.mkdir(exist_ok=True)
        shutil.copyfile(ARTIFACTS / "report.png", DOCS_SCREENSHOT)


def test_a_script_in_the_subject_stays_text_in_the_browser(tmp_path: Path) -> None:
    page = _report(DATA / "subject-script.pcapng", tmp_path)
    dom = browse(page, "--dump-dom", tmp=tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    doc = lxml_html.fromstring(dom.stdout)
    assert doc.xpath("//script") == []
    assert doc.xpath("//main//b") == []  # the From display name holds <b>
    cells = doc.xpath("string(//table[@class='transactions'])")
    assert "<script>alert(1)</script>" in cells


# -- Mermaid: the Markdown report's diagrams, rendered by Mermaid's own code in Chromium ----------------------
MERMAID_JS = ROOT / "tests" / ".node" / "node_modules" / "mermaid" / "dist" / "mermaid.min.js"
_MERMAID_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><script src="{script}"></script></head><body>
<div id="out"></div><script>
const blocks = {blocks};
mermaid.initialize({{startOnLoad: false, securityLevel: "strict"}});
(async () => {{
  const out = document.getElementById("out");
  for (let i = 0; i < blocks.length; i++) {{
    const box = document.createElement("div");
    try {{ box.className = "diagram"; box.innerHTML = (await mermaid.render("d" + i, blocks[i])).svg; }}
    catch (e) {{ box.className = "error"; box.textContent = String((e && e.message) || e); }}
    out.appendChild(box);
  }}
  document.body.setAttribute("data-done", "yes");
}})();
</script></body></html>
"""
MERMAID_CASES = [
    (EXAMPLES / "starttls-dsb.pcapng", None),
    (EXAMPLES / "starttls-ipv6.pcapng", EXAMPLES / "starttls-ipv6.keylog"),
    (DATA / "subject-script.pcapng", None),
    (DATA / "errors.pcapng", None),
    (DATA / "not-smtp-on-25.pcapng", None),
    (DATA / "pipelining.pcapng", None),
]


def test_mermaid_renders_every_diagram_with_the_capture_text_as_text(tmp_path: Path) -> None:
    import json
    import re

    from smtpdoc.render.ladder import arrows, cut

    if not MERMAID_JS.is_file():
        pytest.fail(f"{MERMAID_JS} is missing: ./bootstrap test installs Mermaid from npm into tests/.node")
    blocks: list[str] = []
    expected: list[list[str]] = []
    for capture, keylog in MERMAID_CASES:
        args = ["explain", str(capture), "--format", "markdown", "-q"] + (["--keylog", str(keylog)] if keylog else [])
        done = run_cli(*args)
        assert done.returncode == 0, done.stderr
        found = re.findall(r"```mermaid\n(.*?)```", done.stdout, re.DOTALL)
        _, sessions = explained(str(capture), keylog=str(keylog) if keylog else None)
        assert len(found) == len(sessions)
        assert "#58;" not in done.stdout  # a colon needs no escape: the Markdown source stays readable
        blocks += found
        for session in sessions:
            expected.append([cut(a.text) + (f" (+{a.more} more)" if a.more else "") for a in arrows(session) if a.text])
    page = tmp_path / "mermaid.html"
    page.write_text(_MERMAID_PAGE.format(script=MERMAID_JS.as_uri(), blocks=json.dumps(blocks)), encoding="utf-8")
    dom = browse(page, "--virtual-time-budget=60000", "--dump-dom", tmp=tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    doc = lxml_html.fromstring(dom.stdout)
    assert doc.xpath("//body/@data-done") == ["yes"], "Mermaid did not finish"
    assert [e.text_content() for e in doc.xpath("//div[@class='error']")] == []
    diagrams = doc.xpath("//div[@class='diagram']")
    assert len(diagrams) == len(blocks)
    assert doc.xpath("//script[not(@src)]") == doc.xpath("//body/script")  # no script from the capture
    for diagram, texts in zip(diagrams, expected, strict=True):
        shown = {" ".join(t.itertext()) for t in diagram.xpath(".//*[local-name()='text']")}
        assert not [s for s in shown if re.search(r"#\d+;", s)], "an entity code was drawn literally"
        missing = [t for t in texts if t not in shown]
        assert not missing, missing


# -- the ladder at a desktop and at a phone width -----------------------------------------------------------------
_MEASURE = """<script>
addEventListener("load", () => {
  const lanes = [...document.querySelectorAll("figure.ladder svg")].filter((s) => s.getBoundingClientRect().width > 0);
  const svg = lanes[0];
  const box = (sel) => svg.querySelector(sel).getBoundingClientRect();
  const label = [...svg.querySelectorAll("g.arrow text")].map((t) => t.getBoundingClientRect().height);
  const lines = [...svg.querySelectorAll("g.arrow line")].map((l) => l.getBoundingClientRect());
  document.body.setAttribute("data-measure", JSON.stringify({
    shown: lanes.map((s) => s.getAttribute("class")), viewport: innerWidth,
    page: document.documentElement.scrollWidth, server: box(".lane-server").right,
    client: box(".lane-client").left, text: Math.min(...label),
    arrows: [Math.min(...lines.map((r) => r.left)), Math.max(...lines.map((r) => r.right))]}));
});
</script>"""


@pytest.mark.parametrize(("width", "kind"), [(1200, "ladder-wide"), (400, "ladder-narrow")])
def test_ladder_keeps_both_lanes_on_screen_and_readable(width: int, kind: str, tmp_path: Path) -> None:
    import json

    page = _report(SHOWCASE, tmp_path)
    probe = tmp_path / "probe.html"
    text = page.read_text(encoding="utf-8")
    text = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", text)  # let the probe script run
    probe.write_text(text.replace("</body>", _MEASURE + "</body>"), encoding="utf-8")
    dom = browse(probe, f"--window-size={width},2000", "--dump-dom", tmp=tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    found = lxml_html.fromstring(dom.stdout).xpath("//body/@data-measure")
    assert found, "the probe did not run"
    measure = json.loads(found[0])
    assert measure["shown"] == [f"ladder-svg {kind}"]  # one diagram per session, the one that fits
    assert measure["page"] <= measure["viewport"], "the page scrolls sideways"
    assert 0 <= measure["client"] < measure["server"] <= measure["viewport"], measure
    left, right = measure["arrows"]
    assert measure["client"] - 2 <= left and right <= measure["server"] + 2, "arrows run past the lanes"
    assert measure["text"] >= 9, f"diagram text is {measure['text']:.1f} px high at {width} px"
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"ladder-{width}.png"
    done = browse(page, f"--screenshot={shot}", f"--window-size={width},1400", tmp=tmp_path)
    assert done.returncode == 0 and shot.stat().st_size > 10_000
