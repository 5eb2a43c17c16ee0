"""Diffusion editing (AIR Supp. E, after DiffusionCLIP) in the shapes world: photo renders of fresh world-2 latents are
DDIM-inverted by the shapes diffusion source to a fraction t_edit of the schedule and decoded by a model adapted to
sketches (NADA and AIR, `shapes-diffusion-photo-to-sketch`, seed 0), then compared with each latent's ideal sketch
(this folder's README.md).

    python reports/diffusion_editing/make.py --run runs/diffusion_editing   # two adaptation runs (resumable), the edits, tables
    python reports/diffusion_editing/make.py --tables                       # README table and headline.md from results.csv
"""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from study import study_parser, run_study, replace_block, write_headline, md_table, labelled_rows

HERE = Path(__file__).resolve().parent
METHODS, T_EDITS, N, STEPS = ["nada", "air"], [0.3, 0.5], 64, 20


def run(runs: Path):
    import pandas as pd, torch
    from air_nb.evaluation.editing import ddim_decode, ddim_invert, diffusion_edit
    from air_nb.models.generators import load_generator
    from air_nb.shapes.world1 import ATTRIBUTES, load_judge
    from air_nb.shapes.world2 import change_attributes, decode_latents, render_attributes, world2_code, world2_latents
    from air_nb.training.trainer import adapt
    torch.set_num_threads(1)
    source, judge = load_generator("shapes-diffusion").eval(), load_judge()
    att = decode_latents(world2_latents(N, 2024), world2_code())
    photos = render_attributes(att, source.resolution)
    ideal = render_attributes(change_attributes(att, style="sketch"), source.resolution)
    truth = change_attributes(att, style="sketch")

    def measure(images, label, t_edit):
        with torch.no_grad(): pred = judge.predict(images)
        reads = {a: pred[a].cpu().eq(torch.as_tensor(truth[a]).long()) for a in ("shape", "color", "style")}
        return {"edit": label, "t_edit": t_edit, "n": N, "style_reads_sketch": float(reads["style"].float().mean()),
                "shape_and_colour_kept": float((reads["shape"] & reads["color"]).float().mean()),
                "pixel_l1_to_ideal": float((images - ideal).abs().mean())}

    rows, shown = [measure(photos, "unedited photo", 0.0)], {"photo renders": photos[:8], "ideal sketches": ideal[:8]}
    for t in T_EDITS: rows.append(measure(ddim_decode(source, ddim_invert(source, photos, t, STEPS), t, STEPS).cpu(), "source round trip", t))
    for m in METHODS:
        adapted = adapt(preset="shapes-diffusion-photo-to-sketch", method=m, seed=0, out_dir=str(Path(runs) / m), progress=False).generator.eval()
        for t in T_EDITS:
            edited = diffusion_edit(source, adapted, photos, t, STEPS)
            rows.append(measure(edited, m.upper(), t)); shown[f"{m.upper()}, t_edit {t}"] = edited[:8]
        pd.DataFrame(rows).to_csv(HERE / "results.csv", index=False)
    pd.DataFrame(rows).to_csv(HERE / "results.csv", index=False)
    labelled_rows(torch.cat(list(shown.values())), list(shown), 8, "photo renders edited by the adapted diffusion models (same latents in every row)",
                  HERE / "edits.png")


def tables():
    import pandas as pd
    df = pd.read_csv(HERE / "results.csv")
    cols = ["edit", "t_edit", "n", "style_reads_sketch", "shape_and_colour_kept", "pixel_l1_to_ideal"]
    replace_block(HERE / "README.md", "table", md_table(cols, [[r[c] if isinstance(r[c], str) or c in ("n",) else f"{r[c]:.3f}" for c in cols]
                                                               for _, r in df.iterrows()]))
    base = df[df.edit == "unedited photo"].iloc[0]
    edits = df[df.edit.isin([m.upper() for m in METHODS])]
    write_headline(HERE, f"Diffusion editing of {int(base.n)} photo renders toward sketches (DDIM inversion by the shapes diffusion source, "
                         f"decoding by NADA's and AIR's adapted models at t_edit {', '.join(map(str, T_EDITS))}): the judge reads sketch on "
                         f"{edits.style_reads_sketch.max():.2f} of the edits at most; shape and colour kept on {edits.shape_and_colour_kept.min():.2f}-"
                         f"{edits.shape_and_colour_kept.max():.2f}; pixel L1 to the ideal sketch falls from {base.pixel_l1_to_ideal:.3f} to "
                         f"{edits.pixel_l1_to_ideal.min():.3f}-{edits.pixel_l1_to_ideal.max():.3f} without any sketch being drawn (edits.png): "
                         "pixel distance is fooled here too; one seed per method.")


if __name__ == "__main__":
    p = study_parser(__doc__, "the folder the adaptation runs go to")
    run_study(p, tables, [("run", lambda a: run(Path(a.run)))])
