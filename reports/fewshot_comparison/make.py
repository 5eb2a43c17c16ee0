"""Few-shot comparison on world 2 with the authors' code's settings, read by attainment first (this folder's README.md):
a budget study (IDC, RSSA, ASC on photo-corner 10-shot, seed 0) and the grid FreezeD / IDC / RSSA / ASC x photo-corner and
photo-sketch x 10-shot x 3 seeds.

    python reports/fewshot_comparison/make.py --run runs/fewshot_comparison        # train both (sweeps), evaluate, grids, tables
    python reports/fewshot_comparison/make.py --evaluate runs/fewshot_comparison   # budget.csv, metrics.csv, grids from finished runs
    python reports/fewshot_comparison/make.py --tables                             # README tables and headline.md from the CSVs only

Every run goes through `python -m air_nb.scale.sweep` with checkpoints, so a cut-off run loses at most the run in progress:
rerun the same command to continue. The budget study's 2,000-iteration run keeps its generator after 1,000 iterations
(`snapshots`); nothing in these methods depends on the run's length, so that generator is the one a 1,000-iteration run ends with.
"""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from study import study_parser, replace_block, write_headline, md_table, ci_cell, labelled_rows

HERE = Path(__file__).resolve().parent
METHODS = ["freezed", "idc", "rssa", "asc"]
SEEDS = [0, 1, 2]
PAPER_EMA = 0.5 ** (32 / (10 * 1000))     # IDC's accumulation rate (0.997784): lag ~450 of the papers' 5,000 iterations
GRID_ITERATIONS = 500                      # the grid's budget: what two CPU cores allow (the budget study shows what it leaves)


def scaled_ema(iterations: int) -> float:
    "The presets' rule: G_{n-a}'s lag 1 / (1 - d) the same ~9 % of the run as 450 of the papers' 5,000 iterations."
    return round(1 - 1 / (0.09 * iterations), 4)


def settings():
    "(budget-study settings, grid settings) as sweep settings: presets with the authors' code's values."
    from air_nb.training.presets import code_values
    code = code_values()
    at = lambda preset, its, ema, **kw: dict(preset=preset, iterations=its, n_eval=300, n_reference=500,
                                             overrides={**code, "ema_decay": ema, **kw})
    budget = {"photo-corner-10shot-120it": at("shapes-photo-to-corner-10shot", 120, scaled_ema(120)),
              "photo-corner-10shot-2000it-paper-ema": at("shapes-photo-to-corner-10shot", 2000, PAPER_EMA, snapshots=[1000])}
    grid = {f"{s}-10shot-{GRID_ITERATIONS}it": at(f"shapes-{s.replace('photo-', 'photo-to-')}-10shot", GRID_ITERATIONS, scaled_ema(GRID_ITERATIONS))
            for s in ("photo-corner", "photo-sketch")}
    return budget, grid


def sweep(runs: Path, named: dict, methods, seeds):
    from air_nb.scale.sweep import run_sweep
    table = run_sweep([dict(name=k, **v) for k, v in named.items()], methods, seeds, runs,
                      notebook=str(Path(__file__).resolve().parents[2] / "nbs" / "fewshot.ipynb"), local_cpus=1)
    print(table.to_string())


def train(runs: Path, part: str, seeds=None, sets=None):
    """The budget study's runs, then the grid's seed by seed (`seeds`, `sets`: some of them, e.g. to share the grid between
    two machines or cores)."""
    budget, grid = settings()
    grid = {k: v for k, v in grid.items() if not sets or any(k.startswith(f"{s}-") for s in sets)}
    if part in ("budget", "all"): sweep(runs, budget, ["idc", "rssa", "asc"], [0])
    if part in ("grid", "all"):
        for seed in seeds or SEEDS: sweep(runs, grid, METHODS, [seed])



