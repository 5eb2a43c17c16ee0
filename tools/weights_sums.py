"""Write air_nb/weights/SHA256SUMS: the SHA-256 of every weights file shipped in the package, checked on every read.

Run it after re-training a shipped file: `python tools/weights_sums.py` (`--check` only compares and exits 1 on a difference)."""
import argparse, sys
from pathlib import Path

from air_nb.core.files import SHIPPED_SUMS, file_sha256
from air_nb.core.base import PACKAGE_WEIGHTS


def current() -> dict[str, str]:
    return {p.name: file_sha256(p) for p in sorted(PACKAGE_WEIGHTS.glob("*.safetensors"))}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare only")
    args = ap.parse_args()
    sums = current()
    text = "".join(f"{digest}  {name}\n" for name, digest in sums.items())
    if args.check:
        same = SHIPPED_SUMS.is_file() and SHIPPED_SUMS.read_text() == text
        print("SHA256SUMS matches the shipped weights" if same else "SHA256SUMS is stale: run python tools/weights_sums.py")
        sys.exit(0 if same else 1)
    SHIPPED_SUMS.write_text(text)
    print(f"wrote {SHIPPED_SUMS} ({len(sums)} files)")
