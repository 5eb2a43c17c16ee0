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
    assert "image/png" in text and "seconds_per_iteration" in text and "sketch>" in text   # plots, timings, learned prompts (AIR's: no "." after the label)


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


def test_shapes_acceptance_photo_to_sketch(tmp_path):
    """Issue 5's acceptance run, as a user types it: AIR on shapes-photo-to-sketch through train.ipynb, then the
    independent judge on the same latents before and after. Measured with seed 0 on 500 of these latents with the
    judge retrained with fading (2026-12-01): sketch 0.01 -> 0.80, colour kept 0.80, shape kept 0.54 with 2 threads
    (0.80, 0.86, 0.51 with one, as the tests run it; NADA: 0.87, 0.88, 0.55); seeds 1 and 2 reach sketch only 0.62
    and 0.30 (nbs/04a_trainer, "What the shapes world says about preservation"). The bounds leave room for thread-level noise and fail on a run that does not adapt (sketch ~0) or
    collapses (colour kept ~0.1-0.2 in the collapsed runs we saw). Shape is bounded loosely: a third of the source
    generator's samples have no clear shape."""
    import torch
    from air_nb.models.generators import load_generator
    from air_nb.evaluation.metrics import judge_predictions
    from air_nb.shapes.world1 import load_judge, STYLES
    res = papermill(tmp_path / "out.ipynb", tmp_path, preset="shapes-photo-to-sketch", method="air", out_dir=tmp_path / "run")
    assert res.returncode == 0, res.stderr[-4000:]
    judge = load_judge()
    before = judge_predictions(judge, load_generator("shapes-photo"), 300, seed=123)
    after = judge_predictions(judge, load_generator(tmp_path / "run"), 300, seed=123)
    sketch = STYLES.index("sketch")
    assert (before["style"] == sketch).float().mean() < 0.05
    assert (after["style"] == sketch).float().mean() > 0.6
    assert (after["color"] == before["color"]).float().mean() > 0.6
    assert (after["shape"] == before["shape"]).float().mean() > 0.25
