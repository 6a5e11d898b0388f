"""The HTML report in a real browser: headless Chromium (Debian package ``chromium``).

Install: ``apt-get install -y chromium``.  Skipped when no Chromium is on PATH.
A small script is put at the top of a copy of the report; it records uncaught
errors and ``console.error`` calls, and after the page settled writes them, with
the counts of rendered tables and decoded images, into the DOM that
``--dump-dom`` prints.  Each check is shown to fail on a page made to fail it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from cogmodels.runner import app
from cogmodels.runner.report import build_report

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (apt-get install -y chromium)")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
         "--enable-logging=stderr", "--v=0", "--virtual-time-budget=8000", "--window-size=1280,900"]
PROBE = """<script>
window.__problems = [];
window.addEventListener("error", e => window.__problems.push("uncaught: " + e.message));
const __consoleError = console.error;
console.error = function (...args) {
  window.__problems.push("console.error: " + args.join(" "));
  __consoleError.apply(console, args);
};
window.addEventListener("load", () => setTimeout(() => {
  const images = Array.from(document.querySelectorAll("img.figure-img"));
  const out = document.createElement("pre");
  out.id = "cogmodels-probe";
  out.textContent = JSON.stringify({problems: window.__problems,
    tables: document.querySelectorAll("div.bootstrap-table table.cogmodels-results").length,
    figures: images.length, decoded: images.filter(i => i.complete && i.naturalWidth > 0).length});
  document.body.appendChild(out);
}, 1000));
</script>"""


def _run(args, timeout=180):
    return subprocess.run([CHROMIUM, *FLAGS, *args], capture_output=True, text=True, timeout=timeout)


def probe(page, tmp_path) -> dict:
    """Open ``page`` with the probe script in headless Chromium; returns what the probe saw."""
    copy = tmp_path / f"probed_{page.name}"
    text = page.read_text()
    copy.write_text(text.replace("<head>", "<head>" + PROBE, 1) if "<head>" in text else PROBE + text)
    result = _run(["--dump-dom", copy.as_uri()])
    found = re.search(r'<pre id="cogmodels-probe">(.*?)</pre>', result.stdout, re.S)
    assert found, f"the probe did not report (chromium stderr: {result.stderr[-2000:]})"
    seen = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    seen["uncaught_in_log"] = [line for line in result.stderr.splitlines() if "CONSOLE" in line and "Uncaught" in line]
    return seen


def screenshot(page, path):
    _run([f"--screenshot={path}", page.as_uri()])
    from PIL import Image

    return np.asarray(Image.open(path).convert("RGB"), dtype=np.float64)


def not_blank(pixels) -> bool:
    """A page with content: spread-out intensities and many distinct colours."""
    colours = np.unique(pixels.reshape(-1, 3).astype(np.uint8), axis=0).shape[0]
    return pixels.std() > 15 and colours > 64


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """The report of a small store (one completed quickstart run with its figure, one failed run)."""
    from hydra import compose, initialize_config_dir

    root = tmp_path_factory.mktemp("browser") / "out"
    small = ["dataset=quickstart_sim", "dataset.n_stimuli=60", "dataset.n_channels=12", "dataset.image_size=32",
             "encoder.cv=3", "threads=1"]
    with initialize_config_dir(config_dir=str(app.config_dir()), version_base="1.3"):
        good = compose("config", overrides=["experiment=quickstart", f"output_root={root}", *small])
        bad = compose("config", overrides=["experiment=quickstart", f"output_root={root}", *small, "seed=3"])
    app.execute(good)
    real_get = app.TASKS.get
    app.TASKS.get = lambda name: (lambda ctx: (_ for _ in ()).throw(RuntimeError("simulated failure")))
    try:
        with pytest.raises(RuntimeError):
            app.execute(bad)
    finally:
        app.TASKS.get = real_get
    return build_report(root).path


@needs_chromium
def test_report_renders_tables_and_images_without_console_errors(report, tmp_path):
    seen = probe(report, tmp_path)
    assert seen["problems"] == [] and seen["uncaught_in_log"] == []
    # every table of the page (the overview and the experiment's results) became a searchable, sortable table
    source_tables = re.findall(r'<table id="[^"]+" class="[^"]*cogmodels-results', report.read_text())
    assert seen["tables"] == len(source_tables) == 2
    assert seen["figures"] >= 1 and seen["decoded"] == seen["figures"]


@needs_chromium
def test_the_probe_catches_a_broken_page(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text('<html><head></head><body><img class="figure-img" src="data:image/png;base64,AAAA">'
                    '<script>console.error("bad thing"); undefinedFunction();</script></body></html>')
    seen = probe(page, tmp_path)
    assert any("bad thing" in p for p in seen["problems"]) and any("undefinedFunction" in p for p in seen["problems"])
    assert seen["figures"] == 1 and seen["decoded"] == 0 and seen["tables"] == 0


@needs_chromium
def test_a_screenshot_of_the_report_is_not_blank(report, tmp_path):
    assert not_blank(screenshot(report, tmp_path / "report.png"))
    blank = tmp_path / "blank.html"
    blank.write_text("<html><body style='background:white'></body></html>")
    assert not not_blank(screenshot(blank, tmp_path / "blank.png"))
