"""Motion check: the false-trigger filter on lores frames (firmware/motion.py).

Frames are generated with numpy (fixed seeds): a smooth random background texture at the lores
size (320x240), sensor noise, and the thing under test drawn into it.
"""
from __future__ import annotations

import math
import re

import cv2
import numpy as np
import pytest

from firmware.config import MotionConfig
from firmware.motion import EventMotion, MotionCheck, MotionResult

W, H = 320, 240
DT = 0.2  # 5 checks per second, the recorder's default check_fps


def texture(rng: np.random.Generator, lo: float = 60, hi: float = 190) -> np.ndarray:
    """A smooth background: random grey levels on a 40x30 grid, interpolated to 320x240."""
    coarse = rng.uniform(lo, hi, (30, 40)).astype(np.float32)
    return cv2.resize(coarse, (W, H), interpolation=cv2.INTER_CUBIC)


def noisy(scene: np.ndarray, rng: np.random.Generator, sigma: float = 4.0) -> np.ndarray:
    return np.clip(scene + rng.normal(0, sigma, scene.shape), 0, 255).astype(np.uint8)


def draw(scene: np.ndarray, cx: float, cy: float, w: int, h: int, value: float) -> None:
    x0, y0 = int(round(cx - w / 2)), int(round(cy - h / 2))
    scene[max(0, y0):max(0, y0 + h), max(0, x0):max(0, x0 + w)] = value


def run(cfg: MotionConfig, frames, check: MotionCheck | None = None):
    """Check every frame, accumulate the event; return (results, event)."""
    check = check or MotionCheck(cfg)
    event = EventMotion(cfg)
    results = []
    for i, frame in enumerate(frames):
        result = check.check(frame)
        event.add(result, i * DT)
        results.append(result)
    return results, event


def crossing(seed: int, size=(12, 8), speed=6.0, frames=30, still=5, value=30.0):
    """An object crossing left to right after `still` empty frames; yields (frame, centre)."""
    rng = np.random.default_rng(seed)
    bg = texture(rng)
    x, y = 30.0, float(rng.uniform(80, 160))
    for i in range(frames):
        scene = bg.copy()
        centre = None
        if i >= still:
            centre = (x + speed * (i - still), y)
            draw(scene, *centre, *size, value)
        yield noisy(scene, rng), centre


def split(frames_and_centres):
    """[(frame, centre), ...] -> ([frame, ...], [centre, ...])"""
    pairs = list(frames_and_centres)
    return [f for f, _ in pairs], [c for _, c in pairs]


def swaying(seed: int, frames=60, amplitude=6.0):
    """Six small leaf patches and one branch, oscillating in place at different rates."""
    rng = np.random.default_rng(seed)
    bg = texture(rng)
    patches = [(rng.uniform(30, 290), rng.uniform(30, 210), int(rng.integers(6, 12)),
                int(rng.integers(6, 12)), rng.uniform(3, amplitude), rng.uniform(0, 6),
                rng.uniform(4, 10)) for _ in range(6)]
    patches.append((160, 120, 24, 16, amplitude, 0.5, 7))
    for i in range(frames):
        scene = bg.copy()
        for x, y, w, h, a, phase, period in patches:
            angle = 2 * math.pi * i / period + phase
            draw(scene, x + a * math.sin(angle), y + 0.5 * a * math.cos(angle), w, h, 25)
        yield noisy(scene, rng)


def snowing(seed: int, frames=60, flakes=200):
    """Bright flakes of 1..3 px at new random places in every frame."""
    rng = np.random.default_rng(seed)
    bg = texture(rng)
    for _ in range(frames):
        scene = bg.copy()
        xs = rng.integers(0, W - 3, flakes)
        ys = rng.integers(0, H - 3, flakes)
        sizes = rng.integers(1, 4, flakes)
        for x, y, s in zip(xs, ys, sizes, strict=True):
            scene[y:y + s, x:x + s] = 250
        yield noisy(scene, rng)


def contains(box, x: float, y: float) -> bool:
    bx, by, bw, bh = box
    return bx <= x / W <= bx + bw and by <= y / H <= by + bh


# --- light jumps ---------------------------------------------------------------------------

