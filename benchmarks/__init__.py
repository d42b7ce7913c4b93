"""Benchmarks of the Sparkify pipeline: figures printed and written as JSON, never asserted.

``python -m benchmarks.end_to_end --events N`` (``make bench EVENTS=N``) is the end-to-end benchmark;
``python -m benchmarks.staging_at_scale`` weighs indexes and partitions for a large staging_events.
"""

import sys
from pathlib import Path

# the project's modules (plugins/sparkify, scripts/, tests/support) are importable from any benchmark
_ROOT = Path(__file__).resolve().parents[1]
for _folder in ("plugins", "scripts", "tests"):
    if str(_ROOT / _folder) not in sys.path:
        sys.path.insert(0, str(_ROOT / _folder))
