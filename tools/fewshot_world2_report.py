"""reports/fewshot_world2/: metrics.csv, tables.md (mean [95 % bootstrap interval over seeds]) and one sample grid per
setting, from a finished (or partly finished) `shapes-few-shot` sweep. Run from the repository root:
`python tools/fewshot_world2_report.py SWEEP_ROOT [REPORT_DIR]` (the README's prose is written by hand from tables.md)."""
import sys, json
from pathlib import Path
import numpy as np, pandas as pd, torch
torch.set_num_threads(1)
from air_nb.core import save_image, write_csv
from air_nb.fewshot_eval import sweep_table, summary, bootstrap_ci
from air_nb.freezed import load_target_images
from air_nb.generators import load_generator

root = Path(sys.argv[1]); out = Path(sys.argv[2] if len(sys.argv) > 2 else "reports/fewshot_world2"); out.mkdir(parents=True, exist_ok=True)
df = sweep_table(root)
df["run"] = df["run"].map(lambda r: str(Path(r).relative_to(root)))
write_csv(df.to_dict(orient="records"), out / "metrics.csv")
METHODS = ["source", "freezed", "idc", "rssa", "asc"]
# the sources, not adapted, measured the same way (one row per setting and K; cached in the report folder)
src_file = out / "source_metrics.json"
src_rows = json.loads(src_file.read_text()) if src_file.exists() else []
done = {(r["setting"], r["shots"]) for r in src_rows}
from air_nb.fewshot_eval import run_measures
from air_nb.shapes import load_judge
from air_nb.world2_judge import load_layout_judge
from air_nb.shapes2 import FEW_SHOT_TARGETS
from air_nb.core import save_json
judge, lj = load_judge(), load_layout_judge()
for (s_, k) in sorted(set(zip(df.setting, df.shots)) - done):
    G0 = load_generator(FEW_SHOT_TARGETS[s_]["source"]).eval()
    spec = f"shapes2:{s_}"
    src_rows.append({"setting": s_, "shots": int(k), "method": "source", "seed": 0,
                     **run_measures(G0, spec, load_target_images(spec, int(k), 64, 0), judge, lj, n=300, n_reference=500)})
    save_json(src_rows, src_file)
df_all = pd.concat([df, pd.DataFrame(src_rows)], ignore_index=True)
main = ["fid[judge]", "ic_dist[judge-features]", "target_share", "preserved[truth:all-others]", "paired_dist[judge-cosine]", "paired_dist[pixel-l1]", "paired_dist[border-l1]"]
layout = ["layout_within1[source]", "layout_within1[corner]", "layout_mean[x]", "layout_mean[y]", "layout_mean[size]"]
def to_md(t):
    cols = list(t.columns)
    return "\n".join(["| " + " | ".join(map(str, cols)) + " |", "|" + "---|" * len(cols)] +
                     ["| " + " | ".join(str(v) for v in r) + " |" for r in t.itertuples(index=False)])
def md(t):
    t = t.copy(); t["method"] = pd.Categorical(t["method"], METHODS); t = t.sort_values(["setting", "shots", "method"])
    return to_md(t)
lines = [f"Runs: {len(df)} ({df.groupby(['setting', 'shots', 'method']).ngroups} setting x K x method cells); iterations {sorted(df.iterations.unique().tolist())}.", "",
         "## Main measures", "", md(summary(df_all, main)), "", "## Layout (layout judge)", "", md(summary(df_all, layout)), "",
         "## Time", "", md(summary(df, ["train_s_per_it"])), ""]
# ASC - RSSA per seed (paired by seed), every setting
rows = []
for (s, k), g in df.groupby(["setting", "shots"]):
    a, r = g[g.method == "asc"].set_index("seed"), g[g.method == "rssa"].set_index("seed")
    seeds = sorted(set(a.index) & set(r.index))
    if not seeds: continue
    row = {"setting": s, "shots": k, "seeds": len(seeds)}
    for m in ["fid[judge]", "target_share", "paired_dist[judge-cosine]", "preserved[truth:all-others]"]:
        mu, lo, hi = bootstrap_ci((a.loc[seeds, m] - r.loc[seeds, m]).tolist())
        row[f"asc - rssa: {m}"] = f"{mu:.3g}" + ("" if np.isnan(lo) else f" [{lo:.3g}, {hi:.3g}]")
    rows.append(row)
if rows: lines += ["## ASC minus RSSA (paired by seed)", "", to_md(pd.DataFrame(rows)), ""]
(out / "tables.md").write_text("\n".join(lines))
# grids: K training images, the source, then each method's seed-0 run, 8 latents (seed 5), truncation 1
z = None
for (s, k), g in df.groupby(["setting", "shots"]):
    g0 = g[g.seed == g.seed.min()]
    cfg = json.loads((root / g0.run.iloc[0] / "config.json").read_text())
    src = load_generator(cfg["run"]["generator"]).eval()
    z = src.sample_z(8, seed=5)
    shots = load_target_images(cfg["method_config"]["target_images"], k, 64, cfg["method_config"]["target_seed"])
    rows_img = [torch.cat([shots[:8], torch.ones(max(0, 8 - len(shots)), 3, 64, 64)])]
    with torch.no_grad():
        rows_img.append(src(z).clamp(-1, 1))
        for m in METHODS[1:]:
            r = g0[g0.method == m]
            rows_img.append(load_generator(root / r.run.iloc[0]).eval()(z).clamp(-1, 1) if len(r) else torch.ones(8, 3, 64, 64))
    save_image(torch.cat(rows_img), out / f"grid_{s}_{k}shot.png", nrow=8)
print((out / "tables.md").read_text())
