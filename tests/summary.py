"""Print the closing line CI reads, `N passed, N failed`, from pytest's JUnit XML.

Usage: python tests/summary.py REPORT.xml EXIT_CODE. A non-zero exit code with no failed test in the
report (the sync check failed, or pytest crashed) counts as one failure, so the line never hides it."""
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

report, rc = Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 0
passed = failed = skipped = 0
if report.exists():
    for case in ET.parse(report).getroot().iter("testcase"):
        kinds = {child.tag for child in case}
        if kinds & {"failure", "error"}: failed += 1
        elif "skipped" in kinds: skipped += 1
        else: passed += 1
if rc and not failed: failed = 1
print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
