"""Power-cut harness: runs `trailcam sim` on a scenario, SIGKILLs it at random moments,
restarts it on the same data directory, and checks after every cut:

- no playable-looking but corrupt clip: every .mp4 outside the temp folder decodes to the end
  with at least one frame (PyAV);
- the event log is consistent with the files: every finished kept event's clip exists with the
  logged size (unless the storage guard logged its deletion), every finished event's thumbnail
  exists, and no clip or thumbnail lies outside the temp folder without an event naming it;
- no lost queue entries: every uplink queue message seen before a cut is still queued after it
  or counted by the queue as having left it (its `removed` counter, bumped in the same
  transaction as the delete), and every finished event was taken by the uplink (its sequence
  number is at most the queue's `counted_seq`).
Rows in status `saving` (a cut between deciding an event and its files reaching their final
paths) name their files before the files exist; start-up finishes them, and the next check
holds them to the same rules as every finished event.

Usage:  python bench/bench_powercut.py [--cuts 200] [--scenario hw_sim/scenarios/powercut.toml]
                                       [--seed 1] [--out DIR] [--json PATH]
Prints one line per 20 cuts, each new problem when first seen, and a summary with the counts
(each distinct problem counted once; exit 1 if any problem was found).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from firmware.fsutil import is_atomic_temp  # noqa: E402
TMP_PARTS = (".tmp", "partial")  # folders where unfinished files may legitimately lie


@dataclass
class Counts:
    cuts: int = 0
    runs_completed: int = 0
    clips_checked: int = 0
    corrupt_clips: int = 0
    events_checked: int = 0
    inconsistencies: int = 0
    queue_entries_checked: int = 0
    lost_queue_entries: int = 0
    interrupted_events: int = 0  # distinct events a cut caught while recording
    saving_rows: int = 0  # distinct events a cut caught between their decision and `done`
    problems: list[str] = field(default_factory=list)
    removed_seen: int = 0  # the queue's `removed` counter at the last check
    seen_ids: set[tuple[str, str]] = field(default_factory=set, repr=False)
    # (path, size, mtime_ns) of clips that decoded fine: not decoded again while unchanged
    good_clips: set[tuple[str, int, int]] = field(default_factory=set, repr=False)

    def problem(self, kind: str, text: str) -> None:
        """Count a problem once, however many later checks still see it (it persists)."""
        if text in self.problems:
            return
        setattr(self, kind, getattr(self, kind) + 1)
        self.problems.append(text)


def _unfinished(rel: Path) -> bool:
    """Where unfinished files may lie until the next start-up removes them: the temp folders,
    and the hidden `.<name>.tmp-<pid>` files of atomic writes killed before their rename."""
    return any(part in TMP_PARTS for part in rel.parts) or is_atomic_temp(rel)


def check_clip(path: Path, good: set[tuple[str, int, int]] | None = None) -> str | None:
    """None if the clip decodes completely with at least one frame, else what is wrong.
    A clip that decoded fine and has not changed since is not decoded again."""
    import av

    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if good is not None and key in good:
        return None

    try:
        with av.open(str(path)) as box:
            n = 0
            for _ in box.decode(video=0):
                n += 1
        if n > 0:
            if good is not None:
                good.add(key)
            return None
        return "no frames"
    except (av.error.FFmpegError, ValueError, IndexError) as err:  # what a broken file raises
        return f"{type(err).__name__}: {err}"


def _connect_ro(path: Path) -> sqlite3.Connection:
    # plain read-only connection: the harness must not change the unit's databases
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    return db


def check_data_dir(data: Path, counts: Counts, seen_queue: dict[str, int]) -> None:
    """Check clips, event log and queue after a cut (before the next start's recovery)."""
    named: set[str] = set()
    done_seqs: list[tuple[int, str]] = []
    events_db = data / "events.db"
    if events_db.exists():
        db = _connect_ro(events_db)
        try:
            rows = db.execute("SELECT * FROM events").fetchall()
        finally:
            db.close()
        for r in rows:
            counts.events_checked += 1
            gone = set()
            if r["deleted"]:
                try:
                    gone = {e["what"] for e in json.loads(r["deleted"])}
                except (json.JSONDecodeError, TypeError, KeyError):
                    gone = {"clip", "thumb"}
            for col in ("clip", "thumb"):
                if r[col]:
                    named.add(Path(r[col]).as_posix())
            if r["status"] in ("interrupted", "saving") and (r["status"], r["id"]) not in counts.seen_ids:
                counts.seen_ids.add((r["status"], r["id"]))
                if r["status"] == "interrupted":
                    counts.interrupted_events += 1
                else:
                    counts.saving_rows += 1
            if r["status"] != "done":
                continue
            done_seqs.append((r["seq"], r["id"]))
            if r["decision"] == "kept":
                if not r["clip"] and "clip lost" not in (r["reason"] or ""):
                    counts.problem("inconsistencies", f"{r['id']}: kept but no clip named")
                elif r["clip"] and "clip" not in gone:
                    p = data / r["clip"]
                    if not p.is_file():
                        counts.problem("inconsistencies", f"{r['id']}: clip {r['clip']} missing")
                    elif r["clip_bytes"] and p.stat().st_size != r["clip_bytes"]:
                        counts.problem("inconsistencies",
                                       f"{r['id']}: clip is {p.stat().st_size} bytes, log says {r['clip_bytes']}")
            if r["thumb"] and "thumb" not in gone and not (data / r["thumb"]).is_file():
                counts.problem("inconsistencies", f"{r['id']}: thumbnail {r['thumb']} missing")
    for sub in ("clips", "thumbs"):
        root = data / sub
        if not root.is_dir():
            continue
        for f in root.rglob("*"):
            if not f.is_file():
                continue
            rel = f.relative_to(data)
            if _unfinished(rel):
                continue
            if rel.as_posix() not in named:
                counts.problem("inconsistencies", f"{rel}: on disk but no event names it")
            if f.suffix == ".mp4":
                counts.clips_checked += 1
                bad = check_clip(f, counts.good_clips)
                if bad:
                    counts.problem("corrupt_clips", f"{rel}: {bad}")
    queue_db = data / "uplink.db"  # firmware.uplink.service.DB_NAME
    if queue_db.exists():
        db = _connect_ro(queue_db)
        try:
            ids = {r["id"] for r in db.execute("SELECT id FROM outbox")}
            meta = {r["name"]: json.loads(r["value"]) for r in db.execute("SELECT name, value FROM uplink_meta")}
        finally:
            db.close()
        removed = int(meta.get("removed", 0))
        missing = [i for i in seen_queue if i not in ids]
        counts.queue_entries_checked += len(seen_queue)
        allowed = removed - counts.removed_seen  # messages the queue says left since the last check
        for i in missing[max(0, allowed):]:
            counts.problem("lost_queue_entries", f"queue entry {i} vanished")
        counts.removed_seen = removed
        for i in missing:
            seen_queue.pop(i, None)
        for i in ids:
            seen_queue[i] = 1
        counted = int(meta.get("counted_seq", -1))
        for seq, ev_id in done_seqs:
            if seq > counted:
                counts.problem("lost_queue_entries", f"{ev_id}: finished, but the uplink never took it")


def run_harness(scenario: Path, cuts: int, seed: int, data: Path, min_s: float, max_s: float,
                verbose: bool = True) -> Counts:
    rng = random.Random(seed)
    counts = Counts()
    seen_queue: dict[str, int] = {}
    cmd = [sys.executable, "-m", "firmware.cli", "sim", str(scenario), "--out", str(data),
           "--report", str(data / "report.json")]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    t0 = time.perf_counter()
    while counts.cuts < cuts:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        delay = rng.uniform(min_s, max_s)
        try:
            proc.wait(timeout=delay)
            finished = True
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            finished = False
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        if proc.stderr:
            proc.stderr.close()
        if finished:
            if proc.returncode != 0:
                counts.problems.append(f"run exited {proc.returncode}: {err[-400:]}")
                raise SystemExit(f"trailcam sim failed (exit {proc.returncode}):\n{err[-2000:]}")
            counts.runs_completed += 1
        else:
            counts.cuts += 1
        before = len(counts.problems)
        check_data_dir(data, counts, seen_queue)
        if verbose:
            for p in counts.problems[before:]:
                print(f"  after {'a run' if finished else f'cut {counts.cuts}'} ({delay:.2f} s): {p}", flush=True)
        if verbose and counts.cuts % 20 == 0 and not finished:
            print(f"  {counts.cuts} cuts, {counts.clips_checked} clip checks, "
                  f"{counts.corrupt_clips} corrupt, {counts.inconsistencies} inconsistent, "
                  f"{counts.lost_queue_entries} lost ({time.perf_counter() - t0:.0f} s)", flush=True)
    # a last run to the end: recovery after the final cut, then everything must be consistent
    r = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"final trailcam sim failed (exit {r.returncode}):\n{r.stderr[-2000:]}")
    counts.runs_completed += 1
    check_data_dir(data, counts, seen_queue)
    # start-up removed what killed atomic writes left behind; a run to the end leaves none
    for f in data.rglob("*"):
        if f.is_file() and is_atomic_temp(f.relative_to(data)):
            counts.problem("inconsistencies", f"{f.relative_to(data)}: temp file left after start-up")
    return counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cuts", type=int, default=200)
    ap.add_argument("--scenario", default=str(REPO / "hw_sim/scenarios/powercut.toml"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", help="data directory (default: a fresh temporary folder)")
    ap.add_argument("--min-s", type=float, default=0.3, help="earliest cut after a start, s")
    ap.add_argument("--max-s", type=float, default=4.0, help="latest cut after a start, s")
    ap.add_argument("--json", help="write the counts here as JSON")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="powercut-") as tmp:
        data = Path(args.out) if args.out else Path(tmp) / "data"
        t0 = time.perf_counter()
        c = run_harness(Path(args.scenario), args.cuts, args.seed, data, args.min_s, args.max_s)
        wall = time.perf_counter() - t0
    print(f"power cuts: {c.cuts} (SIGKILL), runs to the end: {c.runs_completed}, wall {wall:.0f} s")
    print(f"clips checked: {c.clips_checked}, corrupt clips: {c.corrupt_clips}")
    print(f"event rows checked: {c.events_checked}, inconsistencies: {c.inconsistencies}, "
          f"interrupted events seen: {c.interrupted_events}, cuts while saving: {c.saving_rows}")
    print(f"queue entries checked: {c.queue_entries_checked}, messages that left the queue (all accounted "
          f"for): {c.removed_seen}, lost queue entries: {c.lost_queue_entries}")
    for p in c.problems[:20]:
        print("  problem:", p)
    if args.json:
        out = asdict(c) | {"wall_s": wall}
        out.pop("good_clips")
        out.pop("seen_ids")
        Path(args.json).write_text(json.dumps(out, indent=2))
    return 0 if not (c.corrupt_clips or c.inconsistencies or c.lost_queue_entries) else 1


if __name__ == "__main__":
    sys.exit(main())