MEASURES = [   # (title, column): attainment first, then the paired distance to the ideal image, then the papers' measures
    ("reached: the nearest clean render is the set's target and the image is on-world (attainment) ↑", "attainment[reached]"),
    ("kept: shape, colour and style as the latent's truth (attainment) ↑", "attainment[kept]"),
    ("off-world: further from any clean render than 99 % of the world's own images (attainment) ↓", "attainment[off-world]"),
    ("residual: distance to the nearest clean render, median over images (attainment) ↓", "attainment[residual]"),
    ("paired distance to the ideal image, pixel L1 ↓", "paired_dist[pixel-l1]"),
    ("FID on judge features vs the set's reference renders ↓", "fid[judge]"),
    ("IC diversity on judge features (IC-LPIPS's procedure; no LPIPS weights offline) ↑", "ic_dist[judge-features]"),
    ("target share read by the judge (corner: the layout judge) ↑", "target_share"),
    ("fooling audit: share the judges read as the target that attainment does not reach ↓", "audit[judge-fooled]"),
]
BUDGET_MEASURES = ["attainment[reached]", "attainment[kept]", "attainment[off-world]", "attainment[residual]", "paired_dist[pixel-l1]",
                   "fid[judge]", "ic_dist[judge-features]", "target_share"]


def _measure(G, spec: str):
    "The few-shot notebook's measures (`run_measures`, 300 samples, 500 reference renders) of generator `G` on the world-2 set `spec`."
    import torch
    from air_nb.evaluation.fewshot import run_measures
    from air_nb.methods.freezed import load_target_images
    from air_nb.shapes.judge import load_layout_judge
    from air_nb.shapes.world1 import load_judge
    torch.set_num_threads(1)
    with torch.no_grad():
        return run_measures(G.eval(), spec, load_target_images(spec, 10, 64, 0), load_judge(), load_layout_judge(), n=300, n_reference=500)


def evaluate(runs: Path):
    """metrics.csv (the grid's runs, as their notebooks measured them), budget.csv (IDC / RSSA / ASC at each budget:
    the runs' own measures and, for 1,000 iterations, the 2,000-iteration run's kept generator measured the same way),
    source_metrics.csv (the unadapted source) and the labelled grids."""
    import json, pandas as pd
    from air_nb.evaluation.fewshot import sweep_table
    from air_nb.models.generators import load_generator
    from air_nb.training import runs as run_folders
    runs = Path(runs).resolve()
    df = sweep_table(runs)
    df["name"] = [Path(r).parent.name for r in df.run]
    df["run"] = [Path(r).relative_to(runs).as_posix() for r in df.run]
    df["ema_decay"] = [run_folders.read_config(runs / r).get("ema_decay") for r in df.run]
    grid = df[df.name.str.endswith(f"-{GRID_ITERATIONS}it")]
    grid.to_csv(HERE / "metrics.csv", index=False)
    corner = df[df.name.str.startswith("photo-corner") & df.method.isin(["idc", "rssa", "asc"]) & (df.seed == 0)]
    rows = [{**r, "budget": int(r["iterations"]), "read_from": "run"} for r in corner.to_dict("records")]
    file = HERE / "budget.csv"
    old = pd.read_csv(file).to_dict("records") if file.exists() else []
    for r in corner[corner.iterations == 2000].to_dict("records"):
        for step, snap in run_folders.snapshots(runs / r["run"]).items():
            ident = {k: r[k] for k in ("setting", "shots", "method", "seed", "run", "ema_decay")}
            cached = [o for o in old if o.get("run") == r["run"] and o.get("budget") == step and o.get("read_from") == "snapshot"
                      and o.get("fid[judge]") == o.get("fid[judge]")]      # a row with its measures (not NaN)
            scores = {k: v for k, v in cached[0].items() if k not in ident} if cached else _measure(load_generator(snap), "shapes2:photo-corner")
            rows.append({**ident, **scores, "iterations": step, "budget": step, "read_from": "snapshot"})
            pd.DataFrame(rows).to_csv(file, index=False)
    pd.DataFrame(rows).sort_values(["method", "budget"]).to_csv(file, index=False)
    src = HERE / "source_metrics.csv"
    if not src.exists():
        from air_nb.shapes.world2 import FEW_SHOT_TARGETS
        pd.DataFrame([{"setting": s, "shots": 10, "method": "source", "seed": 0,
                       **_measure(load_generator(FEW_SHOT_TARGETS[s]["source"]), f"shapes2:{s}")} for s in ("photo-corner", "photo-sketch")]).to_csv(src, index=False)
    grids(runs, grid)


