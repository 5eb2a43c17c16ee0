"""IPL and SVL on the trainer: resume equals an uninterrupted run, the paper presets resolve for all four zero-shot
methods, bad input names its owner, and train.ipynb runs both offline on a shapes preset into a run folder that evaluates."""
import json
from pathlib import Path

import pytest
import torch

from air_nb.core.base import ConfigError
from air_nb.clip.models import tiny_random_clip
from air_nb.models.generators import Generator, load_generator
from air_nb.training.trainer import adapt, make_config, PRESETS, PAPER_SETTINGS
from air_nb.training import runs

from helpers import run_papermill


def tiny_generator(seed=0):
    torch.manual_seed(seed)
    return Generator.from_config({"arch": "stylegan2", "resolution": 32, "z_dim": 32, "w_dim": 32, "n_mapping": 2,
                                  "channel_base": 256, "channel_max": 32})


SETTING = dict(source="photo", target="sketch", clip_model="tiny-random", iterations=8, n_samples=2, templates="single",
               progress=False, device="cpu")
METHOD_SETTING = {"ipl": dict(mapper_iterations=6, mapper_batch=4, auto_layer_k=2),
                  "svl": dict(batch=3, variation_iterations=20, fisher_samples=3, lambda_ewc=1e3)}


def run(out_dir, method, **kw):
    return adapt(generator=tiny_generator(), clip=tiny_random_clip(), method=method, out_dir=str(out_dir),
                 **{**SETTING, **METHOD_SETTING[method], **kw})


def same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("method", ["ipl", "svl"])
@pytest.mark.parametrize("extra", [dict(), dict(checkpoint_every=3, grad_clip=0.5)])
def test_resume_equals_uninterrupted(tmp_path, method, extra):
    full = run(tmp_path / "full", method, **extra)
    part = run(tmp_path / "resumed", method, stop_after=5, **extra)
    assert len(part.history) == 5 and not runs.is_finished(tmp_path / "resumed")
    resumed = run(tmp_path / "resumed", method, **extra)
    assert same_weights(full.generator, resumed.generator)
    assert [h["loss"] for h in full.history] == [h["loss"] for h in resumed.history]
    assert part.artifacts == resumed.artifacts                    # stage 1 was not run again (same record, same seconds)
    drop = lambda a: {f: {k: v for k, v in d.items() if k not in ("seconds",)} for f, d in a.items()}
    assert drop(full.artifacts) == drop(resumed.artifacts)
    assert same_weights(load_generator(tmp_path / "resumed"), full.generator)
    assert not same_weights(full.generator, tiny_generator())


def test_stage_one_runs_once_and_is_checkpointed(tmp_path):
    r = run(tmp_path / "ipl", "ipl")
    assert r.artifacts["mapper.json"]["iterations"] == 6
    state = runs.load_checkpoint(runs.latest_checkpoint(tmp_path / "ipl"), "cpu")["method"]
    assert state["mapper_done"] and len(state["mapper_history"]) == 6
    s = run(tmp_path / "svl", "svl")
    assert len(s.artifacts["variations.json"]["cos_to_target"]) == 6
    assert {"moment_mean", "moment_cov", "ewc", "relation"} <= set(s.history[-1])


@pytest.mark.parametrize("setting", PAPER_SETTINGS)
def test_paper_presets_resolve_for_all_four_methods(setting):
    base = PRESETS[setting]
    for method in ("nada", "air"):
        c = make_config(preset=setting, method=method)
        assert (c.run.method, c.run.iterations, c.method.auto_layer_k) == (method, base["iterations"], base["auto_layer_k"])
    ipl = make_config(preset=f"ipl-{setting}", method="ipl")
    assert (ipl.run.iterations, ipl.run.batch, ipl.method.mapper_iterations, ipl.method.mapper_lr, ipl.method.n_ctx) == (300, 2, 300, 0.05, 4)
    assert ipl.method.auto_layer_k == (12 if base["generator"] == "ffhq" else 10)
    assert ipl.run.target == base["target"] and ipl.run.generator == base["generator"]
    svl = make_config(preset=f"svl-{setting}", method="svl")
    # SVL keeps NADA's iteration counts; AIR's script runs Human -> Baby for 200 updates (the paper's Table 6: 300)
    assert (svl.run.iterations, svl.run.batch, svl.method.n_variations) == (300 if setting == "human-to-baby" else base["iterations"], 4, 6)
    assert (svl.method.lambda_cov, svl.method.lambda_ewc, svl.method.lambda_rel, svl.method.lambda_div) == (1e3, 1e7, 1e2, 1.0)
    assert "auto_layer_k" in svl.ignored or "auto_layer_k" not in PRESETS[f"svl-{setting}"]


