"""Every numbered notebook in nbs/, the index and the page of differences run top to bottom under nbdev_test (one test each).

The papermill notebooks (train, evaluate, ...) need parameters and are run by their own tests."""
import os, subprocess, sys
from pathlib import Path
import pytest

NBS = Path(__file__).resolve().parents[1] / "nbs"
NOTEBOOKS = sorted(p.name for p in NBS.glob("[0-9]*.ipynb")) + ["index.ipynb", "parity.ipynb"]


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_notebook_runs(notebook):
    nbdev_test = Path(sys.executable).with_name("nbdev_test")
    # one thread per kernel: two pytest workers share two cores (see tests/helpers.py)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}
    res = subprocess.run([str(nbdev_test), "--path", str(NBS / notebook), "--do_print"],
                         capture_output=True, text=True, env=env, cwd=NBS.parent, timeout=1800)
    assert res.returncode == 0, f"{notebook} failed under nbdev_test:\n{res.stdout[-6000:]}\n{res.stderr[-6000:]}"


def test_no_empty_papermill_tags():
    "Executing a notebook in place with papermill adds `tags: []` to every cell, which nbdev_clean keeps: strip them."
    import json
    tagged = {p.name: n for p in sorted(NBS.glob("*.ipynb"))
              if (n := sum(1 for c in json.loads(p.read_text())["cells"] if c.get("metadata", {}).get("tags") == []))}
    assert not tagged, f"cells with empty `tags: []` (papermill leftovers; delete the key): {tagged}"


def test_every_notebook_has_a_kernelspec():
    "Without one, JupyterLab opens a notebook with a 'Select Kernel' dialog."
    import json
    missing = [p.name for p in sorted(NBS.glob("*.ipynb")) if "kernelspec" not in json.loads(p.read_text()).get("metadata", {})]
    assert not missing, f"notebooks without a kernelspec: {missing}"
