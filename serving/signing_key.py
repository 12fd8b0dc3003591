"""The key that signs access tokens and stream URLs: configured, or kept under the data root."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from core.settings import Settings

#: File under the data root holding the generated key (hex), readable by its owner only.
KEY_FILE = "secret.key"


def signing_key(settings: Settings) -> bytes:
    """``settings.secret_key``, else the data root's generated key, created once (atomically,
    so that several workers starting together agree on it)."""
    if settings.secret_key:
        return settings.secret_key.encode()
    path = settings.paths.root / KEY_FILE
    if not path.exists():
        _create(path)
    key = path.read_text().strip()
    if len(key) < 64:
        raise RuntimeError(f"{path} holds no usable key; delete it to have a new one made")
    return key.encode()


def _create(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(32))
    try:
        os.link(scratch, path)  # fails if another process made it first: keep theirs
    except FileExistsError:
        pass
    finally:
        scratch.unlink()
