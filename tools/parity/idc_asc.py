"""Parity fixtures for IDC and ASC, made with the authors' own code.

Exports IDC (utkarshojha/few-shot-gan-adaptation) and ASC (arith3/Progressive-Few-Shot-GAN-Adaptation) into a scratch
folder, swaps their CUDA ops for plain PyTorch (common.install_cpu_ops), and lets their Generator read its channel
widths from a module variable (the scratch copy only), so that a tiny model can be built. It then:

- builds a random 128 px rosinality generator with IDC's model.py (style_dim 16, 2 mapping layers, 8-16 channels, noise
  strengths and biases drawn so that the noise matters) and a perturbed copy: the source (G_{n-alpha} for ASC) and the target;
- draws one set of noise maps per generator (rounded to float16, so that they are stored exactly in half the space);
- runs the distance-consistency block of IDC's train.py (the lines between "# distance consistency loss" and
  "g_loss = g_loss + rel_loss", executed as they are) with the noise injected and numpy seeded, and records z, the
  drawn layer per row (`feat_ind`), `rel_loss` and its gradients, and the target's `return_feats` list (pooled to 4x4)
  and image;
- runs the `if args.LFC:` block of ASC's train.py (with its own calcOpticalFlow, get_matched_values and Sobel) under the
  flags of its run_train.sh, recording z, the flow, the cut-off, the probabilities handed to torch.multinomial, the
  drawn indices, `inner_loss` and its gradients.

Only inputs and expected outputs are written to --out (tests/fixtures/parity/idc_asc/):
generators.pt (the two state dicts), noise.pt (float16 noise maps), expected.pt. No reference code is written there.

    python tools/parity/idc_asc.py --idc <few-shot-gan-adaptation clone> \\
        --asc <Progressive-Few-Shot-GAN-Adaptation clone> --scratch <scratch folder> \\
        --out tests/fixtures/parity/idc_asc
"""
from __future__ import annotations
import argparse, ast, copy, importlib.util, re, sys, textwrap
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import checkout, install_cpu_ops

SIZE, STYLE_DIM, N_MLP, BATCH = 128, 16, 2, 4
CHANNELS = {4: 16, 8: 16, 16: 16, 32: 16, 64: 8, 128: 4}   # min(512 // res, 16), a layout StyleGAN2Generator can hold
# the flags of ASC's run_train.sh that reach the LFC block (the rest of that command line sets paths and EMA heads)
ASC_FLAGS = ["--use_ema", "--use_rel_ema", "--k", "1.0", "--extra_ema", "--use_flow", "--winsize_inc", "1.0002", "--winsize", "16",
             "--cutoff", "0.6", "--use_pred", "--pred_noiseW", "2.0", "--use_flow_pred", "--blur", "7", "--LFC", "--m", "2",
             "--LFCw", "0.5", "--extra_step", "0"]


def prepare(mirror: str, dest: Path) -> Path:
    "The repository's files in `dest`, CPU ops, and a Generator whose channel table a module variable can override."
    checkout(mirror, dest); install_cpu_ops(dest)
    model = dest / "model.py"
    text = model.read_text()
    assert text.count("        self.channels = {") == 1, "the Generator's channel table moved"
    text = text.replace("        self.channels = {", "        self.channels = CHANNELS_OVERRIDE or {")
    model.write_text("CHANNELS_OVERRIDE = None\n" + text)
    return dest


def load_module(name: str, path: Path):
    sys.path.insert(0, str(path.parent))
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    finally: sys.path.remove(str(path.parent))
    return mod


def parser_of(train_py: Path) -> argparse.ArgumentParser:
    "The argparse parser of a train.py: its `parser = ...` and `parser.add_argument(...)` statements, run as written."
    tree = ast.parse(train_py.read_text())
    main = next(n for n in tree.body if isinstance(n, ast.If) and "__main__" in ast.unparse(n.test))
    keep = [s for s in main.body if ast.unparse(s).startswith(("parser = ", "parser.add_argument("))]
    ns = {"argparse": argparse}
    exec(compile(ast.Module(keep, []), str(train_py), "exec"), ns)
    return ns["parser"]


