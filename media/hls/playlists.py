"""Read and write the HLS playlists of a package (RFC 8216 subset: VOD, fMP4, one map)."""

from __future__ import annotations

import math
import re
import uuid
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from media.errors import MediaError

_ATTRIBUTE = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^",]*)')
#: Attributes whose values are quoted strings (RFC 8216 section 4.3.4).
_QUOTED = frozenset(
    {
        "CODECS",
        "AUDIO",
        "VIDEO",
        "SUBTITLES",
        "SUPPLEMENTAL-CODECS",
        "URI",
        "GROUP-ID",
        "LANGUAGE",
        "ASSOC-LANGUAGE",
        "NAME",
        "CHANNELS",
        "CHARACTERISTICS",
        "INSTREAM-ID",
    }
)
#: The playlist version every written playlist declares: fMP4 segments need at least 7.
PLAYLIST_VERSION = 7


class Segment(BaseModel):
    """One media segment: its URI (relative to the playlist), EXTINF duration and byte range."""

    model_config = ConfigDict(frozen=True)

    uri: str
    duration_s: float
    byte_range: tuple[int, int] | None = None  # (length, offset)


class MediaPlaylist(BaseModel):
    """A parsed media playlist."""

    version: int | None
    target_duration: int
    playlist_type: str | None
    independent_segments: bool
    map_uri: str | None
    segments: list[Segment]
    endlist: bool
    iframes_only: bool = False

    @property
    def duration_s(self) -> float:
        """Sum of the segment durations."""
        return sum(s.duration_s for s in self.segments)


class Variant(BaseModel):
    """One ``#EXT-X-STREAM-INF`` (or ``#EXT-X-I-FRAME-STREAM-INF``) entry of a master playlist."""

    uri: str
    attributes: dict[str, str]


class Rendition(BaseModel):
    """One ``#EXT-X-MEDIA`` entry of a master playlist (an alternative rendition)."""

    attributes: dict[str, str]

    @property
    def uri(self) -> str | None:
        """The rendition's media playlist, if it has its own."""
        return self.attributes.get("URI")


class MasterPlaylist(BaseModel):
    """A parsed master (multivariant) playlist."""

    version: int | None
    independent_segments: bool
    variants: list[Variant]
    renditions: list[Rendition] = []
    iframe_streams: list[Variant] = []


def parse_attributes(text: str) -> dict[str, str]:
    """An HLS attribute list as a dict; quoted values lose their quotes."""
    return {key: value.strip('"') for key, value in _ATTRIBUTE.findall(text)}


def format_attributes(attributes: dict[str, str]) -> str:
    """An HLS attribute list in the given order, quoting the attributes that take strings."""
    return ",".join(
        f'{key}="{value}"' if key in _QUOTED else f"{key}={value}"
        for key, value in attributes.items()
    )


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


def _byte_range(value: str, previous_end: int | None) -> tuple[int, int]:
    """``(length, offset)`` of an ``#EXT-X-BYTERANGE:<n>[@<o>]`` value."""
    length, _, offset = value.partition("@")
    if not offset and previous_end is None:
        raise ValueError("a byte range without an offset must follow one of the same resource")
    return int(length), int(offset) if offset else previous_end or 0


def parse_media_playlist(path: Path) -> MediaPlaylist:
    """Parse a media playlist; raise ``MediaError`` if it is malformed."""
    version = target = playlist_type = map_uri = None
    independent = endlist = iframes = False
    segments: list[Segment] = []
    pending: float | None = None
    pending_range: tuple[int, int] | None = None
    range_end: dict[str, int] = {}
    last_uri: str | None = None
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
            elif tag == "#EXT-X-I-FRAMES-ONLY":
                iframes = True
            elif tag == "#EXT-X-MAP":
                map_uri = parse_attributes(value).get("URI")
            elif tag == "#EXTINF":
                pending = float(value.split(",", 1)[0])
            elif tag == "#EXT-X-BYTERANGE":
                previous = range_end.get(last_uri) if last_uri is not None else None
                pending_range = _byte_range(value, previous)
            elif tag == "#EXT-X-ENDLIST":
                endlist = True
            elif not line.startswith("#"):
                if pending is None:
                    raise MediaError(f"{path}:{number}: segment {line!r} has no #EXTINF before it")
                segments.append(Segment(uri=line, duration_s=pending, byte_range=pending_range))
                if pending_range is not None:
                    range_end[line] = pending_range[0] + pending_range[1]
                last_uri, pending, pending_range = line, None, None
        except ValueError as exc:
            raise MediaError(f"{path}:{number}: malformed line {line!r} ({exc})") from exc
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
        iframes_only=iframes,
    )


