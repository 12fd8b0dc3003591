"""The tus 1.0 resumable upload protocol's rules: versions, headers, metadata and offsets.

Pure functions over header values; the routes turn ``TusError`` into the answer it names.
See https://tus.io/protocols/resumable-upload (core protocol, creation, termination,
expiration and checksum extensions).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from datetime import UTC, datetime
from email.utils import format_datetime

#: The protocol version this server speaks.
TUS_VERSION = "1.0.0"
#: The extensions this server supports.
TUS_EXTENSIONS = ("creation", "termination", "expiration", "checksum")
#: The checksum algorithms a PATCH may name in ``Upload-Checksum`` (hashlib names).
CHECKSUM_ALGORITHMS = ("sha1", "sha256", "md5")
#: The status of a PATCH whose body does not match its ``Upload-Checksum``.
CHECKSUM_MISMATCH = 460
#: The content type of a PATCH body.
OFFSET_CONTENT_TYPE = "application/offset+octet-stream"
#: Most metadata pairs, key length and encoded value length accepted.
MAX_METADATA_PAIRS, MAX_METADATA_KEY, MAX_METADATA_VALUE = 32, 64, 8192
_KEY = re.compile(r"^[!#-+\--~]+$")  # printable ASCII without space and comma
_INTEGER = re.compile(r"^[0-9]{1,19}$")


class TusError(Exception):
    """A request the protocol refuses: ``status`` and a message for the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def base_headers() -> dict[str, str]:
    """Headers every tus answer carries."""
    return {"Tus-Resumable": TUS_VERSION}


def options_headers(max_size: int) -> dict[str, str]:
    """The server's capabilities, answered to ``OPTIONS``."""
    return {
        **base_headers(),
        "Tus-Version": TUS_VERSION,
        "Tus-Extension": ",".join(TUS_EXTENSIONS),
        "Tus-Max-Size": str(max_size),
        "Tus-Checksum-Algorithm": ",".join(CHECKSUM_ALGORITHMS),
    }


def check_version(value: str | None) -> None:
    """Refuse (412) a request without ``Tus-Resumable: 1.0.0``."""
    if value is None:
        raise TusError(412, "the Tus-Resumable header is missing; this server speaks tus 1.0.0")
    if value.strip() != TUS_VERSION:
        raise TusError(412, f"unsupported Tus-Resumable {value!r}; this server speaks 1.0.0")


def parse_integer(name: str, value: str | None) -> int:
    """A non-negative integer header (400 when missing or malformed)."""
    if value is None:
        raise TusError(400, f"the {name} header is required")
    value = value.strip()
    if not _INTEGER.match(value):
        raise TusError(400, f"{name} must be a non-negative integer, got {value[:40]!r}")
    return int(value)


def parse_length(value: str | None, deferred: str | None, max_size: int) -> int:
    """The ``Upload-Length`` of a new upload: required (deferred lengths are not supported),
    at most ``max_size`` (413)."""
    if value is None and deferred is not None:
        raise TusError(400, "Upload-Defer-Length is not supported; send Upload-Length")
    length = parse_integer("Upload-Length", value)
    if length > max_size:
        raise TusError(413, f"Upload-Length {length} is over the limit of {max_size} bytes")
    return length


def parse_metadata(value: str | None) -> dict[str, str]:
    """``Upload-Metadata``: comma-separated ``key base64value`` pairs (the value may be
    absent), decoded as UTF-8; 400 for malformed, duplicate or oversized pairs."""
    if value is None or not value.strip():
        return {}
    pairs = value.split(",")
    if len(pairs) > MAX_METADATA_PAIRS:
        raise TusError(400, f"Upload-Metadata has more than {MAX_METADATA_PAIRS} pairs")
    metadata: dict[str, str] = {}
    for pair in pairs:
        parts = pair.strip().split(" ")
        if len(parts) > 2 or not parts[0]:
            raise TusError(400, f"malformed Upload-Metadata pair {pair.strip()[:40]!r}")
        key = parts[0]
        if len(key) > MAX_METADATA_KEY or not _KEY.match(key):
            raise TusError(400, f"malformed Upload-Metadata key {key[:40]!r}")
        if key in metadata:
            raise TusError(400, f"Upload-Metadata key {key!r} appears twice")
        encoded = parts[1] if len(parts) == 2 else ""
        if len(encoded) > MAX_METADATA_VALUE:
            raise TusError(400, f"Upload-Metadata value of {key!r} is too long")
        try:
            metadata[key] = base64.b64decode(encoded, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise TusError(400, f"Upload-Metadata value of {key!r} is not base64 UTF-8") from None
    return metadata


def parse_checksum(value: str | None) -> tuple[str, bytes] | None:
    """``Upload-Checksum``: an algorithm of ``CHECKSUM_ALGORITHMS`` and the base64 digest of
    the PATCH body (None without the header); 400 for an unknown algorithm or a malformed
    digest."""
    if value is None:
        return None
    parts = value.strip().split(" ")
    if len(parts) != 2:
        raise TusError(400, "Upload-Checksum must be '<algorithm> <base64 digest>'")
    algorithm, encoded = parts[0].lower(), parts[1]
    if algorithm not in CHECKSUM_ALGORITHMS:
        raise TusError(
            400,
            f"unsupported checksum algorithm {algorithm[:20]!r}; use one of "
            f"{', '.join(CHECKSUM_ALGORITHMS)}",
        )
    try:
        digest = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise TusError(400, "the Upload-Checksum digest is not base64") from None
    if len(digest) != hashlib.new(algorithm).digest_size:
        raise TusError(400, f"the Upload-Checksum digest is not a {algorithm} digest")
    return algorithm, digest


def check_content_type(value: str | None) -> None:
    """Refuse (415) a PATCH body that is not ``application/offset+octet-stream``."""
    media_type = (value or "").split(";")[0].strip().lower()
    if media_type != OFFSET_CONTENT_TYPE:
        raise TusError(415, f"a PATCH body must be {OFFSET_CONTENT_TYPE}, got {value!r}")


def check_patch(claimed: int, stored: int, length: int, content_length: int | None) -> None:
    """Refuse a PATCH at an ``Upload-Offset`` other than the stored one (409), or one whose
    declared body would go past ``Upload-Length`` (413)."""
    if claimed != stored:
        raise TusError(409, f"Upload-Offset {claimed} does not match the upload's offset {stored}")
    if content_length is not None and stored + content_length > length:
        raise TusError(
            413,
            f"{content_length} bytes at offset {stored} would go past Upload-Length {length}",
        )


def expires_header(moment: datetime) -> str:
    """``Upload-Expires`` in the RFC 9110 date format (a naive ``moment`` is UTC)."""
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return format_datetime(moment, usegmt=True)
