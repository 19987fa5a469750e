"""Notebooks 00 and 08 opened as users open them (issue 31): JupyterLab on localhost, headless Chromium (Debian's
``chromium`` driven by Playwright, as tests/test_player.py does; skipped cleanly when either is absent), the whole
notebook run by the kernel (*Run All*), then checked in the page: figures drawn, the kernel-free player shown, and (08)
the box widget rendered with its boxes. Every request that is not to localhost is refused, so the widget's
JavaScript must come from the installed extension (anywidget + the package's ESM), not from a CDN.

The notebooks run on copies with short clips (papermill-parameterised: a few frames), from the shipped clip or the
shared data; nothing is written to the repository. ``python tests/test_lab_browser.py figures/`` writes the committed
screenshots ``figures/lab_00_quickstart.png`` and ``figures/lab_08_lecture_demo.png``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
# short runs: the notebooks' own parameters, fewer frames
PARAMETERS = {"00_quickstart": {"max_frames": 8}, "08_lecture_demo": {"max_frames": 8, "correct_at": 4}}
TOKEN = "hqtrack-lab-test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _prepare(workdir: Path) -> None:
    """Parameterised copies of 00 and 08, and JupyterLab settings that render every cell (no windowing)."""
    import nbformat
    from papermill.parameterize import parameterize_notebook

    for name, params in PARAMETERS.items():
        nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        nb.metadata.pop("widgets", None)
        nbformat.write(parameterize_notebook(nb, params), workdir / "notebooks" / f"{name}.ipynb")
    settings = workdir / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    apputils = workdir / "settings" / "@jupyterlab" / "apputils-extension"
    apputils.mkdir(parents=True)
    (apputils / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false",
                                                                           "checkForUpdates": False}))


def _start_lab(workdir: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", HQTRACK_FIGURES=str(workdir / "figures"),
               JUPYTERLAB_SETTINGS_DIR=str(workdir / "settings"), JUPYTERLAB_WORKSPACES_DIR=str(workdir / "ws"),
               JUPYTER_RUNTIME_DIR=str(workdir / "runtime"), MPLBACKEND="module://matplotlib_inline.backend_inline")
    log = open(workdir / "lab.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
         f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={workdir / 'notebooks'}",
         "--expose-app-in-browser", "--ServerApp.allow_remote_access=False"]
        + (["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
        env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2)
            return server, url
        except OSError:
            if server.poll() is not None:
                break
            time.sleep(0.5)
    server.terminate()
    raise RuntimeError("JupyterLab did not start: " + (workdir / "lab.log").read_text()[-2000:])


def _run_notebook(browser, url: str, name: str, shot_dir: Path, timeout_s: float = 300):
    """Open ``name`` in JupyterLab, Run All, wait until every code cell has run; returns (context, page)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.route(re.compile(r"^(?!https?://127\.0\.0\.1[:/]|ws://127\.0\.0\.1[:/]|data:|blob:).*"),
                  lambda route: route.abort())  # nothing from the network: no CDN
    page = context.new_page()
    page.goto(f"{url}/lab/tree/{name}.ipynb?reset&token={TOKEN}")  # reset: no tab restored from an earlier test
    page.wait_for_function(
        f"() => {{ const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
        f" return w && w.context && w.context.path === '{name}.ipynb'; }}", timeout=120_000)
    page.wait_for_function(
        "() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
        " const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;"
        " return k && k.status === 'idle'; }", timeout=120_000)
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    try:
        _wait_until_run(page, timeout_s)
    except Exception:
        page.screenshot(path=str(shot_dir / f"timeout_{name}.png"))  # what the page showed
        raise
    errors = page.locator("[data-mime-type='application/vnd.jupyter.error']").all_inner_texts()
    assert not errors, f"{name}: a cell failed in JupyterLab:\n" + "\n".join(errors)[-3000:]
    return context, page


def _wait_until_run(page, timeout_s: float) -> None:
    page.wait_for_function(  # every code cell has run, or one failed (Run All stops there)
        "() => { const p = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(e => e.textContent);"
        " return (p.length > 0 && p.every(t => /\\[\\d+\\]/.test(t)))"
        " || document.querySelector('.jp-OutputArea-output[data-mime-type=\"application/vnd.jupyter.stderr\"] .ansi-red-fg,"
        " .jp-OutputArea-output .jp-RenderedText[data-mime-type=\"application/vnd.jupyter.error\"]') !== null; }",
        timeout=timeout_s * 1000, polling=2000)