@pytest.mark.parametrize("brighten", [
    pytest.param(lambda f: f * 1.4, id="gain x1.4"),
    pytest.param(lambda f: f + 0.4 * 255, id="offset +40%"),
])
def test_whole_frame_brightening_is_a_light_jump_and_no_event(brighten):
    rng = np.random.default_rng(11)
    cfg = MotionConfig()
    bg = texture(rng)
    frames = [noisy(bg, rng) for _ in range(10)] + [noisy(brighten(bg), rng) for _ in range(10)]
    results, event = run(cfg, frames)

    jump = results[10]
    assert jump.light_jump and jump.changed > cfg.light_jump
    assert jump.boxes == []
    # The background was replaced by the bright frame: what follows is still again.
    assert all(not r.light_jump and r.boxes == [] and r.changed < 0.01 for r in results[11:])
    ok, reason = event.confirmed()
    assert not ok
    assert reason == "no moving object in 20 frames (1 light jump)"
    assert event.light_jumps == 1 and event.motion_frames == 0


def test_sun_on_most_of_the_frame_is_a_light_jump():
    rng = np.random.default_rng(12)
    cfg = MotionConfig()
    bg = texture(rng)
    lit = bg.copy()
    lit[:, : int(W * 0.7)] *= 1.4  # sunlight on the left 70 %
    frames = [noisy(bg, rng) for _ in range(8)] + [noisy(lit, rng) for _ in range(8)]
    results, event = run(cfg, frames)
    assert results[8].light_jump
    assert not any(r.boxes for r in results)
    assert not event.confirmed()[0]


