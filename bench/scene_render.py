"""Milliseconds per rendered frame of the simulated camera's scene, per size and situation.

Run: .venv/bin/python bench/scene_render.py   (uses ../shared/realdata when present)
Prints one line per (scenario moment, size): median ms over N frames at 10 fps.
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from hw_sim.scenario import load_scenario  # noqa: E402
from hw_sim.scene import Scene  # noqa: E402

REALDATA = REPO.parent / "shared" / "realdata"
N = 100

CASES = [  # (scenario, label, t0, ir, leds)
    ("night_leopard", "dusk colour, calm", 100.0, False, False),
    ("night_leopard", "gust (vegetation sway)", 605.0, False, False),
    ("night_leopard", "night IR + LEDs, leopard", 3003.0, True, True),
    ("night_leopard", "night IR, LEDs off", 3003.0, True, False),
    ("mixed_day", "day colour, deer", None, False, False),
]


def main() -> None:
    realdata = REALDATA if REALDATA.is_dir() else None
    print(f"realdata: {realdata or 'absent (drawn sprites)'}; {N} frames per line, 10 fps")
    scenes = {}
    for name, label, t0, ir, leds in CASES:
        path = REPO / "hw_sim" / "scenarios" / f"{name}.toml"
        if not path.exists():
            continue
        if name not in scenes:
            scenes[name] = Scene(load_scenario(path), realdata)
        scene = scenes[name]
        if t0 is None:
            snow = scene.sc.snow[0] if scene.sc.snow else None
            deer = next((a for a in scene.sc.animals if a.species == "deer"), None)
            t0 = deer.at + 3 if deer else (snow.at + 5 if snow else 0.0)
        for size in ((320, 240), (640, 360), (1280, 720)):
            scene.render(t0, size, ir, leds)  # warm the per-size caches
            times = []
            for k in range(N):
                t = t0 + k / 10.0
                s = time.perf_counter()
                scene.render(t, size, ir, leds)
                times.append((time.perf_counter() - s) * 1000)
            print(f"{name:14s} {label:28s} {size[0]}x{size[1]:<5d} median {statistics.median(times):6.2f} ms"
                  f"  p90 {sorted(times)[int(0.9 * N)]:6.2f} ms")
    # a whole day's worth of event frames: every PIR window of mixed_day with 3 s pre-roll and
    # 5 s post-roll, main (640x360) + lores (320x240) at 10 fps, IR by the scene's light
    path = REPO / "hw_sim" / "scenarios" / "mixed_day.toml"
    t_init = time.perf_counter()
    scene = Scene(load_scenario(path), realdata)
    wins = scene.pir_windows()
    init_s = time.perf_counter() - t_init
    frames = 0
    s = time.perf_counter()
    for on, off, _ in wins:
        t = on - 3.0
        while t < off + 5.0:
            ir = scene.lux(t) < 10.0
            scene.render(t, (640, 360), ir, ir)
            scene.render(t, (320, 240), ir, ir)
            frames += 1
            t += 0.1
    total = time.perf_counter() - s
    print(f"mixed_day: scene init {init_s * 1000:.0f} ms; {len(wins)} PIR windows, {frames} frame pairs "
          f"(640x360 + 320x240) rendered in {total:.2f} s ({total / frames * 1000:.2f} ms per pair)")


if __name__ == "__main__":
    main()
