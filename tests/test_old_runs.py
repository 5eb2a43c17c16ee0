"""Run folders written before the package moved into subpackages (commit ef156e0, the flat layout) still load, evaluate
and resume: the format did not change with the move.

The fixtures in tests/fixtures/run_before_subpackages/ were written by that commit's code: `finished/` a 4-iteration AIR
run of a tiny StyleGAN2 with the tiny random CLIP (its config, losses and final generator), `interrupted/` the same run
stopped after its step-2 checkpoint. Resuming `interrupted/` with today's code must end in `finished/`'s generator:
the old checkpoint is read, and the rest of the run is computed as the old code computed it. On the CPU that wrote the
fixtures the two were bit-identical; another CPU's kernels sum in another order (float32 rounding, ~1e-7 here on a
machine with AVX-512/AMX), so weights and losses are compared to 1e-4 relative: any change of what is computed (another
noise draw, loss term, learning rate or latent) moves them by orders of magnitude more."""
import shutil
from pathlib import Path

import torch

from air_nb.clip.models import tiny_random_clip
from air_nb.models.generators import Generator, load_generator
from air_nb.training.trainer import adapt, config_from_run, fields_for

OLD = Path(__file__).resolve().parent / "fixtures" / "run_before_subpackages"
SETTING = dict(method="air", source="photo", target="sketch", clip_model="tiny-random", iterations=4, t_int=0.5, prompt_latents=16,
               prompt_steps=4, n_samples=2, templates="single", checkpoint_every=2, keep_checkpoints=1, sample_every=4, device="cpu")


def tiny_generator(seed=0):
    torch.manual_seed(seed)
    return Generator.from_config({"arch": "stylegan2", "resolution": 32, "z_dim": 32, "w_dim": 32, "n_mapping": 2,
                                  "channel_base": 256, "channel_max": 32})


def test_old_config_and_generator_load():
    cfg = config_from_run(OLD / "finished")
    assert (cfg.run.method, cfg.run.iterations, cfg.method.t_int, cfg.method.prompt_latents) == ("air", 4, 0.5, 16)
    G = load_generator(OLD / "finished")
    assert G.resolution == 32 and torch.isfinite(G(G.sample_z(2))).all()
    assert len((OLD / "finished" / "losses.csv").read_text().strip().splitlines()) == 1 + 4     # header + 4 iterations


def test_old_checkpoint_resumes_to_the_old_result(tmp_path):
    torch.set_num_threads(1)
    run_dir = tmp_path / "interrupted"
    shutil.copytree(OLD / "interrupted", run_dir)
    # the folder's own config: fields added since it was written are read with their legacy values (its behaviour then)
    result = adapt(config_from_run(run_dir), generator=tiny_generator(), clip=tiny_random_clip(), out_dir=str(run_dir), progress=False)
    assert len(result.history) == 4
    old, new = load_generator(OLD / "finished").state_dict(), load_generator(run_dir).state_dict()
    assert old.keys() == new.keys()
    for k in old: torch.testing.assert_close(new[k], old[k], rtol=1e-4, atol=1e-6, msg=lambda m: f"resumed run differs from the old code's at {k}: {m}")
    losses = lambda p: [[float(v) for v in line.split(",")[1:4]] for line in (p / "losses.csv").read_text().strip().splitlines()[1:]]
    torch.testing.assert_close(torch.tensor(losses(run_dir)), torch.tensor(losses(OLD / "finished")), rtol=1e-4, atol=0)
