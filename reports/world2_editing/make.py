"""Editing on world 2 (AIR Supp. E with a right answer): photo renders of fresh latents' attributes are inverted into W+
by the source generator, rendered by adapted generators (run folders), and compared with each latent's ideal image.

    python reports/world2_editing/make.py --tables                                   # README table, headline.md from editing.csv
    OMP_NUM_THREADS=1 python reports/world2_editing/make.py --run RUNS/shapes-photo-to-sketch/nada-s0 RUNS/shapes-photo-to-sketch/air-s0

RUNS: the shapes benchmark's run folder (reports/shapes_benchmark/make.py --run RUNS). Each run becomes a row of
editing.csv (its path relative to RUNS: the last two folder names).
"""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from study import run_study, study_parser, replace_block, write_headline, md_table

HERE = Path(__file__).resolve().parent
COLUMNS = ["inversion L1 to the render", "edit: judge-cosine to ideal", "edit: pixel L1 to ideal", "adapted sample of z: judge-cosine",
           "adapted sample: pixel L1", "photo render: judge-cosine", "photo render: pixel L1", "edit read as target (judge)"]


def edit_run(run: Path, judge, fx, n: int, steps: int, seed: int) -> dict:
    "Invert n photo renders, edit them with the run's generator, and measure edit, sample and render against the ideal."
    import torch, torch.nn.functional as F
    from air_nb.evaluation.editing import edit_images
    from air_nb.shapes.measures import shapes_target
    from air_nb.models.generators import load_generator, sample_latents
    from air_nb.shapes.world1 import ATTRIBUTES
    from air_nb.shapes.world2 import latent_attributes, render_attributes, ideal_images
    from air_nb.training import runs as run_folders
    cfg = run_folders.read_config(run)
    attr, i = shapes_target(cfg)
    source, adapted = load_generator(cfg["generator"]), load_generator(run)
    z = sample_latents(source.z_dim, n, seed)
    renders = render_attributes(latent_attributes(source, z))
    w, edited = edit_images(source, adapted, renders, steps=steps, features=judge.features)
    ideal = ideal_images(source, z, **{attr: ATTRIBUTES[attr][i]})
    with torch.no_grad():
        dist = lambda x: ((1 - F.cosine_similarity(fx(x), fx(ideal))).mean().item(), (x - ideal).abs().mean().item())
        (ec, el), (sc, sl), (rc, rl) = dist(edited), dist(adapted(z).clamp(-1, 1)), dist(renders)
        return {"run": "/".join(run.parts[-2:]), "setting": cfg.get("preset"),
                "inversion_l1": (source.synthesize(w).clamp(-1, 1) - renders).abs().mean().item(),
                "edit_judge_cosine": ec, "edit_pixel_l1": el, "sample_judge_cosine": sc, "sample_pixel_l1": sl,
                "render_judge_cosine": rc, "render_pixel_l1": rl, "edit_target_share": (judge.predict(edited)[attr] == i).float().mean().item()}


def run_all(runs, n: int, steps: int, seed: int):
    import pandas as pd, torch
    from air_nb.evaluation.metrics import judge_feature_extractor
    from air_nb.shapes.world1 import load_judge
    torch.set_num_threads(1)
    judge = load_judge()
    rows = [edit_run(Path(r), judge, judge_feature_extractor(judge), n, steps, seed) for r in runs]
    pd.DataFrame(rows).to_csv(HERE / "editing.csv", index=False)


def tables():
    import pandas as pd
    df = pd.read_csv(HERE / "editing.csv")
    label = lambda run: f"{run.split('/')[-1].split('-')[0].upper()}, seed {run.split('-s')[-1]}"
    values = df.columns[2:]
    replace_block(HERE / "README.md", "table", md_table(["run", *COLUMNS], [
        [label(r.run), *(f"{getattr(r, c):.2f}" if c == "edit_target_share" else f"{getattr(r, c):.3f}" for c in values)] for r in df.itertuples()]))
    nada = df[df.run.str.contains("/nada-")].iloc[0]
    write_headline(HERE, f"Photo renders inverted into W+ and edited by adapted generators: NADA's edits move towards the ideal "
                   f"sketches (judge-cosine {nada.render_judge_cosine:.2f} -> {nada.edit_judge_cosine:.2f}), AIR's do not; both stay "
                   f"farther from the ideal than the generators' own samples (one seed each).")


if __name__ == "__main__":
    p = study_parser(__doc__)
    p.add_argument("--run", nargs="+", metavar="RUN", help="adapted run folders to edit with")
    p.add_argument("--n", type=int, default=32); p.add_argument("--steps", type=int, default=300); p.add_argument("--seed", type=int, default=31)
    run_study(p, tables, [("run", lambda a: run_all(a.run, a.n, a.steps, a.seed))])