def test_nada_table6_settings():
    assert (make_config(preset="human-to-baby", method="nada").run.iterations, make_config(preset="human-to-baby", method="nada").method.auto_layer_k) == (200, 18)
    c = make_config(target="Cat", method="ipl")           # the command: the NADA/AIR preset, run by IPL
    assert c.run.preset == "dog-to-cat" and c.run.method == "ipl"


def test_bad_input_names_the_owner():
    with pytest.raises(ConfigError, match="choose one of .*'ipl'.*'svl'"): make_config(preset="shapes-photo-to-sketch", method="ipl2")
    with pytest.raises(ConfigError, match="mapper_lr belongs to method ipl"): make_config(preset="shapes-photo-to-sketch", method="air", mapper_lr=0.1)
    with pytest.raises(ConfigError, match="lambda_cov belongs to method svl"): make_config(preset="shapes-photo-to-sketch", method="ipl", lambda_cov=1.0)
    with pytest.raises(ConfigError, match="auto_layer_k belongs to method"): make_config(preset="shapes-photo-to-sketch", method="svl", auto_layer_k=3)
    with pytest.raises(ConfigError, match="residual"): make_config(preset="shapes-photo-to-sketch", method="ipl", residual="x")


@pytest.mark.parametrize("method", ["ipl", "svl"])
def test_train_notebook_shapes_preset_and_evaluate(tmp_path, method):
    out = tmp_path / "run"
    res = run_papermill("train.ipynb", tmp_path / "out.ipynb", tmp_path, preset="shapes-photo-to-sketch", method=method,
                        iterations=20, out_dir=out, overrides=json.dumps({"mapper_iterations": 10} if method == "ipl" else {"variation_iterations": 200}))
    assert res.returncode == 0, res.stderr[-4000:]
    assert runs.is_finished(out) and (out / ("mapper.json" if method == "ipl" else "variations.json")).exists()
    from air_nb.evaluation.metrics import evaluate_runs
    df, notes = evaluate_runs([out], n=32, n_diversity=32, n_judge=64, k=4, progress=False)
    assert len(df) == 1 and df.iloc[0]["method"] == method
    assert (out / "metrics.json").exists()


def test_image_prompt_features_match_clip_on_written_words():
    "With the context set to the token embeddings of 'a photo of a', the prompt features are CLIP's own of the sentences."
    import torch.nn.functional as F
    from air_nb.clip.models import token_embedding
    from air_nb.methods.ipl import ImagePrompts
    clip = tiny_random_clip()
    ip = ImagePrompts(clip, "dog", "cat")
    words = token_embedding(clip, clip.tokenize("a photo of a")[:, 1:5]).float()          # (1, 4, width)
    ctx = words.expand(3, -1, -1)
    with torch.no_grad():
        assert torch.allclose(ip.raw(ctx, 0), clip.encode_text(["a photo of a dog."] * 3, normalize=False).float(), atol=1e-5)
        written = clip.encode_text("a photo of a cat.", normalize=False).float()
        fixed = clip.encode_text("a photo of a cat.").float()
        assert torch.allclose(ip.features(ctx, 1), F.normalize(written + fixed, dim=-1).expand(3, -1), atol=1e-5)
        ctx_fixed = clip.encode_text("a photo of a .").float()
        assert torch.allclose(ip.features(ctx, 1, "context"), F.normalize(written + ctx_fixed, dim=-1).expand(3, -1), atol=1e-5)


def test_ipl_reference_stage2_residual_runs(tmp_path):
    r = run(tmp_path / "ctx", "ipl", residual="context")
    assert r.config.method.residual == "context" and len(r.history) == 8
