"""The user-study kit answered by a real browser: headless Chromium (Debian's package) driven by playwright, against the
study's own server on 127.0.0.1. The tally must equal the answers clicked; a malformed sheet is refused with its reason."""
import json, shutil, threading
from collections import Counter
from urllib.parse import urlparse

import torch

from air_nb.core.base import load_json
from air_nb.evaluation.user_study import analyse_study, images_from_runs, make_study, serve
from air_nb.models.generators import load_generator
from air_nb.training import runs

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _study(tmp_path):
    g = torch.Generator().manual_seed(1)
    images = {m: torch.rand(6, 3, 32, 32, generator=g) * 2 - 1 for m in ("IDC", "RSSA", "ASC")}
    source, targets = torch.rand(6, 3, 32, 32, generator=g) * 2 - 1, torch.rand(5, 3, 32, 32, generator=g) * 2 - 1
    return make_study(images, tmp_path / "study", "fewshot", source=source, targets=targets, attention_checks=2, seed=3)


def test_a_browser_answers_a_study(tmp_path):
    assert CHROMIUM, "the browser test needs Chromium: `make setup` installs Debian's package (apt-get install chromium, as root)"
    from playwright.sync_api import sync_playwright
    study = _study(tmp_path)
    key = load_json(study / "key.json")
    methods = key["methods"]
    # the participant's plan: question k goes to method k mod 3, attention checks answered right
    plan = {q: next(o for o, m in v["options"].items() if m == methods[k % len(methods)]) for k, (q, v) in enumerate(key["questions"].items())}
    plan |= key["attention"]
    server = serve(study, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url, requests, errors = f"http://127.0.0.1:{server.server_port}/", [], []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.on("request", lambda r: requests.append(r.url))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url)
            page.click("#submit")                                   # nothing filled in yet: the page says what is missing
            assert "participant id" in page.inner_text("#status")
            page.fill("#participant", "browser-1")
            page.click("#submit")
            assert "Please answer question(s) 1," in page.inner_text("#status")
            for q, option in plan.items(): page.click(f'[data-question="{q}"] [data-option="{option}"]')
            page.click("#submit")
            page.wait_for_function("document.getElementById('status').textContent.includes('saved')", timeout=10_000)
            assert page.inner_text("#status") == "Thank you, browser-1: your answers are saved."
            loaded = page.evaluate("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
            page.screenshot(path=str(tmp_path / "answered.png"), full_page=True)
            errors_while_answering = list(errors)                    # the refused sheet below logs its 400 on purpose
            refused = page.evaluate("""async () => {
                const r = await fetch('answers', {method: 'POST', headers: {'Content-Type': 'application/json'},
                                                  body: JSON.stringify({study: data.study, participant: 'x', answers: {}})});
                return [r.status, (await r.json()).error]; }""")
            browser.close()
    finally:
        server.shutdown()
    assert loaded, "an image of the page did not load"
    assert not errors_while_answering, errors_while_answering
    assert {urlparse(u).hostname for u in requests} == {"127.0.0.1"}, requests
    assert refused[0] == 400 and refused[1].startswith("questions unanswered: ["), refused
    tally = analyse_study(study)
    assert tally.attrs == {"participants": 1, "counted": 1, "failed_attention": 0}
    clicked = Counter((key["questions"][q]["kind"], key["questions"][q]["options"][o]) for q, o in plan.items() if q in key["questions"])
    assert {(r.kind, r.method): r.votes for r in tally.itertuples() if r.votes} == dict(clicked)
    kept = [json.loads(l) for l in (study / "answers" / "answers.jsonl").read_text().splitlines()]
    assert kept == [{"study": key["study"], "participant": "browser-1", "answers": plan}]


def test_images_from_run_folders(tmp_path):
    G = load_generator("shapes-photo")
    for name in ("a", "b"):
        G.save(tmp_path / name / "generator_ema.safetensors")
        runs.write_config(tmp_path / name, {"source": "shapes-photo"}, {})
    images, source = images_from_runs({"A": tmp_path / "a", "B": tmp_path / "b"}, n=3, seed=5)
    assert torch.equal(images["A"], images["B"]) and torch.equal(images["A"], source)   # the same latents everywhere
    assert images["A"].shape == (3, 3, G.resolution, G.resolution)
