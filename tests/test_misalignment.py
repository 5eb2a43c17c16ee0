"""The offset-misalignment study (AIR Sec. 3) on an ImageFolder with a CLIP checkpoint file, end to end with papermill,
and the failures a user can run into.

The tests download no pre-trained CLIP: the checkpoint is a random-weight ViT-B-32 with the upstream architecture
and key names (float16 safetensors), so the numbers are meaningless; what is tested is that the same code path a user
takes with real weights runs and computes what Eq. 2 says."""
import json, os, subprocess, sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

import open_clip
from air_nb.core.base import ConfigError
from air_nb.clip.models import load_clip
from air_nb.evaluation.misalignment import (as_labelled_images, class_image_embeddings, class_text_embeddings, offset_misalignment,
                                 pair_study, template_misalignment, concept_distance)

from helpers import run_papermill

NB = Path(__file__).resolve().parents[1] / "nbs" / "misalignment_study.ipynb"
CLASSES = [("circle", "red", "photo"), ("star", "blue", "sketch"), ("heart", "green", "painting"), ("square", "yellow", "photo")]


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    "An ImageFolder of 4 classes x 3 shapes-world renders (random images if the renderer is absent), class folder = colour_shape."
    root = tmp_path_factory.mktemp("folder")
    try: from air_nb.shapes.world1 import render
    except ImportError: render = None
    rng = np.random.default_rng(0)
    for shape, color, style in CLASSES:
        d = root / f"{color}_{shape}"; d.mkdir()
        for s in range(3):
            arr = render(shape, color, style, seed=s) if render else (rng.random((48, 40, 3)) * 255).astype(np.uint8)
            Image.fromarray(arr).save(d / f"{s}.png")
    return root


@pytest.fixture(scope="module")
def vit_b32_checkpoint(tmp_path_factory):
    "A random ViT-B-32 saved as a temporary checkpoint file (state dict, float16 safetensors)."
    from safetensors.torch import save_file
    torch.manual_seed(0)
    model = open_clip.create_model("ViT-B-32")
    path = tmp_path_factory.mktemp("ckpt") / "vit_b32_random.safetensors"
    save_file({k: v.half().contiguous() for k, v in model.state_dict().items()}, str(path))
    return path


def papermill(out_nb, cwd, **params):
    return run_papermill("misalignment_study.ipynb", out_nb, cwd, **params)


