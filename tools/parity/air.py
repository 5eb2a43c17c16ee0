"""Parity fixtures for AIR: run AIR's own prompt-learning, direction and adaptive-loss code (Guimeng-Leo-Liu/AIR,
train.py @ b622b7a, criteria/clip_loss.py @ 4e99bfe, settings of adaptation.sh) on a random-weight ViT-B-32, and save
only the inputs and the expected outputs.

    python tools/parity/air.py --nada <StyleGAN-nada clone> --scratch <scratch folder> --out tests/fixtures/parity/air

AIR's repository cannot be cloned here. Its files are reconstructed in the scratch folder from the text the code index
returns (`read_file`, repo Guimeng-Leo-Liu/AIR, at the commits above), as verbatim excerpts:

- `<scratch>/AIR/train.py`: the functions `text_encoder` and `compute_text_features`, and the blocks of `train()` this
  script runs, each between a line `# ---- block: NAME` and a line `# ---- end` (indentation as in the file):
  `text_features` (source/target template features), `prompt_setup` (tokenised prompts and token embeddings),
  `image_direction`, `redefine_prompt`, `align` (the prompt-learning loop), `update_direction` (the adaptive direction)
  and `adaptive_loss` (the adaptive term of `forward`);
- `<scratch>/AIR/criteria/clip_loss.py`: `DirectionLoss` and the `CLIPLoss` methods `tokenize`, `encode_text`,
  `get_text_features`, `compute_text_direction`, `compose_text_with_templates` (not `__init__`, which loads two CLIP
  models and data files: the attributes those methods use are set here).

`utils/text_templates.py` (79 ImageNet templates, absent from AIR's index) comes from NADA's repository, on which AIR
builds. OpenAI's `clip` is `common.install_clip_shim` (air_nb's random ViT-B-32 behind OpenAI's interface).

What is run, with AIR's settings for photo -> sketch (`--iter 301 --adaptative_interval 30 --start_adaptive_iteration
150 --ctx_init "a photo of a" --redefine_prompt --use_last_anchor`, `--batch_prompt 5`, `--prompt_lr 0.001`):
- the anchor at i = 150 (the first: reference = the 79 source template features; alpha = 150/301) for `STEPS1`
  prompt steps, then the anchor at i = 180 (reference = the first anchor's prompt; alpha = 180/301) for `STEPS2`
  steps, each from the re-initialised "a photo of a" context with a new Adam; image embeddings are given (random unit
  vectors drifting along a fixed direction), as the code computes them from 1000 latents;
- after each anchor: the learned context (one of the 5 identical copies), the prompt feature and the adaptive direction;
- the NADA term's text direction `CLIPLoss.compute_text_direction`;
- the adaptive loss of `forward` for given trainable/anchor image features and the second anchor's direction.
Only the number of prompt steps is smaller than the code's 200 (a short test).

The anchor latents (`anchor_latents.pt`, `generator.pt`): AIR's `SG2Generator` computes `mean_latent(4096)` at
construction (rosinality: the mean of the mapping network's outputs for `torch.randn(4096, style_dim)`) and truncates
the 1000 prompt latents toward it (`truncation_latent + t * (style - truncation_latent)`, t = 0.7). That is run on
a small rosinality generator from NADA's `ZSSGAN/model/sg2_model.py` (the model AIR ships; channels shrunk to 16,
style_dim 32, stored noise, weights rounded to float16) after `torch.manual_seed(MEAN_SEED)`.
"""
from __future__ import annotations
import argparse, shutil, sys, textwrap
from copy import deepcopy
from pathlib import Path
from types import SimpleNamespace

import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import checkout, install_clip_shim, install_cpu_ops

SOURCE, TARGET = "photo", "sketch"
CLIP_SEED = 0
ITER, ANCHORS = 301, (150, 180)       # adaptation.sh photo -> sketch: --iter 301, anchors every 30 from 150
STEPS1, STEPS2 = 10, 5
COPIES, PROMPT_LR = 5, 1e-3
N_IMAGES, N_BATCH = 16, 4
DATA_SEED = 5
MEAN_SEED, MEAN_SAMPLES, STYLE_DIM, N_MLP, RESOLUTION, CHANNELS, TRUNCATION = 3, 4096, 32, 2, 32, 16, 0.7