def functions_of(train_py: Path, names: list[str], ns: dict) -> None:
    "Define the named top-level functions of `train_py` in `ns`, as written."
    tree = ast.parse(train_py.read_text())
    defs = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in names]
    assert sorted(d.name for d in defs) == sorted(names), [d.name for d in defs]
    exec(compile(ast.Module(defs, []), str(train_py), "exec"), ns)


def block_of(train_py: Path, start: str, stop: str, include_stop: bool, nth: int = 0) -> str:
    "The source lines of `train_py` from the `nth` line that contains `start` to the next one that contains `stop`, dedented."
    lines = train_py.read_text().split("\n")
    i = [k for k, l in enumerate(lines) if start in l][nth]
    j = next(k for k in range(i + 1, len(lines)) if stop in lines[k])
    return textwrap.dedent("\n".join(lines[i: j + 1 if include_stop else j]))


def statements_of(train_py: Path, pattern: str) -> str:
    "The (dedented) lines of `train_py` matching `pattern`, e.g. the definitions of sim, sfm and kl_loss."
    return "\n".join(l.strip() for l in train_py.read_text().split("\n") if re.match(pattern, l.strip()))


class Injected:
    "Stands for the DataParallel wrapper the code calls (`.module`), passing the given noise maps to every call."
    def __init__(self, g, noise): self.module, self.noise = g, noise
    def __call__(self, styles, **kw): return self.module(styles, noise=self.noise, **kw)


def build_generators(model_mod):
    "A random source generator (noise strengths and biases drawn) and a perturbed copy (the target)."
    model_mod.CHANNELS_OVERRIDE = CHANNELS
    torch.manual_seed(0)
    src = model_mod.Generator(SIZE, STYLE_DIM, N_MLP).eval()
    with torch.no_grad():
        for n, p in src.named_parameters():
            if n.endswith("noise.weight"): p.copy_(0.3 + 0.4 * torch.rand_like(p))
            elif n.endswith("activate.bias") or (n.endswith(".bias") and "to_rgb" in n): p.copy_(0.1 * torch.randn_like(p))
    tgt = copy.deepcopy(src)
    with torch.no_grad():
        for n, p in tgt.named_parameters(): p.add_(0.25 * (p.std() if p.numel() > 1 else p.abs()) * torch.randn_like(p))
    return src, tgt


def noise_maps(seed: int) -> list[torch.Tensor]:
    "One N(0, 1) map (BATCH, 1, r, r) per StyledConv in forward order, rounded to float16 values."
    g = torch.Generator().manual_seed(seed)
    sizes = [4] + [2 ** k for k in range(3, int(np.log2(SIZE)) + 1) for _ in range(2)]
    return [torch.randn(BATCH, 1, r, r, generator=g).half().float() for r in sizes]


def grads(gen) -> dict:
    "The gradients the tests compare: the learned constant and every noise strength (forward order)."
    convs = [gen.conv1] + list(gen.convs)
    g = lambda p: torch.zeros_like(p) if p.grad is None else p.grad.clone()       # None: the loss does not reach it
    return {"input": g(gen.input.input), "noise_weights": torch.cat([g(c.noise.weight) for c in convs])}


def zero_grads(*gens):
    for g in gens:
        for p in g.parameters(): p.grad = None


def run_idc(scr: Path, src, tgt, n_src, n_tgt) -> dict:
    train = scr / "train.py"
    args = parser_of(train).parse_args(["--data_path", "x", "--exp", "x", "--batch", "4", "--augment", "--n_train", "10",
                                        "--highp", "1", "--subspace_freq", "2", "--iter", "5002"])   # run.sh
    args.latent, args.size = STYLE_DIM, SIZE                     # the tiny model's widths (the parser's latent is 512)
    ns = {"torch": torch, "numpy": np, "np": np, "nn": nn, "args": args, "device": "cpu",
          "g_source": Injected(src, n_src), "generator": Injected(tgt, n_tgt), "g_loss": torch.zeros(())}
    exec(statements_of(train, r"^(sim|sfm|kl_loss) = "), ns)
    code = block_of(train, "# distance consistency loss", "g_loss = g_loss + rel_loss", include_stop=True)
    torch.manual_seed(11); np.random.seed(12)
    cuda = torch.Tensor.cuda
    torch.Tensor.cuda = lambda self, *a, **k: self              # the code's .cuda() calls, on the CPU
    try: exec(compile(code, str(train), "exec"), ns)
    finally: torch.Tensor.cuda = cuda
    zero_grads(src, tgt); ns["rel_loss"].backward()
    return {"z": ns["z"].detach().clone(), "feat_ind": torch.as_tensor(ns["feat_ind"]), "rel_loss": ns["rel_loss"].detach().clone(),
            "kl_wt": float(args.kl_wt), "grads": grads(tgt)}


