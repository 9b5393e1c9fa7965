"""The simulated world: scenario files, the scene renderer, PIR windows, light, truth, sprites."""
from __future__ import annotations

import hashlib
import textwrap

import numpy as np
import pytest

from hw_sim.scenario import FIRMWARE_CLASSES, ScenarioError, load_scenario, parse_scenario
from hw_sim.scene import Scene
from hw_sim.sprites import SpriteLibrary, load_index

from conftest import REALDATA, REPO

SCENARIOS = REPO / "hw_sim" / "scenarios"
needs_realdata = pytest.mark.skipif(
    not (REALDATA / "media").is_dir(), reason=f"realdata folder absent ({REALDATA}): real-photo checks skipped")

SIZE = (320, 240)


def _scenario(**extra) -> dict:
    base = {
        "name": "t", "start": "2024-01-15T12:00:00+10:00", "duration_s": 600, "seed": 3,
        "site": {"sunrise": "08:00", "sunset": "17:00", "vegetation": 4},
        "animal": [{"species": "deer", "at": 100, "path": [[-0.3, 0.8, 5.0], [1.3, 0.8, 5.0]], "speed_mps": 1.0}],
    }
    base.update(extra)
    return base


def _scene(realdata=None, **extra) -> Scene:
    return Scene(parse_scenario(_scenario(**extra)), realdata)


def _animal_window(scene: Scene) -> tuple[float, float]:
    w, _ = scene.walks[0]
    return w.t0, w.t1


# --- scenario files ------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["night_leopard", "mixed_day", "replay_clip"])
def test_shipped_scenarios_load(name):
    sc = load_scenario(SCENARIOS / f"{name}.toml")
    assert sc.name == name
    assert sc.duration_s > 0
    assert sc.config["camera"]["main_size"] == [640, 360]


def test_start_time_and_local_hours():
    sc = parse_scenario(_scenario(start="2024-01-15T17:30:00+10:00"))
    assert sc.start_epoch == pytest.approx(1705303800.0)
    assert sc.local_hours(0) == pytest.approx(17.5)
    assert sc.local_hours(3600) == pytest.approx(18.5)


@pytest.mark.parametrize("patch, key", [
    ({"animal": [{"species": "leopard", "at": 1, "path": [[0, 0.5], [1, 0.5]]}]}, "animal[0].species"),
    ({"animal": [{"species": "deer", "at": 1, "path": [[0, 0.5], [1, 0.5]], "sped": 2}]}, "animal[0].sped"),
    ({"animal": [{"species": "deer", "at": 1, "path": [[0, 0.5, 1, 2], [1, 0.5]]}]}, "animal[0].path"),
    ({"wind": [{"at": 5, "strength": 3}]}, "wind[0].strength"),
    ({"start": "2024-01-15T12:00:00"}, "start"),
    ({"colour": "red"}, "colour"),
    ({"replay": [{"at": 1, "duration_s": 5, "truth": "canid"}]}, "replay[0]"),
    ({"replay": [{"at": 1, "duration_s": 5, "file": "a.mp4", "truth": "fox"}]}, "replay[0].truth"),
])
def test_bad_scenario_names_the_key(patch, key):
    with pytest.raises(ScenarioError) as err:
        parse_scenario(_scenario(**patch), "bad.toml")
    assert any(p.startswith(key) for p in err.value.problems), err.value.problems


