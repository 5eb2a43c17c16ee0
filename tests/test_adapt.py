"""The adaptation loop's contracts: resume equals an uninterrupted run, Ctrl-C leaves a resumable checkpoint,
NaN stops with a clear message, and run folders refuse mismatched settings."""
import os, signal
from pathlib import Path

import pytest
import torch

from air_nb.core import ConfigError, load_json
from air_nb.generators import Generator, load_generator
from air_nb.losses import tiny_random_clip
from air_nb.adapt import adapt, AdaptationDiverged, resolve_config, ADAPT_PRESETS


def tiny_generator(seed=0):
    torch.manual_seed(seed)
    return Generator.from_config({"arch": "stylegan2", "resolution": 32, "z_dim": 32, "w_dim": 32, "n_mapping": 2,
                                  "channel_base": 256, "channel_max": 32})


SETTING = dict(source="photo", target="sketch", clip_model="tiny-random", iterations=10, t_int=0.2, prompt_latents=16,
               prompt_steps=4, n_samples=3, templates="single", progress=False, device="cpu")


def run(out_dir, clip=None, G=None, **kw):
    return adapt(generator=G or tiny_generator(), clip=clip or tiny_random_clip(), **{**SETTING, **kw}, out_dir=str(out_dir))


def same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("extra", [dict(), dict(prompt_scheme="source", auto_layer_k=2, checkpoint_every=3, anchors_from="start"), dict(method="nada"),
                                   dict(prompt_templates=True, templates=["a {} of a dog.", "a photo of a {}."], grad_clip=0.5)])
def test_resume_equals_uninterrupted(tmp_path, extra):
    full = run(tmp_path / "full", **extra)
    part = run(tmp_path / "resumed", stop_after=7, **extra)
    assert len(part.history) == 7 and not (tmp_path / "resumed" / "generator_ema.safetensors").exists()
    resumed = run(tmp_path / "resumed", **extra)
    assert same_weights(full.generator, resumed.generator)
    assert [h["loss"] for h in full.history] == [h["loss"] for h in resumed.history]
    assert [p["prompt"] for p in full.prompts] == [p["prompt"] for p in resumed.prompts]
    assert same_weights(load_generator(tmp_path / "resumed"), full.generator)
    assert not same_weights(full.generator, tiny_generator())          # training did move the generator


def test_anchors_from_start_refreshes_from_the_first_interval(tmp_path):
    r = run(tmp_path / "run", anchors_from="start")
    assert [p["step"] for p in r.prompts] == [2, 4, 6, 8]
    with pytest.raises(ConfigError, match="anchors_from"): resolve_config(dict(target="sketch", generator="faces-dcgan"), anchors_from="never")


def test_grad_clip_zero_turns_a_presets_clipping_off():
    assert resolve_config(preset="shapes-photo-to-sketch").grad_clip == 5.0
    assert resolve_config(preset="shapes-photo-to-sketch", grad_clip=0).grad_clip == 0
    with pytest.raises(ConfigError, match="grad_clip"): resolve_config(preset="shapes-photo-to-sketch", grad_clip=-1)


def test_run_folder_contents(tmp_path):
    r = run(tmp_path / "run")
    out = tmp_path / "run"
    cfg = load_json(out / "config.json")
    assert cfg["method"] == "air" and cfg["resolved"]["thresh_iter"] == 6 and cfg["resolved"]["interval_iter"] == 2
    assert (out / "losses.csv").read_text().count("\n") == 11
    prompts = load_json(out / "prompts.json")
    # anchors_from="thresh" (default): anchors at iterations 6 and 8 only (t_thresh 6, t_int 2)
    assert [a["step"] for a in prompts["anchors"]] == [6, 8] and all(len(a["nearest"]) == 4 for a in prompts["anchors"])
    timings = load_json(out / "timings.json")
    assert timings["iterations"] == 10
    # prompt learning is part of the anchor time, counted once in the total
    assert timings["prompt_seconds"] <= timings["anchor_seconds"] <= timings["total_seconds"]
    assert abs(timings["total_seconds"] - (timings["train_seconds_per_iteration"] * 10 + timings["anchor_seconds"]
                                           + timings["layer_selection_seconds"] + timings["io_seconds"])) < 1e-6
    assert len(list((out / "samples").glob("*.png"))) >= 2
    assert len(list((out / "checkpoints").glob("*.pt"))) <= 2


