"""What a researcher sees in JupyterLab, checked in a real browser (issue 32): headless Chromium (Debian's package) driven
by playwright against a JupyterLab that this test starts on 127.0.0.1 in a temporary root, with temporary Jupyter
config / data / runtime / settings / workspace folders (the user's own settings stay out) and the .venv's kernel.

1. the playground: run all cells, type a target, press Adapt, wait for "done"; the widget in sight, a placeholder
   grid before the run, "starting" at once, the final grid unstretched (on the page and inside the picture), the run
   folder named in the status, no error output;
2. a library notebook and 3. an executed report (as `make demo` writes it, here 10 iterations, made by papermill
   while the browser works) open without a "Select Kernel" dialog, on the python3 kernel (a copy of the library
   notebook without kernelspec, the control, must show the dialog); the report's pictures render and its progress
   lines read 100 %;
and through all of it no console error on the page and no error in the server's log.

Screenshots of each stage are saved in the test's tmp_path (their paths are printed: run with -s to see them).
One test function on purpose: `make test` runs `pytest -n 2`, and separate tests could land on both workers, each
starting its own JupyterLab."""
import json, os, re, shutil, signal, socket, subprocess, sys, time, urllib.request
from pathlib import Path

from helpers import NBS

from air_nb.core.base import load_json
from air_nb.training import runs
from air_nb.training.playground import LABEL_WIDTH
from air_nb.training.trainer import make_config

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
BIN = Path(sys.executable).parent
ITERATIONS, SHOW_EVERY = 20, 5          # the playground's parameter cell is set to these: a run well under a minute
PRESET, TARGET = "shapes-photo-to-sketch", "painting"   # the playground's default preset; a word the shapes CLIP knows
VIEWPORT = {"width": 1280, "height": 900}   # a laptop: the output area is narrower than the grid picture (960 px)

# The playground widget's DOM classes (ipywidgets `add_class`), the contract with air_nb.training.playground.
SEL = dict(box=".air-nb-playground", target=".air-nb-target input", adapt=".air-nb-adapt",
           status=".air-nb-status", grid="img.air-nb-grid, .air-nb-grid img")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _lab_env(home: Path):
    "Environment of the server (and so of its kernels): Jupyter's per-user folders in `home`, one thread, offline."
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "JPY_"))}
    env.pop("MPLBACKEND", None)         # conftest's Agg would hide the kernels' inline plots
    dirs = dict(JUPYTER_CONFIG_DIR="config", JUPYTER_DATA_DIR="data", JUPYTER_RUNTIME_DIR="runtime",
                JUPYTERLAB_SETTINGS_DIR="settings", JUPYTERLAB_WORKSPACES_DIR="workspaces", IPYTHONDIR="ipython")
    for k, d in dirs.items():
        (home / d).mkdir(parents=True, exist_ok=True)
        env[k] = str(home / d)
    # no news / update notifications on the page (offline anyway)
    notif = home / "settings" / "@jupyterlab" / "apputils-extension"
    notif.mkdir(parents=True, exist_ok=True)
    (notif / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    env.update(PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONUNBUFFERED="1")
    return env


class Lab:
    "A JupyterLab on 127.0.0.1 serving `root`; `stop()` ends it and its kernels."
    def __init__(self, root: Path, home: Path, log: Path):
        self.port, self.token, self.log = _free_port(), os.urandom(16).hex(), log
        args = [str(BIN / "jupyter-lab"), "--no-browser", f"--ServerApp.root_dir={root}", "--ServerApp.ip=127.0.0.1",
                f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
                "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=",
                "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
        if os.getuid() == 0: args.append("--allow-root")
        self.env = _lab_env(home)
        self.log_file = log.open("w")
        self.proc = subprocess.Popen(args, cwd=root, env=self.env, stdout=self.log_file, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.url = f"http://127.0.0.1:{self.port}"

    def wait(self, timeout=60):
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            assert self.proc.poll() is None, f"JupyterLab exited ({self.proc.returncode}):\n{self.log.read_text()[-3000:]}"
            try:
                with urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=2) as r:
                    if r.status == 200: return time.monotonic() - t0
            except OSError: pass
            time.sleep(0.3)
        raise AssertionError(f"JupyterLab did not answer within {timeout} s:\n{self.log.read_text()[-3000:]}")

    def api(self, path):
        with urllib.request.urlopen(f"{self.url}{path}?token={self.token}", timeout=10) as r: return json.loads(r.read())

    def page_url(self, nb):
        return f"{self.url}/lab/tree/{nb}?token={self.token}&reset"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)      # the server shuts its kernels down on SIGTERM
            try: self.proc.wait(20)
            except subprocess.TimeoutExpired: pass
        try: os.killpg(self.proc.pid, signal.SIGKILL)  # its own session: kernels left behind, if any
        except ProcessLookupError: pass
        self.proc.wait()
        self.log_file.close()


def _playground_copy(root: Path):
    "nbs/playground.ipynb with a short run: a line appended to its parameter cell."
    nb = json.loads((NBS / "playground.ipynb").read_text())
    cell = next(c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))
    src = "".join(cell["source"])
    assert re.search(r"\biterations\b", src) and re.search(r"\bshow_every\b", src), f"the parameter cell changed:\n{src}"
    cell["source"] = src.rstrip("\n") + f"\niterations, show_every = {ITERATIONS}, {SHOW_EVERY}   # the browser test's short run\n"
    (root / "playground.ipynb").write_text(json.dumps(nb, indent=1))


