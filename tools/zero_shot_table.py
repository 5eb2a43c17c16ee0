"""Tables of a shapes-world zero-shot benchmark from its metrics.csv (evaluate.ipynb's output), laid out like the AIR
paper's Table 1: one block per metric, settings as rows, methods as columns; mean over seeds [95 % bootstrap interval of
the mean over seeds] (n seeds). The first column is the source generator itself (not adapted), measured here on the same
latents (seed 0, n = the runs' n_judge).

    PYTHONPATH=. python tools/zero_shot_table.py reports/shapes_benchmark/metrics.csv [--n 500] > tables.md
"""
import argparse
import pandas as pd, torch
from air_nb.metrics import seed_ci, truth_measures, shapes_target, judge_predictions
from air_nb.generators import load_generator
from air_nb.shapes import ATTRIBUTES, load_judge
from air_nb.trainer import PRESETS

p = argparse.ArgumentParser(); p.add_argument("csv"); p.add_argument("--n", type=int, default=500)
a = p.parse_args()
torch.set_num_threads(1)
df = pd.read_csv(a.csv)
df["setting"] = df["setting"].str.split(":").str[0]
methods = [m for m in ("nada", "ipl", "svl", "air") if m in set(df["method"])] + sorted(set(df["method"]) - {"nada", "ipl", "svl", "air"})
settings = list(dict.fromkeys(df["setting"]))
judge = load_judge()
source = {}
for s in settings:
    cfg = dict(PRESETS[s]) if s in PRESETS else {}
    attr, i = shapes_target(cfg)
    G = load_generator(cfg["generator"])
    m = truth_measures(G, judge, attr, ATTRIBUTES[attr][i], a.n, seed=0)
    m[f"target_share[judge:{attr}]"] = float((judge_predictions(judge, G, a.n, seed=0)[attr] == i).float().mean())
    source[s] = m
COLS = [("target share (judge) ↑", lambda s: f"target_share[judge:{shapes_target(PRESETS[s])[0]}]"),
        ("others preserved against the ground truth ↑", lambda s: "preserved[truth:all-others]"),
        ("others preserved, judge before vs after ↑", lambda s: "preserved[judge:all-others]"),
        ("paired distance to the ideal image, judge-feature cosine ↓", lambda s: "paired_dist[judge-cosine]"),
        ("paired distance to the ideal image, pixel L1 ↓", lambda s: "paired_dist[pixel-l1]"),
        ("paired distance to the ideal image on the ground (2 px image border), pixel L1 ↓", lambda s: "paired_dist[border-l1]"),
        ("FID on judge features vs ideal target images ↓", lambda s: "fid[judge]"),
        ("diversity: intra-dist (judge features, pairwise, K-medoids K = 10) ↑", lambda s: "intra_dist[judge-features,pairwise]")]
out = []
for title, col in COLS:
    out += [f"**{title}**", "", "| setting | source | " + " | ".join(m.upper() for m in methods) + " |", "|---|---|" + "---|" * len(methods)]
    for s in settings:
        key = col(s)
        src = source[s].get(key)
        cells = [f"{src:.3f}" if src is not None else "–"]
        for m in methods:
            v = df[(df.setting == s) & (df.method == m)][key].dropna() if key in df else pd.Series(dtype=float)
            if len(v) > 1: lo, hi = seed_ci(v); cells.append(f"{v.mean():.3f} [{lo:.3f}, {hi:.3f}] (n={len(v)})")
            else: cells.append(f"{v.mean():.3f} (n=1)" if len(v) else "–")
        out.append(f"| {s} | " + " | ".join(cells) + " |")
    out.append("")
print("\n".join(out))
