"""Rebuild this study: the outcome of every hostile or damaged file of the project's fuzz suite, per family.

    python reports/file_safety/make.py            # after.md: the library of this checkout
    python reports/file_safety/make.py --before   # before.md: the library at the commit before the file checks

The cases and their contract are tests/fuzz_cases.py; tests/test_fuzz.py runs a third of them in `make test` (all with
AIR_NB_FUZZ=full)."""
import argparse, os, subprocess, sys, tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from study import write_headline
BEFORE_COMMIT = "681b28e"   # the last commit before the readers went through air_nb.core.files


def table(out: Path, pythonpath: str | None = None) -> None:
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    if pythonpath: env["PYTHONPATH"] = pythonpath
    subprocess.run([sys.executable, str(ROOT / "tests" / "fuzz_cases.py"), "--table", "--out", str(out)], env=env, cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def totals(path: Path) -> dict[str, int]:
    "The outcome counts of a table's '**all**' row, by column name."
    rows = [l.strip().strip("|").split("|") for l in path.read_text().splitlines() if l.startswith("|")]
    head, total = [c.strip() for c in rows[0]], next(r for r in rows if r[0].strip() == "**all**")
    return {h: int(v) for h, v in zip(head[1:], [c.strip() for c in total[1:]])}


def headline() -> None:
    b, a = totals(HERE / "before.md"), totals(HERE / "after.md")
    bad = ("executed", "raw exception", "silent load", "misleading message")
    write_headline(HERE, f"{a['cases']} hostile or damaged files against every reader: before the file checks "
                         + ", ".join(f"{b[k]} {k}" for k in bad) + "; after them " + ", ".join(f"{a[k]} {k}" for k in bad)
                         + f" ({a['clear refusal']} clear refusals, {a['loaded as expected']} loaded as they should).")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", action="store_true", help=f"run the cases against the library at commit {BEFORE_COMMIT}")
    args = ap.parse_args()
    if not args.before: table(HERE / "after.md")
    else:
        with tempfile.TemporaryDirectory() as d:
            subprocess.run(f"git -C {ROOT} archive {BEFORE_COMMIT} air_nb | tar -x -C {d}", shell=True, check=True)
            table(HERE / "before.md", d)
            text = (HERE / "before.md").read_text().replace(d, "<tmp>")
            (HERE / "before.md").write_text(text.replace("(no git checkout)", f"(commit {BEFORE_COMMIT}, before the file checks)", 1))
    print("wrote", HERE / ("before.md" if args.before else "after.md"))
    headline()
