"""The few-shot paper's ablation (its Table 4) on world 2's layout-shifted set (photo -> corner, 10-shot), read by
attainment first (this folder's README.md): IDC, + L_asc, + progressive adaptation (PA), + importance sampling (ImpS) = ASC,
3 seeds, 500 iterations with the few-shot comparison's scaled EMA (the grid `shapes-asc-ablation`).

    python reports/asc_ablation/make.py --run runs/asc_ablation        # train (a Ray sweep with checkpoints), measure, tables
    python reports/asc_ablation/make.py --evaluate runs/asc_ablation   # metrics.csv from the finished runs' own measures
    python reports/asc_ablation/make.py --tables                       # README tables and headline.md from metrics.csv

Every run goes through `air_nb.scale.sweep` with checkpoints: rerun the same command to continue a cut-off sweep.
"""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from study import study_parser, run_study, replace_block, write_headline, md_table, ci_cell

HERE = Path(__file__).resolve().parent
GRID = "shapes-asc-ablation"
LABELS = {"idc": "IDC (ASC's code path, λ_asc = 0)", "idc+asc": "+ L_asc (against the source, aligned positions)",
          "idc+asc+pa": "+ progressive adaptation", "idc+asc+pa+imps": "+ importance sampling (= ASC)"}
MEASURES = [   # (title, column): attainment first
    ("reached: the nearest clean render is the set's target and the image is on-world ↑", "attainment[reached]"),
    ("kept: shape, colour and style as the latent's truth ↑", "attainment[kept]"),
    ("off-world ↓", "attainment[off-world]"),
    ("residual to the nearest clean render, median ↓", "attainment[residual]"),
    ("paired distance to the ideal image, pixel L1 ↓", "paired_dist[pixel-l1]"),
    ("FID on judge features ↓", "fid[judge]"),
    ("IC diversity on judge features ↑", "ic_dist[judge-features]"),
    ("IS-mean on the judge's joint attribute classes ↑", "is_mean[judge]"),
    ("target share read by the layout judge ↑", "target_share"),
]


def train(runs: Path):
    from air_nb.scale.sweep import run_grid
    print(run_grid(GRID, runs, local_cpus=2).to_string())


def evaluate(runs: Path):
    "metrics.csv: every finished run's own measures (the few-shot notebook's), with its ablation row."
    from air_nb.evaluation.fewshot import sweep_table
    runs = Path(runs).resolve()
    df = sweep_table(runs)
    by_folder = {k.replace("+", "_"): k for k in LABELS}          # the sweep names folders with '+' made '_'
    df["row"] = [by_folder[Path(r).parent.name.split("10shot-", 1)[1]] for r in df.run]
    df["run"] = [Path(r).relative_to(runs).as_posix() for r in df.run]
    df.to_csv(HERE / "metrics.csv", index=False)


def tables():
    import pandas as pd
    df = pd.read_csv(HERE / "metrics.csv")
    rows = [r for r in LABELS if r in set(df.row)]
    out = [f"Runs: {len(df)} (rows {len(rows)}, seeds {sorted(df.seed.unique().tolist())}), iterations {sorted(df.iterations.unique().tolist())}. "
           "Mean over seeds [95 % bootstrap interval over seeds] (n).", ""]
    cols = [c for _, c in MEASURES if c in df]
    out.append(md_table(["row", *cols], [[LABELS[r], *(ci_cell(df[df.row == r][c]) for c in cols)] for r in rows]))
    diffs = []
    for prev, cur in zip(rows[:-1], rows[1:]):
        a, b = (df[df.row == x].set_index("seed") for x in (prev, cur))
        diffs.append([f"{LABELS[cur]} − previous row", *(ci_cell((b[c] - a[c]).dropna()) for c in cols)])
    out += ["", "**Each row minus the row above it, per seed** (the step that row adds):", "", md_table(["step", *cols], diffs)]
    replace_block(HERE / "README.md", "tables", "\n".join(out))
    full, base = (df[df.row == r] for r in ("idc+asc+pa+imps", "idc"))
    write_headline(HERE, f"The few-shot paper's ablation on the layout-shifted set ({len(df)} runs): attainment reached "
                         f"{full['attainment[reached]'].mean():.2f} with every component against {base['attainment[reached]'].mean():.2f} for IDC; "
                         f"FID[judge] {full['fid[judge]'].mean():.1f} against {base['fid[judge]'].mean():.1f}; the steps between rows are tabled with intervals.")


if __name__ == "__main__":
    p = study_parser(__doc__, "the folder the runs go to")
    p.add_argument("--evaluate", metavar="RUNS", help="metrics.csv from the finished runs in RUNS")
    run_study(p, tables, [("run", lambda a: (train(Path(a.run)), evaluate(Path(a.run)))), ("evaluate", lambda a: evaluate(Path(a.evaluate)))])
