"""CLIP loading: local files found without the network, the offline error, checkpoint formats, preprocessing.

The tests never download anything, so the "downloaded" files here are random-weight models with exactly the upstream
architecture, key names and shapes (stored in float16 to halve the disk traffic)."""
import os, socket, subprocess, sys, time
from pathlib import Path

import pytest
import torch

import open_clip
from air_nb.clip.models import (load_clip, register_clip_config, find_clip_weights, clip_weight_candidates, weight_source,
                         encode_token_embeddings, prompt_token_embeddings, tiny_random_clip)
from air_nb.core.base import ConfigError, MissingWeightsError

ROOT = Path(__file__).resolve().parents[1]

TINY = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
    "preprocess_cfg": {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]},
}


@pytest.fixture
def no_network(monkeypatch):
    "Any attempt to open a socket connection fails the test."
    def refuse(*args, **kwargs): raise AssertionError(f"network access attempted: {args}")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture
def isolated_caches(tmp_path, monkeypatch):
    "Empty air_nb weights folder and Hugging Face cache, offline."
    wd, hf = tmp_path / "weights", tmp_path / "hf"
    wd.mkdir(); hf.mkdir()
    monkeypatch.setenv("AIR_NB_WEIGHTS", str(wd)); monkeypatch.setenv("HF_HUB_CACHE", str(hf))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return wd, hf


@pytest.fixture(scope="module")
def fake_vit_b32(tmp_path_factory):
    "A random ViT-B-32 state dict saved like the hub's open_clip_model.safetensors (float16)."
    from safetensors.torch import save_file
    torch.manual_seed(0)
    model = open_clip.create_model("ViT-B-32", force_quick_gelu=True)
    sd = {k: v.half().contiguous() for k, v in model.state_dict().items()}
    path = tmp_path_factory.mktemp("fake") / "open_clip_model.safetensors"
    save_file(sd, str(path))
    return path, sd


def _same_weights(clip, sd):
    msd = clip.model.state_dict()
    return all(torch.equal(msd[k].half(), v) for k, v in sd.items())


def _quick_gelu(clip):
    return isinstance(clip.model.visual.transformer.resblocks[0].mlp.gelu, open_clip.model.QuickGELU)


