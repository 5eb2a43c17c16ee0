"""Benchmark: loop overhead, AIR over NADA, paper-scale compositions and the diffusion generators (README.md here;
what the figures mean is explained in the bench notebook of nbs/).

    python reports/bench/make.py --tables     # the tables written from data files, and headline.md
    python reports/bench/make.py --run        # the CPU commands of the newest section, one after the other (hours under load)

--run prints each command's own tables; the README's tables are copied from that output by hand, except those --tables
writes: the composition per prompt-latent count (compose.csv), the memory account (memory_1024.csv), the levers'
agreement (lever_agreement.jsonl) and the anchor-resolution criterion (anchor_resolution.csv).
"""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from study import run_study, study_parser, shell, replace_block, write_headline, md_table

HERE = Path(__file__).resolve().parent
BENCH = [sys.executable, "-m", "air_nb.scale.bench"]
COMMANDS = [["--only", "shapes", "--repeat", 3, "--fewshot-iterations", 0], ["--only", "faces", "--reps", 4, "--fewshot-iterations", 0],
            ["--only", "none", "--fewshot-iterations", 0, "--estimator", "shapes-photo-to-sketch", "shapes-red-to-blue", "shapes-circle-to-square"],
            ["--compose", "--only", "human"], ["--compose", "--only", "dog"],
            ["--diffusion", "--only", "shapes", "--diffusion-steps", 10, "--reps", 2], ["--diffusion", "--only", "adm", "--diffusion-steps", 2, "--reps", 1]]
MEMORY = [sys.executable, "-m", "air_nb.scale.memory"]
MEMORY_COMMANDS = [["--resolution", 1024, "--batch", 2, "--selection", 3, 0, "--levers", "all", "none", "bf16 CLIP", "checkpointing",
                    "--selection-on-meta", "--csv", HERE / "memory_1024.csv"],
                   ["--agreement", 8, "--resolution", 128, "--levers", "none", "checkpointing", "all", "--selection", 3, "--csv", HERE / "lever_agreement.jsonl"]]
ANCHOR_COMMANDS = [["--anchor-resolution", "shapes-photo-to-sketch", "shapes-red-to-blue", "shapes-circle-to-square", "--resolutions", 32, 16,
                    "--seeds", 0, 1, 2, "--csv", HERE / "anchor_resolution.csv"],
                   ["--anchor-resolution", "stylegan2-1024", "--resolutions", 256, 512, "--seeds", 0, "--csv", HERE / "anchor_resolution.csv"]]
GIB = 2 ** 30


