"""nbs/playground.ipynb (the live widget notebook) runs headless under papermill and writes a run folder."""
from helpers import run_papermill
from air_nb.training import runs


def test_playground_autorun(tmp_path):
    res = run_papermill("playground.ipynb", tmp_path / "out.ipynb", tmp_path, autorun=True, iterations=10, show_every=5,
                        out_root=tmp_path / "pg")
    assert res.returncode == 0, res.stderr[-3000:]
    found = runs.find_runs(tmp_path / "pg")
    assert len(found) == 1 and runs.is_finished(found[0])
    assert "iteration 10 / 10" in (tmp_path / "out.ipynb").read_text()


def test_the_widget_comes_first():
    "A reader sees the widget at the top: only the short parameter cell comes before it, and it holds no logic."
    import json
    from helpers import NBS
    code = [c for c in json.loads((NBS / "playground.ipynb").read_text())["cells"] if c["cell_type"] == "code"]
    assert "parameters" in code[0]["metadata"].get("tags", [])
    assert "Playground(" in "".join(code[1]["source"])
    assert len(code[0]["source"]) + len(code[1]["source"]) <= 10
    assert not any(k in "".join(code[0]["source"] + code[1]["source"]) for k in ("def ", "lambda", "widgets."))
