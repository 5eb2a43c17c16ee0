"""The diffusion generator on the trainer: NADA and AIR resume equal to uninterrupted runs with adapter-only state,
NADA skips layer selection on a UNet, train.ipynb runs the offline shapes-diffusion presets, and the source's
training notebook trains and saves a few steps."""
import json
from pathlib import Path

import pytest
import torch

from air_nb.core.base import find_weights
from air_nb.clip.models import tiny_random_clip
from air_nb.models.diffusion import DiffusionGenerator, build_unet
from air_nb.shapes.diffusion import SHAPES_DIFFUSION_FILE
from air_nb.models.generators import Generator, load_generator
from air_nb.training.trainer import adapt, make_config, PRESETS, DIFFUSION_PAPER_SETTINGS
from air_nb.training import runs

from helpers import run_papermill

TINY = {"kind": "unet2d", "config": dict(sample_size=8, in_channels=3, out_channels=3, layers_per_block=1, block_out_channels=(8, 16),
                                         down_block_types=("DownBlock2D", "AttnDownBlock2D"), up_block_types=("AttnUpBlock2D", "UpBlock2D"),
                                         norm_num_groups=4, attention_head_dim=8)}


def tiny_diffusion(seed=0, **kw):
    torch.manual_seed(seed)
    return DiffusionGenerator.from_unet(build_unet(TINY), TINY, 8, lora=dict(rank=2, alpha=2), **kw)


SETTING = dict(source="photo", target="sketch", clip_model="tiny-random", iterations=6, batch=2, n_samples=2, templates="single",
               progress=False, device="cpu", lr=0.01)
METHOD = {"nada": {}, "air": dict(t_thresh=0.3, t_int=0.3, prompt_latents=4, prompt_steps=2, encode_batch=4)}


def run(out_dir, method, **kw):
    return adapt(generator=tiny_diffusion(), clip=tiny_random_clip(), method=method, out_dir=str(out_dir), **{**SETTING, **METHOD[method], **kw})


def same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("method,grad_mode", [("nada", "full"), ("air", "last")])
def test_resume_equals_uninterrupted(tmp_path, method, grad_mode):
    opts = dict(generator_options={"grad_mode": grad_mode})
    full = run(tmp_path / "full", method, **opts)
    part = run(tmp_path / "resumed", method, stop_after=3, **opts)
    assert len(part.history) == 3 and not runs.is_finished(tmp_path / "resumed")
    resumed = run(tmp_path / "resumed", method, **opts)
    assert same_weights(full.generator, resumed.generator)
    assert [h["loss"] for h in full.history] == [h["loss"] for h in resumed.history]
    assert not same_weights(full.generator, tiny_diffusion().reference_copy())          # it trained
    # checkpoints and the final file hold adapter weights only (the backbone is the in-memory one: no other home)
    state = runs.load_checkpoint(runs.latest_checkpoint(tmp_path / "resumed"), "cpu")
    assert all(k.startswith("adapters.") or k == "w_avg" for k in state["generator"]) and set(state["generator"]) == set(state["ema"])
    if method == "air": assert state["method"]["anchor"] is not None and set(state["method"]["anchor"]) == set(state["generator"])
    assert full.generator.backbone is not None


def test_copies_share_one_backbone(tmp_path):
    G = tiny_diffusion()
    r = adapt(generator=G, clip=tiny_random_clip(), method="air", **{**SETTING, **METHOD["air"]})
    assert r.generator.backbone is G.backbone            # the EMA generator: a view of the one backbone


def test_nada_skips_layer_selection_on_a_unet(tmp_path):
    with pytest.warns(UserWarning, match="layer selection"):
        r = adapt(generator=tiny_diffusion(), clip=tiny_random_clip(), method="nada", auto_layer_k=2, **{**SETTING, "iterations": 2})
    assert r.history[-1]["layers"] == len(tiny_diffusion().trainable_layers())


def test_generator_options_are_checked():
    from air_nb.core.base import ConfigError
    with pytest.raises(ConfigError, match="unknown generator option"):
        adapt(generator=tiny_diffusion(), clip=tiny_random_clip(), method="nada", generator_options={"rank": 3}, **{**SETTING, "iterations": 1})
    r = adapt(generator=tiny_diffusion(), clip=tiny_random_clip(), method="nada", generator_options={"lora_rank": 3, "steps": 4},
              **{**SETTING, "iterations": 1})
    assert r.generator.config["lora"]["rank"] == 3 and r.generator.config["sampler"]["steps"] == 4
    assert r.generator.adapters[next(iter(r.generator.adapters))].A.shape[0] == 3


@pytest.mark.parametrize("name", DIFFUSION_PAPER_SETTINGS)
def test_paper_diffusion_presets_resolve(name):
    for method in ("nada", "air"):
        c = make_config(preset=name, method=method)
        assert c.run.generator in ("ffhq-p2", "afhq-dog-p2") and c.run.batch == 2 and c.run.lr == 0.002
        assert c.method.auto_layer_k is None


def test_p2_preset_missing_weights_say_where(tmp_path, monkeypatch):
    from air_nb.core.base import MissingWeightsError
    monkeypatch.setenv("AIR_NB_WEIGHTS", str(tmp_path))
    with pytest.raises(MissingWeightsError, match="P2"): load_generator("ffhq-p2")


def test_train_shapes_diffusion_notebook_tiny(tmp_path):
    out = tmp_path / "sd.safetensors"
    res = run_papermill("train_shapes_diffusion.ipynb", tmp_path / "out.ipynb", tmp_path, steps=3, batch_size=2, block_out_channels="32,32,32",
                        measure_n=0, threads=1, work_dir=str(tmp_path / "work"), out_path=str(out))
    assert res.returncode == 0, res.stderr[-3000:]
    G = load_generator(out)
    assert isinstance(G, DiffusionGenerator) and G.resolution == 32
    assert json.loads((tmp_path / "work" / "summary.json").read_text())["steps"] == 3


def test_the_diffusion_source_ships():
    assert find_weights(SHAPES_DIFFUSION_FILE) is not None, "shapes-diffusion ships in the package (nbs/train_shapes_diffusion.ipynb makes it)"


@pytest.mark.parametrize("method", ["nada", "air"])
def test_train_notebook_runs_the_offline_diffusion_preset(tmp_path, method):
    air = ", prompt_latents: 8, prompt_steps: 3, encode_batch: 8, t_thresh: 0.5, t_int: 0.25" if method == "air" else ""
    overrides = "{iterations: 4, batch: 2, n_samples: 2, generator_options: {grad_mode: last}" + air + "}"
    res = run_papermill("train.ipynb", tmp_path / "out.ipynb", tmp_path, preset="shapes-diffusion-photo-to-sketch", method=method,
                        out_dir=str(tmp_path / "run"), overrides=overrides)
    assert res.returncode == 0, res.stderr[-3000:]
    G = load_generator(tmp_path / "run")
    assert isinstance(G, DiffusionGenerator) and G.config["base"] == "shapes-diffusion"
    from safetensors import safe_open
    with safe_open(str(runs.generator_path(tmp_path / "run")), "pt") as f: assert not any(k.startswith("backbone.") for k in f.keys())
