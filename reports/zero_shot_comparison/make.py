"""Zero-shot comparison on world 2: NADA, IPL, SVL and AIR with the authors' code's settings, 4 settings x 5 seeds,
read by attainment first (this folder's README.md).

    python reports/zero_shot_comparison/make.py --run runs/zero_shot_comparison       # train (sweep, seed by seed), evaluate, grids, tables
    python reports/zero_shot_comparison/make.py --evaluate runs/zero_shot_comparison  # evaluate the runs not yet in metrics.csv, then tables
    python reports/zero_shot_comparison/make.py --source        # source_metrics.csv: the unadapted sources, measured the same way
    python reports/zero_shot_comparison/make.py --grids runs/zero_shot_comparison     # the labelled sample grids (seed 0)
    python reports/zero_shot_comparison/make.py --tables        # README tables and headline.md from the CSVs only

--run trains `python -m air_nb.scale.sweep --grid shapes-zero-shot` one seed at a time (finished runs are skipped, so a
cut-off run loses at most the run in progress). --evaluate adds a row per run to metrics.csv (500 samples, latents of
seed 0; attainment on the first 300) and can be repeated while the sweep runs.
"""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from study import (run_study, study_parser, shell, evaluate_new_runs, zero_shot_source_measures, replace_block, write_headline, md_table,
                   ci_cell, labelled_rows, SETTING_ATTRIBUTE)

HERE = Path(__file__).resolve().parent
SETTINGS = ["shapes-photo-to-sketch", "shapes-photo-to-painting", "shapes-red-to-blue", "shapes-circle-to-square"]
METHODS = ["nada", "ipl", "svl", "air"]     # the columns of AIR's Table 1
SEEDS = [0, 1, 2, 3, 4]
MEASURES = [   # (title, column): attainment first, then the paired distance to the ideal image, then the papers' measures
    ("reached: the nearest clean render has the target value and the image is on-world (attainment) ↑", "attainment[reached]"),
    ("kept: every other attribute as the latent's truth (attainment) ↑", "attainment[kept]"),
    ("off-world: further from any clean render than 99 % of the world's own images (attainment) ↓", "attainment[off-world]"),
    ("residual: distance to the nearest clean render, median over images (attainment; the world's own images: 99 % under {bounds} by style) ↓", "attainment[residual]"),
    ("paired distance to the ideal image, pixel L1 ↓", "paired_dist[pixel-l1]"),
    ("FID on judge features vs ideal target images ↓", "fid[judge]"),
    ("CLIP distance (pairwise 1 - cos, shapes CLIP; AIR's Table 1 measure) ↑", "clip_dist_pairwise[clip:air-nb-shapes-clip]"),
    ("diversity: intra-dist (judge features, pairwise, K-medoids K = 10) ↑", "intra_dist[judge-features,pairwise]"),
    ("target share read by the judge ↑", "target_share[judge:{attr}]"),
    ("fooling audit: share the judge reads as the target that attainment does not ↓", "audit[judge-fooled]"),
]


def train(runs: Path):
    for seed in SEEDS:
        shell(sys.executable, "-m", "air_nb.scale.sweep", "--grid", "shapes-zero-shot", "--seeds", seed, "--local-cpus", 1, "--out", runs)


def evaluate(runs: Path, n: int = 500):
    "Evaluate every finished run under `runs` not yet in metrics.csv (a setting and seed at a time), appending rows."
    evaluate_new_runs(HERE / "metrics.csv", runs, n)


def source():
    zero_shot_source_measures(SETTINGS).to_csv(HERE / "source_metrics.csv", index=False)


def grids(runs: Path, n: int = 8, seed: int = 0, truncation: float = 0.7):
    """One picture per setting: a block per method (Table 1's column order), each block the source row then the adapted
    row of seed `seed`'s run, the same latents everywhere (`comparison_grid`); every row labelled."""
    import torch
    from air_nb.evaluation.metrics import comparison_grid
    from air_nb.models.generators import load_generator
    from air_nb.training.trainer import PRESETS
    torch.set_num_threads(1)
    for s in SETTINGS:
        source = load_generator(PRESETS[s]["generator"]).eval()
        gens = {}
        for m in METHODS:
            folder = Path(runs) / s / f"{m}-s{seed}"
            if folder.exists(): gens.update({f"{m.upper()}: source": source, f"{m.upper()}: adapted": load_generator(folder).eval()})
        with torch.no_grad(): images, labels = comparison_grid(gens, n=n, seed=11, truncation=truncation)
        labelled_rows(images, labels, n, f"{s}, seed {seed}, truncation {truncation}: the same latents in every row", HERE / f"grid_{s}.png")


