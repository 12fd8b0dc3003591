"""download_dataset against a real local HTTP server (no internet): resume, checksums, unzip."""

from __future__ import annotations

import hashlib
import io
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from core.errors import DatasetError
from training.datasets.download import download_dataset

NAME = "ml-latest-small"


@dataclass
class Site:
    """What the local server serves, and the requests it saw."""

    files: dict[str, bytes] = field(default_factory=dict)
    ranges: bool = True
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    url: str = ""


def make_zip(extra: dict[str, str] | None = None) -> bytes:
    """A small archive shaped like GroupLens's (one top folder), padded to several blocks."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as bundle:
        bundle.writestr(f"{NAME}/ratings.csv", "userId,movieId,rating,timestamp\n1,1,4.0,1\n")
        bundle.writestr(f"{NAME}/README.txt", "x" * 300_000)
        for name, text in (extra or {}).items():
            bundle.writestr(name, text)
    return buffer.getvalue()


@pytest.fixture
def site() -> Iterator[Site]:
    state = Site()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append((self.path, self.headers.get("Range")))
            body = state.files.get(self.path)
            if body is None:
                self.send_error(404)
                return
            start = 0
            header = self.headers.get("Range")
            if state.ranges and header:
                start = int(header.removeprefix("bytes=").split("-")[0])
                if start >= len(body):
                    self.send_response(416)
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            else:
                self.send_response(200)
            self.send_header("Content-Length", str(len(body) - start))
            self.end_headers()
            self.wfile.write(body[start:])

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    # a short poll interval: shutdown() otherwise waits up to 0.5 s for the loop to notice
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/movielens"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def publish(site: Site, archive: bytes, md5: str | None = None) -> None:
    site.files[f"/movielens/{NAME}.zip"] = archive
    digest = md5 or hashlib.md5(archive).hexdigest()
    site.files[f"/movielens/{NAME}.zip.md5"] = f"MD5 ({NAME}.zip) = {digest}\n".encode()


def test_download_verifies_md5_and_unzips(tmp_path: Path, site: Site) -> None:
    publish(site, make_zip())
    folder = download_dataset(NAME, tmp_path, base_url=site.url, progress=False)
    assert folder == tmp_path / NAME
    assert (folder / "ratings.csv").read_text().startswith("userId,movieId")
    assert not (tmp_path / f"{NAME}.zip.part").exists()
    assert [path for path, _ in site.requests] == [
        f"/movielens/{NAME}.zip",
        f"/movielens/{NAME}.zip.md5",
    ]
    site.requests.clear()
    assert download_dataset(NAME, tmp_path, base_url=site.url, progress=False) == folder
    assert site.requests == []  # already there: no network


@pytest.mark.parametrize("ranges", [True, False])
def test_download_resumes_a_partial_file(tmp_path: Path, site: Site, ranges: bool) -> None:
    archive = make_zip()
    publish(site, archive)
    site.ranges = ranges
    half = len(archive) // 2
    (tmp_path / f"{NAME}.zip.part").write_bytes(archive[:half])
    folder = download_dataset(NAME, tmp_path, base_url=site.url, progress=False)
    assert site.requests[0] == (f"/movielens/{NAME}.zip", f"bytes={half}-")
    assert (tmp_path / f"{NAME}.zip").read_bytes() == archive
    assert (folder / "README.txt").stat().st_size == 300_000


def test_complete_part_file_is_finished_without_download(tmp_path: Path, site: Site) -> None:
    archive = make_zip()
    publish(site, archive)
    (tmp_path / f"{NAME}.zip.part").write_bytes(archive)
    download_dataset(NAME, tmp_path, base_url=site.url, progress=False)
    assert (tmp_path / f"{NAME}.zip").read_bytes() == archive


def test_checksum_mismatch_is_an_error_and_deletes_the_archive(tmp_path: Path, site: Site) -> None:
    publish(site, make_zip(), md5="0" * 32)
    with pytest.raises(
        DatasetError, match=rf"checksum mismatch for {NAME}.zip: expected md5 0{{32}}, got"
    ):
        download_dataset(NAME, tmp_path, base_url=site.url, progress=False)
    assert not (tmp_path / f"{NAME}.zip").exists()
    assert not (tmp_path / NAME).exists()


def test_injected_sha256_is_checked_instead_of_md5(tmp_path: Path, site: Site) -> None:
    archive = make_zip()
    publish(site, archive, md5="0" * 32)  # a wrong MD5 that must not be consulted
    good = hashlib.sha256(archive).hexdigest()
    download_dataset(NAME, tmp_path, base_url=site.url, sha256=good, progress=False)
    assert all(not path.endswith(".md5") for path, _ in site.requests)
    with pytest.raises(DatasetError, match=f"expected sha256 {'f' * 64}, got {good}"):
        download_dataset(NAME, tmp_path / "again", base_url=site.url, sha256="f" * 64)


def test_unknown_name_missing_archive_and_unsafe_zip(tmp_path: Path, site: Site) -> None:
    with pytest.raises(DatasetError, match=r"unknown dataset 'ml-99m'; choose one of ml-latest"):
        download_dataset("ml-99m", tmp_path, base_url=site.url)
    with pytest.raises(DatasetError, match=rf"could not download .*/{NAME}.zip: HTTP 404"):
        download_dataset(NAME, tmp_path, base_url=site.url, progress=False)
    publish(site, make_zip({"../evil.txt": "boom"}))
    with pytest.raises(DatasetError, match=r"holds an unsafe path '../evil.txt'"):
        download_dataset(NAME, tmp_path, base_url=site.url, progress=False)
    assert not (tmp_path.parent / "evil.txt").exists()
