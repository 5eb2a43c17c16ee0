"""IDC's and ASC's consistency terms with air_nb's DEFAULTS against the authors' code.

tests/fixtures/parity/idc_asc/ was made by tools/parity/idc_asc.py, which ran the distance-consistency block of IDC's
train.py and the LFC block of ASC's train.py (with their own flow, RoI align and Sobel code, under ASC's run_train.sh
flags) on a random 128 px rosinality generator pair, with the noise maps injected. It holds those inputs (weights,
noise, latents, the drawn layers and positions) and what the code computed. Here air_nb computes the same from the
same inputs with its default configuration. Relative tolerance 1e-4 (measured differences are a few 1e-7).
"""
from contextlib import nullcontext
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from air_nb.methods.idc import Idc, IdcConfig, feature_layers, idc_loss
from air_nb.methods.asc import Asc, AscConfig, asc_layers, asc_loss, farneback_gray, to_gray_uint8
from air_nb.models.checkpoints import load_rosinality_pt

FIX = Path(__file__).parent / "fixtures" / "parity" / "idc_asc"
RTOL = 1e-4


def rel(a, b) -> float:
    a, b = (torch.as_tensor(x).detach().to(torch.float64) for x in (a, b))
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-30))


@pytest.fixture(scope="module")
def setup():
    torch.set_num_threads(1)
    exp = torch.load(FIX / "expected.pt", weights_only=False)
    noise = torch.load(FIX / "noise.pt", weights_only=True)
    gens = {k: load_rosinality_pt(FIX / "generators.pt", key=k).eval() for k in ("source", "target")}
    return exp, {k: [n.float() for n in v] for k, v in noise.items()}, gens


def features(G, z, noise, grad=False):
    "Images and features of `G` for latents `z` (its own mapping), with the given noise maps."
    with torch.set_grad_enabled(grad): return G.synthesize(G.latents(z), return_features=True, noise_maps=noise)


def method(cls, config_cls, seed=0):
    m = cls(config_cls(target_images="x"), SimpleNamespace(batch=4))
    m.trainer = SimpleNamespace(rng=torch.Generator().manual_seed(seed), timer=lambda name: nullcontext())
    return m


def our_grads(G) -> dict:
    "The gradients the fixture holds, in the code's layout: the constant (1, C, 4, 4) and every noise strength in forward order."
    g = lambda p: torch.zeros_like(p) if p.grad is None else p.grad
    return {"input": g(G.b4.const)[None], "noise_weights": torch.stack([g(G.get_submodule(n).noise_strength) for n in G.trainable_layers()])}


def test_idc_default_layers_are_the_codes(setup):
    "The code draws randint(1, n_latent - 1): every feature map but the first; air_nb's default layer set is that list."
    _, noise, gens = setup
    G = gens["source"]
    _, feats = features(G, torch.zeros(4, G.z_dim), noise["source"])
    n_latent = G.num_ws                                     # rosinality's n_latent = 2 log2(size) - 2
    assert len(feats) == n_latent - 1                       # every StyledConv, as its return_feats
    assert feature_layers(feats) == list(feats)[1:] and len(feature_layers(feats)) == len(range(1, n_latent - 1))
    assert IdcConfig().idc_layer_sampling == "random" and IdcConfig().consistency_batch == 4


def test_features_are_the_codes_return_feats(setup):
    "synthesize(return_features=True) lists every StyledConv output as the code's return_feats does, in its order."
    exp, noise, gens = setup
    e = exp["idc"]
    G = gens["target"]
    with torch.no_grad(): img, feats = features(G, e["z"], noise["target"])
    assert len(feats) == len(e["feats_pooled"]) and rel(F.adaptive_avg_pool2d(img, 16), e["image_pooled"]) < RTOL
    for (name, f), want in zip(feats.items(), e["feats_pooled"]):
        assert rel(F.adaptive_avg_pool2d(f, 4), want) < RTOL, name


def test_idc_loss_and_gradients_match_the_code(setup):
    exp, noise, gens = setup
    e = exp["idc"]
    S, T = gens["source"], gens["target"]
    T.requires_grad_(True)
    for p in T.parameters(): p.grad = None
    _, fs = features(S, e["z"], noise["source"])
    _, ft = features(T, e["z"], noise["target"], grad=True)
    m = method(Idc, IdcConfig)
    rows = e["feat_ind"] - 1                                 # the code's index into the feature list -> into feature_layers
    loss = m.config.kl_weight * m.idc_term(None, ft, fs, rows=rows)
    assert rel(loss, e["rel_loss"]) < RTOL, (loss.item(), e["rel_loss"].item())
    loss.backward()
    ours = our_grads(T)
    for k in ("input", "noise_weights"): assert rel(ours[k], e["grads"][k]) < RTOL, k