AIR_SWITCHES = ["t_thresh", "adaptive_from", "prompt_variant", "prompt_copies", "directions", "anchor_latents"]


def air_switches(runs: Path, setting: str = "shapes-red-to-blue", seed: int = 0, n: int = 200):
    """AIR on one setting and seed with the authors' code's settings, and with each of AIR's own switches put back to
    air_nb's earlier value one at a time: which switch moves AIR away from the target here (air_switches.csv)."""
    import pandas as pd, torch
    from air_nb.scale.sweep import run_sweep
    from air_nb.training.presets import code_values
    from air_nb.methods.base import legacy_values
    from air_nb.methods.air import AirConfig
    from air_nb.models.generators import load_generator
    from air_nb.shapes.measures import paired_measures
    legacy = legacy_values(AirConfig)
    grid = [dict(name=f"{setting}-code", preset=setting, overrides=code_values())]
    grid += [dict(name=f"{setting}-{k}-{legacy[k]}", preset=setting, overrides={**code_values(), k: legacy[k]}) for k in AIR_SWITCHES]
    run_sweep(grid, ["air"], [seed], str(runs), cpus_per_run=1, local_cpus=1, progress=False)
    torch.set_num_threads(1)
    attr = SETTING_ATTRIBUTE[setting]
    from air_nb.training.trainer import PRESETS
    rows = []
    for g in grid:
        G = load_generator(Path(runs) / g["name"] / f"air-s{seed}").eval()
        m = paired_measures(G, n=n, seed=0, **{attr: PRESETS[setting]["target"]})
        changed = g["name"][len(setting) + 1:]
        rows.append({"variant": "the code's settings" if changed == "code" else changed.replace("-", " = ", 1), "judge_target_share": m["target_share"],
                     "reached": m["attainment[reached]"], "kept": m["attainment[kept]"], "off_world": m["attainment[off-world]"],
                     "residual": m["attainment[residual]"], "pixel_l1_to_ideal": m["paired_pixel_l1"]})
    pd.DataFrame(rows).to_csv(HERE / "air_switches.csv", index=False)


def paired_differences(df, column: str, base: str = "air") -> str:
    "AIR minus each other method, per setting: mean over seeds of the per-seed difference [95 % bootstrap interval]."
    rows = []
    for s in SETTINGS:
        d = df[df.setting == s].pivot_table(index="seed", columns="method", values=column)
        if base not in d: continue
        rows.append([s, *[ci_cell((d[base] - d[m]).dropna(), show_n=True) if m in d else "–" for m in METHODS if m != base]])
    return md_table(["setting", *[f"AIR − {m.upper()}" for m in METHODS if m != base]], rows)


def tables():
    import pandas as pd
    metrics, src = pd.read_csv(HERE / "metrics.csv"), pd.read_csv(HERE / "source_metrics.csv").set_index("setting")
    metrics = metrics.drop_duplicates("run", keep="last")      # a run evaluated twice counts once
    df = metrics.assign(setting=metrics.setting.str.split(":").str[0])
    from air_nb.shapes.attainment import load_calibration
    res = [b["residual"] for b in load_calibration()["bounds"].values()]
    out = []
    for title, column in MEASURES:
        title = title.format(bounds=f"{min(res):.2f}-{max(res):.2f}") if "{bounds}" in title else title
        rows = []
        for s in SETTINGS:
            key = column.format(attr=SETTING_ATTRIBUTE[s])
            v0 = src.loc[s].get(key) if s in src.index else None
            rows.append([s, f"{v0:.3f}" if v0 is not None and v0 == v0 else "–",
                         *[ci_cell(df[(df.setting == s) & (df.method == m)].get(key, [])) for m in METHODS]])
        out += [f"**{title}**", "", md_table(["setting", "source", *(m.upper() for m in METHODS)], rows), ""]
    replace_block(HERE / "README.md", "tables", "\n".join(out))
    replace_block(HERE / "README.md", "differences", "**reached**\n\n" + paired_differences(df, "attainment[reached]") +
                  "\n\n**residual: median distance to the nearest clean render** (negative: AIR closer to a clean image)\n\n" + paired_differences(df, "attainment[residual]") +
                  "\n\n**paired distance to the ideal image, pixel L1** (negative: AIR closer)\n\n" + paired_differences(df, "paired_dist[pixel-l1]"))
    replace_block(HERE / "README.md", "reading", reading(df, src))
    if (HERE / "air_switches.csv").exists():
        sw = pd.read_csv(HERE / "air_switches.csv")
        replace_block(HERE / "README.md", "air-switches", md_table(list(sw.columns), [[r[c] if isinstance(r[c], str) else f"{r[c]:.3f}" for c in sw.columns] for _, r in sw.iterrows()]))
    write_headline(HERE, headline(df, src))


