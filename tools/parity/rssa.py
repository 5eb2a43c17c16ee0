"""Parity fixtures for RSSA's self-correlation consistency loss (Xiao et al. 2022).

Exports RSSA's repository into a scratch folder, replaces its CUDA ops by plain PyTorch, shrinks the channel widths
of its `model.Generator` (a rosinality StyleGAN2) in the scratch copy, builds a 256 px random-weight source and a
perturbed target (the same stored noise), and runs the self-correlation block and the cross-sample `dis_corr` block of
RSSA's `train_face_proj.py` (executed from the scratch copy's own text; in `dis_corr` the hard-coded channel counts 512
and 256 of the 64 and 128 px maps are replaced by the shrunk widths) on their `return_feats` feature maps with
`randomize_noise=False`.

Saved under --out (nothing of the reference code):
- generators.pt: a rosinality training-checkpoint layout, `g` = the perturbed target, `g_ema` = the source (every value
  is float16-exact and stored as float16 to keep the file small; the stored noise buffers are shared).
- expected.npz: z, the loss (sum over maps and passes), 0.8 x loss, and the loss of each feature map alone
  (index in rosinality's `return_feats` order, its side); dc_z (the 4 latents the dis_corr block drew), dc_loss (its
  value, before the weight 0.4) and dc_parts (each of its 10 maps alone).

    python tools/parity/rssa.py --reference <RSSA git mirror> --scratch /tmp/rssa_parity --out tests/fixtures/parity/rssa
"""
from __future__ import annotations
import argparse, copy, re, sys, textwrap
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import checkout, install_cpu_ops

RES, STYLE_DIM, N_MLP, BATCH, SEED = 256, 32, 2, 2, 0
CHANNELS = {4: 16, 8: 16, 16: 16, 32: 16, 64: 16, 128: 8, 256: 4}   # min(1024 // res, 16): a layout air_nb's reader accepts


def _snippet(text: str, start: str, stop: str) -> str:
    "The lines of `text` from the one starting with `start` (stripped) up to, not including, the one starting with `stop`."
    lines = text.split("\n")
    i = next(k for k, l in enumerate(lines) if l.strip().startswith(start))
    j = next(k for k in range(i + 1, len(lines)) if lines[k].strip().startswith(stop))
    return textwrap.dedent("\n".join(lines[i:j]))


def _through(text: str, start: str, last: str) -> str:
    "The lines of `text` from the first starting with `start` (stripped) through the next starting with `last`."
    lines = text.split("\n")
    i = next(k for k, l in enumerate(lines) if l.strip().startswith(start))
    j = next(k for k in range(i + 1, len(lines)) if lines[k].strip().startswith(last))
    return textwrap.dedent("\n".join(lines[i: j + 1]))


