"""Simulator throughput and memory: simulated seconds per wall second and peak RSS for a scenario.

    .venv/bin/python bench/bench_sim.py [SCENARIO ...]     (default: the mixed day)
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run(scenario: Path) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        # a fresh process per scenario, so peak RSS is this run's own
        subprocess.run([sys.executable, "-m", "firmware.cli", "sim", str(scenario), "--out", tmp,
                        "--report", str(report)], check=True, cwd=REPO, stdout=subprocess.DEVNULL)
        return json.loads(report.read_text())


def main(argv: list[str]) -> None:
    scenarios = [Path(a) for a in argv] or [REPO / "hw_sim" / "scenarios" / "mixed_day.toml"]
    print(f"{'scenario':<16} {'sim s':>8} {'wall s':>7} {'sim s / wall s':>14} {'triggers':>8} {'peak RSS MB':>11}")
    for sc in scenarios:
        r = run(sc)
        print(f"{r['scenario']:<16} {r['sim_seconds']:>8.0f} {r['wall_seconds']:>7.1f} "
              f"{r['sim_seconds'] / r['wall_seconds']:>14.0f} {r['triggers']:>8} {r['peak_rss_mb']:>11.0f}")


if __name__ == "__main__":
    main(sys.argv[1:])
