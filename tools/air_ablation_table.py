"""AIR's prompt-scheme ablation (paper Table 4) from two metrics.csv files: the benchmark's AIR runs (scheme
'consecutive', A_{i-1} -> A_i, the default) and the ablation sweep's runs (folders '<preset>-<scheme>/air-s<seed>').
Mean over seeds [95 % bootstrap interval over seeds] (n).

    PYTHONPATH=. python tools/air_ablation_table.py reports/shapes_benchmark/metrics.csv reports/air_prompt_ablation/metrics.csv --seeds 0 1 2
"""
import argparse
from pathlib import Path
import pandas as pd
from air_nb.metrics import seed_ci

p = argparse.ArgumentParser(); p.add_argument("benchmark"); p.add_argument("ablation"); p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
a = p.parse_args()
bench, abl = pd.read_csv(a.benchmark), pd.read_csv(a.ablation)
bench = bench[bench.method == "air"].assign(scheme="consecutive (A_{i-1} -> A_i)")
abl = abl.assign(scheme=[Path(r).parent.name.rsplit("-", 1)[1] for r in abl.run])
abl["scheme"] = abl["scheme"].map({"source": "source (S -> A_i)", "image": "image (I -> T)"})
df = pd.concat([bench, abl])
df = df[df.seed.isin(a.seeds)]
df["setting"] = df["setting"].str.split(":").str[0]
ATTR = {"shapes-photo-to-sketch": "style", "shapes-red-to-blue": "color"}
df = df[df.setting.isin(ATTR)]
COLS = [("target share (judge) ↑", lambda s: f"target_share[judge:{ATTR[s]}]"), ("others preserved (truth) ↑", lambda s: "preserved[truth:all-others]"),
        ("paired judge-cosine to ideal ↓", lambda s: "paired_dist[judge-cosine]"), ("FID[judge] ↓", lambda s: "fid[judge]")]
schemes = list(dict.fromkeys(df.scheme))
lines = ["| setting | scheme | " + " | ".join(t for t, _ in COLS) + " |", "|---|---|" + "---|" * len(COLS)]
for s in ATTR:
    for sc in schemes:
        part, cells = df[(df.setting == s) & (df.scheme == sc)], []
        for _, col in COLS:
            v = part[col(s)].dropna()
            lo, hi = seed_ci(v)
            cells.append(f"{v.mean():.3f} [{lo:.3f}, {hi:.3f}] (n={len(v)})" if len(v) > 1 else (f"{v.mean():.3f}" if len(v) else "–"))
        lines.append(f"| {s} | {sc} | " + " | ".join(cells) + " |")
print("\n".join(lines))
