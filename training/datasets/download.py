"""Download a MovieLens archive from GroupLens: resumable, checksum-verified, then unzipped."""

from __future__ import annotations

import hashlib
import re
import shutil
import zipfile
from pathlib import Path

import httpx
from tqdm import tqdm

from core.errors import DatasetError

GROUPLENS_URL = "https://files.grouplens.org/datasets/movielens"
#: Archives this downloader knows; each is ``<base_url>/<name>.zip`` with ``<name>.zip.md5``.
DATASETS: tuple[str, ...] = ("ml-latest-small", "ml-100k", "ml-1m", "ml-25m")
_BLOCK = 1 << 20
_HEX = re.compile(r"\b[0-9a-fA-F]{32}\b")


def download_dataset(
    name: str,
    dest: Path,
    *,
    base_url: str = GROUPLENS_URL,
    sha256: str | None = None,
    progress: bool = True,
    timeout: float = 60.0,
) -> Path:
    """Fetch ``<base_url>/<name>.zip`` into ``dest``, verify it, unzip it; return the folder.

    An interrupted download leaves ``<name>.zip.part``, which the next call resumes with an HTTP
    Range request. The archive is checked against ``sha256`` when given, otherwise against the
    MD5 that GroupLens publishes next to it (``<name>.zip.md5``). Already unzipped: no network.
    """
    if name not in DATASETS:
        raise DatasetError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    folder = dest / name
    if folder.is_dir():
        return folder
    dest.mkdir(parents=True, exist_ok=True)
    url = f"{base_url.rstrip('/')}/{name}.zip"
    archive = dest / f"{name}.zip"
    with httpx.Client(timeout=timeout, follow_redirects=True) as client:
        if not archive.is_file():
            _fetch(client, url, archive, progress=progress)
        _verify(client, url, archive, sha256)
    return _extract(archive, dest, name)


def _fetch(client: httpx.Client, url: str, archive: Path, *, progress: bool) -> None:
    """Download ``url`` to ``archive`` through ``<archive>.part``, resuming a partial one."""
    part = archive.with_name(archive.name + ".part")
    offset = part.stat().st_size if part.is_file() else 0
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    try:
        with client.stream("GET", url, headers=headers) as response:
            if response.status_code == 416 and offset:
                part.replace(archive)  # the partial file was already complete
                return
            if response.status_code not in (200, 206):
                raise DatasetError(f"could not download {url}: HTTP {response.status_code}")
            resumed = response.status_code == 206
            length = int(response.headers.get("Content-Length", 0)) or None
            start = offset if resumed else 0
            with (
                part.open("ab" if resumed else "wb") as handle,
                tqdm(
                    total=start + length if length else None,
                    initial=start,
                    unit="B",
                    unit_scale=True,
                    desc=archive.name,
                    disable=not progress,
                ) as bar,
            ):
                for block in response.iter_bytes(_BLOCK):
                    handle.write(block)
                    bar.update(len(block))
    except httpx.HTTPError as exc:
        kept = part.stat().st_size if part.is_file() else 0
        raise DatasetError(
            f"download of {url} failed ({exc}); {kept} bytes kept in {part}, run again to resume"
        ) from exc
    part.replace(archive)


def _verify(client: httpx.Client, url: str, archive: Path, sha256: str | None) -> None:
    """Check ``archive`` against ``sha256`` or the published MD5; delete it on a mismatch."""
    if sha256:
        algorithm, expected = "sha256", sha256.lower()
    else:
        algorithm, expected = "md5", _published_md5(client, url)
    digest = hashlib.new(algorithm)
    with archive.open("rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
    actual = digest.hexdigest()
    if actual != expected:
        archive.unlink()
        raise DatasetError(
            f"checksum mismatch for {archive.name}: expected {algorithm} {expected}, "
            f"got {actual}; the archive was deleted, run again to download it afresh"
        )


def _published_md5(client: httpx.Client, url: str) -> str:
    """The MD5 in ``<url>.md5`` (either ``MD5 (file) = <hex>`` or ``<hex>  file``)."""
    try:
        response = client.get(f"{url}.md5")
    except httpx.HTTPError as exc:
        raise DatasetError(f"could not fetch the checksum {url}.md5 ({exc})") from exc
    if response.status_code != 200:
        raise DatasetError(f"could not fetch the checksum {url}.md5: HTTP {response.status_code}")
    match = _HEX.search(response.text)
    if not match:
        raise DatasetError(f"{url}.md5 holds no MD5 checksum")
    return match.group(0).lower()


def _extract(archive: Path, dest: Path, name: str) -> Path:
    """Unzip ``archive`` into ``dest / name`` (atomically, refusing paths outside ``dest``)."""
    staging = dest / f".{name}.extracting"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        with zipfile.ZipFile(archive) as bundle:
            root = staging.resolve()
            for member in bundle.namelist():
                if not (root / member).resolve().is_relative_to(root):
                    raise DatasetError(f"{archive.name} holds an unsafe path {member!r}")
            bundle.extractall(staging)
    except zipfile.BadZipFile as exc:
        shutil.rmtree(staging, ignore_errors=True)
        archive.unlink()
        raise DatasetError(
            f"{archive.name} is not a valid zip archive ({exc}); it was deleted, run again"
        ) from exc
    except DatasetError:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    inner = staging / name
    (inner if inner.is_dir() else staging).replace(dest / name)
    shutil.rmtree(staging, ignore_errors=True)
    return dest / name