def grids(runs: Path, grid, n: int = 8, seed: int = 0):
    """One picture per set: the K training images, then a block per method (source row, adapted row of seed `seed`'s run),
    the same latents everywhere (`comparison_grid`); every row labelled."""
    import torch
    from air_nb.evaluation.metrics import comparison_grid
    from air_nb.methods.freezed import load_target_images
    from air_nb.models.generators import load_generator
    from air_nb.shapes.world2 import FEW_SHOT_TARGETS
    torch.set_num_threads(1)
    for s in sorted(set(grid.setting)):
        source = load_generator(FEW_SHOT_TARGETS[s]["source"]).eval()
        gens = {}
        for m in METHODS:
            r = grid[(grid.setting == s) & (grid.method == m) & (grid.seed == seed)]
            if len(r): gens.update({f"{m.upper()}: source": source, f"{m.upper()}: adapted": load_generator(runs / r.run.iloc[0]).eval()})
        with torch.no_grad(): images, labels = comparison_grid(gens, n=n, seed=11, truncation=1.0)
        images, labels = torch.cat([load_target_images(f"shapes2:{s}", 10, 64, 0)[:n], images]), ["the K training images (first 8)", *labels]
        labelled_rows(images, labels, n, f"{s} 10-shot, {GRID_ITERATIONS} iterations, seed {seed}: the same latents in every row below the training images",
                      HERE / f"grid_{s}_10shot.png", label_inches=2.2)


def paired_differences(df, column: str, base: str = "asc") -> str:
    "ASC minus each other method per set: mean over seeds of the per-seed difference [95 % bootstrap interval] (n)."
    rows = []
    for s in sorted(set(df.setting)):
        d = df[df.setting == s].pivot_table(index="seed", columns="method", values=column)
        if base not in d: continue
        rows.append([s, *[ci_cell((d[base] - d[m]).dropna()) if m in d else "–" for m in METHODS if m != base]])
    return md_table(["set", *[f"ASC − {m.upper()}" for m in METHODS if m != base]], rows)


def budget_plot(b):
    import matplotlib; matplotlib.use("Agg")
    import matplotlib.pyplot as plt, seaborn as sns
    fig, axes = plt.subplots(2, 4, figsize=(13, 5.5))
    for ax, m in zip(axes.flat, BUDGET_MEASURES):
        sns.lineplot(data=b, x="budget", y=m, hue="method", marker="o", ax=ax, legend=ax is axes.flat[0])
        ax.set_xscale("log"); ax.minorticks_off(); ticks = sorted(b.budget.unique())
        ax.set_xticks(ticks); ax.set_xticklabels([str(int(t)) for t in ticks])
        ax.set_title(m, fontsize=9); ax.set_xlabel("iterations"); ax.set_ylabel("")
    fig.suptitle("photo-corner 10-shot, seed 0: each method's generator after each budget", fontsize=10)
    fig.tight_layout(); fig.savefig(HERE / "budget.png", dpi=80); plt.close(fig)


def tables():
    import pandas as pd
    df = pd.read_csv(HERE / "metrics.csv")
    src = pd.read_csv(HERE / "source_metrics.csv").set_index("setting")
    out = [f"Runs: {len(df)} ({df.groupby(['setting', 'method']).ngroups} set x method cells, seeds {sorted(df.seed.unique().tolist())}), "
           f"{GRID_ITERATIONS} iterations, EMA decay {sorted(df.ema_decay.unique().tolist())}. Mean over seeds [95 % bootstrap interval over seeds] (n).", ""]
    for title, column in MEASURES:
        rows = [[s, f"{src.loc[s, column]:.3f}" if s in src.index and column in src and src.loc[s, column] == src.loc[s, column] else "–",
                 *[ci_cell(df[(df.setting == s) & (df.method == m)][column]) if column in df else "–" for m in METHODS]] for s in sorted(set(df.setting))]
        out += [f"**{title}**", "", md_table(["set", "source", *(m.upper() for m in METHODS)], rows), ""]
    replace_block(HERE / "README.md", "tables", "\n".join(out))
    replace_block(HERE / "README.md", "differences", "\n\n".join(f"**{c}**\n\n{paired_differences(df, c)}" for c in
                                                                   ("attainment[reached]", "attainment[residual]", "paired_dist[pixel-l1]", "fid[judge]")))
    if (HERE / "budget.csv").exists():
        b = pd.read_csv(HERE / "budget.csv").sort_values(["method", "budget"])
        budget_plot(b)
        cols = ["method", "budget", "ema_decay", "read_from", *BUDGET_MEASURES]
        replace_block(HERE / "README.md", "budget", md_table(cols, [[r[c] if isinstance(r[c], str) or c == "budget" else f"{r[c]:.3g}" for c in cols]
                                                                  for _, r in b.iterrows()]) + "\n\n" + budget_reading(b))
    write_headline(HERE, headline(df, src))


