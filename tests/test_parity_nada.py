"""air_nb's NADA defaults against StyleGAN-NADA's released code (rinongal/StyleGAN-nada, ZSSGAN/).

The fixtures in tests/fixtures/parity/nada/ were made by tools/parity/nada.py, which runs NADA's own functions on a
tiny random rosinality generator (32 px, 16 channels; `generator.pt`, float16 values) and a random-weight ViT-B-32
(open_clip, drawn after `torch.manual_seed(0)`): its text direction over its 79 templates, its layer selection
(`determine_opt_layers`, k = 4) from two seeds, and one training step without selection. Each test runs air_nb with
its defaults on the same inputs. Relative differences are max |air_nb - NADA| / max |NADA| per tensor.
"""
import contextlib, copy, inspect, json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from air_nb.clip.models import NADA_TEMPLATES, load_clip, resolve_templates, text_direction, text_features
from air_nb.methods import nada as nada_module
from air_nb.methods.base import RunConfig
from air_nb.methods.nada import Nada, NadaConfig, layer_movement, select_layers
from air_nb.models.checkpoints import _rosinality_names, load_rosinality_pt

FIX = Path(__file__).parent / "fixtures" / "parity" / "nada"
EXPECTED = json.loads((FIX / "expected.json").read_text())
TOL = 1e-4


def rel(ours: torch.Tensor, ref: torch.Tensor) -> float:
    return float((ours.float() - ref.float()).abs().max() / ref.float().abs().max())


def ours_layer(rosinality: str) -> str:
    "air_nb's module for one of NADA's `[conv1, to_rgb1] + convs` layers."
    if rosinality == "conv1": return "b4.conv1"
    if rosinality == "to_rgb1": return "b4.torgb"
    j = int(rosinality.split(".")[1])
    return f"b{2 ** (3 + j // 2)}.conv{j % 2}"


@pytest.fixture(scope="module")
def clip():
    state = torch.random.get_rng_state()
    torch.manual_seed(EXPECTED["clip_seed"])
    try: return load_clip("ViT-B-32", None, "cpu")
    finally: torch.random.set_rng_state(state)


@pytest.fixture(scope="module")
def tensors():
    return torch.load(FIX / "tensors.pt", weights_only=True)


@pytest.fixture(scope="module")
def cached_text(clip):
    "air_nb's own text functions, each computed once per argument set for this module (the 79-template passes are slow)."
    cache = {}
    def memo(fn):
        sig = inspect.signature(fn)
        def wrapped(*args, **kw):
            bound = sig.bind(*args, **kw); bound.apply_defaults()           # defaults filled in: one key per computation
            key = (fn.__name__, *[id(v) if isinstance(v, type(clip)) else (tuple(v) if isinstance(v, (list, tuple)) else v)
                                  for v in bound.arguments.values()])
            if key not in cache: cache[key] = fn(*args, **kw)
            return cache[key].clone()
        return wrapped
    return SimpleNamespace(direction=memo(text_direction), features=memo(text_features))


def generator():
    return load_rosinality_pt(FIX / "generator.pt")


def fake_trainer(G_s, G_t, clip, run, seed=0):
    "What `Trainer._models` hands a method: the source, the trained copy with its trainable layers, the CLIP, one RNG."
    layers = G_t.trainable_layers()
    trainable = list(layers) if run.trainable in ("all", None) else list(run.trainable)
    G_t.set_trainable(trainable)
    return SimpleNamespace(run=run, clip=clip, generator=G_t, source=G_s, device=torch.device("cpu"), trainable=trainable,
                           trainable_parameters=[p for n in trainable for p in layers[n].parameters()],
                           rng=torch.Generator().manual_seed(seed), timer=lambda name: contextlib.nullcontext())


def setup_nada(monkeypatch, cached_text, config, trainer):
    monkeypatch.setattr(nada_module, "text_direction", cached_text.direction)
    monkeypatch.setattr(nada_module, "text_features", cached_text.features)
    m = Nada(config, trainer.run)
    m.setup(trainer)
    return m


def test_text_direction_default_is_nadas(clip, tensors, cached_text):
    assert resolve_templates("imagenet") == NADA_TEMPLATES and len(NADA_TEMPLATES) == EXPECTED["templates"]
    assert inspect.signature(text_direction).parameters["templates"].default == NADA_TEMPLATES
    d = cached_text.direction(clip, EXPECTED["source"], EXPECTED["target"])     # text_direction with its defaults
    assert rel(d, tensors["direction"]) < TOL, rel(d, tensors["direction"])


