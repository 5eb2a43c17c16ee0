"""Does the shapes CLIP care about the ground of a sketch? From the repository root:

    PYTHONPATH=. python tools/world2_clip_ground.py [--n 300]

For n fresh shapes-photo latents: the photo render, the ideal sketch (outline on paper), and the same outline with the
paper replaced by a flat grey of brightness v. For each image kind: the shapes CLIP's zero-shot share of "sketch", and
the alignment NADA's directional loss rewards, cos(E_I(x) - E_I(photo), E_T(sketch caption) - E_T(photo caption)),
per latent with its own captions. Prints a Markdown table."""
import argparse, torch
import torch.nn.functional as F
from air_nb.shapes import load_shapes_clip, zero_shot_attributes, caption, SHAPES, COLORS, STYLES
from air_nb.shapes2 import decode_latents, render_attributes, change_attributes
from air_nb.world2_metrics import world2_latents

p = argparse.ArgumentParser(); p.add_argument("--n", type=int, default=300); p.add_argument("--seed", type=int, default=12)
a = p.parse_args()
torch.set_num_threads(1)
clip = load_shapes_clip()
att = decode_latents(world2_latents(a.n, a.seed))
photo = render_attributes(att)
sketch = render_attributes(change_attributes(att, style="sketch"))
paper = (sketch - sketch[:, :, :1, :1]).abs().sum(1, keepdim=True) < 1e-3      # the flat paper: every pixel like the corner
kinds = {"photo render": photo, "ideal sketch (paper, 0.92-0.99)": sketch}
for v in (0.8, 0.62, 0.4):
    kinds[f"outline on grey {v}"] = torch.where(paper, torch.full_like(sketch, 2 * v - 1), sketch)
names = [(SHAPES[s], COLORS[c]) for s, c in zip(att["shape"].tolist(), att["color"].tolist())]
with torch.no_grad():
    t_dir = F.normalize(clip.encode_text([caption(s, c, "sketch") for s, c in names]) - clip.encode_text([caption(s, c, "photo") for s, c in names]), dim=-1)
    e_photo = clip.encode_image(photo)
    print("| images | CLIP reads sketch | directional cosine to photo -> sketch (mean) |\n|---|---|---|")
    for k, x in kinds.items():
        share = float((zero_shot_attributes(clip, x)["style"] == STYLES.index("sketch")).float().mean())
        e = clip.encode_image(x)
        cos = F.cosine_similarity(e - e_photo, t_dir, dim=-1) if k != "photo render" else torch.zeros(1)
        print(f"| {k} | {share:.3f} | {cos.mean():.3f} |", flush=True)