def test_load_scenario_reports_file_problems(tmp_path):
    with pytest.raises(ScenarioError, match="file not found"):
        load_scenario(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n")
    with pytest.raises(ScenarioError, match="not valid TOML"):
        load_scenario(bad)
    late = tmp_path / "late.toml"
    late.write_text(textwrap.dedent("""
        name = "late"
        start = 2024-01-15T12:00:00+10:00
        duration_s = 100
        [[pir_false]]
        at = 150
    """))
    with pytest.raises(ScenarioError, match=r"pir_false\[0\]\.at"):
        load_scenario(late)


# --- rendering ------------------------------------------------------------------------------
def test_render_is_deterministic_and_shaped():
    a, b = _scene(), _scene()
    for t in (50.0, 103.3, 110.0):
        fa = a.render(t, SIZE, ir=False, leds_on=False)
        assert fa.shape == (240, 320, 3) and fa.dtype == np.uint8
        assert np.array_equal(fa, b.render(t, SIZE, ir=False, leds_on=False))
        assert np.array_equal(fa, a.render(t, SIZE, ir=False, leds_on=False))  # cached path too
    # noise differs frame to frame: consecutive frames are not identical
    assert not np.array_equal(a.render(50.0, SIZE, False, False), a.render(50.1, SIZE, False, False))


def _diff_to_empty(scene: Scene, t: float, t_empty: float) -> np.ndarray:
    f = scene.render(t, SIZE, False, False).astype(np.int16)
    e = scene.render(t_empty, SIZE, False, False).astype(np.int16)
    return np.abs(f - e).max(axis=2)


def test_animal_present_in_its_interval_and_absent_outside():
    scene = _scene()
    t0, t1 = _animal_window(scene)
    quiet = 50.0
    # outside the interval: only sensor noise differs from another empty frame
    assert (_diff_to_empty(scene, t1 + 20, quiet) > 40).sum() == 0
    assert (_diff_to_empty(scene, t0 - 10, quiet) > 40).sum() == 0
    mid = (t0 + t1) / 2
    changed = _diff_to_empty(scene, mid, quiet) > 40
    assert changed.sum() > 200
    # the changed pixels sit where the scene says the animal is
    objs = scene.objects(mid)
    assert [c for c, _ in objs] == ["deer"]
    x0, y0, x1, y1 = objs[0][1]
    ys, xs = np.nonzero(changed)
    assert x0 * 320 - 2 <= xs.min() and xs.max() <= x1 * 320 + 2
    assert y0 * 240 - 6 <= ys.min() and ys.max() <= y1 * 240 + 2
    # it moves: the box shifts right over a second (path goes left to right)
    later = scene.objects(mid + 1.0)[0][1]
    assert later[0] > x0


def test_paused_animal_stands_still():
    scene = _scene(animal=[{"species": "deer", "at": 100, "path": [[-0.3, 0.8], [1.3, 0.8]],
                            "pause_at": 0.5, "pause_s": 10}])
    w, _ = scene.walks[0]
    t_pause = w.t0 + w.s_pause / w.a.speed_mps
    assert scene.objects(t_pause + 2)[0][1] == scene.objects(t_pause + 6)[0][1]
    assert not w.pose(t_pause + 4).moving


def test_truth_follows_animals():
    scene = _scene()
    t0, t1 = _animal_window(scene)
    assert scene.truth(t0 + 2, t1 - 2) == "deer"
    assert scene.truth(10, 60) == "blank"
    assert scene.truth(t1 + 10, t1 + 40) == "blank"
    assert set(FIRMWARE_CLASSES) >= {scene.truth(0, 600)}


def test_ir_frames_are_greyscale_and_leds_light_the_night():
    scene = _scene(start="2024-01-15T23:00:00+10:00")
    lit = scene.render(50, SIZE, ir=True, leds_on=True)
    dark = scene.render(50, SIZE, ir=True, leds_on=False)
    for f in (lit, dark):
        assert np.array_equal(f[..., 0], f[..., 1]) and np.array_equal(f[..., 1], f[..., 2])
    assert lit.mean() > 40 and lit.mean() > 4 * dark.mean()
    assert dark.mean() < 20
    # without the IR filter at night: dark colour frame
    assert scene.render(50, SIZE, ir=False, leds_on=False).mean() < 20
    # by day the colour frame is colourful (channels differ)
    day = _scene().render(50, SIZE, ir=False, leds_on=False).astype(int)
    assert np.abs(day[..., 0] - day[..., 1]).mean() > 5


def test_lux_follows_the_sun_and_drops_under_a_cloud():
    sc = _scenario(start="2024-01-15T00:00:00+10:00", duration_s=86400,
                   cloud=[{"at": 12 * 3600, "duration_s": 300, "factor": 0.3, "ramp_s": 1.0}])
    scene = Scene(parse_scenario(sc), None)
    noon_before = scene.lux(12 * 3600 - 10)
    assert scene.lux(2 * 3600) < 1.0  # 02:00
    assert scene.lux(23 * 3600) < 1.0
    assert noon_before > 10000
    assert scene.lux(9 * 3600) < noon_before  # morning dimmer than noon
    assert scene.lux(12 * 3600 + 60) == pytest.approx(0.3 * scene.light.sun_lux(12 * 3600 + 60))
    assert scene.lux(12 * 3600 + 310) == pytest.approx(scene.light.sun_lux(12 * 3600 + 310))
    # dusk passes through the IR-switching range (~10 lux) within the twilight
    dusk = [scene.lux(17 * 3600 + m * 60) for m in range(0, 60, 5)]
    assert dusk == sorted(dusk, reverse=True) and dusk[0] > 100 and dusk[-1] < 1
    # the frame jumps darker at the cloud's edge, then the exposure catches up
    before = scene.render(12 * 3600 - 5, SIZE, False, False).mean()
    jump = scene.render(12 * 3600 + 1.2, SIZE, False, False).mean()
    adapted = scene.render(12 * 3600 + 30, SIZE, False, False).mean()
    assert jump < 0.6 * before
    assert adapted == pytest.approx(before, rel=0.1)


def test_wind_sways_vegetation_without_animals():
    scene = _scene(animal=[], wind=[{"at": 200, "duration_s": 20, "strength": 0.8}])
    calm = scene.render(100, SIZE, False, False).astype(np.int16)
    calm2 = scene.render(150, SIZE, False, False).astype(np.int16)
    gust = scene.render(210, SIZE, False, False).astype(np.int16)
    assert (np.abs(calm - calm2).max(axis=2) > 40).sum() == 0
    assert (np.abs(gust - calm).max(axis=2) > 40).sum() > 20
    assert scene.truth(195, 225) == "blank"


def test_snow_falls_deterministically():
    scene = _scene(animal=[], snow=[{"at": 100, "duration_s": 100, "intensity": 0.5}])
    a = scene.render(150, SIZE, False, False)
    assert np.array_equal(a, scene.render(150, SIZE, False, False))
    no_snow = scene.render(50, SIZE, False, False).astype(np.int16)
    flakes = (np.abs(a.astype(np.int16) - no_snow).max(axis=2) > 40).sum()
    assert flakes > 100
    moved = np.abs(scene.render(150.1, SIZE, False, False).astype(np.int16) - a).max(axis=2) > 40
    assert moved.sum() > 50


# --- PIR ---------------------------------------------------------------------------------------
def test_pir_windows_match_animals_and_false_triggers():
    scene = _scene(pir_false=[{"at": 30, "duration_s": 3, "cause": "sun_warmed_rock"}],
                   wind=[{"at": 400, "duration_s": 10, "strength": 0.5, "pir": True},
                         {"at": 450, "duration_s": 10, "strength": 0.5}])
    wins = scene.pir_windows()
    causes = [c for _, _, c in wins]
    assert causes == ["sun_warmed_rock", "animal:deer", "warm_gust"]
    assert wins[0][:2] == (30, 33)
    on, off, _ = wins[1]
    walk, _ = scene.walks[0]
    # fires once its body is in the cone, i.e. after it was already visible in the frame
    first_visible = next(t / 10 for t in range(int(walk.t0 * 10), int(walk.t1 * 10)) if scene.objects(t / 10))
    assert on > first_visible + 0.5
    cone = scene.sc.site.pir_cone
    assert cone[0] - 0.02 <= walk.pose(on).x <= cone[0] + 0.05
    # and stays high pir_hold_s after it left the cone
    assert walk.pose(off - scene.sc.site.pir_hold_s - 0.1).x <= cone[1]
    assert walk.pose(off - scene.sc.site.pir_hold_s + 0.1).x >= cone[1] - 0.01
    # no window at all for an animal walking beyond the PIR's range
    far = _scene(animal=[{"species": "deer", "at": 100, "path": [[-0.3, 0.6, 15.0], [1.3, 0.6, 15.0]]}])
    assert far.pir_windows() == []
    assert far.truth(100, 130) == "deer"  # seen by the camera all the same


def test_pir_false_trigger_has_no_pixel_motion():
    scene = _scene(animal=[], pir_false=[{"at": 300, "duration_s": 3}])
    (on, off, cause), = scene.pir_windows()
    a = scene.render(on - 3, SIZE, False, False).astype(np.int16)
    b = scene.render(on + 1, SIZE, False, False).astype(np.int16)
    assert (np.abs(a - b).max(axis=2) > 40).sum() == 0
    assert scene.truth(on - 3, off + 3) == "blank"


# --- sprites: real photos when realdata is present ------------------------------------------
def test_without_realdata_sprites_are_drawn_and_say_so():
    scene = _scene()
    assert all(src.startswith("drawn") for src in scene.sprite_sources().values())


def test_sprite_index_is_consistent():
    specs = load_index()
    classes = {s.cls for s in specs}
    assert {"amur_leopard", "deer", "wild_boar", "human"} <= classes
    assert all(s.sha1 for s in specs)


@needs_realdata
def test_sprites_are_cut_from_the_real_photos():
    import cv2

    lib = SpriteLibrary(REALDATA)
    for spec in load_index():
        sprite = lib.get(spec.cls, spec.light, 0, spec.id)
        assert sprite.from_photo, sprite.source
        blob = (REALDATA / "media" / spec.file).read_bytes()
        assert hashlib.sha1(blob).hexdigest() == spec.sha1
        img = cv2.cvtColor(cv2.imdecode(np.frombuffer(blob, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        x, y, w, h = spec.box
        crop = cv2.resize(img[y:y + h, x:x + w], sprite.rgb.shape[1::-1], interpolation=cv2.INTER_AREA)
        a, b = crop.astype(np.float32).ravel(), sprite.rgb.astype(np.float32).ravel()
        # same picture (night sprites are contrast-stretched: compare by correlation)
        assert np.corrcoef(a, b)[0, 1] > 0.97, spec.id


@needs_realdata
def test_rendered_leopard_pixels_come_from_the_photo():
    import cv2

    scene = Scene(load_scenario(SCENARIOS / "night_leopard.toml"), REALDATA)
    src = scene.sprite_sources()
    assert src["amur_leopard#1"].startswith("realdata:leopard_")
    walk, sprite = scene.walks[1]
    t = walk.t0 + (walk.t1 - walk.t0) * 0.3
    frame = scene.render(t, (640, 360), ir=True, leds_on=True)
    x0, y0, x1, y1 = scene.objects(t)[0][1]
    bx0, by0, bx1, by1 = (int(round(v)) for v in (x0 * 640, y0 * 360, x1 * 640, y1 * 360))
    bw, bh = bx1 - bx0, by1 - by0
    # the opaque core of the sprite (edges are feathered), allowing for the walking bob
    my, mx = bh // 4, bw // 4
    ref = cv2.resize(cv2.cvtColor(sprite.rgb, cv2.COLOR_RGB2GRAY), (bw, bh), interpolation=cv2.INTER_AREA)
    if walk.pose(t).heading > 0:  # sprite faces left: mirrored on a rightward walk
        ref = ref[:, ::-1]
    ref = ref[my:bh - my, mx:bw - mx]
    best = max(
        np.corrcoef(frame[by0 + my - d:by1 - my - d, bx0 + mx:bx1 - mx, 0].ravel().astype(float),
                    ref.ravel().astype(float))[0, 1]
        for d in range(0, 4))
    assert best > 0.9, best


@needs_realdata
def test_replay_shows_the_real_clip_full_frame():
    import av

    scene = Scene(load_scenario(SCENARIOS / "replay_clip.toml"), REALDATA)
    rep = scene.replays[0]
    t = rep.at + 2.0
    frame = scene.render(t, (544, 306), ir=False, leds_on=False)
    with av.open(str(REALDATA / rep.item.file)) as c:
        stream = c.streams.video[0]
        want = rep.item.clip_start_s + rep.times[rep.index(t)]
        ref = next(f.to_ndarray(format="rgb24") for f in c.decode(stream)
                   if f.pts * float(stream.time_base) >= want - 1e-3)
    assert frame.shape == ref.shape
    assert np.abs(frame.astype(int) - ref.astype(int)).mean() < 2
    assert scene.truth(rep.at, rep.end) == "canid"
    assert ("replay:canid" in [c for _, _, c in scene.pir_windows()])
    assert np.array_equal(frame, scene.render(t, (544, 306), False, False))


def test_replay_without_realdata_is_a_clear_error(tmp_path):
    from hw_sim.replay import ReplayUnavailable

    sc = load_scenario(SCENARIOS / "replay_clip.toml")
    with pytest.raises(ReplayUnavailable, match="realdata"):
        Scene(sc, None)
    with pytest.raises(ReplayUnavailable, match="missing"):
        Scene(sc, tmp_path)
