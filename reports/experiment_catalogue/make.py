"""The experiment catalogue: every grid `python -m air_nb.scale.sweep` knows, what it needs and what it costs
(README.md here is the command's output, unedited).

    python reports/experiment_catalogue/make.py --tables     # README.md from the sweep's catalogue, headline.md from its table

Nothing is trained: the catalogue is computed from the presets and from FLOP counts.
"""
import subprocess, sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from study import run_study, study_parser, write_headline, ROOT

HERE = Path(__file__).resolve().parent


def tables():
    import re
    page = subprocess.run([sys.executable, "-m", "air_nb.scale.sweep", "--catalogue"], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout
    (HERE / "README.md").write_text(page)
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in page.splitlines()
            if line.startswith("| ") and not line.startswith("| grid")]
    offline = [r for r in rows if "nothing beyond the package" in r[5]]
    gpu_hours = sum(float(m.group(1)) for r in rows for m in [re.search(r"~([\d.]+) GPU-hours", r[6])] if m)
    write_headline(HERE, f"{len(rows)} experiment grids ({sum(int(r[4]) for r in rows)} runs): {len(offline)} run offline on a CPU "
                   f"with nothing beyond the package ({sum(int(r[4]) for r in offline)} runs); the papers' grids need their "
                   f"checkpoints and about {gpu_hours:.0f} GPU-hours in all, estimated from FLOP counts, not measured.")


if __name__ == "__main__":
    run_study(study_parser(__doc__), tables)
