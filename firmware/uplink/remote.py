"""Remote configuration: a patch validated with the same typed model as the config file.

A patch (nested JSON object, e.g. {"recorder": {"post_roll_s": 4}}) is accepted only when every
key it touches is remotely settable (config.REMOTE_SETTABLE ∩ uplink.remote.allowed) and the
current config merged with it passes `firmware.config.parse_config`. An accepted patch is merged
into the overlay file `<data_dir>/config-overlay.json` (temp → fsync → os.replace → fsync dir)
before it is announced; `load_with_overlay` merges that overlay over the TOML at start-up.
A refused patch changes nothing.
"""
from __future__ import annotations

import copy
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import Config, ConfigError, load_config, parse_config, read_toml
from .config import REMOTE_SETTABLE

log = logging.getLogger(__name__)

OVERLAY_NAME = "config-overlay.json"
MAX_PATCH_BYTES = 16_384


@dataclass
class RemoteResult:
    accepted: bool
    request: str | None
    errors: list[dict[str, str]] = field(default_factory=list)
    config: Config | None = None
    patch: dict[str, Any] = field(default_factory=dict)

    def ack(self) -> dict[str, Any]:
        return {"request": self.request, "accepted": self.accepted, "errors": self.errors}


def key_paths(patch: dict[str, Any], prefix: str = "") -> list[str]:
    """Leaf key paths of a nested patch ("recorder.post_roll_s")."""
    out = []
    for k, v in patch.items():
        path = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out += key_paths(v, path + ".")
        else:
            out.append(path)
    return out


def allowed(path: str, prefixes: list[str] | tuple[str, ...]) -> bool:
    def ok(p: str) -> bool:
        return path == p.rstrip(".") or (p.endswith(".") and path.startswith(p))
    return any(ok(p) for p in prefixes) and any(ok(p) for p in REMOTE_SETTABLE)


def deep_merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in patch.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _problem(line: str) -> dict[str, str]:
    path, sep, rest = line.partition(" = ")
    return {"path": path, "error": rest if sep else line}


def evaluate(current: Config, patch: Any, allowed_prefixes: list[str], request: str | None = None) -> RemoteResult:
    """Validate a patch against the current config; nothing is written here."""
    if not isinstance(patch, dict) or not patch:
        return RemoteResult(False, request, [{"path": "(top level)", "error": "a non-empty JSON object is required"}])
    errors = [{"path": p, "error": "not remotely settable"} for p in key_paths(patch)
              if not allowed(p, allowed_prefixes)]
    if errors:
        return RemoteResult(False, request, errors)
    merged = deep_merge(current.model_dump(mode="json"), patch)
    try:
        new = parse_config(merged, "remote config")
    except ConfigError as err:
        return RemoteResult(False, request, [_problem(p) for p in err.problems])
    return RemoteResult(True, request, [], new, patch)


def parse_request(raw: bytes) -> tuple[Any, str | None, list[dict[str, str]]]:
    """A config/set payload: either the patch itself or {"id": ..., "set": {patch}}."""
    if len(raw) > MAX_PATCH_BYTES:
        return None, None, [{"path": "(top level)", "error": f"larger than {MAX_PATCH_BYTES} bytes"}]
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        return None, None, [{"path": "(top level)", "error": f"not JSON: {err}"}]
    if isinstance(data, dict) and "set" in data:
        request = data.get("id")
        extra = set(data) - {"id", "set"}
        if extra:
            return None, None, [{"path": k, "error": "unknown request field (use id and set)"} for k in sorted(extra)]
        return data["set"], None if request is None else str(request)[:64], []
    return data, None, []


# --- the overlay file -------------------------------------------------------------------

def overlay_path(data_dir: Path) -> Path:
    return Path(data_dir) / OVERLAY_NAME


def read_overlay(data_dir: Path) -> dict[str, Any]:
    p = overlay_path(data_dir)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, json.JSONDecodeError) as err:
        log.error("config overlay %s unreadable (%s): ignored", p, err)
        return {}
    return data if isinstance(data, dict) else {}


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def persist_patch(data_dir: Path, patch: dict[str, Any]) -> None:
    merged = deep_merge(read_overlay(data_dir), patch)
    write_atomic(overlay_path(data_dir), json.dumps(merged, indent=1, sort_keys=True).encode())


def load_with_overlay(path: str | Path, data_dir: str | Path | None = None) -> Config:
    """The TOML config with the remote overlay merged over it.

    `data_dir` defaults to the TOML's paths.data_dir. An overlay that no longer validates (e.g.
    after a firmware update) is set aside as `config-overlay.json.invalid` and the TOML alone is
    used: the unit runs on its file config rather than not at all.
    """
    base = load_config(path)
    ddir = Path(data_dir) if data_dir is not None else Path(base.paths.data_dir)
    overlay = read_overlay(ddir)
    if not overlay:
        return base
    raw = read_toml(Path(path), ConfigError)
    try:
        bad = [p for p in key_paths(overlay) if not allowed(p, REMOTE_SETTABLE)]
        if bad:
            raise ConfigError(str(overlay_path(ddir)), [f"{p}: not remotely settable" for p in bad])
        return parse_config(deep_merge(raw, overlay), f"{path} + {overlay_path(ddir)}")
    except ConfigError as err:
        log.error("%s\nremote overlay set aside; running on %s alone", err, path)
        os.replace(overlay_path(ddir), overlay_path(ddir).with_name(OVERLAY_NAME + ".invalid"))
        return base
