"""RSSA parity: air_nb's default self-correlation loss against the value RSSA's own code computes.

tests/fixtures/parity/rssa/ was made by tools/parity/rssa.py: RSSA's `model.Generator` (a rosinality StyleGAN2, its
channel table shrunk) at 256 px with random weights as the source, a perturbed copy as the adapted generator (same
mapping, same stored noise), and the self-correlation block of RSSA's `train_face_proj.py` run on their `return_feats`
maps with `randomize_noise=False`, and its cross-sample `dis_corr` block on the 4 latents that block drew.
generators.pt is a rosinality training checkpoint: `g` the adapted generator,
`g_ema` the source, so loading it also checks `load_generator(..., weights="raw" / "ema")`."""
from pathlib import Path

import numpy as np
import pytest
import torch

from air_nb.methods.rssa import (RssaConfig, cross_correlation_loss, dc_layers, sc_layers, self_correlation_loss,
                                windowed_self_correlation_loss)
from air_nb.models.generators import load_generator

FIX = Path(__file__).resolve().parent / "fixtures" / "parity" / "rssa"
REL = 1e-4
CODE_LAYERS = ["b64.conv0", "b64.conv1", "b128.conv0", "b128.conv1", "b256.conv0", "b256.conv1"]


def _rosinality_key(i: int) -> str:
    "The air_nb feature key of the i-th map of rosinality's `return_feats` (conv1 at 4 px, then conv0, conv1 per block)."
    return "b4.conv1" if i == 0 else f"b{2 ** ((i + 1) // 2 + 2)}.conv{(i + 1) % 2}"


def _features(z):
    src = load_generator(FIX / "generators.pt", weights="ema")
    tgt = load_generator(FIX / "generators.pt", weights="raw")
    with torch.no_grad():
        w = src.map_latent(z)
        assert torch.equal(tgt.map_latent(z), w)          # the same mapping: RSSA's z gives both the same w
        _, fs = src.synthesize(w, return_features=True, noise_mode="const")    # stored noise, as randomize_noise=False
        _, ft = tgt.synthesize(w, return_features=True, noise_mode="const")
    return fs, ft


@pytest.fixture(scope="module")
def case():
    torch.set_num_threads(1)
    exp = np.load(FIX / "expected.npz")
    return (exp, *_features(torch.from_numpy(exp["z"])))


def test_default_loss_is_the_codes(case):
    exp, fs, ft = case
    cfg = RssaConfig()
    layers = sc_layers(ft, 256, cfg.sc_layers)
    assert layers == CODE_LAYERS
    with torch.no_grad():
        value = cfg.sc_weight * self_correlation_loss(fs, ft, layers, cfg.sc_form, cfg.sc_max_size)
    assert cfg.sc_weight == float(exp["weight"])
    assert abs(value.item() - float(exp["weighted"])) <= REL * float(exp["weighted"]), (value.item(), float(exp["weighted"]))


def test_each_map_is_the_codes(case):
    exp, fs, ft = case
    keys = [_rosinality_key(i) for i in range(len(exp["sides"]))]
    assert [fs[k].shape[-1] for k in keys] == list(exp["sides"])      # every StyledConv output, in rosinality's order
    with torch.no_grad():
        for k, side, want in zip(keys, exp["sides"], exp["parts"]):
            if not 64 <= side <= 256: assert want == 0; continue         # the code skips maps outside 64..256
            got = windowed_self_correlation_loss(fs[k], ft[k]).item()
            assert want > 0 and abs(got - want) <= REL * want, (k, got, want)


def test_older_form_is_a_different_loss(case):
    "The legacy switch (whole maps, mean over the second convolutions) gives another value: the test above can fail."
    exp, fs, ft = case
    with torch.no_grad():
        old = 0.8 * self_correlation_loss(fs, ft, sc_layers(ft, 256, "auto"), "whole-map")
    assert abs(old.item() - float(exp["weighted"])) > 0.1 * float(exp["weighted"])


def test_cross_sample_term_is_the_codes():
    "RSSA's dis_corr: its 10 maps at 256 px (to b128.conv0), 64 and 128 px maps in a 4x4 grid, / 6; and each map alone."
    torch.set_num_threads(1)
    exp = np.load(FIX / "expected.npz")
    fs, ft = _features(torch.from_numpy(exp["dc_z"]))
    layers = dc_layers(ft, 256)
    assert layers == [_rosinality_key(i) for i in range(10)]
    assert RssaConfig().dc_weight == float(exp["dc_weight"]) and RssaConfig().dc_every == 6
    with torch.no_grad():
        got = cross_correlation_loss(fs, ft, layers, 256).item()
        assert abs(got - float(exp["dc_loss"])) <= REL * float(exp["dc_loss"]), (got, float(exp["dc_loss"]))
        for k, want in zip(layers, exp["dc_parts"]):
            part = cross_correlation_loss(fs, ft, [k], 256).item()
            assert abs(part - want) <= REL * want, (k, part, want)