def _check_common(page, name: str) -> None:
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").all_inner_texts()
    assert not [e for e in errors if "Traceback" in e or "Error" in e.split("\n")[0]], f"{name}: {errors}"
    figures = page.locator(".jp-OutputArea-output img[src^='data:image/png'], "
                           ".jp-OutputArea-output img[src^='data:image/jpeg']")
    assert figures.count() >= 2, f"{name}: {figures.count()} figures rendered"
    assert page.evaluate("[...document.querySelectorAll('.jp-OutputArea-output img')].filter("
                         "i => i.complete && i.naturalWidth > 0).length") >= 2
    player = page.locator("[id^='hqtrack-player-']").first
    assert player.count() == 1 and player.is_visible(), f"{name}: no player"
    assert player.locator("img").first.evaluate("i => i.naturalWidth") > 0


def _shutdown_kernels(url: str) -> None:
    """Stop the kernels a test started (through the server's REST API), so the next notebook has the CPU."""
    sessions = json.load(urllib.request.urlopen(f"{url}/api/sessions?token={TOKEN}", timeout=10))
    for session in sessions:
        request = urllib.request.Request(f"{url}/api/sessions/{session['id']}?token={TOKEN}", method="DELETE")
        urllib.request.urlopen(request, timeout=30)


def _shots(workdir: Path) -> Path:
    """Where screenshots go: $HQTRACK_LAB_SCREENSHOTS (the script below sets it), else the test's temporary dir."""
    return Path(os.environ.get("HQTRACK_LAB_SCREENSHOTS") or workdir)


def _screenshot(page, target, path: Path) -> None:
    target.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    page.screenshot(path=str(path))


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed (make browser)")
    pytest.importorskip("jupyterlab", reason="jupyterlab not installed")
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.skip("no chromium on PATH (make browser, or apt-get install chromium)")
    workdir = tmp_path_factory.mktemp("lab")
    (workdir / "notebooks").mkdir()
    _prepare(workdir)
    server, url = _start_lab(workdir)
    try:
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
            yield browser, url, workdir
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)


@contextlib.contextmanager
def _notebook_page(lab, name: str):
    """Notebook ``name`` run in JupyterLab (:func:`_run_notebook`) and checked (:func:`_check_common`): yields
    ``(page, workdir)``; then the browser context is closed and the kernels stopped (the next notebook has the CPU)."""
    browser, url, workdir = lab
    context, page = _run_notebook(browser, url, name, workdir)
    try:
        _check_common(page, name)
        yield page, workdir
    finally:
        context.close()
        _shutdown_kernels(url)


@pytest.mark.slow
def test_quickstart_runs_in_jupyterlab(lab):
    with _notebook_page(lab, "00_quickstart") as (page, workdir):
        assert "the swan is tracked" in page.content()
        _screenshot(page, page.locator("[id^='hqtrack-player-']").first,
                    _shots(workdir) / "lab_00_quickstart.png")


@pytest.mark.slow
def test_lecture_demo_runs_in_jupyterlab_with_its_box_widget(lab):
    with _notebook_page(lab, "08_lecture_demo") as (page, workdir):
        # the box widget: its image and one movable rectangle per preset box, drawn by the extension's JavaScript
        widget = page.locator(".jp-OutputArea-output svg rect.movable")
        assert widget.count() >= 1, "the box widget did not render its boxes"
        assert page.locator(".jp-OutputArea-output img.svelte-n5k047, .jp-OutputArea-output .wrapper img").first \
            .evaluate("i => i.naturalWidth") > 0
        assert "Error displaying widget" not in page.content()
        _screenshot(page, widget.first, _shots(workdir) / "lab_08_lecture_demo.png")


if __name__ == "__main__":  # python tests/test_lab_browser.py figures/
    os.environ["HQTRACK_LAB_SCREENSHOTS"] = str(Path(sys.argv[1] if len(sys.argv) > 1 else "figures").resolve())
    sys.exit(pytest.main([__file__, "-q", "-p", "no:cacheprovider"]))