def blocks(path: Path) -> tuple[str, dict[str, str]]:
    "The text before the first block (the functions) and each `# ---- block: NAME` ... `# ---- end` block, dedented."
    text = path.read_text()
    head, *rest = text.split("# ---- block: ")
    out = {}
    for piece in rest:
        name, body = piece.split("\n", 1)
        out[name.strip()] = textwrap.dedent(body.split("# ---- end")[0])
    return head, out


def unit(x): return x / x.norm(dim=-1, keepdim=True)


def make_inputs(dim: int) -> dict:
    g = torch.Generator().manual_seed(DATA_SEED)
    drift = unit(torch.randn(dim, generator=g))
    f0 = unit(torch.randn(N_IMAGES, dim, generator=g))                              # E_I(G_S(w)) on fixed latents
    a1 = unit(f0 + 0.3 * drift + 0.05 * torch.randn(N_IMAGES, dim, generator=g))    # E_I(G_A1(w))
    a2 = unit(a1 + 0.2 * drift + 0.05 * torch.randn(N_IMAGES, dim, generator=g))    # E_I(G_A2(w))
    anchor = unit(torch.randn(N_BATCH, dim, generator=g))                           # E_I(G_A(w)) of a training batch
    train = unit(anchor + 0.2 * drift + 0.1 * torch.randn(N_BATCH, dim, generator=g))   # E_I(G_t(w))
    return {"source_images": f0, "anchor1_images": a1, "anchor2_images": a2, "batch_anchor": anchor, "batch_train": train}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scratch", default="/tmp/air_parity", help="scratch folder holding AIR/ (see the module docstring)")
    ap.add_argument("--out", default="tests/fixtures/parity/air")
    ap.add_argument("--nada", required=True, help="a git clone of rinongal/StyleGAN-nada (for utils/text_templates.py)")
    args_cli = ap.parse_args(argv)
    torch.set_num_threads(1)
    air = Path(args_cli.scratch) / "AIR"
    for f in ("train.py", "criteria/clip_loss.py"):
        if not (air / f).exists(): raise SystemExit(f"{air / f} is missing: reconstruct it from read_file output (module docstring).")
    nada = checkout(args_cli.nada, Path(args_cli.scratch) / "nada")
    (air / "utils").mkdir(exist_ok=True); (air / "utils" / "__init__.py").write_text("")
    shutil.copy(nada / "ZSSGAN/utils/text_templates.py", air / "utils" / "text_templates.py")
    install_clip_shim(air, seed=CLIP_SEED)
    sys.path.insert(0, str(air))
    import clip
    from criteria.clip_loss import CLIPLoss, DirectionLoss
    from utils.text_templates import imagenet_templates

    # CLIPLoss without its __init__ (two CLIP models and data files): the attributes its methods read
    clip_loss_models = CLIPLoss.__new__(CLIPLoss); torch.nn.Module.__init__(clip_loss_models)
    clip_loss_models.model = clip.load("ViT-B/32", device="cpu")[0].float()
    clip_loss_models.model.requires_grad_(False)
    clip_loss_models.device, clip_loss_models.pca = "cpu", None
    clip_loss_models.direction_loss = DirectionLoss("cosine")
    clip_loss_models.get_image_features = lambda x: x                 # the fixtures hand over image features directly
    clip_model = clip_loss_models.model

    head, code = blocks(air / "train.py")
    ns = {"torch": torch, "clip": clip, "deepcopy": deepcopy, "device": "cpu", "tqdm": lambda it, **kw: _Bar(it),
          "clip_loss_models": clip_loss_models, "clip_model": clip_model}
    exec(head, ns)
    args = SimpleNamespace(source_class=SOURCE, target_class=TARGET, ctx_init="a photo of a", n_ctx=4, batch_prompt=COPIES,
                           prompt_lr=PROMPT_LR, iter=ITER, redefine_prompt=True, use_last_anchor=True, adaptative_lambda=1.0,
                           prompt_align_iter=STEPS1)
    ns["args"] = args
    exec(code["text_features"], ns)
    exec(code["prompt_setup"], ns)
    inputs = make_inputs(ns["source_text_features"].shape[1])

    expected = {}
    ns["last_prompt_features"] = ns["source_text_features"]          # the code's start of adaptation
    frozen = inputs["source_images"]
    for k, (i, images, steps) in enumerate(zip(ANCHORS, (inputs["anchor1_images"], inputs["anchor2_images"]), (STEPS1, STEPS2)), 1):
        args.prompt_align_iter = steps
        ns.update(i=i, adapted_embeddings=images, frozen_embeddings=frozen)
        for name in ("image_direction", "redefine_prompt", "align", "update_direction"): exec(code[name], ns)
        prompts = ns["prompts"].detach()
        assert torch.equal(prompts[0], prompts[-1]), "the prompt copies should stay identical"
        expected[f"anchor{k}"] = {"step": i, "alpha": i / args.iter, "steps": steps, "ctx": prompts[0].clone(),
                                  "text": ns["prompt_features"][0].clone(), "direction": clip_loss_models.adapted_direction[0].clone()}
        ns["last_prompt_features"] = deepcopy(ns["prompt_features"])  # --use_last_anchor
        frozen = images
    with torch.no_grad():
        expected["nada_direction"] = clip_loss_models.compute_text_direction(SOURCE, TARGET)[0].clone()
        ns.update(generator_intermediate=True, adapted_img=inputs["batch_anchor"], trainable_img=inputs["batch_train"], clip_loss={})
        exec(code["adaptive_loss"], ns)
        expected["adaptive_loss"] = ns["clip_loss"]["adaptive_loss"].clone()

    fixture = {"meta": {"source": SOURCE, "target": TARGET, "clip_seed": CLIP_SEED, "iter": ITER, "iterations": ITER - 1,
                        "ctx_init": args.ctx_init, "copies": COPIES, "prompt_lr": PROMPT_LR, "templates": list(imagenet_templates),
                        "reference": "Guimeng-Leo-Liu/AIR train.py@b622b7a, criteria/clip_loss.py@4e99bfe"},
               "inputs": inputs, "expected": expected}
    out = Path(args_cli.out); out.mkdir(parents=True, exist_ok=True)
    torch.save(fixture, out / "air.pt")
    print({k: (v["text"].norm().item() if isinstance(v, dict) else v.shape) for k, v in expected.items()})
    anchor_latent_fixture(nada, out)
    for f in ("air.pt", "generator.pt", "anchor_latents.pt"): print("wrote", out / f, (out / f).stat().st_size, "bytes")


