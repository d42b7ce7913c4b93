"""Where things are, for tests."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UDACITY_SAMPLE = ROOT.parent / "shared" / "data" / "udacity-sample"