# JavaScript run in the page (window.jupyterapp: --LabApp.expose_app_in_browser)
JS_NB = "() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget; return w && w.sessionContext ? w : null; }"
JS_STATE = f"""(name) => {{
    const w = ({JS_NB})();
    if (document.querySelector('.jp-Dialog')) return 'dialog: ' + document.querySelector('.jp-Dialog').innerText;
    if (!w || !w.context.path.endsWith(name) || !w.isVisible) return null;
    const k = w.sessionContext.session && w.sessionContext.session.kernel;
    return k && w.sessionContext.isReady && k.status === 'idle' && k.connectionStatus === 'connected' ? 'idle ' + k.name : null;
}}"""
JS_OUTPUTS = f"""() => {{
    const w = ({JS_NB})(), cells = w.content.model.cells, outs = [];
    for (let i = 0; i < cells.length; i++) {{
        const c = cells.get(i);
        if (c.type === 'code') for (const o of c.toJSON().outputs) outs.push(o);
    }}
    return outs;
}}"""
JS_IMG = """(img) => { const r = img.getBoundingClientRect(), s = getComputedStyle(img);
    const px = (k) => parseFloat(s[k]) || 0;
    return {complete: img.complete, nw: img.naturalWidth, nh: img.naturalHeight, src: img.src.slice(0, 80), srcLen: img.src.length,
            w: r.width - px('paddingLeft') - px('paddingRight') - px('borderLeftWidth') - px('borderRightWidth'),
            h: r.height - px('paddingTop') - px('paddingBottom') - px('borderTopWidth') - px('borderBottomWidth')}; }"""


JS_ON_TOP = """(el) => { const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2) === el; }"""

def _settle(page, name, timeout=90):
    "Wait until notebook `name` is shown with its kernel idle for a second (or a dialog is up); return which."
    t0, last, same = time.monotonic(), None, 0
    while time.monotonic() - t0 < timeout:
        state = page.evaluate(JS_STATE, name)
        same, last = (same + 1 if state == last else 1), state
        if state and (state.startswith("dialog") or same >= 4): return state
        page.wait_for_timeout(250)
    raise AssertionError(f"{name}: no idle kernel after {timeout} s (last state {state!r})")


def _open(page, lab, name):
    "Open notebook `name` of the root (a fresh page and workspace); return its settled state."
    page.goto(lab.page_url(name))
    return _settle(page, name)


def _errors_in_outputs(page):
    "Error outputs and tracebacks on stderr, from the notebook model and from the rendered page."
    outs = page.evaluate(JS_OUTPUTS)
    bad = [o for o in outs if o["output_type"] == "error"]
    bad += [o for o in outs if o.get("name") == "stderr" and re.search(r"Traceback|Error\b", "".join(o["text"]))]
    shown = page.locator('.jp-RenderedText[data-mime-type="application/vnd.jupyter.stderr"]').all_inner_texts()
    bad += [t for t in shown if re.search(r"Traceback|Error\b", t)]
    return bad


def _shot(page, path: Path):
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")


