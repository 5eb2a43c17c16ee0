"""The few-shot paper's reconstruction experiment (its Table 2) on world 2: adapt the photo source to the sketch set with
5 shots, adapt that generator back with 5 images of the source (same method, budget and seed), and compare the
reconstructed generator with the source on 300 shared latents (this folder's README.md).

    python reports/reconstruction/make.py --run runs/reconstruction   # both runs per method (resumable), the scores, tables
    python reports/reconstruction/make.py --grids runs/reconstruction # grid.png from the finished runs
    python reports/reconstruction/make.py --tables                    # README table and headline.md from results.csv

Identity features: the shapes judge's (the paper: CurricularFace on faces); LPIPS needs weights this machine cannot
download, so the table has MSE and the judge-feature cosine.
"""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from study import study_parser, run_study, replace_block, write_headline, md_table, labelled_rows

HERE = Path(__file__).resolve().parent
METHODS = ["idc", "rssa", "asc"]
ITERATIONS, EMA = 500, 0.9778     # the few-shot comparison's grid budget and its scaled EMA decay


def config(method: str) -> dict:
    from air_nb.evaluation.fewshot import reconstruction_config
    from air_nb.training.presets import code_values
    from air_nb.training.trainer import fields_for
    return reconstruction_config("shapes-photo-to-sketch-5shot", method, iterations=ITERATIONS, seed=0, **fields_for({**code_values(), "ema_decay": EMA}, method))


def run(runs: Path):
    import pandas as pd, torch
    from air_nb.evaluation.fewshot import reconstruction
    from air_nb.evaluation.metrics import judge_feature_extractor
    from air_nb.shapes.world1 import load_judge
    torch.set_num_threads(1)
    rows, judge = [], judge_feature_extractor(load_judge())
    for m in METHODS:
        scores = reconstruction(config(m), Path(runs) / m, n=300, extractor=judge)
        rows.append({"method": m, "shots": 5, "iterations": ITERATIONS, "seed": 0, **scores})
        pd.DataFrame(rows).to_csv(HERE / "results.csv", index=False)     # after every method: a cut-off run keeps what it measured


def grids(runs: Path, n: int = 8, seed: int = 123):
    "grid.png: the source, then each method's adapted and reconstructed generator, on the same latents (rows labelled)."
    import torch
    from air_nb.models.generators import load_generator
    from air_nb.training import runs as run_folders
    torch.set_num_threads(1)
    first = Path(runs) / METHODS[0] / "to_target"
    gens = {"source (photo)": load_generator(run_folders.read_config(first)["generator"]).eval()}
    for m in METHODS:
        gens[f"{m.upper()}: adapted to sketch"] = load_generator(Path(runs) / m / "to_target").eval()
        gens[f"{m.upper()}: reconstructed"] = load_generator(Path(runs) / m / "to_source").eval()
    with torch.no_grad(): images = torch.cat([G.sample(n, seed).clamp(-1, 1).cpu() for G in gens.values()])
    labelled_rows(images, list(gens), n, "photo -> sketch (5 shots) -> photo: the same latents in every row", HERE / "grid.png", label_inches=2.4)


def tables():
    import pandas as pd
    df = pd.read_csv(HERE / "results.csv")
    cols = [c for c in ("recon_cosine[judge]", "recon_mse", "recon_lpips") if c in df]
    replace_block(HERE / "README.md", "table", md_table(["method", *cols], [[r.method.upper(), *(f"{r[c]:.4f}" for c in cols)]
                                                                          for _, r in df.iterrows()]))
    best = df.sort_values("recon_cosine[judge]", ascending=False).iloc[0]
    write_headline(HERE, f"Reconstruction (photo -> sketch 5-shot -> photo, {ITERATIONS} iterations each way, seed 0): judge-feature cosine to the "
                         "source " + ", ".join(f"{r.method.upper()} {r['recon_cosine[judge]']:.3f}" for _, r in df.iterrows())
                         + "; MSE " + ", ".join(f"{r.method.upper()} {r['recon_mse']:.4f}" for _, r in df.iterrows()) + " (one seed).")


if __name__ == "__main__":
    p = study_parser(__doc__, "the folder the runs go to")
    p.add_argument("--grids", metavar="RUNS", help="grid.png from the finished runs in RUNS")
    run_study(p, tables, [("run", lambda a: (run(Path(a.run)), grids(Path(a.run)))), ("grids", lambda a: grids(Path(a.grids)))])
