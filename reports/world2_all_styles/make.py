"""A source generator trained on every style, sampled on its photo slice: does it let NADA / AIR draw sketches?
(README.md here; the slice it writes is the shipped air_nb/weights/shapes-photo.safetensors.)

    python reports/world2_all_styles/make.py --tables                  # README tables and headline.md from all_styles.json
    python reports/world2_all_styles/make.py --run SRC OUT [--n 500]   # the slice, its measures, NADA / AIR from both sources

SRC: the EMA generator (or its checkpoint.pt) of `papermill nbs/train_world2_generator.ipynb ... -p source shapes-all`.
OUT gets weights/shapes-photo.safetensors (SRC's photo slice, float16, what would ship); all_styles.json and the
grids (top: ideal sketches, bottom: the adapted generator on the same latents) are written here.
"""
import os, sys, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from study import study_parser, replace_block, write_headline, md_table

HERE = Path(__file__).resolve().parent


def main():
    "The command line: the stages asked for, then the tables."
    p = study_parser(__doc__)
    p.add_argument("--run", nargs=2, metavar=("SRC", "OUT"), help="slice SRC into OUT, measure it, run NADA / AIR from both sources")
    p.add_argument("--n", type=int, default=500); p.add_argument("--iterations", type=int, default=200)
    p.add_argument("--methods", nargs="+", default=["nada", "air"])
    a = p.parse_args()
    if a.run:
        import torch; from air_nb.core.base import save_json
        torch.set_num_threads(1)
        out = Path(a.run[1]); (out / "weights").mkdir(parents=True, exist_ok=True)
        res = slices(a.run[0], out, a.n)
        save_json({**res, "runs": adaptation_runs(out, a.n, a.iterations, a.methods)}, HERE / "all_styles.json")
    if a.tables or a.run: tables()
    if not (a.tables or a.run): p.print_help()


def slices(src: str, out: Path, n: int) -> dict:
    "Save the photo slice in float16; how the judge reads the photo, sketch and painting slices (seed 777)."
    from air_nb.models.generators import Generator
    from air_nb.shapes.measures import source_measures
    from air_nb.shapes.training import save_half, World2Trainer
    from air_nb.shapes.world1 import load_judge
    from air_nb.shapes.world2 import restrict_source, world2_code
    judge = load_judge()
    G_all = (World2Trainer.load(src).finalize() if src.endswith(".pt") else Generator.load(src)).eval()
    save_half(restrict_source(G_all, "shapes-photo"), out / "weights" / "shapes-photo.safetensors")
    res = {"photo_slice": source_measures(Generator.load(out / "weights" / "shapes-photo.safetensors").eval(), judge, n=n, seed=777)}
    for style in ("sketch", "painting"):
        res[f"{style}_slice"] = source_measures(restrict_source(G_all, world2_code(styles=style)), judge, n=n, seed=777)
    return res


def adaptation_runs(out: Path, n: int, iterations: int, methods) -> list:
    "NADA / AIR shapes-photo-to-sketch (seed 0) from the shipped source and from the slice, against ideal sketches."
    import numpy as np, torch, torchvision
    from air_nb.shapes.measures import paired_measures
    from air_nb.shapes.world1 import load_judge, load_shapes_clip
    from air_nb.shapes.world2 import ideal_images
    from air_nb.training.trainer import adapt
    judge, clip, rows = load_judge(), load_shapes_clip(), []
    z = torch.from_numpy(np.random.RandomState(5).randn(12, 64)).float()
    for label, weights in (("shipped", None), ("all-styles slice", out / "weights")):
        if weights: os.environ["AIR_NB_WEIGHTS"] = str(weights)     # the slice stands in for the shipped shapes-photo
        else: os.environ.pop("AIR_NB_WEIGHTS", None)
        for method in methods:
            t = time.time()
            r = adapt(dict(preset="shapes-photo-to-sketch"), clip=clip, method=method, seed=0, progress=False, device="cpu", iterations=iterations)
            rows.append({"source": label, "method": method, "seconds": time.time() - t, **paired_measures(r.generator, judge, n=n, style="sketch")})
            with torch.no_grad(): x = torch.cat([ideal_images(r.generator, z, style="sketch"), r.generator(z)])
            torchvision.utils.save_image((x + 1) / 2, HERE / f"allstyles_{label.split()[0]}_{method}.png", nrow=12)
    return rows


SOURCE_LABEL = {"shipped": "shipped (photo only)", "all-styles slice": "all-styles, photo slice"}   # shipped when measured


def tables():
    import json
    res = json.loads((HERE / "all_styles.json").read_text())
    replace_block(HERE / "README.md", "slices", md_table(["slice", "shape", "colour", "style", "FID[judge] (renders vs renders)"], [
        [k.split("_")[0], *(f"{m[f'agreement_{a}']:.3f}" for a in ("shape", "color", "style")),
         f"{m['fid_judge']:.2f} ({m['fid_judge_renders_vs_renders']:.2f})"] for k, m in res.items() if k.endswith("_slice")]))
    replace_block(HERE / "README.md", "runs", md_table(
        ["source generator", "method", "sketch share (judge)", "shape kept (truth)", "colour kept (truth)", "paired judge-cosine", "paired pixel L1", "s"],
        [[SOURCE_LABEL[r["source"]], r["method"], f"{r['target_share']:.3f}", f"{r['preserved_shape']:.3f}", f"{r['preserved_color']:.3f}",
          f"{r['paired_judge_cosine_distance']:.3f}", f"{r['paired_pixel_l1']:.3f}", f"{r['seconds']:.0f}"] for r in res["runs"]]))
    l1 = {(r["source"], r["method"]): r["paired_pixel_l1"] for r in res["runs"]}
    write_headline(HERE, f"A source trained on every style and sampled on its photo slice (now the shipped shapes-photo) lets "
                   f"NADA draw hollow outlines on photo -> sketch: pixel L1 to the ideal sketch {l1['shipped', 'nada']:.2f} -> "
                   f"{l1['all-styles slice', 'nada']:.2f} (one seed), mostly on a grey ground; its painting slice is read as "
                   f"painting on {res['painting_slice']['agreement_style']:.2f} of latents.")


if __name__ == "__main__":
    main()
