"""How white is the ground of adapted shapes-photo -> sketch generators? The mean brightness (0-1, mean of RGB) of each
sample's 2 px image border (`world2_metrics.border_mask`: ground in every world-2 image) for the source, the ideal
sketches of the same latents (paper) and each run; from the repository root:

    PYTHONPATH=. python tools/world2_ground.py RUN [RUN ...] [--n 500] [--truncation 0.7 1.0]

prints a Markdown table: mean ground brightness and the share of samples whose ground is at least 0.85 / 0.9."""
import argparse, torch
from air_nb.generators import load_generator, sample_latents
from air_nb.shapes2 import ideal_images
from air_nb.world2_metrics import border_mask

p = argparse.ArgumentParser(); p.add_argument("runs", nargs="+"); p.add_argument("--n", type=int, default=500)
p.add_argument("--seed", type=int, default=11); p.add_argument("--truncation", type=float, nargs="+", default=[0.7, 1.0])
a = p.parse_args()
torch.set_num_threads(1)
source = load_generator("shapes-photo").eval()
gens = {"source (shapes-photo)": source, **{r.rstrip("/").split("/")[-2] + "/" + r.rstrip("/").split("/")[-1]: load_generator(r).eval() for r in a.runs}}
mask = border_mask(source.resolution)
def ground(x): return ((x.clamp(-1, 1) + 1) / 2)[..., mask].mean((1, 2))   # per image
print("| truncation | images | ground brightness | share >= 0.85 | share >= 0.9 |\n|---|---|---|---|---|")
z = sample_latents(source.z_dim, a.n, seed=a.seed)
with torch.no_grad():
    b = ground(ideal_images(source, z, style="sketch"))
    print(f"| – | ideal sketches (paper) | {b.mean():.3f} | {(b >= 0.85).float().mean():.3f} | {(b >= 0.9).float().mean():.3f} |")
    for t in a.truncation:
        for name, G in gens.items():
            b = torch.cat([ground(G(z[i:i + 100], t)) for i in range(0, a.n, 100)])
            print(f"| {t} | {name} | {b.mean():.3f} | {(b >= 0.85).float().mean():.3f} | {(b >= 0.9).float().mean():.3f} |", flush=True)
