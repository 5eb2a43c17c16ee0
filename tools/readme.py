"""Write README.md from nbs/index.ipynb (nbdev_readme needs quarto, which this project does not install).

Markdown cells are copied as they are; code cells are shown unless they carry `#| hide`, with their text outputs.
The "Results" section is collected from reports/*/headline.md, the one line each study's make.py writes from its data,
so the README's figures cannot drift from the reports: it replaces a line `<!-- results -->` in the notebook, or is
appended at the end when the notebook has none."""
import json
from pathlib import Path

root = Path(__file__).resolve().parents[1]
RESULTS_MARKER = "<!-- results -->"


def results() -> str:
    "One bullet per study: its README's title, linked, and its headline."
    lines = ["## Results", "",
             "Each line is written by the study's `make.py` from its data (`python reports/<study>/make.py --tables`).", ""]
    for headline in sorted((root / "reports").glob("*/headline.md")):
        readme = headline.parent / "README.md"
        title = readme.read_text().splitlines()[0].lstrip("# ").strip() if readme.exists() else headline.parent.name
        lines.append(f"- [{title}](reports/{headline.parent.name}/README.md): {headline.read_text().strip()}")
    return "\n".join(lines)


def notebook_parts() -> list:
    cells = json.loads((root / "nbs" / "index.ipynb").read_text())["cells"]
    parts = ["<!-- generated from nbs/index.ipynb and reports/*/headline.md by tools/readme.py: edit those, not this file -->"]
    for cell in cells:
        src = "".join(cell["source"]).strip()
        if cell["cell_type"] == "markdown": parts.append(src)
        elif cell["cell_type"] == "code" and src and "#| hide" not in src:
            parts.append(f"```python\n{src}\n```")
            for out in cell.get("outputs", []):
                text = "".join(out.get("text", "") or out.get("data", {}).get("text/plain", ""))
                if text.strip(): parts.append(f"```\n{text.rstrip()}\n```")
    return parts


if __name__ == "__main__":
    page = "\n\n".join(notebook_parts())
    page = page.replace(RESULTS_MARKER, results()) if RESULTS_MARKER in page else page + "\n\n" + results()
    (root / "README.md").write_text(page + "\n")
