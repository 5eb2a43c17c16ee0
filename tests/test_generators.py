"""Generators: exact match with the original StyleGAN2 implementations (fixtures), safe loading, failure messages.

The fixtures in tests/fixtures/generators/ were made by running NVlabs' and rosinality's own code on small
random-weight models (see "How the test fixtures were made" in nbs/01c_checkpoints.ipynb)."""
import io, os, pickle, shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import air_nb.models.dcgan as dcgan
from air_nb.core.base import ConfigError, MissingWeightsError
from air_nb.models.generators import CheckpointError, Generator, load_generator, sample_latents, GENERATOR_PRESETS
from air_nb.models.stylegan2 import StyleGAN2Generator
from air_nb.models.dcgan import DCGANGenerator
from air_nb.models.checkpoints import (UnsafePickleError, load_nvlabs_pkl, load_rosinality_pt, read_nvlabs_pickle, to_rosinality,
                                write_nvlabs_pickle)

FIX = Path(__file__).resolve().parent / "fixtures" / "generators"
TOL = 1e-4  # per pixel, as promised in the notebook


def _max_diff(a, b):
    return (torch.as_tensor(a) - torch.as_tensor(b)).abs().max().item()


@pytest.fixture(autouse=True)
def _weights_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("AIR_NB_WEIGHTS", str(tmp_path / "weights"))


def small_g(seed=0, **kw):
    torch.manual_seed(seed)
    G = StyleGAN2Generator(32, **{**dict(z_dim=32, w_dim=32, n_mapping=2, channel_base=512, channel_max=32), **kw})
    with torch.no_grad():  # random noise strengths and biases, so every part of the network matters
        for n, p in G.named_parameters():
            if n.endswith(("noise_strength", "bias")): p.normal_(0, 0.3)
        G.w_avg.normal_()
    return G.eval()


# ---------------------------------------------------------------- official layouts, exact outputs
def test_nvlabs_pickle_reproduces_original_outputs():
    out = np.load(FIX / "nvlabs_small_outputs.npz")
    G = load_generator(FIX / "nvlabs_small.pkl")
    assert isinstance(G, StyleGAN2Generator) and G.config["conv_clamp"] == 1.5 and G.num_ws == 8
    z = torch.from_numpy(out["z"])
    with torch.no_grad():
        assert _max_diff(G(z), out["img"]) < TOL
        assert _max_diff(G(z, truncation=0.7), out["img_psi07"]) < TOL
        assert _max_diff(G(z[:1]), out["img_batch1"]) < TOL
        assert _max_diff(G(z, fused_modconv=True), out["img"]) < TOL
        # the pickle's G differs from G_ema: we must have taken G_ema
        G_raw = load_nvlabs_pkl(FIX / "nvlabs_small.pkl", key="G")
        assert _max_diff(G_raw(z), out["img"]) > 0.1


def test_nvlabs_pickle_layout_is_the_persistence_layout():
    data = read_nvlabs_pickle(FIX / "nvlabs_small.pkl")
    assert set(data) == {"G", "D", "G_ema", "augment_pipe", "training_set_kwargs"}
    g = data["G_ema"]
    assert g.class_name == "Generator" and g.module("synthesis").class_name == "SynthesisNetwork"
    assert g.module("synthesis.b32.conv0").class_name == "SynthesisLayer"
    assert "synthesis.b8.conv0.noise_const" in g.state_dict() and "mapping.w_avg" in g.state_dict()
    raw = (FIX / "nvlabs_small.pkl").read_bytes()
    assert b"torch_utils.persistence" in raw and b"_reconstruct_persistent_obj" in raw
    assert b"def modulated_conv2d" not in raw and b"persistent_class" not in raw  # no NVlabs source code committed