@pytest.mark.parametrize("seed", sorted(EXPECTED["selection"]))
def test_layer_selection_defaults_are_nadas(clip, tensors, seed):
    G = generator()
    ref = tensors["selection"][int(seed)]
    exp = EXPECTED["selection"][seed]
    bare = text_features(clip, EXPECTED["target"], ("{}",))[0]      # the bare target word, as NADA's code
    z = torch.randn(8, G.z_dim, generator=torch.Generator().manual_seed(int(seed)))
    assert torch.equal(z, ref["z"])                                    # NADA's z: torch.manual_seed(seed); torch.randn(8, 512)
    movement, loss = layer_movement(G, clip, bare, rng=torch.Generator().manual_seed(int(seed)))
    assert rel(movement, ref["movement"]) < TOL, rel(movement, ref["movement"])
    assert abs(loss - exp["global_loss"]) / abs(exp["global_loss"]) < TOL, (loss, exp["global_loss"])
    chosen = select_layers(G, clip, bare, EXPECTED["k"], rng=torch.Generator().manual_seed(int(seed)))
    assert set(chosen) == {ours_layer(n) for n in exp["layers"]}, (chosen, exp["layers"])
    assert select_layers(G, clip, bare, EXPECTED["k"], z=ref["z"]) == chosen           # the same z given directly


def test_nada_method_selects_nadas_layers(clip, monkeypatch, cached_text):
    seed = sorted(EXPECTED["selection"])[0]
    G_s = generator().reference_copy()
    tr = fake_trainer(G_s, copy.deepcopy(G_s), clip, RunConfig(method="nada", source=EXPECTED["source"], target=EXPECTED["target"]),
                      seed=int(seed))
    m = setup_nada(monkeypatch, cached_text, NadaConfig(auto_layer_k=EXPECTED["k"]), tr)
    m.before_step(0)
    expected = {ours_layer(n) for n in EXPECTED["selection"][seed]["layers"]}
    assert set(m.layers) == expected, (m.layers, expected)
    assert "b4.torgb" in expected                                       # NADA's off-by-one: W+ entry 1 trains the first toRGB
    trained = {n for n, p in tr.generator.named_parameters() if p.requires_grad}
    assert trained == {f"{l}.{n}" for l in expected for n, _ in tr.generator.get_submodule(l).named_parameters()}
    in_optimiser = {id(p) for p in m.parameters("G")}
    assert all(id(p) in in_optimiser for n, p in tr.generator.named_parameters() if p.requires_grad)


def test_training_step_defaults_are_nadas(clip, tensors, monkeypatch, cached_text):
    G_s = generator().reference_copy()
    G_t = copy.deepcopy(G_s)
    names = dict(_rosinality_names(G_t))
    with torch.no_grad():                                 # the fixture's trained copy: const x1.2, conv biases and noise strengths x2
        for ours, theirs in names.items():
            if theirs == "input.input": G_t.get_parameter(ours).mul_(1.2)
            elif theirs.startswith(("conv1.", "convs.")) and theirs.endswith(("activate.bias", "noise.weight")):
                G_t.get_parameter(ours).mul_(2.0)
    tr = fake_trainer(G_s, G_t, clip, RunConfig(method="nada", source=EXPECTED["source"], target=EXPECTED["target"]))
    m = setup_nada(monkeypatch, cached_text, NadaConfig(), tr)
    with torch.no_grad(): batch = {"latents": G_s.latents(tensors["step_z"])}
    terms = m.losses("G", 0, batch)
    loss = sum(m.loss_weights().get(k, 1.0) * v for k, v in terms.items())
    step = EXPECTED["step"]
    assert abs(float(loss) - step["loss"]) / step["loss"] < TOL, (float(loss), step["loss"])
    loss.backward()
    params = m.parameters("G")
    ids = {id(p) for p in params}
    ours_trained = {names[n] for n, p in G_t.named_parameters() if id(p) in ids}
    assert ours_trained == set(step["trained"])                         # the constant, conv1 and every conv; no toRGB, no mapping
    grads = torch.load(FIX / "step_grads.pt", weights_only=True)
    worst = 0.0
    for n, p in G_t.named_parameters():
        if id(p) not in ids: continue
        ref = grads[names[n]].reshape(p.shape)
        worst = max(worst, rel(p.grad, ref))
    assert worst < TOL, worst
