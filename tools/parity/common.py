"""Scratch set-up shared by the parity fixture scripts: the authors' repositories are exported into a scratch folder,
their CUDA ops replaced by plain PyTorch, and OpenAI's `clip` package stood in for by air_nb's random-weight ViT-B-32.

Nothing here is the authors' code. The scripts that use it run the authors' functions in the scratch folder and save
only inputs and expected outputs under tests/fixtures/parity/.
"""
from __future__ import annotations
import io, subprocess, sys, tarfile, textwrap
from pathlib import Path

import torch


def checkout(mirror_git_dir: str | Path, dest: str | Path, commit: str = "HEAD") -> Path:
    "Export `commit` of the git repository `mirror_git_dir` (bare or not) into `dest`; files git cannot read are skipped."
    dest = Path(dest); dest.mkdir(parents=True, exist_ok=True)
    names = subprocess.run(["git", "--git-dir", str(_git_dir(mirror_git_dir)), "ls-tree", "-r", "--name-only", commit],
                           check=True, capture_output=True, text=True).stdout.split("\n")
    for name in filter(None, names):
        if not name.endswith((".py", ".sh", ".txt", ".json", ".yaml", ".yml", ".cfg", ".md")): continue
        blob = subprocess.run(["git", "--git-dir", str(_git_dir(mirror_git_dir)), "show", f"{commit}:{name}"], capture_output=True)
        if blob.returncode: continue                           # e.g. LFS objects or blobs missing from the snapshot
        out = dest / name; out.parent.mkdir(parents=True, exist_ok=True); out.write_bytes(blob.stdout)
    return dest


def _git_dir(path: str | Path) -> Path:
    path = Path(path)
    return path / ".git" if (path / ".git").exists() else path


_FUSED_ACT = '''
import torch
import torch.nn.functional as F
from torch import nn


def fused_leaky_relu(input, bias=None, negative_slope=0.2, scale=2 ** 0.5):
    # the CPU path: bias added along the channel dimension, leaky ReLU, gain
    if bias is not None:
        input = input + bias.view(1, bias.shape[0], *([1] * (input.ndim - 2)))
    return F.leaky_relu(input, negative_slope=negative_slope) * scale


class FusedLeakyReLU(nn.Module):
    def __init__(self, channel, bias=True, negative_slope=0.2, scale=2 ** 0.5):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channel)) if bias else None
        self.negative_slope, self.scale = negative_slope, scale

    def forward(self, input):
        return fused_leaky_relu(input, self.bias, self.negative_slope, self.scale)
'''

_UPFIRDN = '''
import torch
import torch.nn.functional as F


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def upfirdn2d(input, kernel, up=1, down=1, pad=(0, 0)):
    # zero-insertion upsampling, padding (negative values crop), FIR filter (a true convolution), decimation
    up_x, up_y = _pair(up)
    down_x, down_y = _pair(down)
    if len(pad) == 2:
        pad = (pad[0], pad[1], pad[0], pad[1])
    px0, px1, py0, py1 = pad
    n, c, h, w = input.shape
    x = input.reshape(n * c, 1, h, 1, w, 1)
    x = F.pad(x, [0, up_x - 1, 0, 0, 0, up_y - 1]).reshape(n * c, 1, h * up_y, w * up_x)
    x = F.pad(x, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
    x = x[:, :, max(-py0, 0): x.shape[2] - max(-py1, 0), max(-px0, 0): x.shape[3] - max(-px1, 0)]
    k = torch.flip(kernel, [0, 1]).to(x.dtype)[None, None]
    x = F.conv2d(x, k)[:, :, ::down_y, ::down_x]
    return x.reshape(n, c, x.shape[2], x.shape[3])
'''

_GRADFIX = '''
import contextlib
import torch.nn.functional as F

enabled = False
weight_gradients_disabled = False


@contextlib.contextmanager
def no_weight_gradients():
    yield


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return F.conv2d(input, weight, bias, stride, padding, dilation, groups)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    return F.conv_transpose2d(input, weight, bias, stride, padding, output_padding, groups, dilation)
'''


