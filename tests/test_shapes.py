"""The shapes world end to end: the two training notebooks run tiny under papermill and their checkpoints load
through the library's loaders; failure cases give clear errors."""
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from air_nb.core.base import ConfigError, MissingWeightsError
from air_nb.shapes import world1 as shapes

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / "nbs"


def _papermill(notebook: str, out_dir: Path, **params):
    import papermill as pm
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    pm.execute_notebook(str(NBS / notebook), str(out_dir / f"executed_{notebook}"), parameters=params,
                        cwd=str(NBS), progress_bar=False, kernel_name="python3")


def test_train_shapes_clip_tiny(tmp_path):
    out = tmp_path / "clip.safetensors"
    _papermill("train_shapes_clip.ipynb", tmp_path, steps=3, pool_per_caption=1, threads=1, out_path=str(out))
    clip = shapes.load_shapes_clip(path=str(out))
    assert clip.name == shapes.SHAPES_CLIP_NAME and clip.image_size == (48, 48)
    feats = clip.encode_image(shapes.render_images([("star", "red", "photo", 0)]))
    assert feats.shape == (1, 64) and torch.allclose(feats.norm(dim=-1), torch.ones(1), atol=1e-4)


def test_train_shapes_clip_adversarial_tiny(tmp_path):
    # fine-tuning the shipped CLIP with adversarial steps runs and writes a loadable CLIP
    out = tmp_path / "robust.safetensors"
    _papermill("train_shapes_clip.ipynb", tmp_path, steps=2, pool_per_caption=1, threads=1, out_path=str(out),
               init_path=str(ROOT / "air_nb" / "weights" / shapes.SHAPES_CLIP_FILE), adversarial_eps=0.03, adversarial_steps=1)
    assert shapes.load_shapes_clip(path=str(out)).embed_dim == 64


def test_train_strict_judge_tiny(tmp_path):
    # the strict judge: a 'none of these' class per head, trained with imitations among the images
    out = tmp_path / "strict.safetensors"
    _papermill("train_shapes_judge.ipynb", tmp_path, steps=3, pool_per_combo=5, batch_size=16, threads=1, out_path=str(out),
               reject=True, negatives_n=1)
    judge = shapes.load_judge(path=str(out))
    assert {a: h.out_features for a, h in judge.heads.items()} == {a: len(v) + 1 for a, v in shapes.ATTRIBUTES.items()}


def test_train_shapes_judge_tiny(tmp_path):
    out = tmp_path / "judge.safetensors"
    _papermill("train_shapes_judge.ipynb", tmp_path, steps=3, pool_per_combo=5, batch_size=16, threads=1, out_path=str(out))
    judge = shapes.load_judge(path=str(out))
    preds = judge.predict(shapes.render_images([("heart", "blue", "sketch", 1), ("cross", "green", "painting", 2)]))
    assert set(preds) == {"shape", "color", "style"} and all(p.shape == (2,) for p in preds.values())
    assert not judge.training and not any(p.requires_grad for p in judge.parameters())


def test_shipped_weights_load():
    clip, judge = shapes.load_shapes_clip(), shapes.load_judge()
    assert clip.embed_dim == 64 and judge.num_features > 0


def test_missing_weights_say_how_to_train(tmp_path, monkeypatch):
    monkeypatch.setattr(shapes, "find_weights", lambda name, *a: None)
    with pytest.raises(MissingWeightsError, match="train_shapes_clip"): shapes.load_shapes_clip()
    with pytest.raises(MissingWeightsError, match="train_shapes_judge"): shapes.load_judge()


def test_bad_inputs():
    with pytest.raises(ConfigError, match="Unknown color"): shapes.render("circle", "pink", "photo", 0)
    with pytest.raises(ConfigError, match="too small"): shapes.render("circle", "red", "photo", 0, size=4)
    with pytest.raises(ConfigError, match="N x 3 x H x W"): shapes.ShapesJudge()(torch.zeros(2, 64, 64))


def test_same_seed_keeps_geometry():
    # the seed fixes the nuisance, so a red and a blue star of the same seed cover the same pixels
    a, b = (shapes.render("star", c, "sketch", 9).astype(int).sum(-1) < 600 for c in ("red", "blue"))
    assert (a == b).mean() > 0.99 and a.any()
