"""Write README.md from nbs/index.ipynb (nbdev_readme needs quarto, which this project does not install).

Markdown cells are copied as they are; code cells are shown unless they carry `#| hide`, with their text outputs."""
import json
from pathlib import Path

root = Path(__file__).resolve().parents[1]
cells = json.loads((root / "nbs" / "index.ipynb").read_text())["cells"]
parts = ["<!-- generated from nbs/index.ipynb by tools/readme.py: edit the notebook, not this file -->"]
for cell in cells:
    src = "".join(cell["source"]).strip()
    if cell["cell_type"] == "markdown": parts.append(src)
    elif cell["cell_type"] == "code" and src and "#| hide" not in src:
        parts.append(f"```python\n{src}\n```")
        for out in cell.get("outputs", []):
            text = "".join(out.get("text", "") or out.get("data", {}).get("text/plain", ""))
            if text.strip(): parts.append(f"```\n{text.rstrip()}\n```")
(root / "README.md").write_text("\n\n".join(parts) + "\n")
