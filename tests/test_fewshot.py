"""Few-shot methods (FreezeD, IDC, RSSA, ASC): each loss against an independent computation written out from the
papers' formulas, the discriminator's phases, and resume equals an uninterrupted run."""
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from air_nb.core.base import ConfigError
from air_nb.models.generators import Generator
from air_nb.clip.models import tiny_random_clip
from air_nb.training.trainer import adapt, make_config
from air_nb.methods.idc import idc_loss, pairwise_similarities
from air_nb.methods.asc import pair_similarities, asc_loss, bilinear_at, sample_positions, farneback_flow, sobel_importance
from air_nb.methods.rssa import self_correlation_loss
from air_nb.methods.freezed import load_target_images


def kl_rows_loop(p_logits, q_logits):
    "Σ_ij p_ij log(p_ij / q_ij) / (number of elements), with the softmaxes written out."
    total, n = 0.0, 0
    for a, b in zip(p_logits.tolist(), q_logits.tolist()):
        zp, zq = sum(math.exp(v) for v in a), sum(math.exp(v) for v in b)
        for u, v in zip(a, b):
            p, q = math.exp(u) / zp, math.exp(v) / zq
            total += p * math.log(p / q); n += 1
    return total / n


def cos(u, v): return float((u * v).sum() / max(float(u.norm() * v.norm()), 1e-8))   # 0 for a zero vector (as F.cosine_similarity)


# ---------------------------------------------------------------- IDC, Eq. 1-2
def idc_loop(src, tgt, layer):
    B = len(src[layer])
    S = [[cos(src[layer][i].flatten(), src[layer][j].flatten()) for j in range(B) if j != i] for i in range(B)]
    T = [[cos(tgt[layer][i].flatten(), tgt[layer][j].flatten()) for j in range(B) if j != i] for i in range(B)]
    return kl_rows_loop(torch.tensor(S, dtype=torch.float64), torch.tensor(T, dtype=torch.float64))


def test_idc_loss_is_eq_1_2():
    g = torch.Generator().manual_seed(0)
    src = {"a": torch.randn(4, 3, 4, 4, generator=g), "b": torch.randn(4, 2, 8, 8, generator=g)}
    tgt = {k: v + 0.7 * torch.randn(v.shape, generator=g) for k, v in src.items()}
    want = (idc_loop(src, tgt, "a") + idc_loop(src, tgt, "b")) / 2          # mean over layers of KL(source ‖ target)
    assert abs(idc_loss(src, tgt, ["a", "b"]).item() - want) < 1e-6
    # KL direction: source first (swapping the generators gives another value)
    assert abs(idc_loss(tgt, src, ["a", "b"]).item() - want) > 0.01 * want
    # the reference code's draw: row i uses layer rows[i]
    rows = torch.tensor([0, 1, 1, 0])
    S = torch.stack([pairwise_similarities(src[("a", "b")[r]])[i] for i, r in enumerate(rows.tolist())])
    T = torch.stack([pairwise_similarities(tgt[("a", "b")[r]])[i] for i, r in enumerate(rows.tolist())])
    assert abs(idc_loss(src, tgt, ["a", "b"], rows).item() - kl_rows_loop(S.double(), T.double())) < 1e-6


