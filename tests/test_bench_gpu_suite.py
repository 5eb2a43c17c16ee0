"""The prepared GPU script (`python -m air_nb.scale.bench --gpu-suite`) runs end to end on tiny models on a CPU, so it cannot rot
between the rare sessions that have a GPU to run it on."""
import json, os, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_suite_tiny_runs_and_appends_a_section(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    cmd = [sys.executable, "-m", "air_nb.scale.bench", "--gpu-suite", "--tiny", "--device", "cpu", "--out", str(tmp_path)]
    (tmp_path / "gpu_suite.md").write_text("earlier sections\n")
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    md = (tmp_path / "gpu_suite.md").read_text()
    assert md.startswith("earlier sections\n## ") and "tiny models" in md and "--gpu-suite --tiny" in md    # appended
    rows = [json.loads(l) for l in (tmp_path / "gpu_suite.jsonl").read_text().splitlines()]
    parts = [r["part"] for r in rows]
    assert parts.count("resolution") == 1 and parts.count("compose") == 2 and parts.count("total") == 1, parts
    mem = [r for r in rows if r["part"] == "memory"]
    assert len(mem) == 6 and all("error" not in r and float(r["peak"]) > 0 for r in mem), mem[:1]
    res = [r for r in rows if r["part"] == "resolution"]
    assert all(r["nada_s_per_it"] > 0 and r["air_s_per_it"] > 0 and r["unit_prompt_step"] > 0 for r in res)
    assert not any(r["skipped"] for r in rows if r["part"] == "total")
