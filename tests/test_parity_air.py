"""AIR parity: air_nb's DEFAULTS reproduce AIR's released code (fixtures written by tools/parity/air.py, which runs
AIR's own prompt-learning, direction and adaptive-loss code on the same random-weight ViT-B-32).

Compared, each within 1e-4 relative (L2 norm of the difference over the L2 norm of the reference):
- the anchor prompt (context vectors and text feature) after the first anchor (i = 150 of `--iter 301`, reference =
  the 79 source template features, 10 steps) and the second (i = 180, reference = the first prompt, 5 steps), each from
  the re-initialised "a photo of a" context, with 5 prompt copies;
- the adaptive direction after each anchor, normalize(mean_t unit(f_T,t - P));
- AIR's NADA-term text direction, normalize(mean_t unit(f_T,t - f_S,t));
- the adaptive loss for given image features.
"""
from pathlib import Path

import pytest
import torch

from air_nb.clip.models import load_clip, fill_templates
from air_nb.methods.air import AirConfig
from air_nb.methods.base import RunConfig
from air_nb.methods.losses import directional_loss, unit_mean_direction
from air_nb.methods.prompt import AnchorPromptLearner

FIXTURE = Path(__file__).parent / "fixtures" / "parity" / "air" / "air.pt"
TOL = 1e-4


def rel(a, b): return float((a - b).norm() / b.norm())


@pytest.fixture(scope="module")
def setting():
    torch.set_num_threads(1)
    fx = torch.load(FIXTURE, weights_only=False)
    m = fx["meta"]
    state = torch.random.get_rng_state()            # the model the fixture's `clip` shim served: weights drawn after manual_seed
    torch.manual_seed(m["clip_seed"])
    try: clip = load_clip("ViT-B-32", None, "cpu")
    finally: torch.random.set_rng_state(state)
    with torch.no_grad():
        src = clip.encode_text(fill_templates(m["source"], m["templates"])).float()
        tgt = clip.encode_text(fill_templates(m["target"], m["templates"])).float()
    return fx, clip, src, tgt


def test_fixture_is_the_code_setting(setting):
    fx, *_ = setting
    m = fx["meta"]
    assert (len(m["templates"]), m["copies"], m["iter"], m["ctx_init"]) == (79, 5, 301, "a photo of a")
    c, run = AirConfig(), RunConfig(target=m["target"], iterations=m["iterations"])   # iterations 300 = --iter 301
    assert (c.thresh_iter(run), c.interval_iter(run), c.prompt_copies, c.prompt_lr) == (150, 30, 5, m["prompt_lr"])
    assert [c.progress(fx["expected"][k]["step"], run) for k in ("anchor1", "anchor2")] == [fx["expected"][k]["alpha"] for k in ("anchor1", "anchor2")]


def test_nada_term_direction(setting):
    fx, clip, src, tgt = setting
    assert rel(unit_mean_direction(tgt - src), fx["expected"]["nada_direction"]) < TOL


def test_anchor_prompts_directions_and_adaptive_loss(setting):
    fx, clip, src, tgt = setting
    m, x, e = fx["meta"], fx["inputs"], fx["expected"]
    c, run = AirConfig(), RunConfig(target=m["target"], iterations=m["iterations"])
    learner = AnchorPromptLearner(clip, m["source"], m["target"], steps=e["anchor1"]["steps"], lr=c.prompt_lr,
                                  copies=c.prompt_copies, variant=c.prompt_variant, directions=c.directions, source_features=src)
    learner.start(x["source_images"])
    diffs = {}
    for k, images in (("anchor1", x["anchor1_images"]), ("anchor2", x["anchor2_images"])):
        learner.steps = e[k]["steps"]
        learner.update(images, progress=c.progress(e[k]["step"], run), step=e[k]["step"])
        direction = unit_mean_direction(tgt - learner.text)
        diffs[k] = {"ctx": rel(learner.prompt.ctx.detach(), e[k]["ctx"]), "text": rel(learner.text, e[k]["text"]),
                    "direction": rel(direction, e[k]["direction"])}
    loss = directional_loss(x["batch_train"], x["batch_anchor"], direction)
    diffs["adaptive_loss"] = rel(loss, e["adaptive_loss"])
    print(diffs)
    assert max(v for d in diffs.values() for v in (d.values() if isinstance(d, dict) else [d])) < TOL, diffs
    # the learned prompt moved: the comparison is not of two initial contexts
    assert rel(learner.prompt.ctx.detach(), learner.initial_ctx) > 100 * TOL


def test_anchor_latents_truncate_toward_rosinality_mean_latent():
    "AIR's prompt latents: truncation 0.7 toward mean_latent(4096) of the run's random z (the same z drawn here)."
    from air_nb.methods.air import anchor_latents
    from air_nb.models.generators import load_checkpoint
    fx = torch.load(FIXTURE.parent / "anchor_latents.pt", weights_only=False)
    m, c = fx["meta"], AirConfig()
    assert (c.anchor_latents, c.mean_latent_samples, c.prompt_truncation) == ("mean_latent", m["samples"], m["truncation"])
    G = load_checkpoint(FIXTURE.parent / "generator.pt")
    with torch.no_grad():
        w = anchor_latents(G, fx["z"], c.prompt_truncation, c.anchor_latents, c.mean_latent_samples,
                           rng=torch.Generator().manual_seed(m["seed"]))
        mean = G.mapping(torch.randn(m["samples"], G.z_dim, generator=torch.Generator().manual_seed(m["seed"]))).mean(0)
        assert rel(mean, fx["mean_latent"]) < TOL
        assert rel(w, fx["latents"]) < TOL
        assert rel(anchor_latents(G, fx["z"], 0.7, "w_avg"), fx["latents"]) > 100 * TOL   # the checkpoint's average differs
