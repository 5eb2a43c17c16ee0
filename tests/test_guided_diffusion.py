"""`load_guided_diffusion` against the original guided-diffusion `UNetModel` (fixtures from tools/make_adm_fixtures.py),
and its refusals: code-carrying pickles, missing files, wrong flags."""
import json, os
from pathlib import Path

import pytest
import torch

from air_nb.core.base import ConfigError, MissingWeightsError
from air_nb.models.guided_diffusion import (ADM_PRESETS, P2_FLAGS, adm_preset_path, create_adm, load_guided_diffusion, random_state_dict,
                                     read_state_dict)

FIXTURES = Path(__file__).parent / "fixtures" / "guided_diffusion"


@pytest.mark.parametrize("name", ["attn", "noattn"])
def test_matches_original_unet(name, tmp_path):
    fx = torch.load(FIXTURES / f"{name}.pt", weights_only=True)
    flags, shapes = json.loads(fx["flags"]), json.loads(fx["shapes"])
    ours = create_adm(**flags)
    assert {k: list(v.shape) for k, v in ours.state_dict().items()} == shapes      # same parameter names and shapes
    ckpt = tmp_path / f"{name}.pt"
    torch.save(random_state_dict(shapes, fx["seed"]), ckpt)                          # a bare state dict, as guided-diffusion saves
    model = load_guided_diffusion(ckpt, **flags)
    with torch.no_grad(): out = model(fx["x"], fx["t"])
    assert out.shape == fx["out"].shape
    assert (out - fx["out"]).abs().max() < 1e-4
    assert fx["out"].std() > 0.1                                                     # the fixture is not trivially zero


def test_half_precision_checkpoint_loads(tmp_path):
    fx = torch.load(FIXTURES / "noattn.pt", weights_only=True)
    flags, shapes = json.loads(fx["flags"]), json.loads(fx["shapes"])
    torch.save({k: v.half() for k, v in random_state_dict(shapes, fx["seed"]).items()}, tmp_path / "h.pt")
    model = load_guided_diffusion(tmp_path / "h.pt", **flags)
    assert next(model.parameters()).dtype == torch.float32
    with torch.no_grad(): assert (model(fx["x"], fx["t"]) - fx["out"]).abs().max() < 0.05


class _CodeInPickle:
    def __reduce__(self): return (os.system, ("echo should-never-run",))


def test_pickle_with_code_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"w": _CodeInPickle()}, path)
    with pytest.raises(ConfigError, match="would run code"): read_state_dict(path)
    with pytest.raises(ConfigError, match="would run code"): load_guided_diffusion(path, **P2_FLAGS)


def test_missing_file_says_where_to_download(tmp_path, monkeypatch):
    monkeypatch.setenv("AIR_NB_WEIGHTS", str(tmp_path))
    with pytest.raises(MissingWeightsError, match="P2-weighting"): load_guided_diffusion(tmp_path / "ffhq_p2.pt", **P2_FLAGS)
    with pytest.raises(MissingWeightsError, match="ffhq_p2.pt"): adm_preset_path("ffhq-p2")


def test_wrong_flags_and_not_a_state_dict(tmp_path):
    fx = torch.load(FIXTURES / "attn.pt", weights_only=True)
    flags, shapes = json.loads(fx["flags"]), json.loads(fx["shapes"])
    torch.save(random_state_dict(shapes, 0), tmp_path / "a.pt")
    with pytest.raises(ConfigError, match="does not fit"): load_guided_diffusion(tmp_path / "a.pt", **{**flags, "learn_sigma": False})
    with pytest.raises(ConfigError, match="unknown guided-diffusion flag"): load_guided_diffusion(tmp_path / "a.pt", **flags, num_chanels=3)
    torch.save([1, 2], tmp_path / "l.pt")
    with pytest.raises(ConfigError, match="state dict"): read_state_dict(tmp_path / "l.pt")


def test_p2_presets():
    assert {v["filename"] for v in ADM_PRESETS.values()} == {"ffhq_p2.pt", "afhqdog_p2.pt"}
    m = create_adm(**P2_FLAGS)
    n = sum(p.numel() for p in m.parameters())
    assert 80e6 < n < 100e6, n          # P2's README: ADM-light, 93M parameters
    assert m.out_channels == 6