def test_offline_cli_message(tmp_path):
    "`python -c 'load_clip()'` offline: non-zero exit, one clear message, no hub retries."
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "AIR_NB_WEIGHTS": str(tmp_path / "w"), "HF_HUB_CACHE": str(tmp_path / "hf")}
    t0 = time.time()
    res = subprocess.run([sys.executable, "-c", "from air_nb.clip.models import load_clip; load_clip()"],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    elapsed = time.time() - t0
    assert res.returncode != 0
    err = res.stderr
    assert "MissingWeightsError" in err and "HF_HUB_OFFLINE=1" in err
    assert "open_clip_pytorch_model.bin" in err and "timm/vit_base_patch32_clip_224.openai" in err
    assert str(tmp_path / "w" / "vit_base_patch32_clip_224.openai" / "open_clip_pytorch_model.bin") in err
    assert all(f"  {i}. " in err for i in (1, 2, 3)) and "pretrained='/path/to/" in err
    assert err.count("Traceback") == 1 and "Retry" not in err and "During handling" not in err
    assert elapsed < 60, elapsed


def test_offline_error_in_process(isolated_caches, no_network):
    with pytest.raises(MissingWeightsError, match="three ways"):
        load_clip("ViT-B-32", "laion2b_s34b_b79k")


def test_found_in_air_nb_weights_dir(isolated_caches, fake_vit_b32, no_network):
    wd, _ = isolated_caches
    path, sd = fake_vit_b32
    target = wd / "vit_base_patch32_clip_224.openai" / path.name
    target.parent.mkdir(); target.symlink_to(path)
    assert find_clip_weights("ViT-B-32", "openai") == target
    clip = load_clip("ViT-B-32", "openai", device="cpu")
    assert _same_weights(clip, sd) and _quick_gelu(clip)       # the openai tag was trained with QuickGELU
    assert not clip.model.training and not any(p.requires_grad for p in clip.model.parameters())


def test_found_in_hf_cache(isolated_caches, fake_vit_b32, no_network):
    "The file laid out as huggingface_hub stores downloads: models--org--repo/{refs/main, snapshots/<rev>/file}."
    _, hf = isolated_caches
    path, sd = fake_vit_b32
    repo = hf / "models--timm--vit_base_patch32_clip_224.openai"
    rev = "0123456789abcdef0123456789abcdef01234567"
    (repo / "refs").mkdir(parents=True); (repo / "refs" / "main").write_text(rev)
    snap = repo / "snapshots" / rev; snap.mkdir(parents=True)
    (snap / "open_clip_model.safetensors").symlink_to(path)
    assert find_clip_weights("ViT-B-32", "openai") == snap / "open_clip_model.safetensors"
    clip = load_clip("ViT-B-32", "openai", device="cpu")
    assert _same_weights(clip, sd)


def test_found_without_offline_flag_makes_no_network_call(isolated_caches, fake_vit_b32, no_network, monkeypatch):
    "With the file present, loading never probes the network even when HF_HUB_OFFLINE is not set."
    monkeypatch.delenv("HF_HUB_OFFLINE")
    wd, _ = isolated_caches
    path, sd = fake_vit_b32
    (wd / "vit_base_patch32_clip_224.openai").mkdir(); (wd / "vit_base_patch32_clip_224.openai" / path.name).symlink_to(path)
    assert _same_weights(load_clip("ViT-B-32", "openai", device="cpu"), sd)


@pytest.mark.parametrize("fmt", ["plain.pt", "wrapped.pt", "module.bin", "plain.safetensors"])
def test_local_checkpoint_formats(tmp_path, fmt, no_network):
    register_clip_config("air-nb-tiny-pytest", TINY)
    torch.manual_seed(1)
    sd = open_clip.create_model("air-nb-tiny-pytest").state_dict()
    path = tmp_path / fmt
    if fmt == "plain.pt": torch.save(sd, path)
    elif fmt == "wrapped.pt": torch.save({"state_dict": sd, "epoch": 3}, path)
    elif fmt == "module.bin": torch.save({"state_dict": {"module." + k: v for k, v in sd.items()}}, path)
    else:
        from safetensors.torch import save_file
        save_file({k: v.contiguous() for k, v in sd.items()}, str(path))
    clip = load_clip("air-nb-tiny-pytest", pretrained=str(path), device="cpu")
    msd = clip.model.state_dict()
    assert all(torch.equal(msd[k], v) for k, v in sd.items())
    assert clip.image_size == (32, 32) and clip.mean.flatten().tolist() == [0.5, 0.5, 0.5]
    assert clip.encode_text(["a red square"]).shape == (1, 16)


def test_bad_inputs(tmp_path):
    with pytest.raises(ConfigError, match="ViT-B-16"): load_clip("ViT-X-1", None)
    with pytest.raises(MissingWeightsError, match="no such checkpoint"): load_clip("RN50", str(tmp_path / "none.pt"))
    with pytest.raises(ConfigError, match="openai"): load_clip("ViT-B-32", "not_a_tag")
    register_clip_config("air-nb-tiny-pytest", TINY)
    torch.save(open_clip.create_model("RN50").state_dict(), tmp_path / "rn50.pt")
    with pytest.raises(ConfigError, match="does not hold weights"): load_clip("air-nb-tiny-pytest", str(tmp_path / "rn50.pt"))
    with pytest.raises(ConfigError, match="text_cfg"): register_clip_config("x", {"embed_dim": 3, "vision_cfg": {}})


def test_preprocess_matches_open_clip_and_is_differentiable():
    from PIL import Image
    import numpy as np
    from open_clip.transform import image_transform_v2, PreprocessCfg
    from open_clip.model import get_model_preprocess_cfg
    clip = load_clip("ViT-B-32", None, device="cpu")
    pil = image_transform_v2(PreprocessCfg(**get_model_preprocess_cfg(clip.model)), is_train=False)
    arr = np.random.default_rng(0).integers(0, 256, (224, 224, 3), dtype=np.uint8)
    x = torch.from_numpy(arr).permute(2, 0, 1)[None].float() / 127.5 - 1
    assert (clip.preprocess(x) - pil(Image.fromarray(arr))[None]).abs().max() < 1e-5
    big = (torch.rand(1, 3, 300, 500) * 2 - 1).requires_grad_(True)
    clip.encode_image(big).sum().backward()
    assert big.grad is not None and big.grad.abs().sum() > 0


TEXT_VARIANTS = {
    "clip-layout": {},                                                   # open_clip.CLIP, causal mask, argmax pooling
    "custom-text": {"custom_text": True},                                # CustomTextCLIP: the tower lives in model.text
    "bidirectional-last": {"custom_text": True, "text_cfg": {"no_causal_mask": True, "pool_type": "last"}},
    "eos-pool": {"custom_text": True, "text_cfg": {"pool_type": "eos", "eos_id": 49407}},
    "proj-bias": {"custom_text": True, "text_cfg": {"proj_bias": True}},
}


@pytest.mark.parametrize("variant", TEXT_VARIANTS)
def test_token_embedding_path_matches_encode_text(variant):
    cfg = {**TINY, **{k: v for k, v in TEXT_VARIANTS[variant].items() if k != "text_cfg"}}
    cfg["text_cfg"] = {**TINY["text_cfg"], **TEXT_VARIANTS[variant].get("text_cfg", {})}
    name = f"air-nb-tiny-{variant}"
    register_clip_config(name, cfg)
    torch.manual_seed(0)
    model = open_clip.create_model(name).eval()
    tokens = open_clip.get_tokenizer(name)(["a photo of a dog", "two blue circles and a square", "x"])
    emb = model.text.token_embedding(tokens) if hasattr(model, "text") else model.token_embedding(tokens)
    with torch.no_grad():
        ref = model.encode_text(tokens)
        ours = encode_token_embeddings(model, emb, tokens.argmax(-1))
    assert (ours - ref).abs().max() < 1e-5


def test_prompt_token_embeddings_positions():
    clip = load_clip("RN50", None, device="cpu")
    pe = prompt_token_embeddings(clip, "a photo of a dog")
    assert pe.word_positions == {"a": [1, 4], "photo": [2], "of": [3], "dog": [5]} and pe.eot_index == 6
    assert pe.embeddings.shape == (1, 77, 512)
    out = encode_token_embeddings(clip, pe.embeddings, pe.eot_index)
    assert (out - clip.model.encode_text(pe.tokens)).abs().max() < 1e-5
    long = prompt_token_embeddings(clip, "dog " * 100)           # truncated to the context: EOT is the last slot
    assert long.eot_index == 76 and long.word_positions["dog"] == list(range(1, 76))


@pytest.mark.parametrize("quick_gelu", [True, False])
def test_torchscript_archive(tmp_path, quick_gelu, no_network):
    "OpenAI's original .pt files are TorchScript archives; ours is a scripted open_clip model of the same layout."
    import warnings
    register_clip_config("air-nb-tiny-pytest", TINY)
    torch.manual_seed(2)
    model = open_clip.create_model("air-nb-tiny-pytest", force_quick_gelu=quick_gelu).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.save(torch.jit.script(model), str(tmp_path / "model.pt"))
    clip = load_clip("air-nb-tiny-pytest", pretrained=str(tmp_path / "model.pt"), device="cpu")
    msd = clip.model.state_dict()
    assert all(torch.equal(msd[k], v) for k, v in model.state_dict().items())
    assert isinstance(clip.model.visual.transformer.resblocks[0].mlp.gelu, open_clip.model.QuickGELU) == quick_gelu
    x = torch.rand(2, 3, 32, 32)
    assert (clip.model.encode_image(x) - model.encode_image(x)).abs().max() < 1e-6


def test_bare_file_name_found_in_weights_dir(isolated_caches, no_network):
    wd, _ = isolated_caches
    register_clip_config("air-nb-tiny-pytest", TINY)
    torch.manual_seed(3)
    sd = open_clip.create_model("air-nb-tiny-pytest").state_dict()
    torch.save(sd, wd / "tiny_clip.pt")
    clip = load_clip("air-nb-tiny-pytest", pretrained="tiny_clip.pt", device="cpu")
    assert all(torch.equal(clip.model.state_dict()[k], v) for k, v in sd.items())
    with pytest.raises(MissingWeightsError, match=str(wd)):
        load_clip("air-nb-tiny-pytest", pretrained="other.pt")


def test_found_in_open_clip_url_cache(isolated_caches, fake_vit_b32, no_network, tmp_path, monkeypatch):
    "OpenAI's URL download (`~/.cache/clip/ViT-B-32.pt`), here a plain state dict under that name in a temp folder."
    import air_nb.clip.weights as clip_mod
    path, sd = fake_vit_b32
    url_cache = tmp_path / "clip_url_cache"; url_cache.mkdir()
    monkeypatch.setattr(clip_mod, "_OPEN_CLIP_URL_CACHE", url_cache)
    torch.save(sd, url_cache / "ViT-B-32.pt")
    assert find_clip_weights("ViT-B-32", "openai") == url_cache / "ViT-B-32.pt"
    clip = load_clip("ViT-B-32", "openai", device="cpu")
    assert _same_weights(clip, sd) and _quick_gelu(clip)


# ---------------------------------------------------------------- air_nb's own names: 'shapes' and 'tiny-random'
def _state(clip):
    return {k: v.clone() for k, v in clip.model.state_dict().items()}


def test_tiny_random_by_name_is_tiny_random_clip(no_network):
    a, b = load_clip("tiny-random", "openai", device="cpu", seed=3), tiny_random_clip("cpu", seed=3)
    sa, sb = _state(a), _state(b)
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)   # `pretrained` is not used
    other = _state(load_clip("tiny-random", None, seed=4))
    assert any(not torch.equal(sa[k], other[k]) for k in sa)
    rng = torch.random.get_rng_state(); load_clip("tiny-random"); assert torch.equal(torch.random.get_rng_state(), rng)


def test_shapes_by_name_is_the_shapes_clip(no_network):
    from air_nb.core.base import find_weights
    from air_nb.shapes.world1 import load_shapes_clip, SHAPES_CLIP_FILE
    assert find_weights(SHAPES_CLIP_FILE) is not None, "the shapes-world CLIP ships in the package (air_nb/weights/)"
    a, b = load_clip("shapes", "openai", device="cpu"), load_shapes_clip("cpu")
    sa, sb = _state(a), _state(b)
    assert a.name == b.name == "air-nb-shapes-clip" and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_clip_and_losses_import_without_each_other_loops():
    "air_nb.clip.models does not import air_nb.shapes.world1 until 'shapes' is asked for; air_nb.methods.losses no longer imports air_nb.clip.models."
    code = ("import sys, air_nb.methods.losses; assert 'air_nb.clip.models' not in sys.modules; "
            "import air_nb.clip.models; assert 'air_nb.shapes.world1' not in sys.modules; "
            "from air_nb.clip.models import tiny_random_clip; assert tiny_random_clip is air_nb.clip.models.tiny_random_clip")
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})


def test_unknown_name_mentions_our_own():
    with pytest.raises(ConfigError, match="tiny-random"): load_clip("ViT-X-1", None)
