"""Fixtures of the browser tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    """Debian's chromium (never a downloaded browser); a skip without it, a failure in CI, which must install it."""
    if not CHROMIUM.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{CHROMIUM} is missing; CI must install Debian's chromium (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium); the browser tests need it")
    return CHROMIUM
