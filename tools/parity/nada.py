"""Parity fixtures for StyleGAN-NADA: run NADA's own code (rinongal/StyleGAN-nada, ZSSGAN/) on a tiny random
rosinality generator and a random-weight ViT-B-32, and save only the inputs and the expected outputs.

    python tools/parity/nada.py --reference <StyleGAN-nada clone> --scratch <scratch folder> \
        --out tests/fixtures/parity/nada

What is run (all on CPU, float32), each through NADA's own functions in a scratch export of its repository:
- `CLIPLoss.compute_text_direction(source, target)`: the text direction over NADA's 79 ImageNet templates;
- `ZSSGAN.determine_opt_layers()` (one SGD step, batch 8, k = 4) for a few seeds: the per-W+-entry movement (the
  values `torch.topk` ranks), the global CLIP loss before the step, and the chosen layers;
- one training step without layer selection (`auto_layer_iters` 0, phase None): the loss and the gradients of every
  parameter NADA trains, on a trained copy that differs from the frozen one by a fixed rule (`perturb_rule` below,
  which the test applies to air_nb's copy the same way).

The scratch copy is changed in four places only, none of them in the computations compared: the generator's channel
widths are shrunk to 16 (a small fixture), `ZSSGAN/legacy.py` (StyleGAN-XL pickles; it imports packages this
environment lacks) is replaced by an empty module, and the generator's `forward` uses its stored noise buffers
(`randomize_noise=False`) so that air_nb can reproduce the images exactly (air_nb's stored noise, `noise_mode='const'`),
and ZSSGAN.py's `torch.Tensor(array)` copies as it does on CUDA (see `_CopyingTorch`).
NADA's CUDA ops are replaced by `common.install_cpu_ops`, OpenAI's `clip` by `common.install_clip_shim`.
The generator's weights are rounded to float16 values and stored as float16 (exact in float32) to keep the file small.
"""
from __future__ import annotations
import argparse, json, sys
from argparse import Namespace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import checkout, install_clip_shim, install_cpu_ops

RESOLUTION, CHANNELS, N_MLP, STYLE_DIM = 32, 16, 1, 512
SOURCE, TARGET = "photo", "sketch"
CLIP_SEED = 0
SELECTION_SEEDS = (1, 2)
SELECTION_K = 4
STEP_SEED = 11
STEP_BATCH = 2
W_SCALE = 1e-5


def perturb_rule(name: str) -> float | None:
    "The factor the trained copy's tensor `name` (rosinality key) is multiplied by in the step fixture (None: unchanged)."
    if name == "input.input": return 1.2
    if name.startswith(("conv1.", "convs.")) and name.endswith(("activate.bias", "noise.weight")): return 2.0
    return None


def prepare(reference: Path, scratch: Path) -> Path:
    repo = checkout(reference, scratch / "repo")
    z = repo / "ZSSGAN"
    install_cpu_ops(z)                       # sg2_model does `from op import ...`: ZSSGAN/op on a path with ZSSGAN/ first
    install_clip_shim(repo, seed=CLIP_SEED)  # `import clip` at the top level
    (z / "legacy.py").write_text("# StyleGAN-XL pickles are not used by the parity fixtures\n")
    sg2 = z / "model" / "sg2_model.py"
    src = sg2.read_text()
    anchor = "        self.input = ConstantInput(self.channels[4])"
    assert src.count(anchor) == 1
    sg2.write_text(src.replace(anchor, f"        self.channels = {{k: {CHANNELS} for k in self.channels}}\n" + anchor))
    sys.path[:0] = [str(repo), str(z)]
    return repo


