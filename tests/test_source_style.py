"""The repository's Python sources keep its line length: 100 characters."""

import pathlib
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[1]
MAX_COLUMNS = 100


def test_every_python_line_fits_in_100_columns():
    files = subprocess.run(["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split()
    assert files, "git ls-files found no Python file: run the tests from a clone"
    long_lines = [f"{name}:{number} ({len(line)} characters)"
                  for name in files
                  for number, line in enumerate(
                      (ROOT / name).read_text(encoding="utf-8").splitlines(), start=1)
                  if len(line) > MAX_COLUMNS]
    assert not long_lines, "lines over 100 characters: " + ", ".join(long_lines)