def test_light_change_below_the_jump_share_is_not_a_light_jump_but_does_not_confirm():
    # A cloud shadow over the top quarter: boxed as change, but it goes nowhere.
    rng = np.random.default_rng(13)
    cfg = MotionConfig()
    bg = texture(rng)
    shaded = bg.copy()
    shaded[: H // 4] *= 0.6
    frames = [noisy(bg, rng) for _ in range(8)] + [noisy(shaded, rng) for _ in range(15)]
    results, event = run(cfg, frames)
    assert not any(r.light_jump for r in results)
    assert results[8].boxes, "the shadow is a changed region"
    ok, reason = event.confirmed()
    assert not ok
    assert reason.startswith("object did not travel")


# --- objects that move ------------------------------------------------------------------------

def test_small_moving_object_is_found_and_boxed():
    cfg = MotionConfig()
    check = MotionCheck(cfg)
    event = EventMotion(cfg)
    seen = total = 0
    for i, (frame, centre) in enumerate(crossing(seed=1, size=(12, 8), speed=6.0, frames=40)):
        result = check.check(frame)
        event.add(result, i * DT)
        if centre is None:
            assert result.boxes == []
            continue
        total += 1
        if result.boxes:
            seen += 1
            assert contains(result.boxes[0], *centre), (i, centre, result.boxes)
            assert len(result.boxes) == 1
            assert result.largest_area < 0.02  # a 12x8 object, not half the frame
    assert seen >= 0.75 * total, f"found in {seen}/{total} frames"
    ok, reason = event.confirmed()
    assert ok, reason
    assert re.fullmatch(r"object in \d+/40 frames, travel 0\.\d\d", reason)
    assert event.travel > 0.2  # it crossed 200 px of the 400 px diagonal


def test_best_box_and_time_come_from_the_moving_object():
    cfg = MotionConfig()
    frames, centres = split(crossing(seed=2, size=(40, 30), speed=8.0, frames=25))
    _, event = run(cfg, frames)
    assert event.confirmed()[0]
    i = round(event.best_time / DT)
    assert centres[i] is not None and contains(event.best_box, *centres[i])
    assert event.max_area >= event.best_box[2] * event.best_box[3] > 0


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_slow_object_is_not_absorbed_into_the_background(seed):
    # A 40x30 animal creeping 1.5 px per frame: a plain running average soaks it up behind
    # itself and its track stalls.
    cfg = MotionConfig()
    frames, _ = split(crossing(seed=seed, size=(40, 30), speed=1.5, frames=40))
    _, event = run(cfg, frames)
    ok, reason = event.confirmed()
    assert ok, reason


def test_large_bright_animal_close_to_the_lens_is_not_a_light_jump():
    # 140x100 px of white fur fills the top percentiles; the stretch must not re-map the frame.
    cfg = MotionConfig()
    frames, _ = split(crossing(seed=9, size=(140, 100), speed=10.0, frames=25, value=245))
    results, event = run(cfg, frames)
    assert not any(r.light_jump for r in results)
    ok, reason = event.confirmed()
    assert ok, reason


def test_animal_walking_towards_the_camera_grows_and_confirms():
    rng = np.random.default_rng(6)
    cfg = MotionConfig()
    bg = texture(rng)
    frames = []
    for i in range(30):
        scene = bg.copy()
        if i >= 5:
            s = 1 + 0.15 * (i - 5)
            draw(scene, 160 + 0.5 * (i - 5), 120, int(10 * s), int(8 * s), 220)
        frames.append(noisy(scene, rng))
    results, event = run(cfg, frames)
    ok, reason = event.confirmed()
    assert ok, reason
    assert results[-1].largest_area > 4 * min(r.largest_area for r in results[6:] if r.boxes)


def test_animal_in_the_first_frame_after_a_reset_still_confirms():
    # The animal is in the background (a ghost stays where it stood) but it walks away.
    cfg = MotionConfig()
    frames, centres = split(crossing(seed=7, size=(40, 30), speed=7.0, frames=30, still=0))
    check = MotionCheck(cfg)
    check.reset("IR LEDs on")
    results, event = run(cfg, frames, check)
    assert results[0].warming_up
    ok, reason = event.confirmed()
    assert ok, reason
    # The ghost at the first position is boxed for a while; the best box holds the animal.
    assert any(contains(b, *centres[0]) for b in results[3].boxes)
    assert contains(event.best_box, *centres[round(event.best_time / DT)])


def test_night_ir_frame_with_noise_finds_the_animal_and_not_the_noise():
    rng = np.random.default_rng(8)
    cfg = MotionConfig()
    bg = texture(rng, 5, 40)  # dark, low-contrast IR scene
    frames, quiet = [], []
    for i in range(30):
        scene = bg.copy()
        if i >= 5:
            draw(scene, 40 + 8 * (i - 5), 120, 30, 20, 90)
        frames.append(noisy(scene, rng, sigma=10))
        quiet.append(noisy(bg, rng, sigma=10))
    assert run(cfg, frames)[1].confirmed()[0]
    results, event = run(cfg, quiet)
    assert not any(r.boxes for r in results)
    assert event.confirmed() == (False, "no moving object in 30 frames")


# --- things that must not confirm -------------------------------------------------------------

@pytest.mark.parametrize("seed", [21, 22, 23])
def test_vegetation_sway_is_discarded(seed):
    cfg = MotionConfig()
    results, event = run(cfg, swaying(seed))
    # The sway is seen (so it is the confirmation that discards it, not a blind detector)...
    assert sum(bool(r.boxes) for r in results) > 30
    ok, reason = event.confirmed()
    assert not ok
    assert reason.startswith("object did not travel"), reason


def test_leaf_patches_below_min_area_give_no_boxes():
    rng = np.random.default_rng(24)
    cfg = MotionConfig(min_area=0.02)
    bg = texture(rng)
    frames = []
    for i in range(30):
        scene = bg.copy()
        for k, (x, y) in enumerate([(60, 60), (250, 70), (90, 190), (230, 180)]):
            draw(scene, x + 4 * math.sin(2 * math.pi * i / 6 + k), y, 8, 8, 25)
        frames.append(noisy(scene, rng))
    results, event = run(cfg, frames)
    assert any(r.changed > 0 for r in results[1:])  # the patches do change pixels
    assert not any(r.boxes for r in results)
    assert not event.confirmed()[0]


@pytest.mark.parametrize("seed", [31, 32, 33])
def test_snow_speckle_is_discarded(seed):
    cfg = MotionConfig()
    results, event = run(cfg, snowing(seed, flakes=200))
    assert any(r.changed > 0.01 for r in results[1:])  # heavy snow: lots of changed pixels
    assert not event.confirmed()[0], event.confirmed()[1]


def test_pir_trigger_without_pixel_motion_is_not_confirmed():
    rng = np.random.default_rng(41)
    cfg = MotionConfig()
    bg = texture(rng)
    results, event = run(cfg, [noisy(bg, rng) for _ in range(25)])
    assert all(r.boxes == [] for r in results)
    assert event.confirmed() == (False, "no moving object in 25 frames")
    assert event.best_box is None and event.best_time is None
    assert event.stats() == {"frames": 25, "motion_frames": 0, "light_jumps": 0,
                             "max_area": 0.0, "travel": 0.0}


# --- masks and resets ---------------------------------------------------------------------------

def test_mask_excludes_motion_inside_the_polygon():
    frames, centres = split(crossing(seed=51, size=(30, 20), speed=6.0, frames=30))
    ys = [c[1] for c in centres if c is not None]
    band = [(0.0, (ys[0] - 25) / H), (1.0, (ys[0] - 25) / H),
            (1.0, (ys[0] + 25) / H), (0.0, (ys[0] + 25) / H)]
    masked_cfg = MotionConfig(masks=[band])

    results, event = run(masked_cfg, frames)
    assert all(r.boxes == [] and r.changed == 0.0 for r in results)
    assert not event.confirmed()[0]
    # The same frames without the mask: the object is there.
    assert run(MotionConfig(), frames)[1].confirmed()[0]


def test_mask_leaves_motion_outside_the_polygon():
    frames, centres = split(crossing(seed=52, size=(30, 20), speed=6.0, frames=30))
    y = next(c[1] for c in centres if c is not None)
    above = (y - 40) / H  # the mask covers everything above the object
    cfg = MotionConfig(masks=[[(0, 0), (1, 0), (1, above), (0, above)]])
    results, event = run(cfg, frames)
    assert event.confirmed()[0]
    assert all(b[1] >= above - 0.02 for r in results for b in r.boxes)


def scene_with_ir_switch(seed: int):
    """Static day scene; then the IR LEDs light the foreground (bottom 40 %) brighter."""
    rng = np.random.default_rng(seed)
    bg = texture(rng)
    lit = bg.copy()
    lit[int(H * 0.6):] = np.clip(lit[int(H * 0.6):] * 1.3 + 40, 0, 255)
    return [noisy(bg, rng) for _ in range(10)], [noisy(lit, rng) for _ in range(15)]


def test_reset_after_ir_switch_avoids_a_false_positive():
    cfg = MotionConfig()
    before, after = scene_with_ir_switch(61)

    # Without the reset the lit foreground is boxed as a moving object.
    check = MotionCheck(cfg)
    run(cfg, before, check)
    unreset = [check.check(f) for f in after]
    assert unreset[0].boxes and not unreset[0].light_jump

    # With it, the next frame is the new background and nothing is boxed.
    check = MotionCheck(cfg)
    run(cfg, before, check)
    check.reset("IR LEDs on")
    assert check.last_reset == "IR LEDs on"
    results, event = run(cfg, after, check)
    assert results[0].warming_up
    assert all(r.boxes == [] for r in results)
    assert event.confirmed() == (False, "no moving object in 15 frames")


def test_frame_size_change_starts_a_new_background():
    cfg = MotionConfig()
    check = MotionCheck(cfg)
    rng = np.random.default_rng(71)
    assert check.check(noisy(texture(rng), rng)).warming_up
    assert not check.check(noisy(texture(rng), rng)).warming_up
    other = cv2.resize(noisy(texture(rng), rng), (320, 180))  # 16:9 now
    assert check.check(other).warming_up
    assert check.last_reset == "frame size changed"


# --- results and verdicts ---------------------------------------------------------------------

def test_boxes_are_normalised_and_largest_first():
    rng = np.random.default_rng(81)
    cfg = MotionConfig()
    bg = texture(rng)
    check = MotionCheck(cfg)
    check.check(noisy(bg, rng))
    scene = bg.copy()
    draw(scene, 80, 60, 20, 16, 240)
    draw(scene, 220, 170, 60, 40, 10)
    result = check.check(noisy(scene, rng))
    assert len(result.boxes) == 2
    big, small = result.boxes
    assert contains(big, 220, 170) and contains(small, 80, 60)
    assert all(0 <= v <= 1 for b in result.boxes for v in b)
    assert result.largest_area == pytest.approx(big[2] * big[3])
    assert big[2] * big[3] > small[2] * small[3]
    assert MotionResult([], 0.0, False, False).largest_area == 0.0


def test_object_larger_than_max_area_is_not_boxed():
    rng = np.random.default_rng(82)
    cfg = MotionConfig(max_area=0.05, light_jump=0.9)
    bg = texture(rng)
    check = MotionCheck(cfg)
    check.check(noisy(bg, rng))
    scene = bg.copy()
    draw(scene, 160, 120, 120, 90, 240)  # 14 % of the frame
    assert check.check(noisy(scene, rng)).boxes == []


def test_too_few_frames_is_not_a_persistent_object():
    cfg = MotionConfig(min_frames=5)
    event = EventMotion(cfg)
    boxes = [(0.1 + 0.05 * i, 0.4, 0.05, 0.05) for i in range(4)]
    for i, box in enumerate(boxes):
        event.add(MotionResult([box], 0.01, False, False), i * DT)
    for i in range(4, 10):
        event.add(MotionResult([], 0.0, False, False), i * DT)
    ok, reason = event.confirmed()
    assert not ok
    assert reason.startswith("no persistent object: seen in at most 4/10 frames (need 5")
    assert event.motion_frames == 4 and event.frames == 10
    assert event.max_area == pytest.approx(0.0025)


def test_steady_track_confirms_and_hopping_track_does_not():
    cfg = MotionConfig()
    steady = EventMotion(cfg)
    for i in range(8):
        steady.add(MotionResult([(0.1 + 0.04 * i, 0.5, 0.05, 0.05)], 0.01, False, False), i * DT)
    ok, reason = steady.confirmed()
    # 7 steps of 0.04 of the width: 0.28 of the unit square, 0.20 of its diagonal.
    assert ok and reason == "object in 8/8 frames, travel 0.20"

    # Four frames on one branch, one hop to a neighbour, four frames there: one jump.
    hop = EventMotion(cfg)
    for i in range(8):
        x = 0.30 if i < 4 else 0.38
        hop.add(MotionResult([(x + 0.005 * (i % 2), 0.5, 0.05, 0.05)], 0.01, False, False),
                i * DT)
    ok, reason = hop.confirmed()
    assert not ok
    assert reason.startswith("object did not travel steadily"), reason


def test_sparse_detections_in_a_line_are_not_a_persistent_object():
    # Snowflakes that happen to line up: seen in one frame of three.
    cfg = MotionConfig()
    event = EventMotion(cfg)
    for i in range(15):
        boxes = [(0.1 + 0.02 * i, 0.5, 0.05, 0.05)] if i % 3 == 0 else []
        event.add(MotionResult(boxes, 0.01, False, False), i * DT)
    ok, reason = event.confirmed()
    assert not ok
    assert reason.startswith("no persistent object"), reason


def test_tracks_do_not_run_across_a_new_background():
    # Three frames of a still box, a light jump, three of another still box elsewhere.
    cfg = MotionConfig()
    event = EventMotion(cfg)
    for i in range(7):
        if i == 3:
            event.add(MotionResult([], 0.9, True, False), i * DT)
            continue
        x = 0.2 if i < 3 else 0.3
        event.add(MotionResult([(x, 0.5, 0.05, 0.05)], 0.01, False, False), i * DT)
    assert event.travel < 0.01
    assert event.confirmed()[1].startswith("object did not travel")


def test_no_frames_is_not_confirmed():
    assert EventMotion(MotionConfig()).confirmed() == (False, "no frames checked")


@pytest.mark.parametrize("bad", [
    np.zeros((240, 320), np.float32),
    np.zeros((240, 320, 3), np.uint8),
    np.zeros((4, 320), np.uint8),
    [[0] * 320] * 240,
])
def test_bad_input_is_a_clear_error(bad):
    with pytest.raises(ValueError, match="luma"):
        MotionCheck(MotionConfig()).check(bad)