def make_generator(out: Path) -> Path:
    "A random rosinality Generator (32 px, 16 channels, one mapping layer scaled by W_SCALE), every tensor rounded to float16 values."
    from ZSSGAN.model.sg2_model import Generator
    torch.manual_seed(0)
    g = Generator(RESOLUTION, STYLE_DIM, N_MLP, channel_multiplier=2)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        # W near 1e-5: one SGD step of lr 0.01 on a random CLIP moves W+ entries by about 1e-8, which float32 resolves only
        # on small values (around 1, as rosinality's mapping gives, the step would round to exactly zero)
        g.style[1].weight.mul_(W_SCALE)
        for name, p in g.named_parameters():   # non-zero noise strengths and biases so that they matter
            if name.endswith("noise.weight"): p.copy_(0.3 * torch.randn(p.shape, generator=gen))
            elif name.endswith("activate.bias") or (name.startswith("to_rgb") and name.endswith(".bias")):
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
        sd = {k: v.detach().half() for k, v in g.state_dict().items()}
    path = out / "generator.pt"
    torch.save({"g_ema": sd}, path)
    return path


def make_nada(ckpt: Path, auto_layer_iters: int, clip_loss=None):
    "NADA's ZSSGAN model on CPU, built as its __init__ does (that one hard-codes CUDA and full-size checkpoints)."
    from ZSSGAN.model.ZSSGAN import ZSSGAN, SG2Generator
    from ZSSGAN.criteria.clip_loss import CLIPLoss
    net = ZSSGAN.__new__(ZSSGAN)
    torch.nn.Module.__init__(net)
    net.args = Namespace(sgxl=False, sg3=False, auto_layer_batch=8, auto_layer_k=SELECTION_K, phase=None)
    net.device = "cpu"
    net.generator_frozen = SG2Generator(str(ckpt), map_layers=N_MLP, img_size=RESOLUTION, device="cpu")
    net.generator_trainable = SG2Generator(str(ckpt), map_layers=N_MLP, img_size=RESOLUTION, device="cpu")
    net.generator_frozen.freeze_layers(); net.generator_frozen.eval()
    net.generator_trainable.freeze_layers()
    net.generator_trainable.unfreeze_layers(net.generator_trainable.get_training_layers(None))
    net.generator_trainable.train()
    net.clip_loss_models = {"ViT-B/32": clip_loss if clip_loss is not None else CLIPLoss("cpu", clip_model="ViT-B/32")}
    net.clip_model_weights = {"ViT-B/32": 1.0}
    net.source_class, net.target_class = SOURCE, TARGET
    net.auto_layer_k, net.auto_layer_iters = SELECTION_K, auto_layer_iters
    return net


def stored_noise():
    "Make every call of the rosinality generator use its stored noise buffers (randomize_noise=False)."
    from ZSSGAN.model import sg2_model
    original = sg2_model.Generator.forward
    def forward(self, styles, *args, **kwargs):
        kwargs["randomize_noise"] = False
        return original(self, styles, *args, **kwargs)
    sg2_model.Generator.forward = forward


class _CopyingTorch:
    """`torch` for ZSSGAN.py, except that `torch.Tensor(array)` copies. determine_opt_layers builds its W+ codes with
    `torch.Tensor(initial_w_codes.cpu().detach().numpy())`: on CUDA `.cpu()` copies, on a CPU the new tensor shares
    memory with `initial_w_codes`, so the SGD step would move both and every movement would read 0."""
    def __getattr__(self, name): return getattr(torch, name)
    @staticmethod
    def Tensor(data): return torch.tensor(data, dtype=torch.float32)


def copying_tensor_constructor():
    from ZSSGAN.model import ZSSGAN as zssgan_module
    zssgan_module.torch = _CopyingTorch()


def rosinality_name(module, root) -> str:
    return next(n for n, m in root.named_modules() if m is module)


