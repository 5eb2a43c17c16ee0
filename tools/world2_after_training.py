"""After training shapes-photo: the float16 file, the restricted sub-domains, the acceptance measures, the layout judge and
discriminators. Run from the repository root: `python tools/world2_after_training.py [restrict,measure,layout,disc]`
(env: SRC the trained generator, OUT the output folder, N latents per measure, LSTEPS/DSTEPS judge/discriminator steps,
DNAMES the sources that get a discriminator)."""
# after shapes-photo finished: restricted sources, measures, layout judge, discriminators (one thread, sequential)
import sys, json, time, torch
torch.set_num_threads(1)
from pathlib import Path
from air_nb.core import save_json
from air_nb.generators import Generator
from air_nb.shapes import load_judge
from air_nb.shapes2 import restrict_source
from air_nb.world2_training import save_half, train_discriminator, save_discriminator
from air_nb.world2_metrics import source_measures, ideal_sketch_measures, layout_measures
from air_nb.world2_judge import train_layout_judge, save_layout_judge, layout_pool, layout_agreement, layout_bins
import os
P = Path("/work/world2_runs"); OUT = Path(os.environ.get("OUT", P / "ship")); OUT.mkdir(exist_ok=True)
N, LSTEPS, DSTEPS = int(os.environ.get("N", 2000)), int(os.environ.get("LSTEPS", 1500)), int(os.environ.get("DSTEPS", 600))
SRC = os.environ.get("SRC", str(P / "shapes-photo" / "generator_ema.safetensors"))
steps = sys.argv[1].split(",") if len(sys.argv) > 1 else ["restrict", "measure", "layout", "disc"]
def log(*a): print(time.strftime("%H:%M:%S"), *a, flush=True)
Gp = Generator.load(SRC)
judge = load_judge()
gens = {"shapes-photo": Gp, "shapes-red": restrict_source(Gp, "shapes-red"), "shapes-circle": restrict_source(Gp, "shapes-circle")}
if "restrict" in steps:
    save_half(Gp, OUT / "shapes-photo.safetensors"); log("saved photo", (OUT / "shapes-photo.safetensors").stat().st_size)
Gh = Generator.load(OUT / "shapes-photo.safetensors")   # measure what would ship (float16); red and circle are restrictions of it
gens = {"shapes-photo": Gh, "shapes-red": restrict_source(Gh, "shapes-red"), "shapes-circle": restrict_source(Gh, "shapes-circle")}
if "measure" in steps:
    for name, G in gens.items():
        t = time.time()
        m = {"source": source_measures(G, judge, n=N, seed=777), "ideal_sketch": ideal_sketch_measures(G, judge, n=min(N, 500), seed=787)}
        save_json(m, OUT / f"{name}.metrics.json"); log(name, json.dumps(m), f"{time.time() - t:.0f}s")
if "layout" in steps:
    t = time.time()
    lj = train_layout_judge(steps=LSTEPS, n_pool=min(6000, 4 * N), log=log)
    save_layout_judge(lj, OUT / "shapes-layout-judge.safetensors")
    imgs, truth = layout_pool(min(N, 1000), seed=99)
    acc = layout_agreement(lj, imgs.float() / 127.5 - 1, truth)
    log("layout judge on fresh broad-layout renders", acc, f"{time.time() - t:.0f}s")
    res = {"fresh_broad_renders": acc}
    for name, G in gens.items():
        res[name] = layout_measures(G, lj, n=N); log(name, res[name])
    save_json(res, OUT / "layout.metrics.json")
if "disc" in steps:
    for name, G in gens.items():
        if os.environ.get("DNAMES") and name not in os.environ["DNAMES"].split(","): continue
        t = time.time()
        D = train_discriminator(G, steps=DSTEPS, log=log)
        save_discriminator(D, OUT / f"{name}-discriminator.safetensors"); log("D", name, f"{time.time() - t:.0f}s")
