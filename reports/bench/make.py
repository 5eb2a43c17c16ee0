"""Benchmark: loop overhead, AIR over NADA, paper-scale compositions and the diffusion generators (README.md here;
what the figures mean is explained in the bench notebook of nbs/).

    python reports/bench/make.py --tables     # the composition table and headline.md from compose.csv
    python reports/bench/make.py --run        # the CPU commands of the newest section, one after the other (hours under load)

--run prints each command's own tables; the README's tables are copied from that output by hand, except the
composition per prompt-latent count (compose.csv), which --tables writes.
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
    write_headline(HERE, f"AIR over NADA at the paper's scale, composed from measured CPU unit costs: Dog -> Cat {ratio[dog, 1000]:.2f}, "
                   f"Human -> Baby {ratio[human, 1000]:.2f} with the paper's 1000 prompt latents ({ratio[human, 256]:.2f} with 256, the "
                   f"smallest count whose anchor offsets agree to cosine 0.99); no GPU figure at these model sizes yet.")


if __name__ == "__main__":
    p = study_parser(__doc__)
    p.add_argument("--run", action="store_true", help="run the bench commands")
    run_study(p, tables, [("run", lambda a: [shell(*BENCH, *args) for args in COMMANDS])])
