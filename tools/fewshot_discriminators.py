"""Continue the shipped world-2 source discriminators (issue 15): more steps against the frozen generator, reals and fakes
translated alike by up to SHIFT px, in chunks of CHUNK steps with a checkpoint after each (rerun resumes), then
`discriminator_separation` on 512 held-out latents before and after. Run from the repository root:
`python tools/fewshot_discriminators.py` (env: OUT folder, NAMES sources, STEPS per source, CHUNK, SHIFT)."""
import json, os, time, torch
torch.set_num_threads(1)
from pathlib import Path
from air_nb.core import find_weights, save_json
from air_nb.generators import load_generator
from air_nb.world2_training import load_discriminator, save_discriminator, train_discriminator, discriminator_separation

OUT = Path(os.environ.get("OUT", "/work/scratch/fewshot/discriminators")); OUT.mkdir(parents=True, exist_ok=True)
NAMES = os.environ.get("NAMES", "shapes-photo,shapes-circle").split(",")
STEPS = [int(s) for s in os.environ.get("STEPS", "500,300").split(",")]
CHUNK, SHIFT = int(os.environ.get("CHUNK", 100)), int(os.environ.get("SHIFT", 4))
def log(*a): print(time.strftime("%H:%M:%S"), *a, flush=True)
for name, steps in zip(NAMES, STEPS):
    G = load_generator(name)
    shipped = find_weights(f"{name}-discriminator.safetensors")
    ck, state = OUT / f"{name}-discriminator.safetensors", OUT / f"{name}.json"
    rec = json.loads(state.read_text()) if state.exists() else {"done": 0, "before": discriminator_separation(load_discriminator(shipped), G)}
    D = load_discriminator(ck if ck.exists() and rec["done"] else shipped)
    t0 = time.time()
    while rec["done"] < steps:
        n = min(CHUNK, steps - rec["done"])
        D = train_discriminator(G, steps=n, seed=1000 + rec["done"], init=D, max_shift=SHIFT, log=lambda s: log(name, s))
        rec["done"] += n
        save_discriminator(D, ck); save_json(rec, state); log(name, "steps", rec["done"], f"{time.time() - t0:.0f}s")
    if "after" not in rec:
        rec["after"] = discriminator_separation(load_discriminator(ck), G)   # the float16 file, as it would ship
        rec["shift"] = SHIFT; save_json(rec, state)
    log(name, json.dumps(rec))
