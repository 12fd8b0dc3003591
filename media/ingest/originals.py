"""Where uploaded originals live: a local folder or any fsspec URL (``memory://``, ``s3://``).

Uploads are streamed in fixed-size blocks, never read whole into memory, and appear under their
final key only when complete.
"""

from __future__ import annotations

import hashlib
import shutil
import uuid
from pathlib import Path
from typing import BinaryIO

import fsspec
from pydantic import BaseModel, ConfigDict

from media.errors import MediaError

#: Bytes read and written per step while streaming.
BLOCK_SIZE = 1 << 20


class StoredObject(BaseModel):
    """An object written to storage."""

    model_config = ConfigDict(frozen=True)

    url: str
    size: int
    sha256: str


class TooLargeError(MediaError):
    """An upload went over the size limit while it was being streamed."""


class Storage:
    """A folder of objects at ``base_url`` (a local path or an fsspec URL)."""

    def __init__(self, base_url: str | Path) -> None:
        text = str(base_url)
        if "://" not in text:
            text = str(Path(text).resolve())
        self.fs, self.root = fsspec.core.url_to_fs(text)
        self.base_url = text.rstrip("/")

    @property
    def is_local(self) -> bool:
        """Whether objects are plain files on this machine."""
        return "file" in (
            self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,)
        )

    def _path(self, key: str) -> str:
        if not key or key.startswith("/") or ".." in key.split("/"):
            raise MediaError(f"invalid storage key {key!r}")
        return f"{self.root.rstrip('/')}/{key}"

    def url(self, key: str) -> str:
        """The full URL of ``key``."""
        return f"{self.base_url}/{key}"

    def exists(self, key: str) -> bool:
        """Whether ``key`` is stored."""
        return bool(self.fs.exists(self._path(key)))

    def delete(self, key: str) -> None:
        """Remove ``key`` if it is stored."""
        if self.exists(key):
            self.fs.rm(self._path(key))

    def put_stream(self, stream: BinaryIO, key: str, max_bytes: int | None = None) -> StoredObject:
        """Copy ``stream`` to ``key`` block by block; the object appears only when complete.

        Raises ``TooLargeError`` (storing nothing) once more than ``max_bytes`` arrive.
        """
        final = self._path(key)
        parent = final.rsplit("/", 1)[0]
        self.fs.makedirs(parent, exist_ok=True)
        staging = f"{parent}/.upload-{uuid.uuid4().hex}"
        digest, size = hashlib.sha256(), 0
        try:
            with self.fs.open(staging, "wb") as out:
                while block := stream.read(BLOCK_SIZE):
                    size += len(block)
                    if max_bytes is not None and size > max_bytes:
                        raise TooLargeError(
                            f"the upload is larger than the limit of {max_bytes} bytes"
                        )
                    digest.update(block)
                    out.write(block)
            self.fs.mv(staging, final)
        except BaseException:
            if self.fs.exists(staging):
                self.fs.rm(staging)
            raise
        return StoredObject(url=self.url(key), size=size, sha256=digest.hexdigest())

    def local_copy(self, key: str, cache_dir: Path) -> Path:
        """A local file holding ``key``: the file itself for local storage, else a streamed copy."""
        path = self._path(key)
        if not self.fs.exists(path):
            raise MediaError(f"{self.url(key)}: no such stored object")
        if self.is_local:
            return Path(path)
        target = Path(cache_dir) / key
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}")
        try:
            with self.fs.open(path, "rb") as src, staging.open("wb") as out:
                shutil.copyfileobj(src, out, BLOCK_SIZE)
            staging.replace(target)
        finally:
            staging.unlink(missing_ok=True)
        return target
