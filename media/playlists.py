"""Read and write the HLS playlists of a package (RFC 8216 subset: VOD, fMP4, one map)."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from media.errors import MediaError

_ATTRIBUTE = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^",]*)')
#: Attributes whose values are quoted strings in ``#EXT-X-STREAM-INF``.
_QUOTED = frozenset({"CODECS", "AUDIO", "VIDEO", "SUBTITLES", "SUPPLEMENTAL-CODECS"})


class Segment(BaseModel):
    """One media segment: its URI (relative to the playlist) and EXTINF duration."""

    model_config = ConfigDict(frozen=True)

    uri: str
    duration_s: float


class MediaPlaylist(BaseModel):
    """A parsed media playlist."""

    version: int | None
    target_duration: int
    playlist_type: str | None
    independent_segments: bool
    map_uri: str | None
    segments: list[Segment]
    endlist: bool

    @property
    def duration_s(self) -> float:
        """Sum of the segment durations."""
        return sum(s.duration_s for s in self.segments)


class Variant(BaseModel):
    """One ``#EXT-X-STREAM-INF`` entry of a master playlist."""

    uri: str
    attributes: dict[str, str]


class MasterPlaylist(BaseModel):
    """A parsed master (multivariant) playlist."""

    version: int | None
    independent_segments: bool
    variants: list[Variant]


def parse_attributes(text: str) -> dict[str, str]:
    """An HLS attribute list as a dict; quoted values lose their quotes."""
    return {key: value.strip('"') for key, value in _ATTRIBUTE.findall(text)}


def _lines(path: Path) -> list[str]:
    """The non-blank lines of a playlist, checked to start with ``#EXTM3U``."""
    try:
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    except (OSError, UnicodeDecodeError) as exc:
        raise MediaError(f"{path}: cannot read playlist ({exc})") from exc
    lines = [line for line in lines if line]
    if not lines or lines[0] != "#EXTM3U":
        raise MediaError(f"{path}: not an HLS playlist (first line is not #EXTM3U)")
    return lines


def parse_media_playlist(path: Path) -> MediaPlaylist:
    """Parse a media playlist; raise ``MediaError`` if it is malformed."""
    version = target = playlist_type = map_uri = None
    independent = endlist = False
    segments: list[Segment] = []
    pending: float | None = None
    for number, line in enumerate(_lines(path)[1:], start=2):
        tag, _, value = line.partition(":")
        try:
            if tag == "#EXT-X-VERSION":
                version = int(value)
            elif tag == "#EXT-X-TARGETDURATION":
                target = int(value)
            elif tag == "#EXT-X-PLAYLIST-TYPE":
                playlist_type = value
            elif tag == "#EXT-X-INDEPENDENT-SEGMENTS":
                independent = True
            elif tag == "#EXT-X-MAP":
                map_uri = parse_attributes(value).get("URI")
            elif tag == "#EXTINF":
                pending = float(value.split(",", 1)[0])
            elif tag == "#EXT-X-ENDLIST":
                endlist = True
            elif not line.startswith("#"):
                if pending is None:
                    raise MediaError(f"{path}:{number}: segment {line!r} has no #EXTINF before it")
                segments.append(Segment(uri=line, duration_s=pending))
                pending = None
        except ValueError as exc:
            raise MediaError(f"{path}:{number}: malformed line {line!r}") from exc
    if target is None:
        raise MediaError(f"{path}: media playlist lacks #EXT-X-TARGETDURATION")
    return MediaPlaylist(
        version=version,
        target_duration=target,
        playlist_type=playlist_type,
        independent_segments=independent,
        map_uri=map_uri,
        segments=segments,
        endlist=endlist,
    )


def parse_master_playlist(path: Path) -> MasterPlaylist:
    """Parse a master playlist; raise ``MediaError`` if it is malformed."""
    version = None
    independent = False
    variants: list[Variant] = []
    pending: dict[str, str] | None = None
    for number, line in enumerate(_lines(path)[1:], start=2):
        tag, _, value = line.partition(":")
        if tag == "#EXT-X-VERSION":
            version = int(value) if value.isdigit() else None
        elif tag == "#EXT-X-INDEPENDENT-SEGMENTS":
            independent = True
        elif tag == "#EXT-X-STREAM-INF":
            pending = parse_attributes(value)
        elif not line.startswith("#"):
            if pending is None:
                raise MediaError(
                    f"{path}:{number}: URI {line!r} has no #EXT-X-STREAM-INF before it"
                )
            variants.append(Variant(uri=line, attributes=pending))
            pending = None
    if not variants:
        raise MediaError(f"{path}: master playlist lists no variant streams")
    return MasterPlaylist(version=version, independent_segments=independent, variants=variants)


def format_master_playlist(variants: list[Variant]) -> str:
    """The text of a master playlist listing ``variants``, attributes in the given order."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for variant in variants:
        attributes = ",".join(
            f'{key}="{value}"' if key in _QUOTED else f"{key}={value}"
            for key, value in variant.attributes.items()
        )
        lines += [f"#EXT-X-STREAM-INF:{attributes}", variant.uri]
    return "\n".join(lines) + "\n"