def anchor_latent_fixture(nada: Path, out: Path) -> None:
    "rosinality's mean_latent(4096) and the truncated prompt latents of AIR's SG2Generator, on a small random generator."
    z_dir = nada / "ZSSGAN"
    install_cpu_ops(z_dir)
    sg2 = z_dir / "model" / "sg2_model.py"
    src = sg2.read_text()
    anchor = "        self.input = ConstantInput(self.channels[4])"
    if f"self.channels = {{k: {CHANNELS}" not in src:          # a small fixture: every resolution gets CHANNELS channels
        assert src.count(anchor) == 1
        sg2.write_text(src.replace(anchor, f"        self.channels = {{k: {CHANNELS} for k in self.channels}}\n" + anchor))
    sys.path.insert(0, str(z_dir))
    from model.sg2_model import Generator
    torch.manual_seed(0)
    g = Generator(RESOLUTION, STYLE_DIM, N_MLP, channel_multiplier=2)
    with torch.no_grad():
        for p in g.parameters(): p.copy_(p.half().float())    # exact in float16, so the stored file is the model run here
        torch.save({"g_ema": {k: v.half() for k, v in g.state_dict().items()}}, out / "generator.pt")
        z = torch.randn(8, STYLE_DIM, generator=torch.Generator().manual_seed(DATA_SEED))
        torch.manual_seed(MEAN_SEED)
        mean = g.mean_latent(MEAN_SAMPLES)                      # SG2Generator.__init__: self.generator.mean_latent(4096)
        w = g.style(z)                                          # generator_frozen.style([z]) in forward()
        _, latents = g([w], input_is_latent=True, truncation=TRUNCATION, truncation_latent=mean, return_latents=True,
                       randomize_noise=False)
    torch.save({"meta": {"seed": MEAN_SEED, "samples": MEAN_SAMPLES, "truncation": TRUNCATION},
                "z": z, "mean_latent": mean[0], "latents": latents[:, 0]}, out / "anchor_latents.pt")


class _Bar:
    "tqdm's place in the align loop: iterate, accept `set_description`."
    def __init__(self, it): self.it = it
    def __iter__(self): return iter(self.it)
    def set_description(self, *a, **k): pass


if __name__ == "__main__":
    main()
