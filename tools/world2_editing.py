"""Editing on world 2 (AIR Supp. E with a right answer): photo renders of fresh latents' attributes are inverted into
W+ by the source generator, rendered by adapted generators (run folders), and compared with each latent's ideal image
(the same attributes with the run's target value). Prints a markdown table.

    PYTHONPATH=. OMP_NUM_THREADS=1 python tools/world2_editing.py RUN_FOLDER [RUN_FOLDER ...] [--n 32] [--steps 300]
"""
import argparse
import torch, torch.nn.functional as F
from air_nb import runs
from air_nb.editing import edit_images
from air_nb.generators import load_generator, sample_latents
from air_nb.metrics import judge_feature_extractor, shapes_target
from air_nb.shapes import ATTRIBUTES, load_judge
from air_nb.shapes2 import latent_attributes, render_attributes, ideal_images

p = argparse.ArgumentParser(); p.add_argument("runs", nargs="+"); p.add_argument("--n", type=int, default=32)
p.add_argument("--steps", type=int, default=300); p.add_argument("--seed", type=int, default=31)
a = p.parse_args()
torch.set_num_threads(1)
judge = load_judge(); fx = judge_feature_extractor(judge)
print("| run | setting | inversion L1 to the render | edit: judge-cosine to ideal | edit: pixel L1 to ideal | adapted sample: judge-cosine | adapted sample: pixel L1 | render: judge-cosine | render: pixel L1 | edit read as target (judge) |")
print("|---|---|---|---|---|---|---|---|---|---|")
for run in a.runs:
    cfg = runs.read_config(run)
    attr, i = shapes_target(cfg)
    source, adapted = load_generator(cfg["generator"]), load_generator(run)
    z = sample_latents(source.z_dim, a.n, a.seed)
    renders = render_attributes(latent_attributes(source, z))
    w, edited = edit_images(source, adapted, renders, steps=a.steps, features=judge.features)
    ideal = ideal_images(source, z, **{attr: ATTRIBUTES[attr][i]})
    with torch.no_grad():
        recon = source.synthesize(w).clamp(-1, 1)
        sample = adapted(z).clamp(-1, 1)
        d = lambda x: ((1 - F.cosine_similarity(fx(x), fx(ideal))).mean().item(), (x - ideal).abs().mean().item())
        de, ds, dr = d(edited), d(sample), d(renders)
        hit = (judge.predict(edited)[attr] == i).float().mean().item()
    print(f"| {run} | {cfg.get('preset')} | {(recon - renders).abs().mean().item():.3f} | {de[0]:.3f} | {de[1]:.3f} | {ds[0]:.3f} | {ds[1]:.3f} | {dr[0]:.3f} | {dr[1]:.3f} | {hit:.2f} |", flush=True)
