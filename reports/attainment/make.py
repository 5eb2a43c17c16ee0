"""The attainment measure's calibration and validation (this folder's README.md).

    python reports/attainment/make.py --calibrate     # the on-world bounds shipped in air_nb/weights (1,000 latents, about a minute)
    python reports/attainment/make.py --run           # validation.csv (200 latents x 11 cases x 4 settings) and judge agreement
    python reports/attainment/make.py --tables        # README tables and headline.md from the CSVs
"""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from study import run_study, study_parser, replace_block, write_headline, md_table

HERE = Path(__file__).resolve().parent


def calibrate():
    import torch
    from air_nb.core.base import PACKAGE_WEIGHTS, save_json
    from air_nb.shapes.attainment import calibrate_attainment, CALIBRATION_FILE
    torch.set_num_threads(1)
    save_json(calibrate_attainment(), PACKAGE_WEIGHTS / CALIBRATION_FILE)


def run():
    import json, pandas as pd, torch
    from air_nb.shapes.attainment import validate_attainment, judge_agreement
    from air_nb.shapes.world1 import load_judge
    torch.set_num_threads(1)
    validate_attainment(n=200).to_csv(HERE / "validation.csv", index=False)
    (HERE / "judge_agreement.json").write_text(json.dumps(judge_agreement(load_judge(), n=1000), indent=1) + "\n")


def tables():
    import json, pandas as pd
    from air_nb.shapes.attainment import load_calibration, CORRUPTIONS
    v = pd.read_csv(HERE / "validation.csv")
    reached = v.pivot(index="case", columns="setting", values="reached").reindex(list(CORRUPTIONS))
    settings = list(reached.columns)
    replace_block(HERE / "README.md", "validation", md_table(["case", *settings, "what it is"],
                  [[k, *(f"{reached.loc[k, s]:.3f}" for s in settings), CORRUPTIONS[k]] for k in reached.index]))
    cal = load_calibration()
    stats = list(next(iter(cal["bounds"].values())))
    replace_block(HERE / "README.md", "calibration", md_table(["style", *stats], [[st, *(f"{b[k]:.3f}" for k in stats)] for st, b in cal["bounds"].items()]) +
                  f"\n\n{cal['n']} latents (seed {cal['seed']}); the nearest render is the latent's truth for {cal['nearest_is_truth']:.3f} of the generator's images.")
    agree = json.loads((HERE / "judge_agreement.json").read_text())
    per_1000 = v["cpu_s_per_1000"].median()
    replace_block(HERE / "README.md", "agreement", f"On 1,000 clean renders of fresh all-styles latents the nearest render and the judge agree on "
                  f"{agree['all']:.3f} of images (shape {agree['shape']:.3f}, colour {agree['color']:.3f}, style {agree['style']:.3f}). "
                  f"Attainment takes {per_1000:.0f} CPU seconds per 1,000 images (one thread, median over the validation's cases).")
    fooling = reached.drop(index=["ideal"])
    paint_blur = reached.loc["blur", "photo-to-painting"] if "photo-to-painting" in settings else float("nan")
    others = fooling.drop(columns=["photo-to-painting"], errors="ignore")
    write_headline(HERE, f"Attainment on constructed cases, 200 fresh latents per case: ideal renders reached {reached.loc['ideal'].min():.2f}-"
                         f"{reached.loc['ideal'].max():.2f}; the source, outlines, halos, partial fills, bleed, blur and shape averages at most "
                         f"{others.max().max():.3f} (red -> blue, circle -> square, photo -> sketch); on photo -> painting a blurred painting is "
                         f"reached {paint_blur:.2f}, since the world's own paintings are as soft; judge agreement on clean renders {agree['all']:.3f}.")


if __name__ == "__main__":
    p = study_parser(__doc__)
    p.add_argument("--calibrate", action="store_true", help="recompute the shipped on-world bounds")
    p.add_argument("--run", action="store_true", help="validate on constructed cases and measure agreement with the judge")
    run_study(p, tables, [("calibrate", lambda a: calibrate()), ("run", lambda a: run())])
