"""Discriminators: exact match with the original StyleGAN2 implementations (fixtures), safe loading, failure messages.

The fixtures in tests/fixtures/discriminators/ were made by running NVlabs' and rosinality's own code on small
random-weight discriminators (see "How the test fixtures were made" in nbs/01d_discriminators.ipynb)."""
import os, pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from air_nb.models.checkpoints import CheckpointError, UnsafePickleError, read_nvlabs_pickle, write_nvlabs_pickle
from air_nb.core.base import ConfigError, MissingWeightsError
from air_nb.models.discriminators import (StyleGAN2Discriminator, load_discriminator, load_nvlabs_discriminator,
                                   load_rosinality_discriminator, r1_penalty)

FIX = Path(__file__).resolve().parent / "fixtures" / "discriminators"
TOL = 1e-4  # per logit


@pytest.mark.parametrize("name", ["nvlabs_d_small.pkl", "rosinality_d_small.pt"])
def test_official_discriminators_reproduce_original_logits(name):
    ref = np.load(FIX / (name.rsplit(".", 1)[0] + "_outputs.npz"))
    D = load_discriminator(FIX / name)
    x = torch.from_numpy(ref["x"])
    with torch.no_grad():
        for b in (8, 4, 2, 1):   # minibatch-stddev groups of 4, 2 and 1
            diff = (D(x[:b]) - torch.from_numpy(ref[f"logits_b{b}"])).abs().max().item()
            assert diff < TOL, (name, b, diff)
    # the logits really depend on the image (a loader that ignored the weights would not pass by chance)
    assert np.ptp(ref["logits_b8"]) > 10 * TOL


def test_nvlabs_details_are_read_from_the_pickle():
    D = load_nvlabs_discriminator(FIX / "nvlabs_d_small.pkl")
    assert D.config["conv_clamp"] == 1.5 and D.mbstd_group == 4 and D.channels == {32: 4, 16: 8, 8: 8, 4: 8}
    raw = (FIX / "nvlabs_d_small.pkl").read_bytes()
    assert b"torch_utils.persistence" in raw and b"class DiscriminatorBlock" not in raw   # no NVlabs source committed


def test_patch_head_is_added_to_official_weights():
    D0 = load_rosinality_discriminator(FIX / "rosinality_d_small.pt")
    D = load_rosinality_discriminator(FIX / "rosinality_d_small.pt", patch_resolution=8)
    x = torch.rand(4, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(D(x), D0(x))
        assert D(x, patch=True).shape == (4, 8, 8)


def test_r1_on_patch_logits_averages_per_image():
    D = StyleGAN2Discriminator(32, channel_base=256, channel_max=8, patch_resolution=8)
    x = (torch.rand(2, 3, 32, 32) * 2 - 1).requires_grad_(True)
    r1 = r1_penalty(x, D(x, patch=True))
    (g,) = torch.autograd.grad(D(x, patch=True).flatten(1).mean(1).sum(), x)
    assert torch.allclose(r1, g.square().sum([1, 2, 3]).mean())


# ---------------------------------------------------------------- hostile files never run
class _Evil:
    def __init__(self, marker): self.marker = marker
    def __reduce__(self): return (os.system, (f"touch {self.marker}",))


def test_hostile_pickle_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps({"D": _Evil(marker)}))
    with pytest.raises(UnsafePickleError, match="system"):
        load_nvlabs_discriminator(tmp_path / "evil.pkl")
    assert not marker.exists()


def test_persistent_module_source_is_never_executed(tmp_path):
    marker = tmp_path / "pwned"
    write_nvlabs_pickle(read_nvlabs_pickle(FIX / "nvlabs_d_small.pkl"), tmp_path / "src.pkl",
                        module_src=f"open({str(marker)!r}, 'w').write('ran')\n")
    assert b"open(" in (tmp_path / "src.pkl").read_bytes()
    assert isinstance(load_nvlabs_discriminator(tmp_path / "src.pkl"), StyleGAN2Discriminator) and not marker.exists()


def test_hostile_torch_checkpoint_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    torch.save({"d": _Evil(marker)}, tmp_path / "evil.pt")
    with pytest.raises(UnsafePickleError, match="would run code"):
        load_rosinality_discriminator(tmp_path / "evil.pt")
    assert not marker.exists()


# ---------------------------------------------------------------- broken and wrong files
@pytest.mark.parametrize("name", ["nvlabs_d_small.pkl", "rosinality_d_small.pt"])
def test_truncated_and_corrupt_checkpoints(tmp_path, name):
    raw = (FIX / name).read_bytes()
    (tmp_path / f"cut_{name}").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_discriminator(tmp_path / f"cut_{name}")
    (tmp_path / f"junk_{name}").write_bytes(os.urandom(4096))
    with pytest.raises(CheckpointError):
        load_discriminator(tmp_path / f"junk_{name}")


def test_checkpoints_without_a_discriminator(tmp_path):
    data = read_nvlabs_pickle(FIX / "nvlabs_d_small.pkl")
    write_nvlabs_pickle({"G_ema": data["G_ema"]}, tmp_path / "g_only.pkl")
    with pytest.raises(CheckpointError, match="no 'D' entry"):
        load_nvlabs_discriminator(tmp_path / "g_only.pkl")
    with pytest.raises(CheckpointError, match="expected an NVlabs 'Discriminator'"):
        load_nvlabs_discriminator(FIX / "nvlabs_d_small.pkl", key="G_ema")
    torch.save({"g_ema": {}}, tmp_path / "g.pt")
    with pytest.raises(CheckpointError, match="no 'd' state dict"):
        load_rosinality_discriminator(tmp_path / "g.pt")
    torch.save({"d": {"foo": torch.zeros(1)}}, tmp_path / "x.pt")
    with pytest.raises(CheckpointError, match="rosinality"):
        load_rosinality_discriminator(tmp_path / "x.pt")
    with pytest.raises(MissingWeightsError):
        load_rosinality_discriminator(tmp_path / "absent.pt")
    with pytest.raises(ConfigError, match=".pkl"):
        load_discriminator(tmp_path / "d.npz")
