"""The claims page: each claim of the two papers, what the shapes world measured about it, the verdict, and what the
world can and cannot say (this folder's README.md, rebuilt from the other studies' committed data).

    python reports/claims/make.py --tables
"""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from study import run_study, study_parser, replace_block, write_headline, md_table

HERE = Path(__file__).resolve().parent
REPORTS = HERE.parent


def _ci(values):
    from air_nb.evaluation.metrics import seed_ci
    import pandas as pd
    v = pd.Series(values, dtype=float).dropna()
    lo, hi = seed_ci(v) if len(v) > 1 else (float("nan"), float("nan"))
    return float(v.mean()), lo, hi


def _against(df, column: str, higher_is_better: bool, base: str = "air", others=("nada", "ipl", "svl"), by: str = "method"):
    """`base` minus each of `others` on `column`, paired by seed, per setting: (cells, wins, losses, ties) by the 95 %
    bootstrap interval; `by` names the column that holds the methods (or schemes)."""
    wins = losses = ties = 0; cells = []
    for s in sorted(set(df.setting)):
        d = df[df.setting == s].pivot_table(index="seed", columns=by, values=column)
        for m in others:
            if base not in d or m not in d: continue
            mean, lo, hi = _ci(d[base] - d[m])
            better, worse = (lo > 0, hi < 0) if higher_is_better else (hi < 0, lo > 0)
            wins, losses, ties = wins + better, losses + worse, ties + (not better and not worse)
            cells.append(f"{s.replace('shapes-', '')} vs {m.upper() if by == 'method' else m} {mean:+.3f} [{lo:+.3f}, {hi:+.3f}]")
    return cells, wins, losses, ties


def _verdict(w: int, l: int, t: int, what: str) -> str:
    return (("supported" if w and not l else "not supported" if (l or t) and not w else "mixed")
            + f" here: {what} better on {w}, worse on {l}, no clear difference on {t} of {w + l + t} pairs")


def _reached_or_residual(df, head: str, base: str, others, by: str = "method", name: str = "AIR"):
    "The paired comparison on attainment's reached share, or on the residual when nothing is reached anywhere."
    if df["attainment[reached]"].max() > 0:
        cells, w, l, t = _against(df, "attainment[reached]", True, base, others, by)
        return f"attainment's reached share, {head}: " + "; ".join(cells), _verdict(w, l, t, name)
    cells, w, l, t = _against(df, "attainment[residual]", False, base, others, by)
    return (f"nothing is reached (attainment's reached share 0 everywhere); the median distance to the nearest clean render instead, {head}: "
            + "; ".join(cells), f"not supported here: nothing reaches the target; by the distance to a clean render {name} is closer on {w}, "
            f"farther on {l}, no clear difference on {t} of {w + l + t} pairs")


def air_beats_baselines():
    "AIR against NADA, IPL and SVL on attainment's reached share, paired by seed; when nothing is reached, on the distance to the nearest clean render."
    import pandas as pd
    df = pd.read_csv(REPORTS / "zero_shot_comparison" / "metrics.csv").drop_duplicates("run", keep="last")
    df["setting"] = df.setting.str.split(":").str[0]
    head = f"{df.seed.nunique()} seeds, the authors' code's settings; AIR minus each method, paired by seed [95 % bootstrap]"
    return _reached_or_residual(df, head, "air", ("nada", "ipl", "svl"))


def consecutive_scheme_best():
    "AIR's consecutive prompt scheme against the source and image schemes, paired by seed."
    import pandas as pd
    df = pd.read_csv(REPORTS / "air_prompt_ablation" / "metrics.csv")
    df = df.assign(scheme=[Path(r).parent.name.rsplit("-", 1)[1] for r in df.run], setting=df.setting.str.split(":").str[0])
    head = f"{df.seed.nunique()} seeds, the authors' code's settings; consecutive minus each scheme, paired by seed [95 % bootstrap]"
    return _reached_or_residual(df, head, "consecutive", ("source", "image"), by="scheme", name="the consecutive scheme")


def asc_beats():
    "ASC against IDC and RSSA on the few-shot sets, paired by seed; the layout-shifted set named apart."
    import pandas as pd
    df = pd.read_csv(REPORTS / "fewshot_comparison" / "metrics.csv")
    head = (f"{df.seed.nunique()} seeds, {int(df.iterations.max())} iterations, the authors' code's settings; ASC minus each method, "
            "paired by seed [95 % bootstrap]; photo-corner is the layout-shifted set")
    return _reached_or_residual(df, head, "asc", ("idc", "rssa"), name="ASC")


def misalignment_grows():
    import pandas as pd
    s = pd.read_csv(REPORTS / "misalignment" / "summary.csv").set_index("figure").value
    sign = "falls" if s["rho_pairs_high"] < 0 else "grows" if s["rho_pairs_low"] > 0 else "shows no clear trend"
    measured = (f"offset misalignment against concept distance on world 2's renders: Spearman rho {s['rho_pairs']:.2f} "
                f"[{s['rho_pairs_low']:.2f}, {s['rho_pairs_high']:.2f}] (classes resampled)")
    return measured, f"{'supported' if sign == 'grows' else 'not supported'} here: misalignment {sign} with concept distance"


