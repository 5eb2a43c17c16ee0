"""Sweeps on Ray: a real 2-job shapes grid through nbs/train.ipynb on a local Ray instance, resumed; the CLI."""
import json, os, subprocess, sys
from pathlib import Path

import pytest

from air_nb import runs
from air_nb.sweep import run_sweep

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
    ok = subprocess.run([sys.executable, "-m", "air_nb.sweep", "--grid", "shapes-zero-shot", "--methods", "nada", "air", "--seeds", "0",
                         "--out", str(tmp_path), "--dry-run"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert ok.stdout.count("pending") == 8
    bad = subprocess.run([sys.executable, "-m", "air_nb.sweep", "--settings", "x", "--methods", "nada", "--seeds", "0", "--out", str(tmp_path),
                          "--param", "iterations"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert bad.returncode != 0 and "KEY=VALUE" in bad.stderr
