"""AIR's prompt-scheme ablation (paper Table 4) on world 2 with the authors' code's settings, read by attainment first:
the schemes 'consecutive' (the paper's), 'source' and 'image', photo -> sketch and red -> blue, seeds 0-2 (this folder's README.md).

    python reports/air_prompt_ablation/make.py --run runs/air_prompt_ablation  # 18 AIR runs (sweep) + evaluation, grids, tables
    python reports/air_prompt_ablation/make.py --evaluate runs/air_prompt_ablation  # evaluate finished runs not yet in metrics.csv, grids
    python reports/air_prompt_ablation/make.py --tables                       # README tables and headline.md from the CSVs

The consecutive scheme is AIR's default, so its runs repeat the zero-shot comparison's AIR runs of the same presets and
seeds (../zero_shot_comparison/metrics.csv); the page compares the two (the zero-shot comparison ran on another machine).
"""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from study import run_study, study_parser, evaluate_new_runs, replace_block, write_headline, md_table, ci_cell, labelled_rows

HERE = Path(__file__).resolve().parent
SETTINGS = {"shapes-photo-to-sketch": "style", "shapes-red-to-blue": "color"}
SCHEMES = {"consecutive": "consecutive (A_{i-1} -> A_i)", "source": "source (S -> A_i)", "image": "image (I -> T)"}
SEEDS = [0, 1, 2]
MEASURES = [("reached (attainment) ↑", "attainment[reached]"), ("kept (attainment) ↑", "attainment[kept]"),
            ("off-world (attainment) ↓", "attainment[off-world]"), ("residual, median (attainment) ↓", "attainment[residual]"),
            ("paired pixel L1 to the ideal image ↓", "paired_dist[pixel-l1]"), ("FID[judge] ↓", "fid[judge]"),
            ("CLIP distance (shapes CLIP) ↑", "clip_dist_pairwise[clip:air-nb-shapes-clip]"),
            ("target share (judge) ↑", "target_share[judge:{attr}]"), ("judge fooled ↓", "audit[judge-fooled]")]


def main():
    "The command line: the stages asked for, then the tables."
    p = study_parser(__doc__, run_help="train and evaluate the three schemes into the run folder RUNS")
    p.add_argument("--evaluate", type=Path, metavar="RUNS", help="evaluate the finished runs in RUNS not yet in metrics.csv, grids")
    run_study(p, tables, [("run", lambda a: run_grid(a.run)), ("evaluate", lambda a: evaluate(a.evaluate))])


def run_grid(runs: Path):
    from air_nb.scale.sweep import run_sweep
    from air_nb.training.presets import code_values
    grid = [dict(name=f"{p}-{s}", preset=p, overrides={**code_values(), "prompt_scheme": s}) for p in SETTINGS for s in SCHEMES]
    for seed in SEEDS: run_sweep(grid, ["air"], [seed], str(runs), cpus_per_run=1, local_cpus=1)
    evaluate(runs)


def evaluate(runs: Path):
    "Evaluate the finished runs not yet in metrics.csv (as the zero-shot comparison evaluates), then the grids."
    evaluate_new_runs(HERE / "metrics.csv", runs)
    grids(runs)


def grids(runs: Path, n: int = 8, seed: int = 0):
    "One picture per setting: the source row, then AIR's adapted row per scheme (seed `seed`), the same latents; rows labelled."
    import torch
    from air_nb.evaluation.metrics import comparison_grid
    from air_nb.models.generators import load_generator
    from air_nb.training.trainer import PRESETS
    torch.set_num_threads(1)
    for s in SETTINGS:
        gens = {"source": load_generator(PRESETS[s]["generator"]).eval()}
        gens.update({f"AIR, {SCHEMES[sc]}": load_generator(Path(runs) / f"{s}-{sc}" / f"air-s{seed}").eval() for sc in SCHEMES})
        with torch.no_grad(): images, labels = comparison_grid(gens, n=n, seed=11, truncation=0.7)
        labelled_rows(images, labels, n, f"{s}, seed {seed}, truncation 0.7: the same latents in every row", HERE / f"grid_{s}.png", label_inches=2.2, top=0.93)


def own_runs():
    "This folder's runs, one row each, with `scheme` and the bare setting."
    import pandas as pd
    df = pd.read_csv(HERE / "metrics.csv")
    return df.assign(scheme=[Path(r).parent.name.rsplit("-", 1)[1] for r in df.run], setting=df.setting.str.split(":").str[0])


def comparison_runs():
    "The zero-shot comparison's AIR runs of these presets and seeds: the consecutive scheme (AIR's default)."
    import pandas as pd
    zs = pd.read_csv(HERE.parent / "zero_shot_comparison" / "metrics.csv").drop_duplicates("run", keep="last")
    zs = zs.assign(setting=zs.setting.str.split(":").str[0], scheme="consecutive")
    return zs[(zs.method == "air") & zs.seed.isin(SEEDS) & zs.setting.isin(SETTINGS)]


def scheme_runs():
    "The table's rows: this folder's runs of the three schemes (one machine, so the schemes are compared on equal terms)."
    df = own_runs()
    return df[df.seed.isin(SEEDS) & df.setting.isin(SETTINGS)]


def reproduction() -> str:
    "This folder's consecutive runs against the zero-shot comparison's AIR runs of the same presets and seeds: the largest difference per measure, and the seed spread beside it."
    zs, mine = comparison_runs(), own_runs()
    mine = mine[mine.scheme == "consecutive"]
    rows = []
    for _, col in MEASURES:
        diffs = [abs(r[c] - z[c].iloc[0]) for s, attr in SETTINGS.items() for _, r in mine[mine.setting == s].iterrows()
                 if (c := col.format(attr=attr)) in r and len(z := zs[(zs.setting == s) & (zs.seed == r.seed)]) and c in z]
        spread = [zs[zs.setting == s][col.format(attr=attr)].std() for s, attr in SETTINGS.items() if col.format(attr=attr) in zs]
        rows.append([col.format(attr="…"), len(diffs), f"{max(diffs):.2g}" if diffs else "–", f"{max(spread):.2g}" if spread else "–"])
    return md_table(["measure", "run pairs", "largest |difference|", "largest seed std (zero-shot comparison)"], rows)


def tables():
    df = scheme_runs()
    rows = [[s, SCHEMES[sc], *(ci_cell(df[(df.setting == s) & (df.scheme == sc)].get(col.format(attr=SETTINGS[s]), [])) for _, col in MEASURES)]
            for s in SETTINGS for sc in SCHEMES]
    replace_block(HERE / "README.md", "table", md_table(["setting", "scheme", *(t for t, _ in MEASURES)], rows))
    replace_block(HERE / "README.md", "reproduction", reproduction())
    mean = df.groupby(["setting", "scheme"]).mean(numeric_only=True)
    reached, resid = mean["attainment[reached]"], mean["attainment[residual]"]
    best = {s: resid.loc[s].idxmin() for s in SETTINGS}
    write_headline(HERE, f"AIR's three prompt schemes (Table 4) on two world-2 settings with the authors' code's settings, "
                   f"{df.seed.nunique()} seeds, read by attainment: reached at most {reached.max():.2f} by any scheme; nearest to a clean "
                   f"render (median residual): " + ", ".join(f"{s.replace('shapes-', '')} {best[s]}" for s in SETTINGS)
                   + (" (the paper's consecutive scheme on both)" if set(best.values()) == {"consecutive"} else "") + ".")


if __name__ == "__main__":
    main()