def test_rosinality_checkpoint_reproduces_original_outputs():
    out = np.load(FIX / "rosinality_small_outputs.npz")
    G = load_generator(FIX / "rosinality_small.pt")
    z = torch.from_numpy(out["z"])
    with torch.no_grad():
        assert _max_diff(G(z), out["img"]) < TOL
        assert _max_diff(G(z, truncation=0.7), out["img_psi07"]) < TOL  # latent_avg became w_avg
        assert _max_diff(G.synthesis(torch.from_numpy(out["wplus"])), out["img_wplus"]) < TOL


def test_rosinality_conversion_both_ways(tmp_path):
    G = load_rosinality_pt(FIX / "rosinality_small.pt")
    to_rosinality(G, tmp_path / "back.pt")
    orig = torch.load(FIX / "rosinality_small.pt", weights_only=True)
    back = torch.load(tmp_path / "back.pt", weights_only=True)
    assert set(back["g_ema"]) == set(orig["g_ema"])
    for k, v in orig["g_ema"].items():
        assert torch.equal(back["g_ema"][k], v), k
    assert torch.equal(back["latent_avg"], orig["latent_avg"].reshape(-1))


def test_ours_to_rosinality_and_back(tmp_path):
    G = small_g(1)
    to_rosinality(G, tmp_path / "g.pt")
    G2 = load_generator(tmp_path / "g.pt")
    z = G.sample_z(3, seed=4)
    with torch.no_grad(): assert _max_diff(G2(z, truncation=0.6), G(z, truncation=0.6)) < 1e-6
    with pytest.raises(ConfigError, match="z_dim == w_dim"):
        to_rosinality(small_g(1, z_dim=16), tmp_path / "x.pt")


# ---------------------------------------------------------------- hostile files never run
class _Evil:
    def __init__(self, marker): self.marker = marker
    def __reduce__(self): return (os.system, (f"touch {self.marker}",))


def test_hostile_pickle_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps({"G_ema": _Evil(marker)}))
    with pytest.raises(UnsafePickleError, match="system"):
        load_generator(tmp_path / "evil.pkl")
    assert not marker.exists()
    (tmp_path / "eval.pkl").write_bytes(b"cbuiltins\neval\n(V__import__('os').system('touch " + str(marker).encode() + b"')\ntR.")
    with pytest.raises(UnsafePickleError, match="builtins.eval"):
        load_generator(tmp_path / "eval.pkl")
    assert not marker.exists()


def test_persistent_module_source_is_never_executed(tmp_path):
    marker = tmp_path / "pwned"
    data = read_nvlabs_pickle(FIX / "nvlabs_small.pkl")
    write_nvlabs_pickle(data, tmp_path / "src.pkl", module_src=f"open({str(marker)!r}, 'w').write('ran')\n")
    assert b"open(" in (tmp_path / "src.pkl").read_bytes()  # the payload is really inside the file
    G = load_generator(tmp_path / "src.pkl")  # loads: the weights are fine, the source is kept as a string
    assert isinstance(G, StyleGAN2Generator) and not marker.exists()


def test_hostile_tensor_storage_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    buf = io.BytesIO(); torch.save(_Evil(marker), buf)  # a "storage" whose torch.save payload runs code

    class FakeStorage:
        def __reduce__(self): return (torch.storage._load_from_bytes, (buf.getvalue(),))
    (tmp_path / "storage.pkl").write_bytes(pickle.dumps({"G_ema": FakeStorage()}))
    with pytest.raises(UnsafePickleError):
        load_generator(tmp_path / "storage.pkl")
    assert not marker.exists()


def test_hostile_torch_checkpoint_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    torch.save({"g_ema": _Evil(marker)}, tmp_path / "evil.pt")
    with pytest.raises(UnsafePickleError, match="would run code"):
        load_generator(tmp_path / "evil.pt")
    assert not marker.exists()


# ---------------------------------------------------------------- broken files
@pytest.mark.parametrize("name", ["nvlabs_small.pkl", "rosinality_small.pt"])
def test_truncated_and_corrupt_checkpoints(tmp_path, name):
    raw = (FIX / name).read_bytes()
    (tmp_path / f"cut_{name}").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_generator(tmp_path / f"cut_{name}")
    (tmp_path / f"junk_{name}").write_bytes(os.urandom(4096))
    with pytest.raises(CheckpointError):
        load_generator(tmp_path / f"junk_{name}")