def test_idc_draw_is_uniform_from_the_trainers_rng(setup):
    "Without given rows the method draws one layer per row from trainer.rng, uniform over the code's range."
    _, noise, gens = setup
    G = gens["source"]
    _, f = features(G, torch.randn(4, G.z_dim, generator=torch.Generator().manual_seed(0)), noise["source"])
    _, g = features(gens["target"], torch.randn(4, G.z_dim, generator=torch.Generator().manual_seed(0)), noise["target"])
    m = method(Idc, IdcConfig, seed=5)
    layers = feature_layers(f)
    want = idc_loss(f, g, layers, torch.randint(len(layers), (4,), generator=torch.Generator().manual_seed(5)))
    assert torch.equal(m.idc_term(None, g, f), want)
    draws = torch.randint(len(layers), (4000,), generator=torch.Generator().manual_seed(1))
    assert set(draws.tolist()) == set(range(len(layers)))   # code: randint(1, n_latent - 1) - 1 has the same range


def test_asc_grey_images_and_flow_match_the_code(setup):
    """air_nb's grey conversion of its own images gives the code's Farneback input up to the float32 floor (the images
    agree to ~1e-6 relative, so a pixel that sits on a rounding boundary may land one grey level apart), and air_nb's
    Farneback call on the code's grey images gives the code's flow."""
    exp, noise, gens = setup
    e = exp["asc"]
    c = AscConfig()
    with torch.no_grad():
        img_prev, _ = features(gens["source"], e["z"], noise["source"])
        img, _ = features(gens["target"], e["z"], noise["target"])
    for ours, code in ((to_gray_uint8(img_prev, c.flow_gray), e["gray_prev"]), (to_gray_uint8(img, c.flow_gray), e["gray_next"])):
        d = (torch.from_numpy(ours).int() - code.int()).abs()
        assert d.max() <= 1 and (d > 0).float().mean() < 1e-4, (d.max(), (d > 0).sum())
    flow = farneback_gray(e["gray_prev"].numpy(), e["gray_next"].numpy(), e["winsize"])
    assert rel(F.adaptive_avg_pool2d(flow, 32), e["flow_pooled"]) < RTOL
    cut = (flow[:, 0].abs() + flow[:, 1].abs()).flatten().quantile(c.flow_quantile)
    assert rel(cut, e["cut_off"]) < RTOL


def asc_from_code_flow(setup):
    "air_nb's ASC pairs (AscConfig() defaults) on the fixture's inputs, with the flow of the code's grey images and the code's draws."
    exp, noise, gens = setup
    e = exp["asc"]
    prev_G, G = gens["source"], gens["target"]             # G_{n-alpha} and G_n
    G.requires_grad_(True)
    for p in G.parameters(): p.grad = None
    with torch.no_grad(): img_prev, f_prev = features(prev_G, e["z"], noise["source"])
    img, f = features(G, e["z"], noise["target"], grad=True)
    m = method(Asc, AscConfig)
    flow = farneback_gray(e["gray_prev"].numpy(), e["gray_next"].numpy(), m.winsize(0))
    positions = [(p.long(), q.long()) for p, q in zip(e["p"], e["q"])]
    return e, m, G, f, m.asc_pairs(0, img_prev, img, f_prev, f, positions=positions, flow=flow)


def test_asc_layers_window_and_probabilities_match_the_code(setup):
    e, m, G, f, pairs = asc_from_code_flow(setup)
    assert asc_layers(f) == [list(f)[i] for i in e["layers"]] == pairs["layers"]
    assert m.winsize(0) == e["winsize"]
    for probs, want, s in zip(pairs["probs"], e["probs"], e["sizes"]):
        got = probs if s <= 32 else probs.reshape(4, 8, s // 8, 8, s // 8).sum((2, 4)).reshape(4, 64)
        assert rel(got, want) < RTOL, s


def test_asc_loss_and_gradients_match_the_code(setup):
    e, m, G, f, pairs = asc_from_code_flow(setup)
    c = m.config
    assert c.kl_weight * c.lambda_asc == e["weight"]
    loss = c.kl_weight * c.lambda_asc * asc_loss(pairs["src"], pairs["tgt"], c.asc_softmax)
    assert rel(loss, e["inner_loss"]) < RTOL, (loss.item(), e["inner_loss"].item())
    loss.backward()
    ours = our_grads(G)
    for k in ("input", "noise_weights"): assert rel(ours[k], e["grads"][k]) < RTOL, k
