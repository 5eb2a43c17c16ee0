"""ASC with the reference code's three departures from the paper against the paper's defaults (reports/fewshot_world2).

    python -m air_nb.sweep --grid shapes-few-shot --settings shapes-photo-to-corner-10shot --methods asc --out CODE \
        --local-cpus 1 --param 'overrides={asc_softmax: joint, sobel_on: current, flow_quantile_scope: batch}'
    PYTHONPATH=. python tools/fewshot_asc_switches.py CODE BENCH      # BENCH: the shapes-few-shot sweep's folder

Prints a Markdown table (mean [95 % bootstrap over seeds]) of the switched runs, the benchmark's ASC (paper) and RSSA
runs of the same setting, and the switched minus the paper runs paired by seed.
"""
import sys
import pandas as pd
from air_nb.fewshot_eval import sweep_table, bootstrap_ci

COLS = ["fid[judge]", "target_share", "preserved[truth:all-others]", "paired_dist[judge-cosine]", "layout_within1[source]", "layout_mean[size]"]

def ci(v) -> str:
    m, lo, hi = bootstrap_ci(pd.Series(v).to_numpy())
    return f"{m:.3g} [{lo:.3g}, {hi:.3g}]"

def main(code_root, bench_root, setting="photo-corner", shots=10):
    code = sweep_table(code_root).assign(variant="ASC, reference-code switches")
    bench = sweep_table(bench_root)
    bench = bench[(bench.setting == setting) & (bench.shots == shots) & bench.method.isin(["asc", "rssa"])]
    bench = bench.assign(variant=bench.method.map({"asc": "ASC, paper (default)", "rssa": "RSSA"}))
    df = pd.concat([bench, code])
    print("| variant | seeds | " + " | ".join(COLS) + " |"); print("|---" * (2 + len(COLS)) + "|")
    for v, g in df.groupby("variant", sort=False): print(f"| {v} | {len(g)} | " + " | ".join(ci(g[c]) for c in COLS) + " |")
    c, p = code.set_index("seed"), bench[bench.method == "asc"].set_index("seed")
    print("\n| switched - paper, paired by seed | " + " | ".join(COLS[:4]) + " |"); print("|---" * 5 + "|")
    print(f"| {setting} {shots}-shot | " + " | ".join(ci((c[col] - p[col]).dropna()) for col in COLS[:4]) + " |")

if __name__ == "__main__": main(*sys.argv[1:3])