def run_asc(scr: Path, model_mod, src, tgt, n_src, n_tgt) -> dict:
    train = scr / "train.py"
    args = parser_of(train).parse_args(["--data_path", "x", "--exp", "x"] + ASC_FLAGS)
    args.latent, args.size = STYLE_DIM, SIZE
    import torchvision
    ns = {"torch": torch, "numpy": np, "np": np, "nn": nn, "torchvision": torchvision, "args": args, "device": "cpu",
          "g_ema": Injected(src, n_src), "generator": Injected(tgt, n_tgt), "g_source": None, "Sobel": model_mod.Sobel,
          "g_loss": torch.zeros(()), "loss_dict_extra": {"cutoff": np.array([]), "lfc": np.array([])}}
    import cv2; from torchvision.ops import RoIAlign
    grays = []
    class Cv2:      # OpenCV, recording the grey images the code hands to Farneback
        def __getattr__(self, name): return getattr(cv2, name)
        def calcOpticalFlowFarneback(self, prev, nxt, *a, **kw):
            grays.append((prev.copy(), nxt.copy())); return cv2.calcOpticalFlowFarneback(prev, nxt, *a, **kw)
    ns.update(cv2=Cv2(), RoIAlign=RoIAlign)
    functions_of(train, ["calcOpticalFlow", "get_matched_values"], ns)
    exec(statements_of(train, r"^(sim|sfm|kl_loss|l1_loss) = "), ns)
    exec(block_of(train, "if args.LFC:", "if args.use_flow:", include_stop=False), ns)    # LFC_feat_range from --LFC_layers
    flows, draws = [], []
    flow_fn = ns["calcOpticalFlow"]
    ns["calcOpticalFlow"] = lambda a, s, t: flows.append(flow_fn(a, s, t)) or flows[-1]
    multinomial, randint, randn = torch.multinomial, torch.randint, torch.randn
    zs = []
    def rec_randn(*a, **kw):
        out = randn(*a, **kw); zs.append(out); return out
    def rec_multinomial(pred, m, **kw):
        out = multinomial(pred, m, **kw); draws.append(("p", (pred / pred.sum()).detach().clone(), out)); return out
    def rec_randint(*a, **kw):
        out = randint(*a, **kw); draws.append(("q", None, out)); return out
    code = block_of(train, "if args.LFC:", 'loss_dict["g"] = g_loss', include_stop=False, nth=1)
    torch.manual_seed(21)
    torch.multinomial, torch.randint, torch.randn = rec_multinomial, rec_randint, rec_randn
    try: exec(compile(code, str(train), "exec"), ns)
    finally: torch.multinomial, torch.randint, torch.randn = multinomial, randint, randn
    assert len(zs) == 1                                          # the block's only normal draw: its latents
    zero_grads(src, tgt); ns["inner_loss"].backward()
    # draws come per layer, per sample: (multinomial, randint); stack them to (layers, B, m)
    assert [k for k, _, _ in draws] == ["p", "q"] * (len(ns["LFC_feat_range"]) * BATCH)
    n_l = len(ns["LFC_feat_range"])
    p = [torch.stack([draws[2 * (l * BATCH + b)][2] for b in range(BATCH)]) for l in range(n_l)]
    q = [torch.stack([draws[2 * (l * BATCH + b) + 1][2] for b in range(BATCH)]) for l in range(n_l)]
    probs = [torch.stack([draws[2 * (l * BATCH + b)][1] for b in range(BATCH)]) for l in range(n_l)]
    sizes = [int(round(pr.shape[1] ** 0.5)) for pr in probs]
    # small layers: every probability; 64 and 128 px: sums over 8x8 / 16x16 blocks (a 8x8 map each), to keep the file small
    probs_saved = [pr if s <= 32 else pr.reshape(BATCH, 8, s // 8, 8, s // 8).sum((2, 4)).reshape(BATCH, 64)
                   for pr, s in zip(probs, sizes)]
    flow = flows[0]
    return {"z": zs[0].clone(), "layers": ns["LFC_feat_range"], "winsize": int(args.winsize),
            "flow_pooled": nn.AdaptiveAvgPool2d(32)(flow).clone(), "cut_off": ns["cut_off"].clone(),
            "gray_prev": torch.from_numpy(np.stack([a for a, _ in grays])), "gray_next": torch.from_numpy(np.stack([b for _, b in grays])),
            "sizes": sizes, "probs": probs_saved, "p": [x.short() for x in p], "q": [x.short() for x in q],
            "inner_loss": ns["inner_loss"].detach().clone(), "weight": 400.0 * args.kl_wt * args.LFCw, "grads": grads(tgt)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--idc", required=True, help="git mirror of utkarshojha/few-shot-gan-adaptation")
    ap.add_argument("--asc", required=True, help="git mirror of arith3/Progressive-Few-Shot-GAN-Adaptation")
    ap.add_argument("--scratch", default="/tmp/parity_idc_asc", help="scratch folder (outside the repository)")
    ap.add_argument("--out", default="tests/fixtures/parity/idc_asc")
    a = ap.parse_args()
    torch.set_num_threads(1)
    scratch, out = Path(a.scratch), Path(a.out)
    idc_dir, asc_dir = prepare(a.idc, scratch / "idc"), prepare(a.asc, scratch / "asc")
    idc_model = load_module("idc_model", idc_dir / "model.py")
    asc_model = load_module("asc_model", asc_dir / "model.py")
    asc_model.CHANNELS_OVERRIDE = CHANNELS
    src, tgt = build_generators(idc_model)
    # the same weights in ASC's Generator (its forward takes a few more options; the state dict is the same)
    src_a, tgt_a = asc_model.Generator(SIZE, STYLE_DIM, N_MLP).eval(), asc_model.Generator(SIZE, STYLE_DIM, N_MLP).eval()
    src_a.load_state_dict(src.state_dict()); tgt_a.load_state_dict(tgt.state_dict())
    n_src, n_tgt = noise_maps(1), noise_maps(2)
    idc = run_idc(idc_dir, src, tgt, n_src, n_tgt)
    with torch.no_grad():           # every return_feats entry (after noise, bias, activation), pooled to 4x4 to stay small
        img, feats = tgt([idc["z"]], noise=n_tgt, return_feats=True)
        idc["feats_pooled"] = [nn.functional.adaptive_avg_pool2d(f, 4).clone() for f in feats]
        idc["image_pooled"] = nn.functional.adaptive_avg_pool2d(img, 16).clone()
    asc = run_asc(asc_dir, asc_model, src_a, tgt_a, n_src, n_tgt)
    out.mkdir(parents=True, exist_ok=True)
    torch.save({"source": src.state_dict(), "target": tgt.state_dict(), "config": dict(size=SIZE, style_dim=STYLE_DIM, n_mlp=N_MLP, channels=CHANNELS)},
               out / "generators.pt")
    torch.save({"source": [n.half() for n in n_src], "target": [n.half() for n in n_tgt]}, out / "noise.pt")
    torch.save({"idc": idc, "asc": asc}, out / "expected.pt")
    print(f"IDC: feat_ind {idc['feat_ind'].tolist()}, rel_loss {idc['rel_loss'].item():.6g}")
    print(f"ASC: layers {asc['layers']}, cut_off {asc['cut_off'].item():.4g}, inner_loss {asc['inner_loss'].item():.6g}")
    for f in sorted(out.iterdir()): print(f"{f}: {f.stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