def budget_reading(b) -> str:
    "Per measure, the largest change between successive budgets over the three methods: where the measures stop moving."
    lines, changes = [], {}
    for m in BUDGET_MEASURES:
        steps = []
        for (lo, hi) in zip(sorted(b.budget.unique())[:-1], sorted(b.budget.unique())[1:]):
            d = (b[b.budget == hi].set_index("method")[m] - b[b.budget == lo].set_index("method")[m]).abs()
            steps.append(f"{lo}->{hi} {d.max():.3g}")
        lines.append(f"- `{m}`: largest change over the three methods " + ", ".join(steps))
        changes[m] = [float(x.rsplit(" ", 1)[1]) for x in steps]
    flat = [m for m, c in changes.items() if max(c) == 0]
    moving = [m for m, c in changes.items() if max(c) > 0 and c[-1] >= max(c)]
    lines.append(f"\nUnchanged between every two budgets: {', '.join(f'`{m}`' for m in flat) or 'none'}. Changing most between the two "
                 f"longest budgets (still moving at {int(b.budget.max())} iterations): {', '.join(f'`{m}`' for m in moving) or 'none'}.")
    return "\n".join(lines)


def headline(df, src) -> str:
    "How much any method reaches and keeps, how far off-world, who is nearest a clean render, and who the judge-based FID favours."
    mean = df.groupby(["setting", "method"]).mean(numeric_only=True)
    reached, kept, off = (mean[c].unstack() for c in ("attainment[reached]", "attainment[kept]", "attainment[off-world]"))
    resid, fid = mean["attainment[residual]"].unstack(), mean["fid[judge]"].unstack()
    best = "; ".join(f"{s} {reached.loc[s].idxmax().upper()} {reached.loc[s].max():.3f}" if reached.loc[s].max() > 0 else f"{s} none"
                     for s in reached.index)
    return (f"FreezeD, IDC, RSSA and ASC with the authors' code's settings on world-2 few-shot sets (10-shot, {GRID_ITERATIONS} iterations, "
            f"{df.seed.nunique()} seeds), read by attainment: "
            + (f"the most reached per set: {best}" if reached.max().max() > 0 else "no method reaches the target on either set")
            + f"; the other attributes kept on {kept.min().min():.2f}-{kept.max().max():.2f} of images (method means per set), "
            f"{off.min().min():.2f}-{off.max().max():.2f} off-world; nearest a clean render: "
            + "; ".join(f"{s} {resid.loc[s].idxmin().upper()}" for s in resid.index) + "; lowest FID[judge]: "
            + "; ".join(f"{s} {fid.loc[s].idxmin().upper()}" for s in fid.index) + ".")

if __name__ == "__main__":
    p = study_parser(__doc__, run_help="train the budget study and the grid into RUNS (sweeps; finished runs are skipped), then evaluate")
    p.add_argument("--part", choices=["budget", "grid", "all"], default="all", help="with --run: the budget study, the grid or both")
    p.add_argument("--seeds", type=int, nargs="+", help="with --run: only these seeds of the grid (default 0 1 2)")
    p.add_argument("--sets", nargs="+", choices=["photo-corner", "photo-sketch"], help="with --run: only these sets of the grid")
    p.add_argument("--evaluate", type=Path, metavar="RUNS", help="budget.csv, metrics.csv and the grids from the finished runs in RUNS")
    a = p.parse_args()
    if a.run: train(a.run, a.part, a.seeds, a.sets)
    if a.run or a.evaluate: evaluate(a.run or a.evaluate)
    if a.tables or a.run or a.evaluate: tables()
    if not any((a.run, a.evaluate, a.tables)): p.print_help()
