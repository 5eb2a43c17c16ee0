"""One adaptation run of the shapes preset shapes-photo-to-sketch on world 2 with a given method, iterations and lr,
measured against the ground truth (paired_measures on 300 fresh latents) and drawn next to its ideal sketches.
The A/B behind the world-2 shapes presets (reports/world2_adaptation_notes.md):

    PYTHONPATH=. OMP_NUM_THREADS=1 python tools/world2_tuning.py nada 200 0.005 [--clip-augment] [--out DIR]

--clip-augment: random crops (scale 0.75-1, reflection padding) of the images the trained generator hands to CLIP
(an experiment, not a library option)."""
import argparse, time
import numpy as np, torch, torch.nn.functional as F, torchvision
from air_nb.trainer import adapt
from air_nb.shapes import load_shapes_clip
from air_nb.shapes2 import ideal_images
from air_nb.world2_metrics import paired_measures

p = argparse.ArgumentParser()
p.add_argument("method"); p.add_argument("iterations", type=int); p.add_argument("lr", type=float)
p.add_argument("--clip-augment", action="store_true"); p.add_argument("--out", default="runs/world2_tuning")
a = p.parse_args()
torch.set_num_threads(1)
clip = load_shapes_clip()
if a.clip_augment:
    encode, g = clip.encode_image, torch.Generator().manual_seed(0)
    def crop(x):
        s = torch.empty(len(x)).uniform_(0.75, 1.0, generator=g)
        theta = torch.zeros(len(x), 2, 3); theta[:, 0, 0] = theta[:, 1, 1] = s
        theta[:, :, 2] = (torch.rand(len(x), 2, generator=g) * 2 - 1) * (1 - s)[:, None]
        return F.grid_sample(x, F.affine_grid(theta, list(x.shape), align_corners=False), padding_mode="reflection", align_corners=False)
    clip.encode_image = lambda x, *args, **kw: encode(crop(x) if torch.is_grad_enabled() and x.requires_grad else x, *args, **kw)
t = time.time()
r = adapt(dict(preset="shapes-photo-to-sketch"), clip=clip, method=a.method, seed=0, progress=False, device="cpu",
          iterations=a.iterations, lr=a.lr)
seconds = time.time() - t
m = paired_measures(r.generator, n=300, style="sketch")
z = torch.from_numpy(np.random.RandomState(5).randn(16, 64)).float()
with torch.no_grad(): x = torch.cat([ideal_images(r.generator, z, style="sketch"), r.generator(z)])
from pathlib import Path
Path(a.out).mkdir(parents=True, exist_ok=True)
name = f"{a.method}_{a.iterations}_{a.lr}{'_aug' if a.clip_augment else ''}"
torchvision.utils.save_image((x + 1) / 2, f"{a.out}/{name}.png", nrow=16)
print(name, f"{seconds:.1f} s", {k: round(v, 3) for k, v in m.items()})