def test_truncated_safetensors(tmp_path):
    small_g().save(tmp_path / "g.safetensors")
    raw = (tmp_path / "g.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(raw[: len(raw) - 100])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_generator(tmp_path / "cut.safetensors")


def test_wrong_layout_pt(tmp_path):
    torch.save({"g_ema": {"foo": torch.zeros(1)}}, tmp_path / "x.pt")
    with pytest.raises(CheckpointError, match="rosinality"):
        load_generator(tmp_path / "x.pt")
    torch.save({"something": 1}, tmp_path / "y.pt")
    with pytest.raises(CheckpointError, match="g_ema"):
        load_generator(tmp_path / "y.pt")


# ---------------------------------------------------------------- presets, paths, run folders
def test_unknown_preset_lists_names():
    with pytest.raises(ConfigError) as e:
        load_generator("afhq-kitten")
    for name in ("afhq-dog", "ffhq", "faces-dcgan", "shapes-photo", "shapes-red"):
        assert name in str(e.value)
    assert {"afhq-dog", "ffhq", "faces-dcgan", "shapes-photo", "shapes-red"} <= set(GENERATOR_PRESETS)


def test_missing_preset_says_where_to_get_and_put_it(tmp_path):
    with pytest.raises(MissingWeightsError) as e:
        load_generator("ffhq")
    msg = str(e.value)
    assert GENERATOR_PRESETS["ffhq"].url in msg and str(tmp_path / "weights") in msg and "ffhq.pkl" in msg


def test_preset_found_in_weights_dir(tmp_path):
    (tmp_path / "weights").mkdir()
    shutil.copy(FIX / "rosinality_small.pt", tmp_path / "weights" / GENERATOR_PRESETS["afhq-dog-rosinality"].filename)
    assert isinstance(load_generator("afhq-dog-rosinality"), StyleGAN2Generator)


def test_shapes_presets_point_to_training_notebook(monkeypatch, tmp_path):
    import air_nb.core.base as core
    monkeypatch.setattr(core, "PACKAGE_WEIGHTS", tmp_path / "empty")
    for name in ("shapes-photo", "shapes-red"):
        with pytest.raises(MissingWeightsError, match="train_world2_generator.ipynb"):
            load_generator(name)


def test_missing_file_and_run_folder(tmp_path):
    with pytest.raises(MissingWeightsError, match="does not exist"):
        load_generator(tmp_path / "nope.pkl")
    (tmp_path / "run").mkdir()
    with pytest.raises(ConfigError, match="is not a run folder"):
        load_generator(tmp_path / "run")
    (tmp_path / "run" / "config.json").write_text("{}")
    with pytest.raises(MissingWeightsError, match="generator_ema.safetensors"):
        load_generator(tmp_path / "run")
    G = small_g(2)
    G.save(tmp_path / "run" / "generator_ema.safetensors")
    z = G.sample_z(2, seed=1)
    with torch.no_grad(): assert torch.equal(load_generator(tmp_path / "run")(z), G(z))
    with pytest.raises(ConfigError, match="cannot tell the format"):
        (tmp_path / "x.bin").write_bytes(b"0"); load_generator(tmp_path / "x.bin")


# ---------------------------------------------------------------- faces DCGAN
def test_faces_dcgan():
    assert dcgan.faces_dcgan_weights_path() is not None, "gan-face-generate is not installed (make setup installs it)"
    G = load_generator("faces-dcgan")
    assert isinstance(G, DCGANGenerator) and (G.z_dim, G.w_dim, G.num_ws, G.resolution) == (100, 100, 1, 64)
    x = G.sample(2, seed=0)
    assert x.shape == (2, 3, 64, 64) and x.min() >= -1 and x.max() <= 1
    assert _max_diff(F.avg_pool2d(x, 4), np.load(FIX / "faces_dcgan_seed0_pool4.npy")) < TOL
    assert torch.equal(G.sample(2, seed=0), x) and _max_diff(G.sample(2, seed=1), x) > 0.1
    # batch norm uses running statistics in training mode too: the batch size does not change an image
    G.train()
    with torch.no_grad(): assert _max_diff(G(G.sample_z(2, seed=0))[:1], G(G.sample_z(1, seed=0))) < 1e-5


def test_faces_dcgan_missing_package(monkeypatch):
    monkeypatch.setattr(dcgan, "faces_dcgan_weights_path", lambda: None)
    with pytest.raises(MissingWeightsError, match="pip install --no-deps gan-face-generate==1.1.1"):
        load_generator("faces-dcgan")


# ---------------------------------------------------------------- interface behaviour
@pytest.mark.parametrize("make", [lambda: small_g(3), lambda: DCGANGenerator(100, 8)])
def test_save_load_round_trip(tmp_path, make):
    G = make().eval()
    G.save(tmp_path / "g.safetensors")
    G2 = Generator.load(tmp_path / "g.safetensors")
    assert type(G2) is type(G) and G2.config == G.config
    z = G.sample_z(3, seed=5)
    with torch.no_grad(): assert torch.equal(G2(z, truncation=0.8), G(z, truncation=0.8))
    from safetensors import safe_open
    with safe_open(str(tmp_path / "g.safetensors"), "pt") as f:
        assert "air_nb_config" in f.metadata()


def test_w_and_w_plus_agree():
    G = small_g(4)
    w = G.mapping(G.sample_z(3, seed=2))
    with torch.no_grad():
        assert _max_diff(G.synthesis(w), G.synthesis(w[:, None].expand(-1, G.num_ws, -1))) < 1e-6
    with pytest.raises(ConfigError, match="W\\+"):
        G.synthesis(torch.zeros(2, 5, 32))


def test_set_trainable_trains_only_those_layers():
    G = small_g(5).train()
    G.set_trainable(["b16.conv1"])
    G(G.sample_z(2, seed=0)).square().mean().backward()
    with_grad = {n for n, p in G.named_parameters() if p.grad is not None}
    assert with_grad and all(n.startswith("b16.conv1.") for n in with_grad)
    G.set_trainable()
    names = {n for n, p in G.named_parameters() if p.requires_grad}
    assert not any(n.startswith("mapping_network") or ".torgb." in n or n.endswith("const") for n in names)
    assert len(G.w_layer_names) == G.num_ws and set(sum(G.w_layer_names, [])) == set(G.trainable_layers())
    with pytest.raises(ConfigError, match="unknown trainable layer"):
        G.set_trainable(["mapping_network.fc0"])


def test_frozen_copy_and_ema():
    G = small_g(6)
    Fz = G.frozen_copy()
    assert not Fz.training and not any(p.requires_grad for p in Fz.parameters())
    with torch.no_grad():
        for p in G.parameters(): p.add_(1.0)
        G.w_avg.add_(2.0)
    assert all(torch.equal(a + 1, b) for a, b in zip(Fz.parameters(), G.parameters()))
    E = Fz.frozen_copy().ema_update(G, decay=0.9)
    for a, e, g in zip(Fz.parameters(), E.parameters(), G.parameters()):
        assert torch.allclose(e, 0.9 * a + 0.1 * g, atol=1e-6)
    assert torch.allclose(E.w_avg, Fz.w_avg + 0.2, atol=1e-6)  # buffers move too


# ---------------------------------------------------------------- the seam: latents, synthesize, reference_copy
def _faces_or_random_dcgan():
    if dcgan.faces_dcgan_weights_path() is not None: return load_generator("faces-dcgan")
    torch.manual_seed(0)
    return DCGANGenerator(100, 8).eval()


@pytest.mark.parametrize("make", [lambda: small_g(7), lambda: load_generator(FIX / "nvlabs_small.pkl"), _faces_or_random_dcgan])
def test_seam_is_the_old_mapping_synthesis_and_frozen_copy(make):
    "The seam computes exactly what mapping / synthesis / frozen_copy computed: same ops, same bits."
    G = make()
    z = G.sample_z(4, seed=3)
    with torch.no_grad():
        for t in (1.0, 0.7):
            w = G.latents(z, t)
            assert torch.equal(w, G.mapping(z, t))
            img = G.synthesize(w)
            # the old path, spelled out: W -> W+ -> per-architecture synthesis
            ws = G.as_w_plus(G.mapping(z, t))
            if isinstance(G, StyleGAN2Generator):
                x = old = None; i = 0
                for res in G.block_resolutions:
                    block = getattr(G, f"b{res}")
                    x, old = block(x, old, ws[:, i: i + block.num_conv + 1], "const", False)
                    i += block.num_conv
            else: old = G.main(ws[:, 0, :, None, None])
            assert torch.equal(img, old) and torch.equal(G.synthesis(w), img) and torch.equal(G(z, t), img)
            img2, feats = G.synthesize(w, return_features=True)
            assert torch.equal(img2, img)
        R = G.reference_copy()
        assert not R.training and not any(p.requires_grad for p in R.parameters())
        assert torch.equal(R(z, 0.7), G(z, 0.7)) and torch.equal(G.frozen_copy()(z, 0.7), R(z, 0.7))
        assert all(a.data_ptr() != b.data_ptr() for a, b in zip(R.parameters(), G.parameters()))


@pytest.mark.parametrize("make", [lambda: small_g(8), _faces_or_random_dcgan])
def test_features_are_the_outputs_of_the_named_layers(make):
    G = make()
    w = G.latents(G.sample_z(2, seed=1))
    with torch.no_grad():
        img, feats = G.synthesize(w, return_features=True)
        seen = {}
        hooks = [G.get_submodule(k).register_forward_hook(lambda m, i, o, k=k: seen.__setitem__(k, o)) for k in feats]
        G.synthesize(w)
        for h in hooks: h.remove()
    assert list(seen) == list(feats) and all(torch.equal(seen[k], feats[k]) for k in feats)
    sizes = [f.shape[-1] for f in feats.values()]
    assert sizes == sorted(sizes) and sizes[0] == 4 and all(f.shape[0] == 2 for f in feats.values())  # shallow to deep
    assert sizes[-1] == (G.resolution if isinstance(G, StyleGAN2Generator) else G.resolution // 2)


def test_features_carry_gradients_to_the_trained_layers():
    G = small_g(9).train().set_trainable(["b8.conv0"])
    _, feats = G.synthesize(G.latents(G.sample_z(2, seed=0)), return_features=True)
    feats["b8.conv1"].square().mean().backward()
    assert G.b8.conv0.weight.grad is not None and G.b4.conv1.weight.grad is None


def test_sample_z_is_sample_latents():
    G = small_g(10)
    assert torch.equal(G.sample_z(7, seed=5), sample_latents(G.z_dim, 7, seed=5))
    assert torch.equal(sample_latents(32, 9, seed=2)[:3], sample_latents(32, 3, seed=2))
    with pytest.raises(ConfigError, match="at least 1"): G.sample_z(0)


def test_the_interface_imports_no_concrete_architecture():
    "The interface (air_nb.models.base) imports neither StyleGAN2 nor the DCGAN nor the checkpoint readers; it builds them by name on demand."
    import subprocess, sys
    code = ("import sys, air_nb.models.base as g; assert not {'air_nb.models.stylegan2', 'air_nb.models.dcgan', 'air_nb.models.checkpoints'} & set(sys.modules); "
            "assert g.Generator.from_config({'arch': 'dcgan', 'z_dim': 4, 'ngf': 2}).arch == 'dcgan'")
    subprocess.run([sys.executable, "-c", code], check=True)
