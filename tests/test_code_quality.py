"""The house rules hold on every run of the suite: ruff clean, formatted, mypy --strict."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

CHECKS = {
    "ruff check": [sys.executable, "-m", "ruff", "check", "src", "tests", "bench"],
    "ruff format": [sys.executable, "-m", "ruff", "format", "--check", "src", "tests", "bench"],
    "mypy --strict": [sys.executable, "-m", "mypy"],
}


@pytest.mark.parametrize("name", CHECKS)
def test_code_passes(name: str) -> None:
    result = subprocess.run(
        CHECKS[name], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, f"{name} failed:\n{result.stdout}\n{result.stderr}"