def test_jupyterlab_playground_report_and_library_notebook(tmp_path):
    assert CHROMIUM, "the browser tests need Chromium: `make setup` installs Debian's package (apt-get install chromium, as root)"
    from playwright.sync_api import sync_playwright
    t_start = time.monotonic()
    root, home = tmp_path / "root", tmp_path / "jupyter-home"
    (root / "runs" / "demo").mkdir(parents=True)
    _playground_copy(root)
    shutil.copy(NBS / "00_core.ipynb", root / "00_core.ipynb")
    control = json.loads((NBS / "00_core.ipynb").read_text())      # the same without a kernelspec: the dialog must show
    del control["metadata"]["kernelspec"]
    (root / "no-kernelspec.ipynb").write_text(json.dumps(control))

    # the demo report, as `make demo` writes it (its environment: Agg, one thread; 10 iterations), made beside the browser work
    report_log = (tmp_path / "papermill.log").open("w")
    report = subprocess.Popen([str(BIN / "papermill"), str(NBS / "train.ipynb"), str(root / "runs/demo/air.ipynb"),
                               "-k", "python3", "-p", "preset", "shapes-photo-to-sketch", "-p", "method", "air",
                               "-p", "iterations", "10", "-p", "out_dir", str(root / "runs/demo/air")],
                              cwd=root, env={**_lab_env(home), "MPLBACKEND": "Agg"},
                              stdout=report_log, stderr=subprocess.STDOUT)
    lab, console, timings = None, [], {}
    try:
        lab = Lab(root, home, tmp_path / "jupyterlab.log")
        # the kernel every notebook asks for (kernelspec "python3") is the .venv's
        specs = json.loads(subprocess.run([str(BIN / "jupyter"), "kernelspec", "list", "--json"], env=lab.env,
                                          capture_output=True, text=True, check=True).stdout)["kernelspecs"]
        assert Path(specs["python3"]["resource_dir"]).is_relative_to(sys.prefix), specs
        # "python" in a kernelspec's argv runs the server's own interpreter: the .venv's
        assert specs["python3"]["spec"]["argv"][0] in ("python", "python3", sys.executable), specs["python3"]
        timings["lab start"] = lab.wait()
        assert lab.api("/api/kernelspecs")["default"] == "python3"

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport=VIEWPORT)
            page.on("console", lambda m: console.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))

            # 1. the playground
            t0 = time.monotonic()
            state = _open(page, lab, "playground.ipynb")
            assert state == "idle python3", state
            page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
            box = page.locator(SEL["box"])
            box.wait_for(state="visible", timeout=90_000)
            assert _settle(page, "playground.ipynb") == "idle python3"     # every cell has run
            timings["playground shown"] = time.monotonic() - t0
            top, bottom = box.evaluate("(el) => [el.getBoundingClientRect().top, el.getBoundingClientRect().bottom]")
            assert 0 <= top and bottom <= VIEWPORT["height"], f"the widget is not all in sight after running all cells: {top:.0f} - {bottom:.0f} px"
            grid = page.locator(SEL["grid"])
            assert grid.count() == 1, grid.count()
            grid.scroll_into_view_if_needed()
            page.wait_for_function("(img) => img.complete", arg=grid.element_handle(), timeout=10_000)
            page.wait_for_function(JS_ON_TOP, arg=grid.element_handle(), timeout=10_000)    # on screen, not covered
            before = grid.evaluate(JS_IMG)
            _shot(page, tmp_path / "1-playground-before.png")
            assert before["nw"] > 0 and before["nh"] > 0, f"the grid shows a broken image before the first run: {before}"

            page.locator(SEL["target"]).fill(TARGET)
            status = page.locator(SEL["status"])
            # every text the status shows, with its time since the click (a MutationObserver: none is missed)
            status.evaluate("""(el) => { window.__status = [];
                new MutationObserver(() => window.__status.push([performance.now() - window.__t0, el.innerText]))
                    .observe(el, {childList: true, subtree: true, characterData: true}); }""")
            adapt = page.locator(SEL["adapt"])
            adapt.evaluate("(b) => b.addEventListener('click', () => { window.__t0 = performance.now(); }, {capture: true})")
            adapt.click()
            t0 = time.monotonic()
            # done, or an error shown in the widget (the assertions below then say which)
            page.wait_for_function("() => window.__status.some(([t, s]) => /\\bdone\\b|Error\\b/.test(s))", timeout=180_000, polling=250)
            timings["run"] = time.monotonic() - t0
            history = page.evaluate("window.__status")
            text = status.inner_text()
            notes = page.locator(".air-nb-notes").all_inner_texts()
            grid.scroll_into_view_if_needed()
            page.wait_for_function("(img) => img.complete", arg=grid.element_handle(), timeout=10_000)
            page.wait_for_function(JS_ON_TOP, arg=grid.element_handle(), timeout=10_000)    # on screen, not covered
            after = grid.evaluate(JS_IMG)
            _shot(page, tmp_path / "2-playground-done.png")
            errors = _errors_in_outputs(page)
            print("status history:", [(round(t / 1000, 2), s[:100]) for t, s in history], "notes:", notes)

            starting = [t for t, s in history if "starting" in s]
            assert starting and starting[0] < 2000, f"'starting' not shown within 2 s of the click: {history[:3]}"
            assert re.search(r"\bdone\b", text) and "Error" not in text, text
            m = re.search(r"runs/playground/\S+", text)
            assert m, f"the status names no run folder: {text}"
            run_dir = root / m.group(0).rstrip(".,;:")
            assert runs.is_finished(run_dir), f"{run_dir} is not a finished run folder"
            assert load_json(run_dir / "config.json")["run"]["target"] == TARGET        # what was typed reached the run
            assert after["nw"] > 0 and after["nh"] > 0, after
            assert after["src"] != before["src"], "the grid did not change"
            n = make_config(preset=PRESET).run.n_samples
            for name, img in (("placeholder", before), ("final grid", after)):
                shown = (img["w"] / img["h"]) / (img["nw"] / img["nh"])
                assert abs(shown - 1) < 0.02, \
                    f"the {name} is stretched on the page: shown {img['w']:.0f} x {img['h']:.0f} px, natural {img['nw']} x {img['nh']}"
                # inside the picture: a label column, then 2 rows (source, adapted) of n square tiles
                cell = ((img["nw"] - LABEL_WIDTH) / n) / (img["nh"] / 2)
                assert abs(cell - 1) < 0.05, f"the {name}'s tiles are not square ({img['nw']} x {img['nh']} px for 2 x {n} tiles)"
            assert not errors, errors

            # 2. a library notebook (opened while papermill finishes the report)
            t0 = time.monotonic()
            state = _open(page, lab, "00_core.ipynb")
            timings["library notebook"] = time.monotonic() - t0
            _shot(page, tmp_path / "3-library-notebook.png")
            assert state == "idle python3", state
            assert page.locator(".jp-Dialog").count() == 0
            state = _open(page, lab, "no-kernelspec.ipynb")        # the control: this check sees a kernel dialog
            assert state.startswith("dialog") and re.search("select kernel", state, re.I), state

            # 3. the executed report: no kernel dialog, its pictures rendered, its progress lines at their end
            t0 = time.monotonic()
            assert report.wait(timeout=240) == 0, (tmp_path / "papermill.log").read_text()[-3000:]
            timings["report: papermill's rest"] = time.monotonic() - t0
            t0 = time.monotonic()
            state = _open(page, lab, "runs/demo/air.ipynb")
            timings["report"] = time.monotonic() - t0
            imgs = page.locator(".jp-RenderedImage img")
            imgs.first.scroll_into_view_if_needed()
            page.wait_for_function(JS_ON_TOP, arg=imgs.first.element_handle(), timeout=15_000)   # the first plot is on screen
            _shot(page, tmp_path / "4-report.png")
            assert state == "idle python3", state
            assert page.locator(".jp-Dialog").count() == 0
            assert imgs.count() >= 3, imgs.count()         # losses, samples over time, the judge's view ...
            sizes = [i.evaluate(JS_IMG) for i in imgs.all()]
            assert all(s["nw"] > 0 and s["w"] > 0 for s in sizes), sizes
            assert not _errors_in_outputs(page)
            # JupyterLab renders only the cells near the view: the outputs' text comes from the notebook model
            text = "\n".join("".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/plain", ""))
                             for o in page.evaluate(JS_OUTPUTS))
            bars = re.findall(r"(\d+)%\|", text)
            assert bars and all(b == "100" for b in bars), f"progress shown at {bars} % in a finished report"
            browser.close()
    finally:
        if lab: lab.stop()
        if report.poll() is None: report.kill()
        report.wait()
        report_log.close()
        print("timings (s):", {k: round(v, 1) for k, v in timings.items()}, "total", round(time.monotonic() - t_start, 1))
        print("console errors:", console)
    # JupyterLab 4.6.6 logs no console error on a healthy start here: nothing is filtered
    assert not console, console
    server_errors = re.findall(r"^\[E .*|^Traceback.*", lab.log.read_text(), re.M)
    assert not server_errors, server_errors
