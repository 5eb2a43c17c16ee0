"""nbs/evaluate.ipynb end to end with papermill, on stand-in run folders (random tiny generators) and reference PNGs."""
import os, subprocess, sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from PIL import Image

from air_nb.core.base import save_json, to_uint8
from air_nb.models.stylegan2 import StyleGAN2Generator

from helpers import run_papermill

NB = Path(__file__).resolve().parents[1] / "nbs" / "evaluate.ipynb"


def papermill(out_nb, cwd, **params):
    return run_papermill("evaluate.ipynb", out_nb, cwd, **params)


def test_evaluate_notebook_on_a_sweep_folder(tmp_path):
    runs = tmp_path / "sweep"
    for i, (meth, s) in enumerate([("nada", 0), ("nada", 1), ("air", 0), ("air", 1)]):
        torch.manual_seed(i)
        G = StyleGAN2Generator(32, z_dim=16, w_dim=16, n_mapping=2, channel_base=128, channel_max=8)
        G.save(runs / f"dog2cat-{meth}-s{s}" / "generator_ema.safetensors")
        save_json({"preset": "toy", "method": meth, "seed": s, "source": "Dog", "target": "Cat", "generator": "not-here"},
                  runs / f"dog2cat-{meth}-s{s}" / "config.json")
    ref = tmp_path / "ref"; ref.mkdir()
    for i, img in enumerate(torch.tanh(torch.randn(20, 3, 32, 32))): Image.fromarray(to_uint8(img)).save(ref / f"{i}.png")
    out = tmp_path / "eval"
    res = papermill(tmp_path / "out.ipynb", tmp_path, runs=runs, out_dir=out, n_samples=24, n_diversity=12, k=3, kid_subsets=3,
                    batch_size=12, reference=ref, use_clip=False, grid_n=4)
    assert res.returncode == 0, res.stderr[-4000:]
    df = pd.read_csv(out / "metrics.csv")
    assert len(df) == 4 and {"setting", "method", "seed", "run", "n_samples"} <= set(df.columns)
    assert sorted(df.method.unique()) == ["air", "nada"] and df.n_samples.eq(24).all()
    assert (out / "grid_toy_Dog_Cat.png").is_file()
    assert Image.open(out / "grid_toy_Dog_Cat.png").size[1] > 2 * 32  # one row per method
    assert all((runs / r / "metrics.json").is_file() for r in os.listdir(runs))
    text = (tmp_path / "out.ipynb").read_text()
    assert "MissingWeightsError" in text  # what was skipped is said, not hidden


def test_evaluate_notebook_bad_runs_path_fails_clearly(tmp_path):
    res = papermill(tmp_path / "out.ipynb", tmp_path, runs=tmp_path / "nothing-here", out_dir=tmp_path / "eval")
    assert res.returncode != 0 and "does not exist" in (res.stderr + (tmp_path / "out.ipynb").read_text())