def run_selection(net, seed: int) -> dict:
    "NADA's determine_opt_layers from `seed`, with what it ranks and its loss recorded on the way."
    record = {}
    clip_loss = net.clip_loss_models["ViT-B/32"]
    orig_global, orig_topk, orig_style = clip_loss.global_clip_loss, torch.topk, net.generator_frozen.style
    def global_loss(img, text):
        v = orig_global(img, text); record.setdefault("global_loss", float(v.detach())); return v
    def topk(x, k, *a, **kw):
        record["movement"] = x.detach().clone(); return orig_topk(x, k, *a, **kw)
    def style(styles):
        record["z"] = styles[0].detach().clone(); return orig_style(styles)
    clip_loss.global_clip_loss, torch.topk, net.generator_frozen.style = global_loss, topk, style
    try:
        net.generator_trainable.unfreeze_layers()   # as ZSSGAN.forward does before selecting
        torch.manual_seed(seed)
        chosen = net.determine_opt_layers()
    finally:
        clip_loss.global_clip_loss, torch.topk, net.generator_frozen.style = orig_global, orig_topk, orig_style
    root = net.generator_trainable.generator
    record["layers"] = [rosinality_name(m, root) for m in chosen]
    record["indices"] = record["movement"].topk(SELECTION_K).indices.tolist()
    return record


def run_step(net) -> dict:
    "One NADA training step without layer selection, on a trained copy changed by `perturb_rule`."
    g = net.generator_trainable.generator
    with torch.no_grad():
        for name, p in g.named_parameters():
            f = perturb_rule(name)
            if f is not None: p.mul_(f)
    net.train()
    torch.manual_seed(STEP_SEED)
    z = torch.randn(STEP_BATCH, STYLE_DIM)
    [_, _], loss = net([z])
    net.zero_grad(); loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in g.named_parameters() if p.requires_grad and p.grad is not None}
    trained = sorted(n for n, p in g.named_parameters() if p.requires_grad)
    return {"z": z, "loss": float(loss), "grads": grads, "trained": trained}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reference", required=True, help="git directory of the StyleGAN-nada mirror")
    ap.add_argument("--scratch", required=True, help="scratch folder outside the repository")
    ap.add_argument("--out", default="tests/fixtures/parity/nada")
    args = ap.parse_args()
    out = Path(args.out); out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    prepare(Path(args.reference), Path(args.scratch))
    ckpt = make_generator(out)
    stored_noise()
    copying_tensor_constructor()

    net = make_nada(ckpt, auto_layer_iters=1)
    clip_loss = net.clip_loss_models["ViT-B/32"]
    with torch.no_grad(): direction = clip_loss.compute_text_direction(SOURCE, TARGET)[0].clone()
    selections = {seed: run_selection(net, seed) for seed in SELECTION_SEEDS}

    net0 = make_nada(ckpt, auto_layer_iters=0, clip_loss=clip_loss)   # the same CLIP
    step = run_step(net0)

    torch.save({"direction": direction,
                "selection": {s: {"z": r["z"], "movement": r["movement"]} for s, r in selections.items()},
                "step_z": step["z"]}, out / "tensors.pt")
    torch.save(step["grads"], out / "step_grads.pt")
    meta = {"source": SOURCE, "target": TARGET, "clip_seed": CLIP_SEED, "resolution": RESOLUTION, "channels": CHANNELS,
            "n_mlp": N_MLP, "k": SELECTION_K, "lr": 0.01, "batch": 8, "templates": 79,
            "selection": {str(s): {"global_loss": r["global_loss"], "layers": r["layers"], "indices": sorted(r["indices"])}
                          for s, r in selections.items()},
            "step": {"seed": STEP_SEED, "batch": STEP_BATCH, "loss": step["loss"], "trained": step["trained"],
                     "perturbed": "input.input x1.2, conv1/convs activate.bias and noise.weight x2"},
            "reference": "rinongal/StyleGAN-nada (ZSSGAN/), HEAD of the mirror"}
    (out / "expected.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(json.dumps(meta["selection"], indent=1), "\nstep loss", step["loss"], "\ntrained", step["trained"])


if __name__ == "__main__":
    main()
