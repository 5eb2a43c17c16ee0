"""Does a source generator that was trained on every style, and is sampled on its photo slice, let NADA / AIR draw
sketches? An A/B of issue 14's demo criterion (reports/world2_all_styles.md), run from the repository root:

    PYTHONPATH=. python tools/world2_all_styles.py SRC OUT [--n 500] [--iterations 200]

SRC: the EMA generator (or its checkpoint.pt, for a look during training) of
`papermill nbs/train_world2_generator.ipynb ... -p source shapes-all`. OUT gets
weights/shapes-photo.safetensors (SRC's photo slice, float16, what would ship), the source measures of that slice,
how the judge reads SRC's own sketches and paintings, and NADA / AIR runs of shapes-photo-to-sketch (seed 0) from the
shipped generator and from the slice, measured by `paired_measures` against each latent's ideal sketch."""
import argparse, json, os, time
from pathlib import Path
import numpy as np, torch, torchvision
from air_nb.core import save_json
from air_nb.generators import Generator
from air_nb.shapes import load_judge, load_shapes_clip
from air_nb.shapes2 import restrict_source, ideal_images, world2_code
from air_nb.world2_metrics import source_measures, paired_measures
from air_nb.world2_training import save_half, World2Trainer

p = argparse.ArgumentParser()
p.add_argument("src"); p.add_argument("out"); p.add_argument("--n", type=int, default=500)
p.add_argument("--iterations", type=int, default=200); p.add_argument("--methods", nargs="+", default=["nada", "air"])
a = p.parse_args()
torch.set_num_threads(1)
out = Path(a.out); (out / "weights").mkdir(parents=True, exist_ok=True)
def log(*x): print(time.strftime("%H:%M:%S"), *x, flush=True)
judge, clip = load_judge(), load_shapes_clip()

G_all = (World2Trainer.load(a.src).finalize() if a.src.endswith(".pt") else Generator.load(a.src)).eval()
save_half(restrict_source(G_all, "shapes-photo"), out / "weights" / "shapes-photo.safetensors")
G_photo = Generator.load(out / "weights" / "shapes-photo.safetensors").eval()
res = {"photo_slice": source_measures(G_photo, judge, n=a.n, seed=777)}
log("photo slice", res["photo_slice"])
# how well the generator itself draws the other styles (its sketch slice against the renders of the same latents)
for style in ("sketch", "painting"):
    res[f"{style}_slice"] = source_measures(restrict_source(G_all, world2_code(styles=style)), judge, n=a.n, seed=777)
    log(style, "slice", res[f"{style}_slice"])

z = torch.from_numpy(np.random.RandomState(5).randn(12, 64)).float()
from air_nb.trainer import adapt
rows = []
for label, weights in (("shipped", None), ("all-styles slice", str(out / "weights"))):
    if weights: os.environ["AIR_NB_WEIGHTS"] = weights
    else: os.environ.pop("AIR_NB_WEIGHTS", None)
    for method in a.methods:
        t = time.time()
        r = adapt(dict(preset="shapes-photo-to-sketch"), clip=clip, method=method, seed=0, progress=False, device="cpu",
                  iterations=a.iterations)
        m = paired_measures(r.generator, judge, n=a.n, style="sketch")
        rows.append({"source": label, "method": method, "seconds": time.time() - t, **m}); log(rows[-1])
        with torch.no_grad():
            x = torch.cat([ideal_images(r.generator, z, style="sketch"), r.generator(z)])
        torchvision.utils.save_image((x + 1) / 2, out / f"{label.split()[0]}_{method}.png", nrow=12)
res["runs"] = rows
save_json(res, out / "all_styles.json")
log("done", json.dumps(rows))