def reading(df, src) -> str:
    "The page's findings, each figure computed here from metrics.csv and source_metrics.csv."
    import numpy as np
    mean = df.groupby(["setting", "method"]).mean(numeric_only=True)
    col = lambda c: mean[c].unstack().reindex(columns=METHODS)
    reached, kept, off, fooled = col("attainment[reached]"), col("attainment[kept]"), col("attainment[off-world]"), col("audit[judge-fooled]")
    judge = {s: mean.loc[s, f"target_share[judge:{SETTING_ATTRIBUTE[s]}]"] for s in reached.index}
    lines = []
    for s in [x for x in SETTINGS if x in reached.index]:
        r = reached.loc[s]
        lines.append(f"- **{s.replace('shapes-', '')}**: reached " + ", ".join(f"{m.upper()} {r[m]:.2f}" for m in METHODS if m in r and r[m] == r[m]) +
                     f" (the judge reads the target on " + ", ".join(f"{judge[s][m]:.2f}" for m in METHODS if m in judge[s]) + " in the same order); "
                     f"off-world {off.loc[s].min():.2f}-{off.loc[s].max():.2f}; kept {kept.loc[s].min():.2f}-{kept.loc[s].max():.2f}.")
    worst = fooled.stack().idxmax()
    lines.append(f"- **The judge is fooled** most by {worst[1].upper()} on {worst[0].replace('shapes-', '')}: {fooled.stack().max():.2f} of its images "
                 f"read as the target are not reached; across all runs the judge agrees with attainment on "
                 f"{df['audit[judge-agrees-with-attainment]'].min():.2f}-{df['audit[judge-agrees-with-attainment]'].max():.2f} of images.")
    l1 = col("paired_dist[pixel-l1]")
    closer = [(s, m) for s in l1.index for m in METHODS if l1.loc[s, m] < src.loc[s, "paired_dist[pixel-l1]"]]
    lines.append(f"- **Pixel distance to the ideal image**: {len(closer)} of {l1.size} method-settings end closer to the ideal image than the "
                 f"unadapted source" + (": " + ", ".join(f"{m.upper()} on {s.replace('shapes-', '')}" for s, m in closer) if closer else "") + ".")
    return "\n".join(lines)


def headline(df, src) -> str:
    "How often any method reaches the target, how far off-world they land, how often the judge is fooled, and who is closest."
    mean = df.groupby(["setting", "method"]).mean(numeric_only=True)
    reached = mean["attainment[reached]"].unstack()
    best = [f"{s.replace('shapes-', '')} {reached.loc[s].idxmax().upper()} {reached.loc[s].max():.2f}" for s in SETTINGS
            if s in reached.index and reached.loc[s].max() > 0]
    closest = mean["attainment[residual]"].unstack()
    closest = ", ".join(f"{s.replace('shapes-', '')} {closest.loc[s].idxmin().upper()}" for s in SETTINGS if s in closest.index)
    return (f"NADA, IPL, SVL and AIR with the authors' code's settings on world 2, {df.seed.nunique()} seeds, read by attainment: "
            + (f"the most reached per setting: {'; '.join(best)}" if best else f"no method reaches the target on any setting (reached at most {reached.max().max():.2f})")
            + f"; {mean['attainment[off-world]'].min():.2f}-{mean['attainment[off-world]'].max():.2f} of each method's images are off-world; "
            f"the judge reads as the target up to {mean['audit[judge-fooled]'].max():.2f} of one method's images that attainment does not reach; "
            f"nearest to a clean render (median residual): {closest}.")


if __name__ == "__main__":
    p = study_parser(__doc__, run_help="train, evaluate and draw the grid in the run folder RUNS")
    p.add_argument("--evaluate", type=Path, metavar="RUNS", help="evaluate RUNS' runs not yet in metrics.csv")
    p.add_argument("--source", action="store_true", help="measure the unadapted sources into source_metrics.csv")
    p.add_argument("--grids", type=Path, metavar="RUNS", help="draw the labelled grids of RUNS' seed-0 runs")
    p.add_argument("--air-switches", type=Path, metavar="RUNS", help="AIR on red -> blue seed 0 with each of its switches back at the earlier value")
    run_study(p, tables, [("run", lambda a: (train(a.run), evaluate(a.run), grids(a.run))), ("evaluate", lambda a: evaluate(a.evaluate)),
                          ("source", lambda a: source()), ("grids", lambda a: grids(a.grids)),
                          ("air_switches", lambda a: air_switches(a.air_switches))])
