"""The attainment measure's calibration and validation (this folder's README.md).

    python reports/attainment/make.py --calibrate     # the on-world bounds shipped in air_nb/weights (1,000 latents, about a minute)
    python reports/attainment/make.py --run           # validation.csv (200 latents x 11 cases x 5 settings) and judge agreement
    python reports/attainment/make.py --run --settings photo-to-corner   # only these settings' rows anew (the others kept)
    python reports/attainment/make.py --judges        # judge_validation.csv: the plain and the strict judge on the same cases
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


def run(settings=None):
    import json, pandas as pd, torch
    from air_nb.shapes.attainment import validate_attainment, judge_agreement
    from air_nb.shapes.world1 import load_judge
    torch.set_num_threads(1)
    new = validate_attainment(n=200, settings=settings)
    if settings and (HERE / "validation.csv").exists():
        old = pd.read_csv(HERE / "validation.csv")
        new = pd.concat([old[~old.setting.isin(settings)], new], ignore_index=True)
    new.to_csv(HERE / "validation.csv", index=False)
    if not settings: (HERE / "judge_agreement.json").write_text(json.dumps(judge_agreement(load_judge(), n=1000), indent=1) + "\n")


def judges():
    "The plain and the strict judge on attainment's constructed cases (200 fresh latents each), and on clean world-1 renders."
    import pandas as pd, torch
    from air_nb.shapes.attainment import validate_judge, load_strict_judge
    from air_nb.shapes.world1 import load_judge, ShapesDataset, attribute_accuracy
    torch.set_num_threads(1)
    rows = []
    for name, judge in (("plain", load_judge()), ("strict", load_strict_judge())):
        rows.append(validate_judge(judge, n=200).assign(judge=name))
        data = ShapesDataset(n=1080, seed=2718)         # fresh renders, 10 per combination on average
        x = data.batch(range(len(data)))
        with torch.no_grad(): acc = attribute_accuracy(judge.predict(x), data)
        rows.append(pd.DataFrame([{"setting": "world-1 renders", "case": f"accuracy[{a}]", "n": len(data), "judge_reads_target": v, "judge": name}
                                  for a, v in acc.items()]))
    pd.concat(rows, ignore_index=True).to_csv(HERE / "judge_validation.csv", index=False)


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
    if (HERE / "judge_validation.csv").exists(): replace_block(HERE / "README.md", "judges", judge_tables(pd.read_csv(HERE / "judge_validation.csv")))
    fooling = reached.drop(index=["ideal"])
    paint_blur = reached.loc["blur", "photo-to-painting"] if "photo-to-painting" in settings else float("nan")
    others = fooling.drop(columns=["photo-to-painting"], errors="ignore")
    layout = ", photo -> corner" if "photo-to-corner" in settings else ""
    write_headline(HERE, f"Attainment on constructed cases, 200 fresh latents per case: ideal renders reached {reached.loc['ideal'].min():.2f}-"
                         f"{reached.loc['ideal'].max():.2f}; the source, outlines, halos, partial fills, bleed, blur and shape averages at most "
                         f"{others.max().max():.3f} (red -> blue, circle -> square, photo -> sketch{layout}); on photo -> painting a blurred painting is "
                         f"reached {paint_blur:.2f}, since the world's own paintings are as soft; judge agreement on clean renders {agree['all']:.3f}.")


def judge_tables(j) -> str:
    "Share read as the target per case and setting, plain and strict judge side by side; the strict judge's criterion."
    from air_nb.shapes.attainment import CORRUPTIONS, FAKE_CHANGES
    from air_nb.shapes.world1 import JUDGE_MIN_ACC
    cases = j[j.setting != "world-1 renders"]
    t = cases.pivot_table(index="case", columns=["setting", "judge"], values="judge_reads_target").reindex(list(CORRUPTIONS))
    cols = list(t.columns)
    table = md_table(["case", *(f"{s}: {k}" for s, k in cols)], [[c, *(f"{t.loc[c, col]:.3f}" for col in cols)] for c in t.index])
    acc = j[j.setting == "world-1 renders"].pivot_table(index="case", columns="judge", values="judge_reads_target")
    strict = cases[cases.judge == "strict"].set_index(["case", "setting"]).judge_reads_target
    ok = {"ideal >= 0.97": bool((strict.xs("ideal", level="case") >= 0.97).all()),
          "source and imitations <= 0.05": bool((strict.loc[["source", *FAKE_CHANGES]] <= 0.05).all()),
          f"world-1 accuracy >= {JUDGE_MIN_ACC}": bool((acc["strict"] >= JUDGE_MIN_ACC).all())}
    verdict = "passes" if all(ok.values()) else "fails"
    return (table + "\n\nAccuracy on clean world-1 renders:\n\n" + md_table(["attribute", *acc.columns], [[a, *(f"{acc.loc[a, c]:.3f}" for c in acc.columns)] for a in acc.index])
            + f"\n\nThe strict judge **{verdict}** its criterion (" + ", ".join(f"{k}: {'yes' if v else 'no'}" for k, v in ok.items()) + ").")


if __name__ == "__main__":
    p = study_parser(__doc__)
    p.add_argument("--calibrate", action="store_true", help="recompute the shipped on-world bounds")
    p.add_argument("--run", action="store_true", help="validate on constructed cases and measure agreement with the judge")
    p.add_argument("--settings", nargs="+", help="with --run: only these VALIDATION_SETTINGS anew")
    p.add_argument("--judges", action="store_true", help="the plain and the strict judge on the constructed cases")
    run_study(p, tables, [("calibrate", lambda a: calibrate()), ("run", lambda a: run(a.settings)), ("judges", lambda a: judges())])
