"""Judge measures of shapes-diffusion adaptation runs (reports/diffusion_shapes.md).

    PYTHONPATH=. python tools/diffusion_shapes_report.py RUN_ROOT [--n 200] [--seed 123]

For every run folder under RUN_ROOT: the shapes judge on the same `n` latents (x_T from `seed`) of the source
(`shapes-diffusion`) and of the run's final EMA generator: the share of the target style before and after, and how
often colour and shape are the source's. Writes RUN_ROOT/metrics.csv and prints two Markdown tables: each measure as
mean [95 % percentile bootstrap over seeds], and AIR minus NADA paired by seed.
"""
import argparse, sys
from pathlib import Path

import pandas as pd
import torch

from air_nb import runs
from air_nb.generators import load_generator
from air_nb.metrics import judge_predictions, run_info, seed_ci
from air_nb.shapes import load_judge, STYLES


def main(argv=None):
    ap = argparse.ArgumentParser(); ap.add_argument("root"); ap.add_argument("--n", type=int, default=200); ap.add_argument("--seed", type=int, default=123)
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    judge, rows, sources = load_judge(), [], {}
    folders = sorted(p.parent for p in Path(a.root).rglob("config.json") if runs.is_finished(p.parent))
    for f in folders:
        info = run_info(f); cfg = info["config"]
        src_name = cfg["generator"]
        if src_name not in sources: sources[src_name] = judge_predictions(judge, load_generator(src_name), a.n, a.seed)
        before, after = sources[src_name], judge_predictions(judge, load_generator(f), a.n, a.seed)
        t = STYLES.index(cfg["target"])
        rows.append({"setting": cfg.get("preset"), "method": info["method"], "seed": info["seed"],
                     "grad_mode": (cfg.get("generator_options") or {}).get("grad_mode", "full"),
                     "target_share_before": float((before["style"] == t).float().mean()), "target_share_after": float((after["style"] == t).float().mean()),
                     "color_kept": float((after["color"] == before["color"]).float().mean()), "shape_kept": float((after["shape"] == before["shape"]).float().mean()),
                     "run": str(f)})
        print(rows[-1], flush=True)
    df = pd.DataFrame(rows); df.to_csv(Path(a.root) / "metrics.csv", index=False)
    cols = ["target_share_before", "target_share_after", "color_kept", "shape_kept"]
    print(table(df, cols))
    print()
    print(paired_differences(df, cols))


def _ci(values) -> str:
    "mean [95 % percentile bootstrap over seeds] (the mean alone for one seed)"
    v = pd.Series(values).dropna().to_numpy()
    if len(v) < 2: return f"{v.mean():.2f}"
    lo, hi = seed_ci(v)
    return f"{v.mean():.2f} [{lo:.2f}, {hi:.2f}]"


def table(df, cols) -> str:
    "Markdown rows: one per setting, gradient mode and method, each measure as mean [bootstrap interval over seeds]."
    rows = ["| setting | grad | method | seeds | " + " | ".join(cols) + " |", "|---" * (4 + len(cols)) + "|"]
    for (setting, grad, method), g in df.groupby(["setting", "grad_mode", "method"]):
        rows.append(f"| {setting} | {grad} | {method} | {len(g)} | " + " | ".join(_ci(g[c]) for c in cols) + " |")
    return "\n".join(rows)


def paired_differences(df, cols) -> str:
    "AIR minus NADA per setting and gradient mode, paired by seed (both runs start from the same seed's x_T and RNG)."
    rows = ["| setting | grad | seeds | " + " | ".join(f"AIR - NADA {c}" for c in cols[1:]) + " |", "|---" * (3 + len(cols) - 1) + "|"]
    for (setting, grad), g in df.groupby(["setting", "grad_mode"]):
        w = g.pivot_table(index="seed", columns="method", values=cols[1:])
        if "air" not in w.columns.get_level_values(1) or "nada" not in w.columns.get_level_values(1): continue
        d = {c: (w[(c, "air")] - w[(c, "nada")]).dropna() for c in cols[1:]}
        rows.append(f"| {setting} | {grad} | {len(d[cols[1]])} | " + " | ".join(_ci(d[c]) for c in cols[1:]) + " |")
    return "\n".join(rows)

if __name__ == "__main__": main()