def memory_tables() -> str:
    "The memory account, the levers' agreement and the anchor-resolution criterion (README blocks); the headline's memory clause."
    import json
    import pandas as pd
    m = pd.read_csv(HERE / "memory_1024.csv", keep_default_na=False)
    g = lambda v: f"{float(v) / GIB:.2f}" if v != "" else ""
    rows = [[r.method.upper(), f"k = {r.auto_layer_k}" if str(r.layer_selection) == "True" else "off", r.levers, r.clip_dtype, r.generator_copies,
             g(r.generator_weights), g(r.clip_weights), g(r.grads), f"{g(r.adam_state)} ({g(r.adam_state_all)})", g(r.saved_step),
             g(r.saved_layer_selection), g(r.peak_step), g(r.peak_layer_selection),
             f"{g(r.peak_anchor)} ({r.opt_encode_batch or 64})" if r.method == "air" else "", g(r.steady_peak)] for r in m.itertuples()]
    replace_block(HERE / "README.md", "memory", md_table(
        ["method", "layer selection", "levers", "CLIP", "G copies", "G weights", "CLIP weights", "grads", "Adam (all layers)",
         "saved: step", "saved: selection", "peak: step", "peak: selection", "peak: anchor (encode batch)", "steady peak"], rows))
    ag = [json.loads(l) for l in (HERE / "lever_agreement.jsonl").read_text().splitlines() if l.strip()]
    replace_block(HERE / "README.md", "levers", md_table(
        ["method", "levers", "iterations", "max abs loss difference", "mean abs loss difference", "iterations with the same layers", "max abs image difference"],
        [[a["method"].upper(), a["levers"], a["iterations"], f"{a['max_loss_diff']:.3g}", f"{a['mean_loss_diff']:.3g}", a["same_layers"],
          f"{a['max_image_diff']:.3g}"] for a in ag]))
    sys.path.insert(0, str(HERE.parents[1]))
    from air_nb.scale.bench import estimator_verdict, summarise_resolution
    import csv
    with open(HERE / "anchor_resolution.csv") as f:
        rs = [dict(r, offset_cos=float(r["offset_cos"]), adaptive_cos=float(r["adaptive_cos"]), resolution=int(r["resolution"]),
                   full_resolution=int(r["full_resolution"]), seed=int(r["seed"])) for r in csv.DictReader(f)]
    replace_block(HERE / "README.md", "anchor_resolution", md_table(
        ["setting", "anchor images", "seeds", "anchors", "fixed latents", "offset cos (min)", "adaptive-direction cos (min)", "criterion"],
        [[s["setting"], f"{s['resolution']} of {s['full_resolution']} px", s["seeds"], s["anchors"], s["latents"], f"{s['min_offset_cos']:.4f}",
          f"{s['min_adaptive_cos']:.4f}", "passes" if s["passes"] else "fails"] for s in summarise_resolution(rs)]))
    v = estimator_verdict(HERE / "anchor_resolution.csv")
    peak = lambda meth, lev: float(m[(m.method == meth) & (m.levers == lev) & (m.layer_selection.astype(str) == "True")].steady_peak.iloc[0]) / GIB
    return (f"counted memory of a 1024 px training step, batch 2, layer selection on: NADA {peak('nada', 'checkpointing'):.1f} GiB, AIR "
            f"{peak('air', 'checkpointing'):.1f} GiB with the levers that keep results to float rounding ({peak('nada', 'none'):.1f} and "
            f"{peak('air', 'none'):.1f} GiB without); anchor images at a quarter size "
            + ("pass the estimator criterion" if v and v["passes"] else "fail the estimator criterion, so the paper's full-size anchors stay"))


def tables():
    import pandas as pd
    df = pd.read_csv(HERE / "compose.csv", keep_default_na=False)
    first = ~df.paper_run.duplicated()     # a paper run's unit costs are printed once, on its first row
    unit = lambda r, c, f: (f"{float(r[c]):{f}} s" if r[c] != "" else "(none)") if first[r.name] else ""
    rows = [[r.paper_run if first[i] else "", unit(r, "iteration_s", ".2f"), unit(r, "layer_selection_s", ".2f"), unit(r, "reference_s", ".2f"),
             unit(r, "anchor_image_s", ".2f"), unit(r, "prompt_step_s", ".3f"), r.prompt_latents, f"{r.nada_h:.2f} h" if first[i] else "",
             f"{r.air_h:.2f} h", f"{r.air_over_nada:.2f}", f"{r.anchors_share:g} %"] for i, r in df.iterrows()]
    replace_block(HERE / "README.md", "compose", md_table(["paper run", "iteration", "layer selection", "reference", "anchor image",
                                                           "prompt step", "prompt latents", "NADA", "AIR", "AIR / NADA", "anchors of AIR"], rows))
    ratio = df.set_index(["paper_run", "prompt_latents"]).air_over_nada
    dog, human = (next(k for k in df.paper_run.unique() if k.startswith(p)) for p in ("Dog", "Human"))
    memory = memory_tables()
    write_headline(HERE, f"AIR over NADA at the paper's scale, composed from measured CPU unit costs: Dog -> Cat {ratio[dog, 1000]:.2f}, "
                   f"Human -> Baby {ratio[human, 1000]:.2f} ({human.split(', ')[1]}) with the paper's 1000 prompt latents ({ratio[human, 256]:.2f} with 256, the "
                   f"smallest count whose anchor offsets agree to cosine 0.99); {memory}; no GPU figure at these model sizes yet.")


if __name__ == "__main__":
    p = study_parser(__doc__)
    p.add_argument("--run", action="store_true", help="run the bench commands")
    run_study(p, tables, [("run", lambda a: [shell(*BENCH, *args) for args in COMMANDS]
                                             + [shell(*MEMORY, *args) for args in MEMORY_COMMANDS] + [shell(*BENCH, *args) for args in ANCHOR_COMMANDS])])
