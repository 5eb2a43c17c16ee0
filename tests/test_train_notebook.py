"""nbs/train.ipynb with papermill: a tiny run end to end, and bad parameters that stop in the first cells with a
message saying what to change. (The shapes-world acceptance run needs the shapes CLIP, generator and judge.)"""
import json, os, subprocess, sys
from pathlib import Path

import pytest

from helpers import run_papermill

NB = Path(__file__).resolve().parents[1] / "nbs" / "train.ipynb"
TINY = dict(generator="faces-dcgan", source="photo", target="sketch", clip_model="tiny-random", iterations=6,
            prompt_latents=8, prompt_steps=3, templates="single")


def papermill(out_nb, cwd, **params):
    return run_papermill("train.ipynb", out_nb, cwd, **params)


def executed_cells(nb_path):
    nb = json.loads(Path(nb_path).read_text())
    return [c for c in nb["cells"] if c["cell_type"] == "code" and c.get("execution_count")]


def test_tiny_run_end_to_end(tmp_path):
    res = papermill(tmp_path / "out.ipynb", tmp_path, **TINY, out_dir=tmp_path / "run")
    assert res.returncode == 0, res.stderr[-4000:]
    for f in ("config.json", "losses.csv", "prompts.json", "timings.json", "generator_ema.safetensors"):
        assert (tmp_path / "run" / f).exists(), f
    text = (tmp_path / "out.ipynb").read_text()
    assert "image/png" in text and "seconds_per_iteration" in text and "sketch>." in text   # plots, timings, learned prompts


@pytest.mark.parametrize("params, message", [
    (dict(preset="dog-to-kitten"), "unknown preset"),
    (dict(TINY, target=""), "target is empty"),
    (dict(TINY, iterations=0), "iterations=0"),
    (dict(TINY, generator="no/such/file.safetensors"), "does not exist"),
    (dict(preset="dog-to-cat"), "MissingWeightsError"),        # offline: OpenAI's ViT-B/32 is not on this machine
])
def test_bad_parameters_fail_early_with_a_message(tmp_path, params, message):
    res = papermill(tmp_path / "out.ipynb", tmp_path, **params, out_dir=tmp_path / "run")
    assert res.returncode != 0
    assert message in res.stderr, res.stderr[-3000:]
    assert len(executed_cells(tmp_path / "out.ipynb")) <= 4      # stopped in the first cells
    assert not (tmp_path / "run" / "checkpoints").exists()
