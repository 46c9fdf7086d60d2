"""The course as a student meets it: JupyterLab in a real, headless Chromium.

Starts JupyterLab on a copy of course/ (loopback only, a fixed token, the students'
set-up from `make lab`), opens notebooks in Chromium through Playwright, runs them in
fast mode, moves a widget's slider and checks that the figure changes, and saves
screenshots to runs/browser/. Skipped, with the reason, where Chromium or Playwright
cannot be had (`make test` installs Playwright, and Debian's chromium where it can).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import nbformat
import pytest
from needs import missing

from autoencoder_lib.config import MODEL_CACHE_DIR_ENV, MODEL_CACHE_ENV
from autoencoder_lib.instructor.course import (
    RELEASE,
    ROOT,
    SOLUTIONS,
    fill,
    solution_answers,
)

CHROMIUM = next(
    filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))),
    None,
)
TOKEN = "autoencoder-course-browser-test"
SCREENSHOTS = ROOT / "runs" / "browser"
WIDGET = "02_undercomplete_overcomplete"
BLANK = "01_basic_autoencoder"
BROKEN_WIDGET_TEXT = ("Loading widget", "Error displaying widget", "not found")


def _answered(assignment: str):
    """The release with the solutions' answers filled in: a student who did the work."""
    name = f"{assignment}.ipynb"
    source = nbformat.read(SOLUTIONS / assignment / name, as_version=4)
    release = nbformat.read(RELEASE / assignment / name, as_version=4)
    return fill(release, solution_answers(source))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory, solutions_model_cache):
    if CHROMIUM is None:
        missing(
            "Chromium is not installed: `apt-get install chromium` (Debian), which "
            "`make test` tries; this test never downloads a browser"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing("Playwright is missing: pip install -e '.[dev]'")
    root = tmp_path_factory.mktemp("lab")
    course = root / "course"
    shutil.copytree(RELEASE, course)
    nbformat.write(_answered(WIDGET), course / WIDGET / "answered.ipynb")
    nbformat.write(_answered(BLANK), course / BLANK / "answered.ipynb")
    # JupyterLab started away from the repository (whose nbgrader_config.py Validate
    # would read): Validate must get the course's settings from jupyter-student/.
    elsewhere = root / "elsewhere"
    elsewhere.mkdir()
    port = _free_port()
    env = dict(
        os.environ,
        AUTOENCODER_FAST="1",
        JUPYTER_CONFIG_PATH=str(ROOT / "jupyter-student"),
        HOME=str(root),  # no ~/.jupyter of the tester's
        JUPYTER_RUNTIME_DIR=str(root / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(root / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(root / "workspaces"),
    )
    env.pop("MPLBACKEND", None)  # the notebooks' figures must show inline
    # What a student who reruns a notebook gets: the models nbval's solution run trained
    # (the same code, data and seeds) are loaded, not trained again. Run alone, this
    # test trains them once itself.
    env[MODEL_CACHE_ENV] = "1"
    env[MODEL_CACHE_DIR_ENV] = str(solutions_model_cache)
    bin_dir = os.path.dirname(sys.executable)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    log = open(root / "jupyterlab.log", "w")
    server = subprocess.Popen(
        [
            sys.executable, "-m", "jupyter", "lab", "--no-browser",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
            f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={course}",
            "--LabApp.expose_app_in_browser=True", "--allow-root",
        ],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=elsewhere,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2)
                break
            except OSError:
                if server.poll() is not None:
                    pytest.fail((root / "jupyterlab.log").read_text()[-3000:])
                time.sleep(1)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
            )
            yield browser, url
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


# JavaScript run in the page, on JupyterLab's application object.
# Guarded: the page runs these before JupyterLab has exposed its application object.
_NOTEBOOK = "(window.jupyterapp && window.jupyterapp.shell.currentWidget)"
_KERNEL_IDLE = (
    f"() => {{ const w = {_NOTEBOOK}; const k = w && w.sessionContext && "
    "w.sessionContext.session && w.sessionContext.session.kernel; "
    "return !!k && k.status === 'idle'; }"
)
_STATE = f"""() => {{
  const cells = {_NOTEBOOK}.content.widgets.filter(c => c.model.type === 'code');
  const errors = [];
  cells.forEach((c, i) => c.model.outputs.toJSON().forEach(o => {{
    if (o.output_type === 'error') errors.push([i, o.ename, o.evalue]);
  }}));
  return {{
    busy: Array.from(document.querySelectorAll('.jp-InputPrompt'))
      .some(p => p.textContent.includes('[*]')),
    executed: cells.filter(c => c.model.executionCount !== null).length,
    cells: cells.length,
    errors,
  }};
}}"""


def _open(page, url, path, prefix=""):
    """Open the notebook ``path`` and wait until its kernel is idle. Each call gets its
    own workspace: JupyterLab would reopen the last one's tabs."""
    workspace = prefix + path.replace("/", "-").removesuffix(".ipynb")
    page.goto(f"{url}/lab/workspaces/{workspace}/tree/{path}?reset&token={TOKEN}")
    page.wait_for_function(
        f"path => {{ const w = {_NOTEBOOK}; return !!w && !!w.context && "
        "w.context.path === path; }",
        arg=path,
        timeout=180_000,
    )
    page.wait_for_function(_KERNEL_IDLE, timeout=180_000)


def _run_all(page, url, path, timeout_s=600):
    _open(page, url, path)
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    deadline = time.monotonic() + timeout_s
    quiet = 0
    while time.monotonic() < deadline:
        time.sleep(2)
        state = page.evaluate(_STATE)
        idle = page.evaluate(_KERNEL_IDLE)
        quiet = quiet + 1 if idle and not state["busy"] else 0
        if quiet >= 3:
            return state
    pytest.fail(f"{path} did not finish in {timeout_s} s: {page.evaluate(_STATE)}")


def test_a_finished_notebook_runs_and_its_slider_redraws_the_figure(lab):
    browser, url = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    state = _run_all(page, url, f"{WIDGET}/answered.ipynb")
    assert state["errors"] == [], state["errors"]
    assert state["executed"] == state["cells"], state

    slider = page.locator(
        ".jp-OutputArea .widget-slider, .jp-OutputArea .widget-hslider"
    )
    assert slider.count() >= 1, "the explorer's slider did not render"
    slider.first.scroll_into_view_if_needed()
    text = page.inner_text(".jp-Notebook")
    for broken in BROKEN_WIDGET_TEXT:
        assert broken not in text, f"widget shows {broken!r}"

    figure = page.locator(".widget-output img, .jupyter-widgets-output-area img").first
    before = figure.get_attribute("src")
    # Keyboard, as a student may use it: the handle takes focus, arrows move it.
    page.locator(".noUi-handle").first.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "([sel, src]) => { const img = document.querySelector(sel); "
        "return img && img.getAttribute('src') !== src; }",
        arg=[".widget-output img, .jupyter-widgets-output-area img", before],
        timeout=60_000,
    )
    assert page.locator(".widget-readout").first.inner_text().strip() != ""
    # The student's toolbar keeps nbgrader's Validate; its exchange panels are gone.
    assert page.get_by_text("Validate", exact=True).count() >= 1
    assert page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").count() == 0
    figure.scroll_into_view_if_needed()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{WIDGET}.png"), full_page=False)


def test_a_blank_release_stops_only_at_the_first_exercise(lab):
    browser, url = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    state = _run_all(page, url, f"{BLANK}/{BLANK}.ipynb")
    enames = [ename for _, ename, _ in state["errors"]]
    assert enames == ["NotImplementedError"], state["errors"]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{BLANK}.png"))


def _validate(page, url, path) -> tuple[str, str]:
    """Open ``path``, click nbgrader's Validate, and return the verdict's class and
    text, as the student's dialog shows them."""
    _open(page, url, path, prefix="validate-")
    page.locator(".validate-button").first.click()
    message = page.locator("#validation-message")
    message.wait_for(timeout=900_000)
    verdict = message.get_attribute("class") or ""
    text = message.inner_text()
    page.get_by_role("button", name="Ok").first.click()
    return verdict, text


def test_validate_passes_a_finished_notebook_and_fails_a_blank_one(lab):
    """The Validate button, clicked as a student does, in a JupyterLab started away
    from the repository: the finished notebook passes, the blank release fails."""
    browser, url = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    verdict, text = _validate(page, url, f"{BLANK}/answered.ipynb")
    assert "validation-success" in verdict, text[:3000]
    assert "Success! Your notebook passes all the tests." in text
    verdict, text = _validate(page, url, f"{BLANK}/{BLANK}.ipynb")
    assert "validation-failed" in verdict, text[-2000:]
    assert "NotImplementedError" in text
