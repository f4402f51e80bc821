"""Every benchmark, one after the other; each prints its own figures.

The scale benchmark runs its small size only here (1,000 campaigns, no added latency and 0.05 s), so
``make bench`` stays within minutes, and the side-by-side one with Insider's minute shortened to 10 s; the README's
"Development" section shows the full runs.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent

BENCHMARKS: list[list[str]] = [
    ["rate_limit.py"],
    ["transform_cost.py"],
    ["scale.py", "1000", "--latency", "0", "0.05"],
    ["nightly_requests.py"],
    ["side_by_side.py", "--period", "10"],
    ["publish_cost.py"],
    ["startup.py"],
]

for script, *args in BENCHMARKS:
    print(f"== {' '.join([script, *args])}", flush=True)
    subprocess.run([sys.executable, str(HERE / script), *args], check=True)
