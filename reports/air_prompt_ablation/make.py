"""AIR's prompt-scheme ablation (paper Table 4) on world 2: the schemes 'source' and 'image' against the benchmark's
'consecutive' AIR runs, photo -> sketch and red -> blue, seeds 0-2 (this folder's README.md).

    python reports/air_prompt_ablation/make.py --tables                       # README table and headline.md from the CSVs
    python reports/air_prompt_ablation/make.py --run runs/air_prompt_ablation  # 12 AIR runs + evaluation, then the table

The consecutive rows are read from ../shapes_benchmark/metrics.csv; this folder's metrics.csv holds the other two
schemes (run folders `<preset>-<scheme>/air-s<seed>`).
"""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from study import run_study, study_parser, evaluate_runs_into, replace_block, write_headline, md_table, ci_cell

HERE = Path(__file__).resolve().parent
SETTINGS = {"shapes-photo-to-sketch": "style", "shapes-red-to-blue": "color"}
SCHEMES = {"consecutive": "consecutive (A_{i-1} -> A_i)", "image": "image (I -> T)", "source": "source (S -> A_i)"}
MEASURES = [("target share (judge) ↑", "target_share[judge:{attr}]"), ("others preserved (truth) ↑", "preserved[truth:all-others]"),
            ("paired judge-cosine to ideal ↓", "paired_dist[judge-cosine]"), ("FID[judge] ↓", "fid[judge]")]


def main():
    "The command line: the stages asked for, then the tables."
    p = study_parser(__doc__, run_help="train and evaluate the two schemes into the run folder RUNS")
    run_study(p, tables, [("run", lambda a: run_grid(a.run))])


def run_grid(runs: Path):
    from air_nb.scale.sweep import run_sweep
    grid = [dict(name=f"{p}-{s}", preset=p, prompt_scheme=s) for p in SETTINGS for s in ("source", "image")]
    run_sweep(grid, ["air"], [0, 1, 2], str(runs), cpus_per_run=1, local_cpus=1)
    evaluate_runs_into(HERE, runs)


def scheme_runs(seeds=(0, 1, 2)):
    "The benchmark's AIR runs (consecutive) and this folder's runs, one row each, with `scheme` and the bare setting."
    import pandas as pd
    bench = pd.read_csv(HERE.parent / "shapes_benchmark" / "metrics.csv")
    bench = bench[bench.method == "air"].assign(scheme="consecutive")
    ablation = pd.read_csv(HERE / "metrics.csv")
    ablation = ablation.assign(scheme=[Path(r).parent.name.rsplit("-", 1)[1] for r in ablation.run])
    df = pd.concat([bench, ablation])
    df = df.assign(setting=df.setting.str.split(":").str[0])
    return df[df.seed.isin(seeds) & df.setting.isin(SETTINGS)]


def tables():
    df = scheme_runs()
    rows = [[s, SCHEMES[sc], *(ci_cell(df[(df.setting == s) & (df.scheme == sc)][col.format(attr=SETTINGS[s])]) for _, col in MEASURES)]
            for s in SETTINGS for sc in SCHEMES]
    replace_block(HERE / "README.md", "table", md_table(["setting", "scheme", *(t for t, _ in MEASURES)], rows))
    mean = df.groupby(["setting", "scheme"])[["preserved[truth:all-others]", "fid[judge]"]].mean().loc["shapes-red-to-blue"]
    write_headline(HERE, f"AIR's three prompt schemes (Table 4) on two world-2 settings, {df.seed.nunique()} seeds: the "
                   f"paper's consecutive scheme is not the best here (red -> blue: the source scheme keeps "
                   f"{mean.loc['source', 'preserved[truth:all-others]']:.2f} of the other attributes against "
                   f"{mean.loc['consecutive', 'preserved[truth:all-others]']:.2f}, FID[judge] "
                   f"{mean.loc['source', 'fid[judge]']:.1f} vs {mean.loc['consecutive', 'fid[judge]']:.1f}).")


if __name__ == "__main__":
    main()