def _fp16_exact(module: nn.Module) -> None:
    with torch.no_grad():
        for t in list(module.parameters()) + list(module.buffers()): t.copy_(t.half().float())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reference", required=True, help="RSSA's git mirror (StevenShaw1999/RSSA)")
    ap.add_argument("--scratch", required=True, help="a scratch folder outside the repository")
    ap.add_argument("--out", required=True, help="the fixture folder")
    args = ap.parse_args()
    torch.set_num_threads(1)

    scratch = checkout(args.reference, Path(args.scratch) / "rssa")
    install_cpu_ops(scratch)
    model_py = scratch / "model.py"
    text = model_py.read_text()
    small = re.sub(r"self\.channels = \{.*?\}", "self.channels = " + repr(CHANNELS), text, count=1, flags=re.S)
    assert small != text, "Generator.channels not found in model.py"
    model_py.write_text(small)
    sys.path.insert(0, str(scratch))
    import model   # RSSA's model.py, in the scratch copy

    train_py = (scratch / "train_face_proj.py").read_text()
    pools = _snippet(train_py, "pool_dict = {}", "pool_dict_sp = {}")
    self_corr = _snippet(train_py, "self_corr_loss = 0", "if args.self_corr_loss:")
    assert "Loss_fn_smth(self_sim[0], self_sim[1])" in self_corr and "feat_size >= 64 and feat_size <= 256" in self_corr
    dis_corr = _through(train_py, "dis_corr_loss = 0", "dis_corr_loss = dis_corr_loss / 6")
    for wide, narrow in (("resize(4, 512, 16, 16, 16)", f"resize(4, {CHANNELS[64]}, 16, 16, 16)"),
                         ("resize(4, 256, 32, 32, 16)", f"resize(4, {CHANNELS[128]}, 32, 32, 16)")):
        assert dis_corr.count(wide) == 2, wide
        dis_corr = dis_corr.replace(wide, narrow)

    torch.manual_seed(SEED)
    g_source = model.Generator(RES, STYLE_DIM, N_MLP, channel_multiplier=2).eval()
    with torch.no_grad():   # random noise strengths and biases, so the stored noise and every bias matter
        for n, p in g_source.named_parameters():
            if n.endswith("noise.weight") or n.endswith("activate.bias"): p.normal_(0, 0.3)
    _fp16_exact(g_source)
    generator = copy.deepcopy(g_source)       # the adapted generator: every synthesis parameter moved; mapping and stored noise kept
    with torch.no_grad():
        for n, p in generator.named_parameters():
            if n.startswith("style."): continue
            p.add_(torch.randn_like(p) * 0.2 * (p.std() if p.numel() > 1 else p.abs() + 0.1))
    _fp16_exact(generator)

    z = torch.randn(BATCH, STYLE_DIM)
    with torch.no_grad():
        _, feat_source = g_source([z], return_feats=True, randomize_noise=False)
        _, feat_target = generator([z], return_feats=True, randomize_noise=False)

    def code_loss(fs, ft):
        ns = {"torch": torch, "F": F, "nn": nn, "Loss_fn_smth": nn.SmoothL1Loss(), "feat_source": fs, "feat_target": ft}
        exec(pools, ns)           # train_face_proj.py's pool_dict
        exec(self_corr, ns)       # train_face_proj.py's self-correlation block, as written
        return float(ns["self_corr_loss"])

    with torch.no_grad():
        total = code_loss(feat_source, feat_target)
        parts = [code_loss([s], [t]) for s, t in zip(feat_source, feat_target)]
    class _Fixed:   # a generator stand-in that returns given feature maps (for the dis_corr block's maps one by one)
        def __init__(self, feats): self.feats = feats
        def __call__(self, styles, **kw): return None, self.feats

    def code_dis_corr(g_s, g_t, seed=1):
        ns = {"torch": torch, "F": F, "nn": nn, "Loss_fn": nn.L1Loss(), "device": "cpu", "args": argparse.Namespace(feat_const_batch=4, latent=STYLE_DIM),
              "g_source": g_s, "generator": g_t}
        torch.manual_seed(seed)
        with torch.no_grad(): exec(dis_corr, ns)     # train_face_proj.py's dis_corr block, as written (channel counts shrunk)
        return ns["z_n"], float(ns["dis_corr_loss"])

    dc_z, dc_total = code_dis_corr(g_source, generator)
    with torch.no_grad():
        _, dfs = g_source([dc_z], return_feats=True, randomize_noise=False)
        _, dft = generator([dc_z], return_feats=True, randomize_noise=False)
    dc_parts = [code_dis_corr(_Fixed([a]), _Fixed([b]))[1] for a, b in list(zip(dfs, dft))[:10]]
    print("dis_corr parts", dc_parts, "\ndis_corr", dc_total)
    assert abs(sum(dc_parts) - dc_total) <= 1e-5 * dc_total
    sides = [f.shape[-1] for f in feat_source]
    print("sides", sides, "\nparts", parts, "\ntotal", total, "weighted", 0.8 * total)
    assert abs(sum(parts) - total) <= 1e-5 * total

    out = Path(args.out); out.mkdir(parents=True, exist_ok=True)
    src = {k: v.detach().half() for k, v in g_source.state_dict().items()}
    tgt = {k: v.detach().half() for k, v in generator.state_dict().items()}
    for k in src:                              # buffers (stored noise, blur kernels) and the mapping: one shared storage
        if k.startswith(("noises.", "style.")) or k.endswith("kernel"):
            assert torch.equal(tgt[k], src[k]), k
            tgt[k] = src[k]
    torch.save({"g": tgt, "g_ema": src}, out / "generators.pt")
    np.savez(out / "expected.npz", z=z.numpy(), loss=np.float64(total), weighted=np.float64(0.8 * total),
             parts=np.array(parts, dtype=np.float64), sides=np.array(sides), weight=np.float64(0.8),
             dc_z=dc_z.numpy(), dc_loss=np.float64(dc_total), dc_parts=np.array(dc_parts, dtype=np.float64), dc_weight=np.float64(0.4))
    for f in sorted(out.iterdir()): print(f, f.stat().st_size)


if __name__ == "__main__":
    main()
