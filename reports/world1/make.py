"""World 1 of the shapes world (32 px sources): how its judge and generators were made (README.md) and what it said
about NADA and AIR (adaptation_notes.md). A lab record of November 2026: the world-1 generators are in git history
(commit e99e057) and the runs used the loop of commit f03f112, so only the cheap stage runs from a fresh clone.

    python reports/world1/make.py --tables     # headline.md from preservation.csv (retrained judge, seeds 0-2)
"""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from study import run_study, study_parser, write_headline

HERE = Path(__file__).resolve().parent


def tables():
    import pandas as pd
    mean = pd.read_csv(HERE / "preservation.csv").groupby("method").mean()
    gap, clear = (mean.loc["nada", c] - mean.loc["air", c] for c in ("shape_kept", "shape_kept_clear_source"))
    write_headline(HERE, f"On world 1 (32 px sources) AIR kept shape worse than NADA (retrained judge, means over seeds 0-2: "
                   f"{mean.loc['air', 'shape_kept']:.2f} vs {mean.loc['nada', 'shape_kept']:.2f}, by {gap:.2f}; by {clear:.2f} on "
                   f"clear sources), and neither kept it on much more than half the latents at a sketch majority.")


if __name__ == "__main__":
    run_study(study_parser(__doc__), tables)
