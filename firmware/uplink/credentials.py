"""Secrets from a file or from systemd credentials (LoadCredential= → $CREDENTIALS_DIRECTORY).

The value is never logged and never part of an error message: only where it was looked for.
"""
from __future__ import annotations

import os
from pathlib import Path


class CredentialError(Exception):
    pass


def secret_path(name: str, environ: dict[str, str] | None = None) -> Path:
    """An absolute path is used as is; a bare name is looked up in $CREDENTIALS_DIRECTORY first."""
    env = os.environ if environ is None else environ
    p = Path(name)
    if p.is_absolute():
        return p
    cred_dir = env.get("CREDENTIALS_DIRECTORY")
    if cred_dir and (Path(cred_dir) / name).exists():
        return Path(cred_dir) / name
    return p


def read_secret(name: str, environ: dict[str, str] | None = None) -> str:
    path = secret_path(name, environ)
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError as err:
        raise CredentialError(f"cannot read secret {name!r} at {path}: {err.strerror}") from None
    if not value:
        raise CredentialError(f"secret {name!r} at {path} is empty")
    return value