def test_study_notebook_on_image_folder_with_checkpoint(tmp_path, image_folder, vit_b32_checkpoint):
    out, cache = tmp_path / "out", tmp_path / "cache"
    res = papermill(tmp_path / "out.ipynb", tmp_path, dataset=image_folder, clip_model="ViT-B-32", clip_checkpoint=vit_b32_checkpoint,
                    n_pairs=5000, template="single", table_templates='["a photo of a {}.", "a drawing of a {}.", "a {}"]',
                    source="red circle", target="blue star", out_dir=out, cache_dir=cache, save_pairs=True, n_resamples=50,
                    report_name="misalignment_test")
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-4000:]
    for f in ["misalignment_test.md", "misalignment_test_scatter.png", "misalignment_test_examples.png", "misalignment_test_templates.png"]:
        assert (out / f).stat().st_size > 0, f
    assert len(list(cache.glob("*.pt"))) == 2   # class image means and class text, cached on disk

    # the notebook's pair table is what the library computes from scratch (no cache) with the same checkpoint
    pairs = pd.read_csv(out / "misalignment_test_pairs.csv")
    assert list(pairs.columns) == ["alpha", "beta", "misalignment", "distance"] and len(pairs) == 6   # 4 classes: all 6 pairs
    clip = load_clip("ViT-B-32", pretrained=str(vit_b32_checkpoint))
    direct = pair_study(clip, image_folder, n_pairs=5000, templates="single", cache_dir=None, progress=False)
    merged = pairs.merge(direct, on=["alpha", "beta"], suffixes=("_nb", ""))
    assert len(merged) == 6
    np.testing.assert_allclose(merged.misalignment_nb, merged.misalignment, atol=1e-5)
    np.testing.assert_allclose(merged.distance_nb, merged.distance, atol=1e-5)

    # and by hand for one pair: Eq. 2 on class means of the images as the folder loader gives them
    data = as_labelled_images(image_folder)
    with torch.no_grad():
        feats = clip.encode_image(data.load(np.arange(len(data)), clip.image_size))
        text = clip.encode_text(["a photo of a red circle.", "a photo of a blue star."])
    mean = lambda name: feats[torch.as_tensor(data.labels == data.classnames.index(name))].mean(0)
    row = direct[(direct.alpha == "blue star") & (direct.beta == "red circle") | (direct.alpha == "red circle") & (direct.beta == "blue star")].iloc[0]
    ia, ib = mean(row.alpha), mean(row.beta)
    ta, tb = (text[0], text[1]) if row.alpha == "red circle" else (text[1], text[0])
    assert abs(row.misalignment - float(offset_misalignment(ia, ib, ta, tb))) < 1e-4
    assert abs(row.distance - float(concept_distance(ia, ib))) < 1e-4

    report = (out / "misalignment_test.md").read_text()
    assert "RANDOM" not in report                        # a checkpoint was given
    assert "red circle` → target `blue star`" in report and "a drawing of a {}." in report
    table = template_misalignment(clip, "red circle", "blue star", mean("red circle"), mean("blue star"), ["a drawing of a {}."])
    assert f"{table.misalignment[0]:.4f}" in report


def test_study_notebook_reports_bad_dataset(tmp_path):
    res = papermill(tmp_path / "out.ipynb", tmp_path, dataset=tmp_path / "no-such-folder", clip_model="ViT-B-32", clip_checkpoint="random",
                    out_dir=tmp_path / "out")
    assert res.returncode != 0
    assert "ConfigError" in res.stdout + res.stderr and "no such folder" in res.stdout + res.stderr


def test_failures_name_the_fix(tmp_path, image_folder):
    one = tmp_path / "one"; (one / "cat").mkdir(parents=True)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(one / "cat" / "0.png")
    torch.manual_seed(0)
    tiny = _tiny_clip()
    with pytest.raises(ConfigError, match="at least 2 classes"): pair_study(tiny, one, cache_dir=None, progress=False)
    with pytest.raises(ConfigError, match="cifar-100-python"): as_labelled_images(tmp_path / "cifar-100-python").classnames
    with pytest.raises(ConfigError, match="'\\{\\}'"): pair_study(tiny, image_folder, templates="a photo", cache_dir=None)
    with pytest.raises(ConfigError, match="one per folder"): as_labelled_images(image_folder, ["a", "b"])


def test_cifar_like_dataset_object():
    "A torchvision CIFAR100-like object (classes, data as N x H x W x 3 uint8, targets) is read without copying it to disk."
    class FakeCifar:
        classes = ["aquarium_fish", "maple_tree", "sea"]
        data = (np.random.default_rng(0).random((9, 32, 32, 3)) * 255).astype(np.uint8)
        targets = [0, 1, 2] * 3
    ds = as_labelled_images(FakeCifar())
    assert ds.classnames == ["aquarium fish", "maple tree", "sea"] and list(ds.counts) == [3, 3, 3]
    emb = class_image_embeddings(_tiny_clip(), ds, cache_dir=None, progress=False)
    assert emb.image.shape == (3, 16) and torch.isfinite(emb.image).all()


def _tiny_clip():
    from air_nb.clip.models import register_clip_config
    register_clip_config("air-nb-tiny-misalignment-test", {
        "embed_dim": 16, "vision_cfg": {"image_size": 16, "layers": 1, "width": 32, "head_width": 16, "patch_size": 8},
        "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}})
    return load_clip("air-nb-tiny-misalignment-test", pretrained=None)