def install_cpu_ops(dest_dir: str | Path) -> Path:
    "Replace `<dest_dir>/op` by a plain-PyTorch package with the names rosinality-style models import."
    op = Path(dest_dir) / "op"
    if op.exists():
        for f in op.iterdir():
            if f.is_file(): f.unlink()
    op.mkdir(parents=True, exist_ok=True)
    (op / "fused_act.py").write_text(_FUSED_ACT)
    (op / "upfirdn2d.py").write_text(_UPFIRDN)
    (op / "conv2d_gradfix.py").write_text(_GRADFIX)
    (op / "__init__.py").write_text("from .fused_act import FusedLeakyReLU, fused_leaky_relu\n"
                                    "from .upfirdn2d import upfirdn2d\nfrom . import conv2d_gradfix\n")
    return op


def random_clip(seed: int = 0, device: str = "cpu"):
    "air_nb's `Clip` around an open_clip ViT-B-32 with random weights drawn after `torch.manual_seed(seed)` (global RNG restored)."
    from air_nb.clip.models import load_clip
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try: return load_clip("ViT-B-32", None, device)
    finally: torch.random.set_rng_state(state)


_CLIP_SHIM = '''
"""OpenAI's `clip` interface over air_nb's random-weight open_clip ViT-B-32 (a parity-fixture stand-in)."""
import sys
import torch
from torch import nn
import open_clip
from torchvision.transforms import CenterCrop, Compose, InterpolationMode, Normalize, Resize, ToTensor

SEED = {seed}
sys.path.insert(0, {tools!r})
from common import random_clip


class _SequenceFirst(nn.Module):
    "OpenAI's text transformer takes (L, N, D) and holds its own causal mask; open_clip's takes (N, L, D) and a mask argument."
    def __init__(self, transformer, attn_mask):
        super().__init__()
        self.inner, self.attn_mask = transformer, attn_mask
        self.width, self.layers, self.resblocks = transformer.width, transformer.layers, transformer.resblocks

    def forward(self, x):
        return self.inner(x.permute(1, 0, 2), attn_mask=self.attn_mask).permute(1, 0, 2)


class OpenAIStyleCLIP(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.visual = model.visual
        self.visual.input_resolution = model.visual.image_size[0] if isinstance(model.visual.image_size, tuple) else model.visual.image_size
        self.token_embedding, self.positional_embedding = model.token_embedding, model.positional_embedding
        self.transformer = _SequenceFirst(model.transformer, model.attn_mask)
        self.ln_final, self.text_projection, self.logit_scale = model.ln_final, model.text_projection, model.logit_scale
        self.context_length = model.context_length

    @property
    def dtype(self):
        return self.visual.conv1.weight.dtype

    def encode_image(self, image):
        return self.visual(image.type(self.dtype))

    def encode_text(self, text):
        x = self.token_embedding(text).type(self.dtype) + self.positional_embedding.type(self.dtype)
        x = self.transformer(x.permute(1, 0, 2)).permute(1, 0, 2)
        x = self.ln_final(x).type(self.dtype)
        return x[torch.arange(x.shape[0]), text.argmax(dim=-1)] @ self.text_projection

    def forward(self, image, text):
        i = self.encode_image(image); t = self.encode_text(text)
        i, t = i / i.norm(dim=1, keepdim=True), t / t.norm(dim=1, keepdim=True)
        logits = self.logit_scale.exp() * i @ t.t()
        return logits, logits.t()


def _convert_image_to_rgb(image):
    return image.convert("RGB")


def available_models():
    return ["ViT-B/32"]


def load(name="ViT-B/32", device="cpu", jit=False, download_root=None):
    model = OpenAIStyleCLIP(random_clip(SEED).model).to(device).eval()
    n = model.visual.input_resolution
    preprocess = Compose([Resize(n, interpolation=InterpolationMode.BICUBIC), CenterCrop(n), _convert_image_to_rgb, ToTensor(),
                          Normalize((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711))])
    return model, preprocess


def tokenize(texts, context_length=77, truncate=False):
    return open_clip.tokenize(texts, context_length=context_length)
'''


def install_clip_shim(dest_dir: str | Path, seed: int = 0) -> Path:
    "Write a `clip` package into `dest_dir` whose `load` returns `random_clip(seed)`'s weights with OpenAI clip's interface."
    pkg = Path(dest_dir) / "clip"; pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text(_CLIP_SHIM.replace("{seed}", str(int(seed))).replace("{tools!r}", repr(str(Path(__file__).parent))))
    return pkg
