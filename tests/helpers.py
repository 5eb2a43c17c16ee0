"""Shared by the end-to-end tests: run a notebook of nbs/ under papermill, offline, and capture its output."""
import os, subprocess, sys
from pathlib import Path

NBS = Path(__file__).resolve().parents[1] / "nbs"


def run_papermill(notebook, out_nb, cwd, timeout=900, **params):
    "Execute `nbs/<notebook>` into `out_nb` with papermill parameters `params`; returns the CompletedProcess."
    exe = Path(sys.executable).with_name("papermill")
    args = [str(exe), str(NBS / notebook), str(out_nb), "-k", "python3"]
    for k, v in params.items(): args += ["-p", k, str(v)]
    # One thread: pytest runs two workers on two cores, and a kernel with two threads beside a busy core can spin 30x
    # slower (a 46 s run timed out at 900 s with one other job on the machine).
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}
    return subprocess.run(args, capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)


def random_vit_b32(seed: int = 0):
    "air_nb's `Clip` around an open_clip ViT-B-32 with random weights drawn after `torch.manual_seed(seed)` (the parity fixtures' CLIP)."
    import torch
    from air_nb.clip.models import load_clip
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try: return load_clip("ViT-B-32", None, "cpu")
    finally: torch.random.set_rng_state(state)