# ---------------------------------------------------------------- RSSA, Eq. 3-4
def test_self_correlation_loss_is_eq_3_4():
    g = torch.Generator().manual_seed(1)
    src = {"x": torch.randn(2, 3, 8, 8, generator=g)}
    tgt = {"x": src["x"] + 0.5 * torch.randn(2, 3, 8, 8, generator=g)}
    ps, pt = F.avg_pool2d(src["x"], 2), F.avg_pool2d(tgt["x"], 2)                # pooled by 2: 4x4 positions
    total, n = 0.0, 0
    for b in range(2):
        for X in range(16):
            for Y in range(16):
                a = cos(ps[b, :, X // 4, X % 4], ps[b, :, Y // 4, Y % 4]); c = cos(pt[b, :, X // 4, X % 4], pt[b, :, Y // 4, Y % 4])
                d = abs(a - c); total += 0.5 * d * d if d < 1 else d - 0.5; n += 1
    assert abs(self_correlation_loss(src, tgt, ["x"], "whole-map").item() - total / n) < 1e-6   # older air_nb's form, by name


def test_self_correlation_loss_is_the_codes_windows():
    """The default (the authors' code): normalise, pool by 2, Eq. 3-4 within each window of the 2x2 grid and the central one;
    summed. The similarity is the dot product of the pooled unit vectors (the code does not normalise again after pooling)."""
    g = torch.Generator().manual_seed(1)
    src = {"x": torch.randn(2, 3, 16, 16, generator=g), "y": torch.randn(2, 3, 8, 8, generator=g)}
    tgt = {k: v + 0.5 * torch.randn(v.shape, generator=g) for k, v in src.items()}
    want = 0.0
    for k in ("x", "y"):
        ps, pt = (F.avg_pool2d(F.normalize(f[k], dim=1), 2) for f in (src, tgt))  # p x p positions, p = s / 2
        p = ps.shape[-1]; w = p // 2
        for corners in ([(0, 0), (0, w), (w, 0), (w, w)], [(p // 4, p // 4)]):    # the grid pass, the central pass
            total, n = 0.0, 0
            for b in range(2):
                for (i, j) in corners:
                    cells = [(i + u, j + v) for u in range(w) for v in range(w)]
                    for X in cells:
                        for Y in cells:
                            a = float(ps[b, :, X[0], X[1]] @ ps[b, :, Y[0], Y[1]]); c = float(pt[b, :, X[0], X[1]] @ pt[b, :, Y[0], Y[1]])
                            d = abs(a - c); total += 0.5 * d * d if d < 1 else d - 0.5; n += 1
            want += total / n
    assert abs(self_correlation_loss(src, tgt, ["x", "y"]).item() - want) < 1e-6


# ---------------------------------------------------------------- ASC, Eq. 6-9
def test_displaced_features_are_roi_align():
    from torchvision.ops import roi_align
    g = torch.Generator().manual_seed(2)
    f = torch.randn(2, 5, 8, 8, generator=g)
    x = torch.rand(2, 7, generator=g) * 9 - 1                                     # inside [-1, 8], borders included
    y = torch.rand(2, 7, generator=g) * 9 - 1
    ours = bilinear_at(f, x, y)
    for b in range(2):      # the reference code: RoIAlign(1, 1, -1, aligned=False) on the box [x-.5, y-.5, x+.5, y+.5]
        boxes = torch.stack([torch.full((7,), float(b)), x[b] - .5, y[b] - .5, x[b] + .5, y[b] + .5], 1)
        ref = roi_align(f, boxes, output_size=1, spatial_scale=1.0, sampling_ratio=-1, aligned=False)[:, :, 0, 0]
        assert (ours[b].T - ref).abs().max() < 1e-5


def test_asc_loss_is_eq_7_8():
    g = torch.Generator().manual_seed(3)
    s = 6
    fp, fc = torch.randn(2, 4, s, s, generator=g), torch.randn(2, 4, s, s, generator=g)
    flow = torch.randn(2, 2, s, s, generator=g) * 0.7
    p, q = torch.randint(0, s * s, (2, 9), generator=g), torch.randint(0, s * s, (2, 9), generator=g)
    src, tgt = pair_similarities(fp, fc, p, q, flow, read="bilinear")     # the paper's bilinear read (the code's RoIAlign: the default)

    def bil(b, xa, ya):      # bilinear interpolation written out; RoIAlign's rule: 0 beyond [-1, s], clamped inside
        if not (-1 <= xa <= s and -1 <= ya <= s): return torch.zeros(4)
        xa, ya = min(max(xa, 0.0), s - 1.0), min(max(ya, 0.0), s - 1.0)
        x0, y0 = min(int(math.floor(xa)), s - 2), min(int(math.floor(ya)), s - 2)
        ax, ay = xa - x0, ya - y0
        return ((1 - ax) * (1 - ay) * fc[b, :, y0, x0] + ax * (1 - ay) * fc[b, :, y0, x0 + 1]
                + (1 - ax) * ay * fc[b, :, y0 + 1, x0] + ax * ay * fc[b, :, y0 + 1, x0 + 1])
    for b in range(2):
        for j in range(9):
            P, Q = p[b, j].item(), q[b, j].item()
            assert abs(src[b, j].item() - cos(fp[b, :, P // s, P % s], fp[b, :, Q // s, Q % s])) < 1e-5
            mp = bil(b, P % s + flow[b, 0, P // s, P % s].item(), P // s + flow[b, 1, P // s, P % s].item())
            mq = bil(b, Q % s + flow[b, 0, Q // s, Q % s].item(), Q // s + flow[b, 1, Q // s, Q % s].item())
            assert abs(tgt[b, j].item() - cos(mp, mq)) < 1e-5
    s2, t2 = src[:, :4] * 1.3, tgt[:, :4] - 0.2
    per_layer = (kl_rows_loop(src.double(), tgt.double()) + kl_rows_loop(s2.double(), t2.double())) / 2
    joint = kl_rows_loop(torch.cat([src, s2], 1).double(), torch.cat([tgt, t2], 1).double())
    assert abs(asc_loss([src, s2], [tgt, t2], "per_layer").item() - per_layer) < 1e-6
    assert abs(asc_loss([src, s2], [tgt, t2], "joint").item() - joint) < 1e-6


def test_flow_threshold_per_image_or_per_batch():
    imp = torch.ones(2, 16, 16)
    flow = torch.zeros(2, 2, 16, 16)
    flow[0, 0] = torch.linspace(0, 1, 16).expand(16, 16)          # image 0: small, graded flow
    flow[1, 0] = torch.linspace(0, 10, 16).expand(16, 16)         # image 1: large flow everywhere but the left
    g = lambda: torch.Generator().manual_seed(0)
    p_img, _, _ = sample_positions(imp, flow, 16, 400, 0.6, "image", g())
    p_bat, _, _ = sample_positions(imp, flow, 16, 400, 0.6, "batch", g())
    # per image: each keeps its own 60 % least-moving columns; per batch: image 1 loses nearly all of its columns
    assert (p_img[0] % 16).max() <= 10 and (p_img[1] % 16).max() <= 10
    assert (p_bat[1] % 16).max() < (p_img[1] % 16).max() and (p_bat[0] % 16).max() == 15


def test_sobel_importance_finds_edges():
    img = -torch.ones(1, 3, 32, 32); img[..., 8:24, 8:24] = 1
    imp = sobel_importance(img, blur=0)
    assert imp[0, 16, 8] > 1 and imp[0, 16, 16] < 1e-5 and imp[0, 2, 2] < 1e-5      # flat: 0 up to float rounding of the grey


# ---------------------------------------------------------------- methods in the trainer
def tiny_generator(seed=0):
    torch.manual_seed(seed)
    return Generator.from_config({"arch": "stylegan2", "resolution": 32, "z_dim": 16, "w_dim": 16, "n_mapping": 1,
                                  "channel_base": 128, "channel_max": 16})


FEW = dict(source="photo", target="sketch", clip_model="tiny-random", target_images="shapes:sketch", shots=5, batch=4,
           iterations=6, r1_gamma=0.05, r1_interval=4, anchor_every=2, n_samples=2, d_channel_base=128, d_channel_max=8,
           device="cpu")
ASC = dict(ema_decay=0.9, flow_winsize=5.0, sobel_blur=3, sobel_sigma=1.0)


def run(method, out_dir=None, **kw):
    extra = ASC if method == "asc" else {}
    if method == "freezed": kw = {k: v for k, v in {**FEW, **kw}.items() if k != "anchor_every"}
    else: kw = {**FEW, **kw}
    return adapt(generator=tiny_generator(), clip=tiny_random_clip(), method=method, progress=False,
                 out_dir=None if out_dir is None else str(out_dir), **extra, **kw)


@pytest.mark.parametrize("method", ["asc", "idc"])
def test_resume_equals_uninterrupted(tmp_path, method):
    full = run(method, tmp_path / "full", checkpoint_every=2)
    part = run(method, tmp_path / "part", checkpoint_every=2, stop_after=3)
    assert len(part.history) == 3
    resumed = run(method, tmp_path / "part", checkpoint_every=2)
    a, b = full.generator.state_dict(), resumed.generator.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    keys = [k for k in full.history[0] if k != "seconds"]
    assert [[h.get(k) for k in keys] for h in full.history] == [[h.get(k) for k in keys] for h in resumed.history]
    assert "D" in torch.load(sorted((tmp_path / "full" / "checkpoints").glob("*.pt"))[-1], weights_only=False)["method"]


def test_phases_anchors_and_lazy_r1():
    r = run("idc")
    h = r.history
    assert [x["anchor"] for x in h] == [1, 0, 1, 0, 1, 0]
    assert [x.get("D_reg_r1", 0) > 0 for x in h] == [True, False, False, False, True, False]     # every r1_interval = 4, its own pass
    assert all(x["idc"] > -1e-7 and math.isfinite(x["loss"]) for x in h)     # KL >= 0 up to rounding


def test_freezed_keeps_frozen_layers():
    from air_nb.training.trainer import Trainer
    cfg = make_config(method="freezed", generator="in-memory", **{k: v for k, v in FEW.items() if k not in ("anchor_every", "iterations")},
                      freeze_layers=4, iterations=3)
    tr = Trainer(cfg, tiny_random_clip(), tiny_generator(), progress=False)
    tr.setup()
    before = {k: v.clone() for k, v in tr.method.D.state_dict().items()}
    tr.resume = False
    for t in range(3): tr.step(t)
    after = tr.method.D.state_dict()
    frozen = [k for k in before if k.startswith(("from_rgb.", "blocks.0."))]
    assert frozen and all(torch.equal(before[k], after[k]) for k in frozen)
    assert not torch.equal(before["out.weight"], after["out.weight"])


def test_bad_few_shot_inputs(tmp_path):
    with pytest.raises(ConfigError, match="target_images is empty"):
        make_config(method="idc", generator="x", source="a", target="b", target_images="")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="holds no images"):
        run("idc", target_images=str(tmp_path / "empty"))
    with pytest.raises(ConfigError, match="does not exist"):
        run("idc", target_images=str(tmp_path / "missing"))
    torch.save(torch.zeros(3, 3, 32, 32, dtype=torch.uint8), tmp_path / "three.pt")
    with pytest.raises(ConfigError, match="fewer than shots=5"):
        run("idc", target_images=str(tmp_path / "three.pt"))
    with pytest.raises(ConfigError, match="sobel_on"):
        make_config(method="asc", generator="x", source="a", target="b", target_images="shapes:sketch", sobel_on="both")


# ---------------------------------------------------------------- nbs/fewshot.ipynb under papermill
def _executed(nb_path):
    import json
    nb = json.loads(Path(nb_path).read_text())
    return [c for c in nb["cells"] if c["cell_type"] == "code" and c.get("execution_count")]


def test_fewshot_notebook_offline_end_to_end(tmp_path):
    from helpers import run_papermill
    res = run_papermill("fewshot.ipynb", tmp_path / "out.ipynb", tmp_path, preset="shapes-photo-to-sketch-10shot", method="asc",
                        iterations=6, n_eval=60, out_dir=tmp_path / "run")
    assert res.returncode == 0, res.stderr[-4000:]
    for f in ("config.json", "losses.csv", "timings.json", "generator_ema.safetensors", "metrics.json"):
        assert (tmp_path / "run" / f).exists(), f
    import json
    scores = json.loads((tmp_path / "run" / "metrics.json").read_text())["scores"]
    assert "fid[judge]" in scores and ("ic_lpips" in scores or "ic_dist[judge-features]" in scores)
    assert "image/png" in (tmp_path / "out.ipynb").read_text()


def test_fewshot_notebook_bad_inputs_stop_early(tmp_path):
    from helpers import run_papermill
    (tmp_path / "empty").mkdir()
    few = tmp_path / "two"; few.mkdir()
    import numpy as np
    from PIL import Image
    for i in range(2): Image.fromarray(np.full((32, 32, 3), 60 * i, np.uint8)).save(few / f"{i}.png")
    cases = [(dict(preset="shapes-photo-to-sketch-10shot", target_images=tmp_path / "empty"), "holds no images"),
             (dict(preset="shapes-photo-to-sketch-10shot", target_images=tmp_path / "missing"), "does not exist"),
             (dict(preset="shapes-photo-to-sketch-10shot", target_images=few, shots=5), "fewer than shots=5"),
             (dict(generator="faces-dcgan", target_images=few, shots=2), "without a discriminator")]
    for i, (params, message) in enumerate(cases):
        res = run_papermill("fewshot.ipynb", tmp_path / f"out{i}.ipynb", tmp_path, **params, out_dir=tmp_path / f"run{i}")
        assert res.returncode != 0 and message in res.stderr, (params, res.stderr[-3000:])
        assert len(_executed(tmp_path / f"out{i}.ipynb")) <= 4      # parameters, injected parameters, setting, checks
        assert not (tmp_path / f"run{i}" / "checkpoints").exists()


# ---------------------------------------------------------------- world-2 presets, source discriminator, IDC's details
def test_world2_presets_and_grid():
    from air_nb.training.trainer import PRESETS
    from air_nb.shapes.world2 import FEWSHOT_SETTINGS
    from air_nb.scale.sweep import GRIDS
    from air_nb.shapes.world2 import FEW_SHOT_TARGETS
    for stem, s in FEWSHOT_SETTINGS.items():
        for k in (5, 10):
            cfg = make_config(preset=f"{stem}-{k}shot")
            m, r = cfg.method, cfg.run
            assert m.target_images.startswith("shapes2:") and m.target_images[8:] in FEW_SHOT_TARGETS and m.shots == k
            assert r.generator == FEW_SHOT_TARGETS[m.target_images[8:]]["source"]          # the set's own source
            assert m.r1_gamma == pytest.approx(0.0002 * 64 ** 2 / r.batch) and m.discriminator == "auto"
            assert m.flow_winsize == 16 * 64 / 256 and m.flow_winsize_max == 32 * 64 / 256
    assert make_config(preset="shapes-photo-to-sketch-10shot").method.target_images == "shapes2:photo-sketch"   # old name, world 2 now
    names = [s["preset"] for s in GRIDS["shapes-few-shot"]["settings"]]
    assert "shapes-photo-to-corner-10shot" in names and all(n in PRESETS for n in names)
    with pytest.raises(ConfigError, match="unknown preset"):
        make_config(preset="shapes-photo-to-sketch-7shot")


def test_methods_start_from_the_shipped_discriminator():
    from air_nb.training.trainer import Trainer
    from air_nb.core.base import find_weights
    from air_nb.shapes.training import load_discriminator
    shipped = load_discriminator(find_weights("shapes-circle-discriminator.safetensors")).state_dict()
    def d_state(**kw):
        tr = Trainer(make_config(preset="shapes-circle-to-star-5shot", method="idc", iterations=1, n_samples=2, **kw), progress=False)
        tr.resume = False; tr.setup()
        return tr.method.D.state_dict(), tr._resolved()
    sd, resolved = d_state()
    assert all(torch.equal(sd[k], shipped[k]) for k in shipped) and "patch_head.weight" in sd
    assert resolved["discriminator_file"].endswith("shapes-circle-discriminator.safetensors")
    sd_r, resolved_r = d_state(discriminator="random")
    assert not torch.equal(sd_r["out.weight"], shipped["out.weight"]) and resolved_r["discriminator_file"] == "random weights"


def test_path_length_penalty_against_a_written_out_jacobian():
    "pl = (|J^T y| - a)^2 with J = d img / d w+, y the noise / sqrt(HW), a = 0.01 * mean length at the first call (a_0 = 0)."
    from air_nb.training.trainer import Trainer
    cfg = make_config(generator="in-memory", method="freezed", **{k: v for k, v in FEW.items() if k != "anchor_every"})
    tr = Trainer(cfg, tiny_random_clip(), tiny_generator(), progress=False); tr.resume = False; tr.setup()
    m = tr.method
    m.pl_noise_seed = 7
    w = tr.source.latents(torch.randn(4, 16))
    got = m.path_length(w)
    G, wp = tr.generator, tr.generator.as_w_plus(w[:2]).detach()
    img = G.synthesize(wp)
    y = torch.randn(img.shape, generator=torch.Generator().manual_seed(7)) / math.sqrt(img.shape[2] * img.shape[3])
    lengths = []
    for i in range(2):     # one sample at a time, by the full Jacobian-vector product written out
        f = lambda x: (G.synthesize(torch.cat([wp[:i], x[None], wp[i + 1:]])) * y).sum()
        g = torch.autograd.functional.jacobian(f, wp[i])
        lengths.append(g.square().sum(1).mean().sqrt())
    lengths = torch.stack(lengths)
    a = 0.01 * lengths.mean()
    assert float(got.detach()) == pytest.approx(float((lengths - a).square().mean()), rel=1e-4)
    assert float(m.pl_mean) == pytest.approx(float(a), rel=1e-5)


# ---------------------------------------------------------------- the seed paper's Table 1 (FFHQ 256 px, IDC's sets)
def test_paper_fewshot_presets_and_grid():
    from air_nb.training.trainer import PRESETS, PAPER_FEWSHOT_DOMAINS
    from air_nb.scale.sweep import GRIDS
    for d in PAPER_FEWSHOT_DOMAINS:
        for k in (10, 5):
            for method in ("freezed", "idc", "rssa", "asc"):
                cfg = make_config(preset=f"ffhq-to-{d}-{k}shot", method=method)
                r, m = cfg.run, cfg.method
                assert (r.generator, r.iterations, r.batch, r.lr) == ("ffhq-256-idc", 5002, 4, 0.002)
                assert r.ema_decay == pytest.approx(0.997784, abs=1e-6) and m.r1_gamma == 10 and m.r1_interval == 16
                assert m.target_images == f"fewshot:{d}-{k}shot" and m.shots == k and m.discriminator == "source"
            assert make_config(preset=f"ffhq-to-{d}-{k}shot").method.flow_winsize == 16     # the 256 px values, unscaled
    g = GRIDS["paper-fewshot-table1"]
    assert len(g["settings"]) * len(g["methods"]) == 40 and all(s in PRESETS for s in g["settings"])


def test_paper_discriminator_is_read_from_the_generator_checkpoint(tmp_path, monkeypatch):
    "discriminator='source' for a preset whose official checkpoint holds D: the rosinality `d` of that file, loaded exactly."
    import shutil
    from air_nb.methods.freezed import resolve_discriminator, _read_discriminator
    from air_nb.models.discriminators import load_rosinality_discriminator
    from air_nb.core.base import MissingWeightsError
    monkeypatch.setenv("AIR_NB_WEIGHTS", str(tmp_path))
    with pytest.raises(MissingWeightsError, match="ffhq-256-idc.pt"):
        resolve_discriminator("source", "ffhq-256-idc")
    fixture = Path(__file__).parent / "fixtures/discriminators/rosinality_d_small.pt"
    shutil.copy(fixture, tmp_path / "ffhq-256-idc.pt")          # a random-weight rosinality checkpoint in the preset's place
    path = resolve_discriminator("source", "ffhq-256-idc")
    assert path == tmp_path / "ffhq-256-idc.pt"
    D, D0 = _read_discriminator(path, "cpu", 8), load_rosinality_discriminator(fixture, patch_resolution=8)
    x = torch.randn(2, 3, D.resolution, D.resolution)
    torch.testing.assert_close(D(x), D0(x))


def test_paper_fewshot_notebook_says_what_to_download(tmp_path, monkeypatch):
    "Without IDC's checkpoint and images, the paper preset stops before training with a message naming the file to download."
    from helpers import run_papermill
    monkeypatch.setenv("AIR_NB_WEIGHTS", str(tmp_path / "weights"))
    res = run_papermill("fewshot.ipynb", tmp_path / "out.ipynb", tmp_path, preset="ffhq-to-babies-10shot", out_dir=tmp_path / "run")
    assert res.returncode != 0 and "ffhq-256-idc.pt" in res.stderr and "MissingWeightsError" in res.stderr, res.stderr[-3000:]
    assert not (tmp_path / "run" / "checkpoints").exists()