def parse_master_playlist(path: Path) -> MasterPlaylist:
    """Parse a master playlist; raise ``MediaError`` if it is malformed."""
    version = None
    independent = False
    variants: list[Variant] = []
    renditions: list[Rendition] = []
    iframe_streams: list[Variant] = []
    pending: dict[str, str] | None = None
    for number, line in enumerate(_lines(path)[1:], start=2):
        tag, _, value = line.partition(":")
        if tag == "#EXT-X-VERSION":
            version = int(value) if value.isdigit() else None
        elif tag == "#EXT-X-INDEPENDENT-SEGMENTS":
            independent = True
        elif tag == "#EXT-X-STREAM-INF":
            pending = parse_attributes(value)
        elif tag == "#EXT-X-MEDIA":
            renditions.append(Rendition(attributes=parse_attributes(value)))
        elif tag == "#EXT-X-I-FRAME-STREAM-INF":
            attributes = parse_attributes(value)
            if "URI" not in attributes:
                raise MediaError(f"{path}:{number}: #EXT-X-I-FRAME-STREAM-INF has no URI")
            iframe_streams.append(Variant(uri=attributes["URI"], attributes=attributes))
        elif not line.startswith("#"):
            if pending is None:
                raise MediaError(
                    f"{path}:{number}: URI {line!r} has no #EXT-X-STREAM-INF before it"
                )
            variants.append(Variant(uri=line, attributes=pending))
            pending = None
    if not variants:
        raise MediaError(f"{path}: master playlist lists no variant streams")
    return MasterPlaylist(
        version=version,
        independent_segments=independent,
        variants=variants,
        renditions=renditions,
        iframe_streams=iframe_streams,
    )


def format_master_playlist(
    variants: list[Variant],
    renditions: list[Rendition] | None = None,
    iframe_streams: list[Variant] | None = None,
) -> str:
    """The text of a master playlist: ``#EXT-X-MEDIA`` renditions, variants, I-frame streams."""
    lines = ["#EXTM3U", f"#EXT-X-VERSION:{PLAYLIST_VERSION}", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for rendition in renditions or []:
        lines.append(f"#EXT-X-MEDIA:{format_attributes(rendition.attributes)}")
    for variant in variants:
        lines += [f"#EXT-X-STREAM-INF:{format_attributes(variant.attributes)}", variant.uri]
    for stream in iframe_streams or []:
        attributes = {k: v for k, v in stream.attributes.items() if k != "URI"}
        attributes["URI"] = stream.uri
        lines.append(f"#EXT-X-I-FRAME-STREAM-INF:{format_attributes(attributes)}")
    return "\n".join(lines) + "\n"


def target_duration(durations: list[float]) -> int:
    """The smallest ``#EXT-X-TARGETDURATION`` that every EXTINF, rounded half up, fits under."""
    return max((math.floor(d + 0.5) for d in durations), default=0) or 1


def format_media_playlist(
    segments: list[Segment],
    map_uri: str,
    iframes_only: bool = False,
    *,
    playlist_type: str = "VOD",
    endlist: bool = True,
    target: int | None = None,
) -> str:
    """The text of an fMP4 media playlist (an I-frame playlist with ``iframes_only``).

    ``playlist_type`` VOD (complete, with ``#EXT-X-ENDLIST``) or EVENT (segments are only ever
    appended; ``endlist`` False while more will come; it starts players at the beginning with
    ``#EXT-X-START``). ``target`` fixes ``#EXT-X-TARGETDURATION`` (an EVENT playlist must keep
    it); by default it is computed from the segments.
    """
    if playlist_type not in ("VOD", "EVENT"):
        raise ValueError(f"playlist type must be VOD or EVENT, not {playlist_type!r}")
    if playlist_type == "VOD" and not endlist:
        raise ValueError("a VOD playlist is complete: it needs #EXT-X-ENDLIST")
    computed = target_duration([s.duration_s for s in segments])
    if target is not None and target < computed:
        raise ValueError(f"target duration {target} is below the longest segment ({computed})")
    lines = [
        "#EXTM3U",
        f"#EXT-X-VERSION:{PLAYLIST_VERSION}",
        f"#EXT-X-TARGETDURATION:{target or computed}",
        "#EXT-X-MEDIA-SEQUENCE:0",
        f"#EXT-X-PLAYLIST-TYPE:{playlist_type}",
    ]
    if playlist_type == "EVENT":
        lines.append("#EXT-X-START:TIME-OFFSET=0")
    lines.append("#EXT-X-I-FRAMES-ONLY" if iframes_only else "#EXT-X-INDEPENDENT-SEGMENTS")
    lines.append(f'#EXT-X-MAP:URI="{map_uri}"')
    for segment in segments:
        lines.append(f"#EXTINF:{segment.duration_s:.6f},")
        if segment.byte_range is not None:
            lines.append(f"#EXT-X-BYTERANGE:{segment.byte_range[0]}@{segment.byte_range[1]}")
        lines.append(segment.uri)
    if endlist:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def write_atomically(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary sibling and an atomic rename."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
