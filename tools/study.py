"""What the `reports/<study>/make.py` scripts share: their command line, Markdown tables, intervals over seeds, the
README blocks they rewrite, the one-line headline the README generator collects, and the shapes-world zero-shot tables
that two studies print.

A make.py imports this file with `sys.path.insert(0, <repository>/tools)`; nothing here trains or imports air_nb at
import time, so `make.py --help` works in a fresh clone before the package is installed."""
import argparse, json, re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def study_parser(doc: str, run_help: str = "") -> argparse.ArgumentParser:
    """The make.py command line: the script's docstring as help, the cheap `--tables` stage every study has and, with
    `run_help`, the long stage `--run RUNS` (the folder the study's runs go to)."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tables", action="store_true", help="rebuild the README tables and headline.md from the committed data (no training)")
    if run_help: p.add_argument("--run", type=Path, metavar="RUNS", help=run_help)
    return p


def md_table(header, rows) -> str:
    "A Markdown table from a header and rows of cells (anything `str` can print)."
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(map(str, r)) + " |" for r in rows])


def df_table(df) -> str:
    "A Markdown table of a pandas DataFrame, columns as they are."
    return md_table(list(df.columns), df.itertuples(index=False))


def ci_cell(values, digits: int = 3, show_n: bool = True) -> str:
    "`mean [95 % percentile bootstrap over seeds] (n=k)`, the mean alone for one seed, '–' for none."
    import pandas as pd
    from air_nb.evaluation.metrics import seed_ci
    v = pd.Series(values, dtype=float).dropna()
    n = f" (n={len(v)})" if show_n else ""
    if len(v) == 0: return "–"
    if len(v) == 1: return f"{v.mean():.{digits}f}{n}"
    lo, hi = seed_ci(v)
    return f"{v.mean():.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]{n}"


def replace_block(readme: Path, name: str, text: str):
    """Put `text` between `<!-- make.py: name -->` and `<!-- /make.py: name -->` in `readme` (the prose around it is
    written by hand; only the block is the script's)."""
    begin, end = f"<!-- make.py: {name} -->", f"<!-- /make.py: {name} -->"
    page = readme.read_text()
    if begin not in page: raise SystemExit(f"{readme} has no {begin} ... {end} block")
    head, rest = page.split(begin, 1)
    readme.write_text(f"{head}{begin}\n{text.strip()}\n{end}{rest.split(end, 1)[1]}")


def write_headline(folder: Path, text: str):
    "The study's one-line finding, `headline.md`, which tools/readme.py lists under the README's Results."
    (Path(folder) / "headline.md").write_text(" ".join(text.split()) + "\n")
    print("headline:", text)


def labelled_rows(images, labels, n: int, title: str, path, label_inches: float = 1.5, top: float = 0.95):
    """Save `images` (len(labels) * n, 3, S, S in [-1, 1]) as one row of `n` per label, each row labelled on its left:
    the studies' sample grids (the same latents in every row)."""
    import matplotlib; matplotlib.use("Agg")
    import matplotlib.pyplot as plt, torch
    width = n * 0.9 + label_inches
    fig, axes = plt.subplots(len(labels), 1, figsize=(width, len(labels) * 1.0))
    for ax, label, x in zip(axes, labels, images.split(n)):
        ax.imshow(torch.cat(list(x.add(1).div(2).clamp(0, 1)), dim=2).permute(1, 2, 0).numpy())
        ax.set_xticks([]); ax.set_yticks([]); ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.subplots_adjust(left=label_inches / width, right=0.99, top=top, bottom=0.01, hspace=0.15)
    fig.savefig(path, dpi=80); plt.close(fig)


def relative_run(run: str, sweep_name: str) -> str:
    "A run folder as a path relative to the sweep's output folder `sweep_name` (e.g. `shapes-red-to-blue/air-s0`)."
    parts = Path(run).parts
    return "/".join(parts[parts.index(sweep_name) + 1:]) if sweep_name in parts else str(run)


def _flatten(doc: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in doc.items():
        if isinstance(v, dict): out.update(_flatten(v, f"{prefix}{k}."))
        else: out[f"{prefix}{k}"] = json.dumps(v) if isinstance(v, list) else v
    return out


def condense_configs(configs: Path):
    """One row per run folder under `configs` (its `config.json` and `timings.json`): the run (relative to `configs`),
    the config fields that differ between the runs, and the training seconds. The copied folders can then go."""
    import pandas as pd
    rows = []
    for cfg in sorted(Path(configs).rglob("config.json")):
        doc = _flatten(json.loads(cfg.read_text()))
        t = json.loads((cfg.parent / "timings.json").read_text()) if (cfg.parent / "timings.json").exists() else {}
        rows.append({"run": cfg.parent.relative_to(configs).as_posix(), **doc,
                     "train_seconds_per_iteration": t.get("train_seconds_per_iteration"), "total_seconds": t.get("total_seconds")})
    df = pd.DataFrame(rows).drop(columns=["run.out_dir", "run.notes"], errors="ignore")
    varies = [c for c in df.columns if c == "run" or df[c].map(str).nunique() > 1]
    return df[varies]


# The shapes-world zero-shot studies (shapes_benchmark, zero_shot_comparison) print the same blocks: one per measure,
# settings as rows, methods as columns, like the AIR paper's Table 1.
ZERO_SHOT_MEASURES = [
    ("target share (judge) ↑", "target_share[judge:{attr}]"),
    ("others preserved against the ground truth ↑", "preserved[truth:all-others]"),
    ("others preserved, judge before vs after ↑", "preserved[judge:all-others]"),
    ("paired distance to the ideal image, judge-feature cosine ↓", "paired_dist[judge-cosine]"),
    ("paired distance to the ideal image, pixel L1 ↓", "paired_dist[pixel-l1]"),
    ("paired distance to the ideal image on the ground (2 px image border), pixel L1 ↓", "paired_dist[border-l1]"),
    ("FID on judge features vs ideal target images ↓", "fid[judge]"),
    ("diversity: intra-dist (judge features, pairwise, K-medoids K = 10) ↑", "intra_dist[judge-features,pairwise]")]
SETTING_ATTRIBUTE = {"shapes-photo-to-sketch": "style", "shapes-photo-to-painting": "style",
                     "shapes-red-to-blue": "color", "shapes-circle-to-square": "shape"}


def zero_shot_tables(metrics, source) -> str:
    """The Table-1 blocks from a study's metrics.csv (one row per run) and source_metrics.csv (the unadapted source
    generator of each setting on the same latents); mean over seeds [95 % bootstrap interval] (n seeds)."""
    df = metrics.assign(setting=metrics["setting"].str.split(":").str[0])
    order = ["nada", "ipl", "svl", "air"]
    methods = [m for m in order if m in set(df.method)] + sorted(set(df.method) - set(order))
    src = source.set_index("setting")
    out = []
    for title, column in ZERO_SHOT_MEASURES:
        rows = []
        for s in sorted(set(df.setting)):
            key = column.format(attr=SETTING_ATTRIBUTE[s])
            v0 = src.loc[s].get(key) if s in src.index else None
            cells = [f"{v0:.3f}" if v0 is not None and v0 == v0 else "–"]
            cells += [ci_cell(df[(df.setting == s) & (df.method == m)].get(key, [])) for m in methods]
            rows.append([s, *cells])
        out += [f"**{title}**", "", md_table(["setting", "source", *(m.upper() for m in methods)], rows), ""]
    return "\n".join(out)


def zero_shot_source_measures(settings, n: int = 500):
    """The unadapted source generator of each setting, measured like the runs (ground truth and judge, latents of
    seed 0): the 'source' column of the zero-shot tables."""
    import pandas as pd
    from air_nb.evaluation.metrics import judge_predictions
    from air_nb.shapes.measures import truth_measures, shapes_target
    from air_nb.models.generators import load_generator
    from air_nb.shapes.world1 import ATTRIBUTES, load_judge
    from air_nb.training.trainer import PRESETS
    judge, rows = load_judge(), []
    for s in settings:
        attr, i = shapes_target(dict(PRESETS[s]))
        G = load_generator(PRESETS[s]["generator"])
        m = truth_measures(G, judge, attr, ATTRIBUTES[attr][i], n, seed=0)
        m[f"target_share[judge:{attr}]"] = float((judge_predictions(judge, G, n, seed=0)[attr] == i).float().mean())
        rows.append({"setting": s, **m})
    return pd.DataFrame(rows)


def number(text: str, pattern: str) -> float:
    "The first number that `pattern` (a regex with one group) finds in `text`; used to read figures out of generated pages."
    m = re.search(pattern, text)
    if not m: raise SystemExit(f"not found: {pattern}")
    return float(m.group(1).rstrip("."))     # a figure can end a sentence


def shell(*cmd):
    "Run one command of a study's long stage from the repository root, stopping the stage if it fails."
    import subprocess
    print("+", " ".join(map(str, cmd)), flush=True)
    subprocess.run([str(c) for c in cmd], cwd=ROOT, check=True)


def evaluate_runs_into(folder: Path, runs_dir: Path, n: int = 500):
    """`nbs/evaluate.ipynb` on every run under `runs_dir` (metrics.csv and the sample grids into the study `folder`; the
    executed notebook is not kept), then the run paths made relative and each run's config condensed into the CSV."""
    import tempfile, pandas as pd
    with tempfile.TemporaryDirectory() as tmp:
        shell("papermill", "nbs/evaluate.ipynb", Path(tmp) / "evaluate.ipynb", "-p", "runs", runs_dir, "-p", "out_dir", folder,
              "-p", "n_samples", n, "-p", "n_diversity", 300, "-p", "n_judge", n)
    m = pd.read_csv(folder / "metrics.csv")
    m["run"] = [Path(r).resolve().relative_to(Path(runs_dir).resolve()).as_posix() for r in m.run]
    configs = condense_configs(runs_dir).drop(columns=["run.seed", "run.method", "run.preset"], errors="ignore")
    m.merge(configs, on="run", how="left").to_csv(folder / "metrics.csv", index=False)


def evaluate_new_runs(csv: Path, runs: Path, n: int = 500):
    """Evaluate every finished run under `runs` not yet in the study's `csv` (`evaluate_runs`: n samples, diversity on
    300, the judge on n; a setting and seed at a time), appending rows with the runs' condensed configs; can be repeated
    while a sweep is still training."""
    import pandas as pd, torch
    from air_nb.evaluation.metrics import evaluate_runs
    from air_nb.training import runs as run_folders
    torch.set_num_threads(1)
    runs = Path(runs).resolve()
    old = pd.read_csv(csv) if Path(csv).exists() else pd.DataFrame(columns=["run"])
    todo = [r for r in run_folders.find_runs(runs) if run_folders.is_finished(r) and r.relative_to(runs).as_posix() not in set(old.run)]
    groups = {}
    for r in todo: groups.setdefault((r.parent.name, r.name.split("-s")[-1]), []).append(r)
    for key, folders in sorted(groups.items()):
        print("evaluating", key, [f.name for f in folders], flush=True)
        df, notes = evaluate_runs(folders, n=n, n_diversity=300, n_judge=n, progress=False)
        df["run"] = [Path(r).resolve().relative_to(runs).as_posix() for r in df.run]
        configs = condense_configs(runs).drop(columns=["run.seed", "run.method", "run.preset"], errors="ignore")
        old = pd.concat([old, df.merge(configs, on="run", how="left")], ignore_index=True)
        old.to_csv(csv, index=False)      # after every group: a cut-off evaluation keeps what it measured


def run_study(parser, tables, stages=()):
    """Parse the command line and run each `(option, function)` of `stages` whose option was given, in order, with the
    parsed arguments; then rebuild the tables (after any stage, or alone with --tables). Help when nothing was asked."""
    a = parser.parse_args()
    asked = [stage for option, stage in stages if getattr(a, option)]
    for stage in asked: stage(a)
    if asked or a.tables: tables()
    else: parser.print_help()
