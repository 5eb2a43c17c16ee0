"""Make the fixtures of tests/test_guided_diffusion.py from the ORIGINAL guided-diffusion code (not part of air_nb).

    git clone https://github.com/openai/guided-diffusion ../guided-diffusion      # outside this repository
    PYTHONPATH=. python tools/make_adm_fixtures.py ../guided-diffusion tests/fixtures/guided_diffusion

For each configuration, the original `create_model(**flags)` gets the weights `air_nb.models.guided_diffusion.random_state_dict`
draws for its parameter names and shapes (seed 100 + i); `<name>.pt` keeps the flags, the names and shapes of its state
dict, fixed inputs and the original `UNetModel`'s float32 output. The test rebuilds the same weights by name, saves them
as a bare state dict (a guided-diffusion checkpoint's layout) and loads that file with `load_guided_diffusion`.
"""
import json, sys
from pathlib import Path
import torch

from air_nb.models.guided_diffusion import random_state_dict

CONFIGS = {
    # P2-style: attention at two resolutions (16 and 8 px of a 32 px model), heads of 16 channels, scale-shift norm,
    # up/down-sampling inside residual blocks, learned sigma (6 output channels)
    "attn": dict(image_size=32, num_channels=32, num_res_blocks=1, channel_mult="1,1,2", attention_resolutions="16,8",
                 num_head_channels=16, learn_sigma=True, resblock_updown=True, use_scale_shift_norm=True),
    # no attention at any resolution (only the middle block's), 2 heads in the new order, conv up/down-sampling,
    # added timestep embedding, 3 output channels, 2 residual blocks per level
    "noattn": dict(image_size=16, num_channels=32, num_res_blocks=2, channel_mult="1,2", attention_resolutions="1",
                   num_heads=2, use_new_attention_order=True, learn_sigma=False, resblock_updown=False, use_scale_shift_norm=False),
}

def main(gd_root: str, out_dir: str):
    sys.path.insert(0, gd_root)
    from guided_diffusion.script_util import create_model
    out = Path(out_dir); out.mkdir(parents=True, exist_ok=True)
    for i, (name, flags) in enumerate(CONFIGS.items()):
        model = create_model(**flags).eval()
        shapes = {k: list(v.shape) for k, v in model.state_dict().items()}
        model.load_state_dict(random_state_dict(shapes, seed=100 + i))
        g = torch.Generator().manual_seed(7)
        x = torch.randn(3, 3, flags["image_size"], flags["image_size"], generator=g)
        t = torch.tensor([0.0, 250.5, 999.0])
        with torch.no_grad(): y = model(x, t)
        torch.save({"flags": json.dumps(flags), "seed": 100 + i, "shapes": json.dumps(shapes), "x": x, "t": t, "out": y}, out / f"{name}.pt")
        print(name, sum(p.numel() for p in model.parameters()), "parameters; output std", float(y.std()))

if __name__ == "__main__": main(*sys.argv[1:3])
