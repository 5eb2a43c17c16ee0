"""Table 1 layout of the shapes-world comparison from metrics.csv: python reports/zero_shot_comparison/table.py [metrics.csv]"""
import sys
from pathlib import Path
import pandas as pd

csv = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).with_name("metrics.csv"))
df = pd.read_csv(csv)
df["setting"] = df["setting"].str.split(":").str[0]
METHODS = [m for m in ("nada", "ipl", "svl", "air") if m in set(df["method"])]
ATTR = {"shapes-photo-to-sketch": "style", "shapes-photo-to-painting": "style", "shapes-red-to-blue": "color", "shapes-circle-to-square": "shape"}
COLS = [("target share (judge) ↑", lambda s: f"target_share[judge:{ATTR[s]}]"),
        ("others preserved (judge) ↑", lambda s: "preserved[judge:all-others]"),
        ("FID (judge features) ↓", lambda s: "fid[judge]"),
        ("intra-dist (judge features, pairwise) ↑", lambda s: "intra_dist[judge-features,pairwise]")]
lines = []
for title, col in COLS:
    lines += [f"**{title}**", "", "| setting | " + " | ".join(m.upper() for m in METHODS) + " |", "|---|" + "---|" * len(METHODS)]
    for s in [s for s in ATTR if s in set(df["setting"])]:
        cells = []
        for m in METHODS:
            v = df[(df.setting == s) & (df.method == m)][col(s)].dropna()
            cells.append(f"{v.mean():.3f} ± {v.std(ddof=1):.3f} (n={len(v)})" if len(v) > 1 else (f"{v.mean():.3f} (n=1)" if len(v) else "–"))
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    lines.append("")
print("\n".join(lines))
