"""GAN training for the shapes-world source generators: the papermill notebook end to end (tiny), resuming, bad
parameters, and the shipped generators."""
import json, os, subprocess, sys
from pathlib import Path

import pytest
import torch

from air_nb.core import ConfigError, PACKAGE_WEIGHTS
from air_nb.generators import Generator
from air_nb.gan_training import GANConfig, GANTrainer, shapes_image_pool, train_gan
from helpers import run_papermill

ROOT = Path(__file__).resolve().parents[1]
NB = ROOT / "nbs" / "train_shapes_generator.ipynb"
TINY = dict(resolution=32, z_dim=8, w_dim=8, n_mapping=1, channel_base=128, channel_max=8, batch_size=4, n_real=32,
            checkpoint_every=2, fid_n=16, threads=1, max_minutes=0)


def papermill(out_dir: Path, **params):
    return run_papermill("train_shapes_generator.ipynb", out_dir / "run.ipynb", ROOT / "nbs", **params)


def test_notebook_trains_saves_evaluates_and_resumes(tmp_path):
    work, out = tmp_path / "work", tmp_path / "tiny-red.safetensors"
    res = papermill(tmp_path, **TINY, name="tiny-red", colors="red", iterations=3, work_dir=work, out_path=out)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    G = Generator.load(out)
    assert G.resolution == 32 and G.config["channel_max"] == 8
    imgs = G.sample(4, seed=0)
    assert imgs.shape == (4, 3, 32, 32) and torch.isfinite(imgs).all()
    m = json.loads((work / "metrics.json").read_text())
    assert m["steps"] == 3 and m["subset"]["colors"] == ["red"]
    fx = m["feature_extractor"]
    assert m[f"fid[{fx}]@trunc1.0"] > 0 and m[f"fid_real_vs_real[{fx}]@trunc1.0"] >= 0
    assert (work / "checkpoint.pt").exists() and (work / "losses.csv").exists() and list((work / "samples").glob("*.png"))
    # the same command with more iterations resumes from the checkpoint instead of starting again
    res = papermill(tmp_path, **TINY, name="tiny-red", colors="red", iterations=5, work_dir=work, out_path=out)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert json.loads((work / "metrics.json").read_text())["steps"] == 5
    assert len((work / "losses.csv").read_text().strip().splitlines()) == 1 + 5


def test_notebook_rejects_unknown_colour(tmp_path):
    res = papermill(tmp_path, **TINY, colors="pink", iterations=1, work_dir=tmp_path / "w")
    assert res.returncode != 0
    assert "Unknown color 'pink'" in res.stdout + res.stderr


def test_resume_refuses_a_different_config(tmp_path):
    cfg = GANConfig(z_dim=8, w_dim=8, n_mapping=1, channel_base=128, channel_max=8, batch_size=4)
    pool = shapes_image_pool(8, 32, colors="red", progress=False)
    train_gan(cfg, pool, 1, checkpoint=tmp_path / "c.pt", progress=False)
    with pytest.raises(ConfigError, match="different config"):
        train_gan(GANConfig(**{**cfg.__dict__, "batch_size": 8}), pool, 2, checkpoint=tmp_path / "c.pt", progress=False)
    with pytest.raises(ConfigError, match="pool must be uint8"):
        train_gan(cfg, shapes_image_pool(4, 64, progress=False), 1, progress=False)


def test_trainer_reduces_discriminator_loss_on_a_fixed_batch():
    "Sanity of the D update: a few D+G steps on one real batch make D separate it from fakes (logit gap grows)."
    cfg = GANConfig(z_dim=8, w_dim=8, n_mapping=1, channel_base=256, channel_max=16, batch_size=8, r1_gamma=0, seed=1)
    tr = GANTrainer(cfg)
    reals = shapes_image_pool(8, 32, colors="red", seed=3, progress=False).float() / 127.5 - 1
    recs = [tr.step(reals) for _ in range(15)]
    gap = lambda r: r["real_logit"] - r["fake_logit"]
    assert gap(recs[-1]) > gap(recs[0])


@pytest.mark.parametrize("name", ["shapes-photo", "shapes-red"])
def test_shipped_generators_load_and_sample(name):
    path = PACKAGE_WEIGHTS / f"{name}.safetensors"
    if not path.exists(): pytest.skip(f"{path} not trained yet (run nbs/train_shapes_generator.ipynb)")
    assert path.stat().st_size < 10e6
    G = Generator.load(path)
    imgs = G.sample(16, seed=0, truncation=0.7)
    assert imgs.shape == (16, 3, G.resolution, G.resolution) and imgs.min() >= -1.5 and imgs.max() <= 1.5
    assert imgs.std(0).mean() > 0.05, "samples for different latents must differ"
    if name == "shapes-red":  # red shapes: in each image some pixels are strongly red (red channel far above green and blue)
        redness = (imgs[:, 0] - imgs[:, 1:].amax(1)).flatten(1).amax(1)
        assert (redness > 0.5).float().mean() > 0.8