def asc_components_help():
    "Each step of the ablation (L_asc, then PA, then ImpS) against the row before it, paired by seed, on attainment (reached; the residual when nothing is reached)."
    import pandas as pd
    from air_nb.evaluation.metrics import seed_ci
    df = pd.read_csv(REPORTS / "asc_ablation" / "metrics.csv")
    order = ["idc", "idc+asc", "idc+asc+pa", "idc+asc+pa+imps"]
    column, better = ("attainment[reached]", 1) if df["attainment[reached]"].max() > 0 else ("attainment[residual]", -1)
    cells, helped = [], []
    for prev, cur in zip(order[:-1], order[1:]):
        d = (df[df.row == cur].set_index("seed")[column] - df[df.row == prev].set_index("seed")[column]).dropna()
        lo, hi = seed_ci(d)
        cells.append(f"{ {'idc+asc': 'L_asc', 'idc+asc+pa': 'PA', 'idc+asc+pa+imps': 'ImpS'}[cur]} {d.mean():+.3f} [{lo:+.3f}, {hi:+.3f}]")
        helped.append(better * lo > 0 if better > 0 else better * hi > 0)
    steps = [c.split(" ")[0] for c in cells]
    measured = f"per-seed change of {column} that each component adds ({df.seed.nunique()} seeds, photo -> corner 10-shot): " + "; ".join(cells)
    verdict = ("supported here: every component helps" if all(helped) else
               f"not supported here: {', '.join(s for s, h in zip(steps, helped) if not h)} make no clear improvement"
               + (f" ({', '.join(s for s, h in zip(steps, helped) if h)} does)" if any(helped) else ""))
    return measured, verdict


def asc_reconstructs_best():
    "The reconstruction round trip: ASC's judge-feature cosine and MSE against IDC's and RSSA's (one seed)."
    import pandas as pd
    df = pd.read_csv(REPORTS / "reconstruction" / "results.csv").set_index("method")
    measured = ("judge-feature cosine of the reconstructed generator to the source (one seed): "
                + ", ".join(f"{m.upper()} {df.loc[m, 'recon_cosine[judge]']:.3f}" for m in df.index)
                + "; MSE " + ", ".join(f"{m.upper()} {df.loc[m, 'recon_mse']:.3f}" for m in df.index))
    best = df["recon_cosine[judge]"].idxmax() == "asc" and df["recon_mse"].idxmin() == "asc"
    return measured, ("supported here (one seed)" if best else "not supported here (one seed): ASC's reconstruction is not the closest")


CLAIMS = [   # (paper, claim, measure, study, scope); the headline names each claim by the claim's first words
    ("AIR (Table 1)", "AIR's images are better than NADA's, IPL's and SVL's (quality and diversity)", air_beats_baselines,
     "zero_shot_comparison",
     "Whether the changed attribute is carried out cleanly and the rest kept, on latents whose truth is known; not real "
     "image quality, not OpenAI's CLIP (the shapes CLIP fails the guide check), 200 iterations at 64 px."),
    ("AIR (Sec. 3)", "the misalignment of image and text offsets grows with the distance between the concepts", misalignment_grows,
     "misalignment",
     "The relation inside this world's CLIP and renders; whether OpenAI's CLIP on real photos shows it cannot be measured here."),
    ("AIR (Table 4)", "the consecutive prompt scheme (anchor A_{i-1} -> A_i) is the best of the three",
     consecutive_scheme_best,
     "air_prompt_ablation", "Two settings, three seeds; the schemes' effect on real data is not testable here."),
    ("ASC paper (Table 1)", "ASC beats IDC and RSSA, most where the layouts of source and target differ",
     asc_beats, "fewshot_comparison", "Layout shift is simulated by moving and shrinking the shape (photo -> corner); 500 of the papers' 5,000 iterations (the budget study shows what that leaves); identity, faces and real styles are out of reach."),
    ("ASC paper (Table 4)", "each component (L_asc, progressive adaptation, importance sampling) improves on the step before",
     asc_components_help, "asc_ablation", "The layout-shifted shapes set at 500 iterations, 3 seeds; Animation faces are out of reach."),
    ("ASC paper (Table 2)", "ASC's round trip (to the target and back) keeps the source best", asc_reconstructs_best, "reconstruction",
     "One seed, photo -> sketch -> photo, judge features instead of a face identity network, no LPIPS."),
]


def tables():
    rows = []
    for paper, claim, measure, study, scope in CLAIMS:
        measured, verdict = measure()
        rows.append([paper, claim, f"{measured} ([{study}](../{study}/README.md))", verdict, scope])
    replace_block(HERE / "README.md", "claims", md_table(["paper", "claim", "what was measured", "verdict", "what the shapes world can and cannot say"], rows))
    verdicts = [measure()[1].split(":")[0].split(" here")[0] for _, _, measure, _, _ in CLAIMS]
    short = ["AIR beats NADA, IPL and SVL", "misalignment grows with concept distance", "the consecutive prompt scheme is best",
             "ASC beats IDC and RSSA, most under layout shift", "each ASC component helps", "ASC reconstructs best"]
    write_headline(HERE, "The papers' claims in the shapes world: " + "; ".join(f"{c}: {v}" for c, v in zip(short, verdicts)) + ".")


if __name__ == "__main__":
    run_study(study_parser(__doc__), tables)
