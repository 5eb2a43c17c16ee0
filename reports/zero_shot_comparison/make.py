"""Zero-shot comparison on world 2: NADA, IPL, SVL and AIR, 4 settings x 3 seeds (this folder's README.md).

    python reports/zero_shot_comparison/make.py --tables     # README tables and headline.md from metrics.csv
    python reports/zero_shot_comparison/make.py --run runs/zero_shot_comparison --benchmark runs/shapes_benchmark

--run trains the IPL and SVL runs (`python -m air_nb.scale.sweep`, finished runs skipped), evaluates them with
nbs/evaluate.ipynb and adds the shapes benchmark's NADA and AIR rows of seeds 0-2 (its metrics.csv; their `run` paths
point into the benchmark's run folder, `--benchmark`). The source column is the benchmark's source_metrics.csv (the same
generators and latents).
"""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from study import run_study, study_parser, shell, evaluate_runs_into, zero_shot_tables, replace_block, write_headline

HERE = Path(__file__).resolve().parent
BENCHMARK = HERE.parent / "shapes_benchmark"


def run_grid(runs: Path, benchmark_runs: Path):
    import os, pandas as pd
    shell(sys.executable, "-m", "air_nb.scale.sweep", "--grid", "shapes-zero-shot", "--methods", "ipl", "svl",
          "--seeds", 0, 1, 2, "--local-cpus", 1, "--out", runs)
    evaluate_runs_into(HERE, runs)
    b = pd.read_csv(BENCHMARK / "metrics.csv")
    b = b[b.seed.isin([0, 1, 2])].assign(run=lambda d: [os.path.relpath(benchmark_runs / r, runs) for r in d.run])
    pd.concat([b, pd.read_csv(HERE / "metrics.csv")]).to_csv(HERE / "metrics.csv", index=False)


def tables():
    import pandas as pd
    metrics = pd.read_csv(HERE / "metrics.csv")
    replace_block(HERE / "README.md", "tables", zero_shot_tables(metrics, pd.read_csv(BENCHMARK / "source_metrics.csv")))
    write_headline(HERE, headline(metrics))


def headline(metrics) -> str:
    "Which method keeps the most and the least, and where IPL leads."
    df = metrics.assign(setting=metrics.setting.str.split(":").str[0])
    mean = df.groupby(["setting", "method"])[["preserved[truth:all-others]", "fid[judge]", "paired_dist[judge-cosine]"]].mean()
    kept = mean["preserved[truth:all-others]"].unstack()
    least = (kept.idxmin(axis=1) == "air").sum()
    c2s = mean.loc["shapes-circle-to-square"]
    sketch = mean.loc["shapes-photo-to-sketch", "paired_dist[judge-cosine]"]
    return (f"NADA, IPL, SVL and AIR on the four world-2 settings, {df.seed.nunique()} seeds: no method dominates "
            f"(IPL best on circle -> square, FID[judge] {c2s.loc['ipl', 'fid[judge]']:.1f} vs NADA {c2s.loc['nada', 'fid[judge]']:.1f}; "
            f"{sketch.idxmin().upper()} closest to the ideal sketch, judge-cosine {sketch.min():.3f}); AIR keeps the least of "
            f"the other attributes on {least} of {len(kept)} settings ({kept['air'].min():.2f}-{kept['air'].max():.2f}).")


if __name__ == "__main__":
    p = study_parser(__doc__, run_help="train and evaluate IPL and SVL into the run folder RUNS")
    p.add_argument("--benchmark", type=Path, default=Path("runs/shapes_benchmark"), help="the shapes benchmark's run folder")
    run_study(p, tables, [("run", lambda a: run_grid(a.run, a.benchmark))])
