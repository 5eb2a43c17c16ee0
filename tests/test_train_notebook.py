"""nbs/train.ipynb with papermill: a tiny run end to end, and bad parameters that stop in the first cells with a
message saying what to change. (The shapes-world acceptance run needs the shapes CLIP, generator and judge.)"""
import json, os, re, subprocess, sys
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
    assert "image/png" in text and "seconds_per_iteration" in text and "sketch>" in text   # plots, timings, learned prompts (AIR's: no "." after the label)
    # the saved report keeps each progress line at its final state (not the first frame of a widget), with the loss
    lines = progress_lines(tmp_path / "out.ipynb")
    assert any("100%" in l and "6/6" in l and "loss=" in l for l in lines), lines
    assert not any(re.search(r"\b0%\|", l) for l in lines), lines
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["resolved"]["device"] == "cpu" and config["resolved"]["checkpoint_every"] >= 5    # what ran; no checkpoint per iteration
    first = json.loads((tmp_path / "run" / "timings.json").read_text())
    # the same command again: the run folder holds the finished run, and the report says so with that run's timings
    res = papermill(tmp_path / "again.ipynb", tmp_path, **TINY, out_dir=tmp_path / "run")
    assert res.returncode == 0, res.stderr[-4000:]
    again = (tmp_path / "again.ipynb").read_text()
    assert "already held this run, finished (6 iterations): nothing was trained" in again
    assert f"{first['total_seconds']:.1f} s of training" in again
    assert json.loads((tmp_path / "run" / "timings.json").read_text()) == first


def progress_lines(nb_path):
    "The progress lines (tqdm's text: 'NN%|') among the display outputs of an executed notebook."
    nb = json.loads(Path(nb_path).read_text())
    texts = ["".join(o["data"]["text/plain"]) for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])
             if o.get("output_type") == "display_data" and "text/plain" in o.get("data", {})]
    return [t for t in texts if "%|" in t]
