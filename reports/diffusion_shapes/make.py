"""NADA and AIR on the shapes-world diffusion source (LoRA on a frozen UNet, 10-step DPM-Solver++), README.md here.

    python reports/diffusion_shapes/make.py --tables                        # README tables and headline.md from the CSVs
    python reports/diffusion_shapes/make.py --run runs/diffusion_shapes     # 12 runs (2 settings x 2 methods x 3 seeds)
    python reports/diffusion_shapes/make.py --measure runs/diffusion_shapes --n 200 --into metrics_grid.csv

--measure: the shapes judge on the same n latents (x_T of --seed) of the source and of each finished run's final EMA
generator under RUNS: the target share before and after, and how often colour and shape stay what the judge reads on the
source image of the same x_T. --run trains the grid (`python -m air_nb.scale.sweep --grid shapes-diffusion`), then
measures it into metrics_grid.csv.
"""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from study import run_study, study_parser, shell, replace_block, write_headline, md_table, ci_cell

HERE = Path(__file__).resolve().parent
MEASURES = ["target_share_before", "target_share_after", "color_kept", "shape_kept"]
LABEL = {"shapes-diffusion-photo-to-sketch": "Photo -> Sketch", "shapes-diffusion-photo-to-painting": "Photo -> Painting"}


def main():
    "The command line: the stages asked for, then the tables."
    p = study_parser(__doc__, run_help="train the grid into RUNS, then measure it")
    p.add_argument("--measure", type=Path, metavar="RUNS", help="measure every finished run under RUNS")
    p.add_argument("--n", type=int, default=200); p.add_argument("--seed", type=int, default=123)
    p.add_argument("--into", default="metrics_grid.csv", help="the CSV here that --measure writes (metrics_gradient.csv: full vs last step)")
    train = lambda a: shell(sys.executable, "-m", "air_nb.scale.sweep", "--grid", "shapes-diffusion", "--out", a.run, "--local-cpus", 1)
    run_study(p, tables, [("run", train), ("run", lambda a: measure(a.run, a.n, a.seed, a.into)),
                          ("measure", lambda a: measure(a.measure, a.n, a.seed, a.into))])


def measure(runs: Path, n: int, seed: int, into: str):
    import pandas as pd, torch
    from air_nb.evaluation.metrics import judge_predictions, run_info
    from air_nb.models.generators import load_generator
    from air_nb.shapes.world1 import load_judge, STYLES
    from air_nb.training import runs as run_folders
    torch.set_num_threads(1)
    judge, rows, sources = load_judge(), [], {}
    for f in sorted(p.parent for p in runs.rglob("config.json") if run_folders.is_finished(p.parent)):
        info = run_info(f); cfg = info["config"]
        if cfg["generator"] not in sources: sources[cfg["generator"]] = judge_predictions(judge, load_generator(cfg["generator"]), n, seed)
        before, after = sources[cfg["generator"]], judge_predictions(judge, load_generator(f), n, seed)
        share = lambda p: float((p["style"] == STYLES.index(cfg["target"])).float().mean())
        kept = lambda a: float((after[a] == before[a]).float().mean())
        rows.append({"setting": cfg.get("preset"), "method": info["method"], "seed": info["seed"],
                     "grad_mode": (cfg.get("generator_options") or {}).get("grad_mode", "full"),
                     "target_share_before": share(before), "target_share_after": share(after),
                     "color_kept": kept("color"), "shape_kept": kept("shape"), "run": f.relative_to(runs).as_posix()})
        print(rows[-1], flush=True)
    pd.DataFrame(rows).to_csv(HERE / into, index=False)


def grid_tables(df) -> str:
    "Per setting and method: each measure as mean [bootstrap interval over seeds]; then AIR minus NADA paired by seed."
    # every run of a setting starts from the same source latents, so "before" is one value per setting
    rows = [[LABEL[s], m.upper(), len(g), f"{g[MEASURES[0]].mean():.2f}", *(ci_cell(g[c], 2, show_n=False) for c in MEASURES[1:])]
            for (s, m), g in df.groupby(["setting", "method"], sort=False)]
    paired = []
    for s, g in df.groupby("setting", sort=False):
        w = g.pivot_table(index="seed", columns="method", values=MEASURES[1:])
        paired.append([LABEL[s], len(w), *(ci_cell(w[(c, "air")] - w[(c, "nada")], 2, show_n=False) for c in MEASURES[1:])])
    return (md_table(["setting", "method", "seeds", "target share before", "target share after", "colour kept", "shape kept"], rows)
            + "\n\nAIR minus NADA, paired by seed (the same seed gives both runs the same x_T and RNG stream):\n\n"
            + md_table(["setting", "seeds", "target share", "colour kept", "shape kept"], paired))


def tables():
    import pandas as pd
    grid = pd.read_csv(HERE / "metrics_grid.csv").sort_values(["setting", "method"], ascending=[False, False])
    replace_block(HERE / "README.md", "grid", grid_tables(grid))
    gradient = pd.read_csv(HERE / "metrics_gradient.csv").sort_values(["grad_mode", "method"], ascending=[True, False])
    replace_block(HERE / "README.md", "gradient", md_table(
        ["setting", "gradient", "method", "seed", "sketch share before", "sketch share after", "colour kept", "shape kept"],
        [[r.setting, {"full": "full chain", "last": "last step"}[r.grad_mode], r.method.upper(), r.seed,
          *(f"{getattr(r, c):.2f}" for c in MEASURES)] for r in gradient.itertuples()]))
    mean = grid.groupby(["setting", "method"])[MEASURES].mean()
    sk, pa = mean.loc["shapes-diffusion-photo-to-sketch"], mean.loc["shapes-diffusion-photo-to-painting"]
    write_headline(HERE, f"NADA and AIR on the shapes-world diffusion source (LoRA, 10-step DPM-Solver++), 2 settings x "
                   f"{grid.seed.nunique()} seeds: both raise the target share (sketch {sk.target_share_before.iloc[0]:.2f} -> "
                   f"{sk.loc['nada', 'target_share_after']:.2f} NADA, {sk.loc['air', 'target_share_after']:.2f} AIR; painting "
                   f"{pa.target_share_before.iloc[0]:.2f} -> {pa.loc['nada', 'target_share_after']:.2f} / "
                   f"{pa.loc['air', 'target_share_after']:.2f}), AIR minus NADA within the seed spread; the 32 px source is under-trained.")


if __name__ == "__main__":
    main()
