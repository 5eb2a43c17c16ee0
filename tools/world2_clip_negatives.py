"""Does a shapes CLIP that rejects half-sketches make NADA / AIR draw real sketches? (reports/world2_adaptation_notes.md)

    PYTHONPATH=. python tools/world2_clip_negatives.py OUT STEPS BLEND_P      # STEPS 0: the shipped CLIP, unchanged

Fine-tunes the shipped shapes CLIP for STEPS steps on world-2 renders (one image per training caption per step), where
each photo caption's image is, with probability BLEND_P, replaced by a blend alpha * sketch + (1 - alpha) * photo of
the same latent (alpha uniform in [0.2, 0.6]) under the *photo* caption; checks it (`world2_metrics.clip_check`), then
runs NADA and AIR shapes-photo-to-sketch seed 0 with it (the preset otherwise unchanged) and measures both with the
unchanged judge (`metrics.truth_measures` and the judge's sketch share on 500 latents). Writes OUT/results.json, the
fine-tuned CLIP's state dict and a grid per method (source row, adapted row). Nothing it makes is shipped."""
import math, sys, time, json
import numpy as np, torch, open_clip
torch.set_num_threads(1)
from air_nb.core import seed_everything, save_image
from air_nb.clip import load_clip
from air_nb.shapes import SHAPES, COLORS, STYLES, HELD_OUT_COMBOS, caption
from air_nb.shapes2 import decode_latents, change_attributes, render_attributes, Z_DIM
OUT = sys.argv[1]; STEPS = int(sys.argv[2]) if len(sys.argv) > 2 else 400; BLEND_P = float(sys.argv[3]) if len(sys.argv) > 3 else 0.3
from pathlib import Path; Path(OUT).mkdir(parents=True, exist_ok=True)
seed_everything(0)
combos = [(sh, c, st) for sh in SHAPES for c in COLORS for st in STYLES if (c, sh) not in HELD_OUT_COMBOS]
captions = [caption(*k) for k in combos]
POOL = 24
t0 = time.time()
g = torch.Generator().manual_seed(0)
pool, blends = [], []
for sh, c, st in combos:
    z = torch.randn(POOL, Z_DIM, generator=g)
    att = decode_latents(z)
    pool.append(render_attributes(change_attributes(att, shape=sh, color=c, style=st)))
    if st == "photo":
        photo, sketch = pool[-1], render_attributes(change_attributes(att, shape=sh, color=c, style="sketch"))
        a = torch.empty(POOL, 1, 1, 1).uniform_(0.2, 0.6, generator=g)
        blends.append(a * sketch + (1 - a) * photo)
    else: blends.append(None)
pool = torch.stack(pool)
print(f"pool {tuple(pool.shape)} in {time.time() - t0:.0f}s", flush=True)
clip = load_clip("shapes", None, "cpu")
model = clip.model.train().requires_grad_(True)
tokens = clip.tokenize(captions)
loss_fn = open_clip.loss.ClipLoss()
opt = torch.optim.AdamW(model.parameters(), lr=5e-4, betas=(0.9, 0.98), weight_decay=0.05)
n = len(combos)
photo_rows = [i for i, k in enumerate(combos) if k[2] == "photo"]
for step in range(STEPS):
    pick = torch.randint(0, POOL, (n,), generator=g)
    images = pool[torch.arange(n), pick].clone()
    for i in photo_rows:
        if torch.rand((), generator=g) < BLEND_P: images[i] = blends[i][pick[i]]
    sh = torch.randint(-4, 5, (2,), generator=g).tolist()
    images = torch.roll(images, sh, (2, 3))
    img_f = model.encode_image(clip.preprocess(images), normalize=True)
    txt_f = model.encode_text(tokens, normalize=True)
    loss = loss_fn(img_f, txt_f, model.logit_scale.exp())
    opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
    with torch.no_grad(): model.logit_scale.clamp_(0, math.log(100))
    if step % 50 == 0: print(f"step {step} loss {loss.item():.3f} {time.time() - t0:.0f}s", flush=True)
model.eval().requires_grad_(False)
torch.save(model.state_dict(), f"{OUT}/clip.pt")
from air_nb.world2_metrics import clip_check
print("clip_check", clip_check(clip), flush=True)
# the A/B: NADA and AIR, seed 0, the preset, with this CLIP
from air_nb.trainer import adapt, fields_for
from air_nb.metrics import truth_measures, judge_predictions
from air_nb.shapes import load_judge
from air_nb.generators import load_generator
judge, source = load_judge(), load_generator("shapes-photo")
res = {}
for m in ("nada", "air"):
    adapt(fields_for(dict(preset="shapes-photo-to-sketch", method=m, seed=0, out_dir=f"{OUT}/{m}"), m), clip=clip, progress=False)
    G = load_generator(f"{OUT}/{m}")
    res[m] = truth_measures(G, judge, "style", "sketch", 500, 0)
    pred = judge_predictions(judge, G, 500, 0)
    res[m]["sketch_share"] = float((pred["style"] == STYLES.index("sketch")).float().mean())
    z = torch.randn(8, G.z_dim, generator=torch.Generator().manual_seed(5))
    with torch.no_grad(): save_image(torch.cat([source(z), G(z)]), f"{OUT}/{m}_grid.png", nrow=8)
    print(m, res[m], flush=True)
json.dump(res, open(f"{OUT}/results.json", "w"), indent=1)
