"""Judge measures of shapes-diffusion adaptation runs (reports/diffusion_shapes.md).

    PYTHONPATH=. python tools/diffusion_shapes_report.py RUN_ROOT [--n 200] [--seed 123]

For every run folder under RUN_ROOT: the shapes judge on the same `n` latents (x_T from `seed`) of the source
(`shapes-diffusion`) and of the run's final EMA generator: the share of the target style before and after, and how
often colour and shape are the source's. Writes RUN_ROOT/metrics.csv and prints a Markdown table (mean ± std over seeds).
"""
import argparse, sys
from pathlib import Path

import pandas as pd
import torch

from air_nb import runs
from air_nb.generators import load_generator
from air_nb.metrics import judge_predictions, run_info
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
    g = df.groupby(["setting", "grad_mode", "method"])[cols]
    m, s, n = g.mean(), g.std(), g.size()
    print("| setting | grad | method | seeds | " + " | ".join(cols) + " |"); print("|---" * (4 + len(cols)) + "|")
    for k in m.index:
        print(f"| {k[0]} | {k[1]} | {k[2]} | {n[k]} | " + " | ".join(f"{m.loc[k, c]:.2f} ± {0 if pd.isna(s.loc[k, c]) else s.loc[k, c]:.2f}" for c in cols) + " |")


if __name__ == "__main__": main()
