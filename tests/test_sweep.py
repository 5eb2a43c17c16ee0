"""Sweeps on Ray: a real 2-job shapes grid through nbs/train.ipynb on a local Ray instance, resumed; the CLI."""
import json, os, subprocess, sys
from pathlib import Path

import pytest

from air_nb.training import runs
from air_nb.scale.sweep import run_sweep

ROOT = Path(__file__).resolve().parents[1]


def test_a_two_job_shapes_grid_on_local_ray(tmp_path):
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    params = {"iterations": 6, "prompt_latents": 16, "prompt_steps": 2}
    table = run_sweep(["shapes-red-to-blue"], ["air"], [0, 1], tmp_path / "sweep", cpus_per_run=1, params=params, progress=False)
    assert list(table.status) == ["done", "done"], table.error.tolist()
    for d in (tmp_path / "sweep" / "shapes-red-to-blue").iterdir():
        assert runs.is_finished(d) and runs.read_config(d)["iterations"] == 6 and (d / "train.ipynb").is_file()
    again = run_sweep(["shapes-red-to-blue"], ["air"], [0, 1], tmp_path / "sweep", params=params, progress=False)
    assert list(again.status) == ["skipped", "skipped"]
    assert [r["status"] for r in json.loads((tmp_path / "sweep" / "sweep.json").read_text())] == ["skipped", "skipped"]


def test_cli_dry_run_and_bad_params(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    ok = subprocess.run([sys.executable, "-m", "air_nb.scale.sweep", "--grid", "shapes-zero-shot", "--methods", "nada", "air", "--seeds", "0",
                         "--out", str(tmp_path), "--dry-run"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert ok.stdout.count("pending") == 8
    bad = subprocess.run([sys.executable, "-m", "air_nb.scale.sweep", "--settings", "x", "--methods", "nada", "--seeds", "0", "--out", str(tmp_path),
                          "--param", "iterations"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert bad.returncode != 0 and "KEY=VALUE" in bad.stderr


def test_few_shot_grid_dry_run_and_its_evaluator(tmp_path):
    "The world-2 few-shot grid: 5 settings x 4 methods x 3 seeds through fewshot.ipynb; its evaluator collects metrics.json rows."
    from air_nb.scale.sweep import GRIDS, sweep_jobs
    from air_nb.evaluation.fewshot import evaluate_sweep
    from air_nb.core.base import ConfigError
    g = GRIDS["shapes-few-shot"]
    jobs = sweep_jobs(g["settings"], g["methods"], g["seeds"], tmp_path)
    assert len(jobs) == 60 and all(j.params["n_eval"] == 300 for j in jobs)
    assert g["notebook"] == "fewshot.ipynb" and g["evaluator"] == "air_nb.evaluation.fewshot:evaluate_sweep"
    with pytest.raises(ConfigError, match="No run folder"):
        evaluate_sweep(tmp_path)
    run = tmp_path / "shapes-photo-to-corner-10shot" / "asc-s0"
    runs.write_config(run, {"method": "asc", "seed": 0, "iterations": 3}, {"target_images": "shapes2:photo-corner", "shots": 10}, {})
    (run / runs.GENERATOR).write_bytes(b"")
    (run / "metrics.json").write_text(json.dumps({"scores": {"fid[judge]": 12.5, "target_share": 0.25}}))
    rows = (evaluate_sweep(tmp_path)).read_text().splitlines()
    assert rows[0].startswith("setting,shots,method,seed") and rows[1].startswith("photo-corner,10,asc,0,3") and "12.5" in rows[1]


def test_a_sweep_joins_a_started_ray_head(tmp_path):
    "`ray start --head` on this machine, then `run_sweep(address=...)` sends its job there (not to a new local instance)."
    import shutil, socket, tempfile, time
    ray_tmp = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))   # short: Ray's socket paths must stay under 108 bytes
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]
    ray_exe = Path(sys.executable).with_name("ray")
    # a head on localhost without Ray's token authentication (a real cluster with it needs RAY_AUTH_TOKEN on the driver too)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
    # --block keeps the head in this process's child: terminating it takes down only this head (`ray stop` would stop every
    # Ray instance of the user, including other sweeps on the machine)
    head = subprocess.Popen([str(ray_exe), "start", "--head", "--block", f"--port={port}", "--num-cpus=1", "--include-dashboard=false",
                             f"--temp-dir={ray_tmp}"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        address = f"127.0.0.1:{port}"
        for _ in range(60):
            probe = subprocess.run([str(ray_exe), "status", f"--address={address}"], capture_output=True, text=True, env=env)
            if probe.returncode == 0: break
            assert head.poll() is None, head.stdout.read()[-3000:]
            time.sleep(2)
        else: pytest.fail("the Ray head did not answer `ray status` within 60 tries")
        table = run_sweep(["shapes-red-to-blue"], ["nada"], [0], tmp_path / "sweep", address=address, params={"iterations": 4}, progress=False)
        assert list(table.status) == ["done"], table.error.tolist()
        assert runs.is_finished(tmp_path / "sweep" / "shapes-red-to-blue" / "nada-s0")
        assert any(ray_tmp.glob("session_*")), "the head wrote no session"
    finally:
        head.terminate()
        try: head.wait(timeout=60)
        except subprocess.TimeoutExpired: head.kill()
        shutil.rmtree(ray_tmp, ignore_errors=True)