def test_keyboard_interrupt_leaves_resumable_checkpoint(tmp_path):
    full = run(tmp_path / "full")
    clip = tiny_random_clip()
    original, calls = clip.encode_image, {"n": 0}

    def encode_and_interrupt(images, normalize=True):
        calls["n"] += 1
        if calls["n"] == 12: os.kill(os.getpid(), signal.SIGINT)     # arrives in the middle of an iteration
        return original(images, normalize)

    clip.encode_image = encode_and_interrupt
    with pytest.raises(KeyboardInterrupt, match="resumable checkpoint"):
        run(tmp_path / "int", clip=clip)
    assert list((tmp_path / "int" / "checkpoints").glob("*.pt"))
    resumed = run(tmp_path / "int")
    assert same_weights(full.generator, resumed.generator)


def test_nan_stops_with_message_and_keeps_checkpoint(tmp_path):
    clip = tiny_random_clip()
    original, calls = clip.encode_image, {"n": 0}

    def encode_nan_later(images, normalize=True):
        calls["n"] += 1
        f = original(images, normalize)
        return f * float("nan") if calls["n"] > 10 else f

    clip.encode_image = encode_nan_later
    with pytest.raises(AdaptationDiverged, match=r"became nan at iteration \d+.*last good checkpoint: .*step_"):
        run(tmp_path / "nan", clip=clip, method="nada", checkpoint_every=2)
    ckpt = sorted((tmp_path / "nan" / "checkpoints").glob("*.pt"))[-1]
    state = torch.load(ckpt, weights_only=True)
    assert all(torch.isfinite(v).all() for v in state["G_t"].values() if v.is_floating_point())


def test_out_dir_with_other_settings_is_refused(tmp_path):
    run(tmp_path / "run", stop_after=3)
    with pytest.raises(ConfigError, match="different settings"):
        run(tmp_path / "run", target="painting")
    with pytest.raises(ConfigError, match="resume=True"):
        run(tmp_path / "run", resume=False)


def test_presets_resolve():
    for name in ADAPT_PRESETS:
        cfg = resolve_config(preset=name)
        assert cfg.target and cfg.iterations >= 1 and cfg.thresh_iter < cfg.iterations
    assert resolve_config(target="Cat").preset == "dog-to-cat"


def test_grad_clip_caps_the_recorded_norm(tmp_path):
    free = run(tmp_path / "free", method="nada")
    clipped = run(tmp_path / "clipped", method="nada", grad_clip=1e-3)
    assert all(h["grad_norm"] > 1e-3 for h in free.history)            # the cap below bites on every step
    # grad_norm is measured before clipping, so both runs see the same first gradient; the weights then differ
    assert free.history[0]["grad_norm"] == pytest.approx(clipped.history[0]["grad_norm"])
    assert not same_weights(free.generator, clipped.generator)
    assert same_weights(free.generator, run(tmp_path / "off", method="nada", grad_clip=0).generator)   # 0 = no clipping
    assert "grad_norm" in (tmp_path / "clipped" / "losses.csv").read_text().splitlines()[0]


def test_direction_cos_is_the_cosine_of_the_adaptive_and_global_directions(tmp_path):
    """With no prompt-learning steps the first anchor's prompt is the initial one at progress t/T, so its logged
    direction_cos can be recomputed from outside the loop."""
    import torch.nn.functional as F
    from air_nb.clip import text_direction, text_features, SINGLE_TEMPLATE
    from air_nb.prompt import AnchorPrompt
    clip = tiny_random_clip()
    r = run(tmp_path / "run", clip=clip, prompt_steps=0)
    first = r.prompts[0]
    step, progress = first["step"], first["progress"]
    assert step == 6 and progress == pytest.approx(0.6)
    with torch.no_grad():
        anchor = AnchorPrompt(clip, "photo", "sketch", seed=0)(progress)[0]
        target = text_features(clip, "sketch", SINGLE_TEMPLATE)[0]
        expected = F.cosine_similarity(target - anchor, text_direction(clip, "photo", "sketch", SINGLE_TEMPLATE), dim=-1)
    assert first["direction_cos"] == pytest.approx(float(expected), abs=1e-5)
    assert all(-1 <= p["direction_cos"] <= 1 for p in r.prompts)
