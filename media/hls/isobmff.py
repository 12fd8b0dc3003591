"""Read ISO BMFF (MP4) boxes: tracks of an init segment, samples of movie fragments."""

from __future__ import annotations

import io
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from media.errors import MediaError

_SYNC_MASK = 0x00010000  # sample_is_non_sync_sample


@dataclass(frozen=True)
class Box:
    """One box: its type, where it starts, its total size and the size of its header."""

    type: str
    offset: int
    size: int
    header: int

    @property
    def end(self) -> int:
        """Offset just past the box."""
        return self.offset + self.size

    @property
    def body(self) -> int:
        """Offset of the box's payload."""
        return self.offset + self.header


def iter_boxes(data: bytes, start: int = 0, end: int | None = None) -> Iterator[Box]:
    """The boxes laid end to end in ``data[start:end]``; ``MediaError`` on a corrupt size."""
    end = len(data) if end is None else end
    offset = start
    while offset + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, offset)
        header = 8
        if size == 1:
            if offset + 16 > end:
                raise MediaError(f"truncated 64-bit box header at byte {offset}")
            (size,) = struct.unpack_from(">Q", data, offset + 8)
            header = 16
        elif size == 0:
            size = end - offset
        if size < header or offset + size > end:
            raise MediaError(
                f"corrupt box {kind.decode('latin-1')!r} at byte {offset}: size {size} "
                f"runs past the end ({end})"
            )
        yield Box(kind.decode("latin-1"), offset, size, header)
        offset += size
    if offset != end:
        raise MediaError(f"{end - offset} stray bytes after the last box at byte {offset}")


def _child(data: bytes, box: Box, kind: str) -> Box | None:
    """The first child of ``box`` of type ``kind``."""
    return next((b for b in iter_boxes(data, box.body, box.end) if b.type == kind), None)


def _children(data: bytes, box: Box, kind: str) -> list[Box]:
    """All children of ``box`` of type ``kind``."""
    return [b for b in iter_boxes(data, box.body, box.end) if b.type == kind]


def _path(data: bytes, box: Box, *kinds: str) -> Box | None:
    """The box reached from ``box`` through first children of the given types."""
    current: Box | None = box
    for kind in kinds:
        if current is None:
            return None
        current = _child(data, current, kind)
    return current


@dataclass(frozen=True)
class Track:
    """A track of an init segment (``moov``) and its fragment defaults (``trex``)."""

    track_id: int
    handler: str
    timescale: int
    sample_entry: str
    edit_media_time: int = 0
    default_duration: int = 0
    default_size: int = 0
    default_flags: int = 0


def parse_init(data: bytes) -> dict[int, Track]:
    """The tracks of an init segment (``ftyp`` + ``moov``) by track id."""
    moov = next((b for b in iter_boxes(data) if b.type == "moov"), None)
    if moov is None:
        raise MediaError("the init segment has no moov box")
    defaults: dict[int, tuple[int, int, int]] = {}
    mvex = _child(data, moov, "mvex")
    if mvex is not None:
        for trex in _children(data, mvex, "trex"):
            track_id, _, duration, size, flags = struct.unpack_from(">5I", data, trex.body + 4)
            defaults[track_id] = (duration, size, flags)
    tracks: dict[int, Track] = {}
    for trak in _children(data, moov, "trak"):
        tkhd = _child(data, trak, "tkhd")
        mdhd = _path(data, trak, "mdia", "mdhd")
        hdlr = _path(data, trak, "mdia", "hdlr")
        stsd = _path(data, trak, "mdia", "minf", "stbl", "stsd")
        if tkhd is None or mdhd is None or hdlr is None or stsd is None:
            raise MediaError("a track of the init segment lacks tkhd, mdhd, hdlr or stsd")
        track_id = struct.unpack_from(">I", data, tkhd.body + (20 if data[tkhd.body] else 12))[0]
        timescale = struct.unpack_from(">I", data, mdhd.body + (20 if data[mdhd.body] else 12))[0]
        handler = data[hdlr.body + 8 : hdlr.body + 12].decode("latin-1")
        entry = data[stsd.body + 12 : stsd.body + 16].decode("latin-1")
        media_time = 0
        elst = _path(data, trak, "edts", "elst")
        if elst is not None and struct.unpack_from(">I", data, elst.body + 4)[0]:
            if data[elst.body]:
                media_time = struct.unpack_from(">q", data, elst.body + 16)[0]
            else:
                media_time = struct.unpack_from(">i", data, elst.body + 12)[0]
            media_time = max(media_time, 0)
        duration, size, flags = defaults.get(track_id, (0, 0, 0))
        tracks[track_id] = Track(
            track_id, handler, timescale, entry, media_time, duration, size, flags
        )
    if not tracks:
        raise MediaError("the init segment describes no tracks")
    return tracks


@dataclass(frozen=True)
class Sample:
    """One sample of a fragment: timing in track ticks and its bytes' place in the file."""

    decode_time: int
    duration: int
    composition_offset: int
    offset: int
    size: int
    sync: bool

    @property
    def presentation_time(self) -> int:
        """Presentation time in track ticks (before any edit list)."""
        return self.decode_time + self.composition_offset


@dataclass
class Fragment:
    """A ``moof`` + ``mdat`` pair and the samples it carries, per track."""

    offset: int
    size: int
    samples: dict[int, list[Sample]] = field(default_factory=dict)

    @property
    def end(self) -> int:
        """Offset just past the fragment's ``mdat``."""
        return self.offset + self.size


def scan_boxes(handle: BinaryIO) -> list[Box]:
    """The top-level boxes of an open binary file, read by seeking past each payload."""
    size = handle.seek(0, os.SEEK_END)
    boxes: list[Box] = []
    offset = 0
    while offset + 8 <= size:
        handle.seek(offset)
        head = handle.read(16)
        length, kind = struct.unpack_from(">I4s", head)
        header = 8
        if length == 1:
            if len(head) < 16:
                raise MediaError(f"truncated 64-bit box header at byte {offset}")
            (length,) = struct.unpack_from(">Q", head, 8)
            header = 16
        elif length == 0:
            length = size - offset
        if length < header or offset + length > size:
            raise MediaError(
                f"corrupt box {kind.decode('latin-1')!r} at byte {offset}: size {length} "
                f"runs past the end of the file ({size} bytes)"
            )
        boxes.append(Box(kind.decode("latin-1"), offset, length, header))
        offset += length
    if offset != size:
        raise MediaError(f"{size - offset} stray bytes after the last box at byte {offset}")
    return boxes


def parse_fragments(data: bytes | BinaryIO, tracks: dict[int, Track]) -> list[Fragment]:
    """Every ``moof`` + ``mdat`` of a segment or fragmented file (bytes or an open binary
    file, read one ``moof`` at a time) with its samples; sample offsets are file offsets."""
    handle = io.BytesIO(data) if isinstance(data, bytes | bytearray) else data
    fragments: list[Fragment] = []
    pending: Fragment | None = None
    for box in scan_boxes(handle):
        if box.type == "moof":
            handle.seek(box.offset)
            moof = handle.read(box.size)
            local = Box(box.type, 0, box.size, box.header)
            pending = Fragment(box.offset, box.size, _parse_moof(moof, local, tracks, box.offset))
        elif box.type == "mdat" and pending is not None:
            pending.size = box.end - pending.offset
            for samples in pending.samples.values():
                for sample in samples:
                    if not box.body <= sample.offset <= sample.offset + sample.size <= box.end:
                        raise MediaError(
                            f"a sample at byte {sample.offset} lies outside the mdat at byte "
                            f"{box.offset}"
                        )
            fragments.append(pending)
            pending = None
    return fragments


def _parse_moof(
    data: bytes, moof: Box, tracks: dict[int, Track], file_offset: int
) -> dict[int, list[Sample]]:
    """Samples of each ``traf`` of a ``moof`` read into ``data`` from ``file_offset``."""
    result: dict[int, list[Sample]] = {}
    next_base = file_offset
    for traf in _children(data, moof, "traf"):
        tfhd = _child(data, traf, "tfhd")
        if tfhd is None:
            raise MediaError(f"a traf at byte {file_offset + traf.offset} has no tfhd")
        flags = int.from_bytes(data[tfhd.body + 1 : tfhd.body + 4], "big")
        (track_id,) = struct.unpack_from(">I", data, tfhd.body + 4)
        track = tracks.get(track_id)
        if track is None:
            raise MediaError(f"a fragment refers to track {track_id}, absent from the init segment")
        position = tfhd.body + 8
        base = next_base
        if flags & 0x1:
            (base,) = struct.unpack_from(">Q", data, position)
            position += 8
        elif flags & 0x20000:
            base = file_offset
        if flags & 0x2:
            position += 4
        duration, size, sample_flags = (
            track.default_duration,
            track.default_size,
            track.default_flags,
        )
        for bit, _name in ((0x8, "duration"), (0x10, "size"), (0x20, "flags")):
            if flags & bit:
                (value,) = struct.unpack_from(">I", data, position)
                position += 4
                if bit == 0x8:
                    duration = value
                elif bit == 0x10:
                    size = value
                else:
                    sample_flags = value
        tfdt = _child(data, traf, "tfdt")
        decode_time = 0
        if tfdt is not None:
            fmt = ">Q" if data[tfdt.body] else ">I"
            (decode_time,) = struct.unpack_from(fmt, data, tfdt.body + 4)
        samples = result.setdefault(track_id, [])
        for trun in _children(data, traf, "trun"):
            offset, decode_time = _parse_trun(
                data, trun, base, decode_time, duration, size, sample_flags, samples
            )
            next_base = offset
    return result


def _parse_trun(
    data: bytes,
    trun: Box,
    base: int,
    decode_time: int,
    default_duration: int,
    default_size: int,
    default_flags: int,
    samples: list[Sample],
) -> tuple[int, int]:
    """Append the samples of one ``trun``; return the data offset and decode time after them."""
    version = data[trun.body]
    flags = int.from_bytes(data[trun.body + 1 : trun.body + 4], "big")
    (count,) = struct.unpack_from(">I", data, trun.body + 4)
    position = trun.body + 8
    offset = base
    if flags & 0x1:
        (data_offset,) = struct.unpack_from(">i", data, position)
        offset = base + data_offset
        position += 4
    first_flags = None
    if flags & 0x4:
        (first_flags,) = struct.unpack_from(">I", data, position)
        position += 4
    for index in range(count):
        duration, size, sample_flags, cto = default_duration, default_size, default_flags, 0
        if flags & 0x100:
            (duration,) = struct.unpack_from(">I", data, position)
            position += 4
        if flags & 0x200:
            (size,) = struct.unpack_from(">I", data, position)
            position += 4
        if flags & 0x400:
            (sample_flags,) = struct.unpack_from(">I", data, position)
            position += 4
        elif index == 0 and first_flags is not None:
            sample_flags = first_flags
        if flags & 0x800:
            (cto,) = struct.unpack_from(">i" if version else ">I", data, position)
            position += 4
        if position > trun.end:
            raise MediaError(f"the trun at byte {trun.offset} is shorter than its sample count")
        samples.append(
            Sample(decode_time, duration, cto, offset, size, not sample_flags & _SYNC_MASK)
        )
        offset += size
        decode_time += duration
    return offset, decode_time


def shift_fragments(data: bytes, decode_shift: int, sequence_shift: int) -> bytes:
    """``data`` (whole ``moof`` + ``mdat`` boxes) with every ``tfdt`` base media decode time
    moved by ``decode_shift`` ticks and every ``mfhd`` sequence number by ``sequence_shift``.

    Used to append separately packaged chunks of one rung to a single continuous timeline.
    Raises ``MediaError`` when a value would leave its field's range.
    """
    out = bytearray(data)
    for moof in (b for b in iter_boxes(data) if b.type == "moof"):
        mfhd = _child(data, moof, "mfhd")
        if mfhd is None:
            raise MediaError(f"the moof at byte {moof.offset} has no mfhd")
        (sequence,) = struct.unpack_from(">I", data, mfhd.body + 4)
        if not 0 <= sequence + sequence_shift < 1 << 32:
            raise MediaError(f"fragment sequence number {sequence + sequence_shift} out of range")
        struct.pack_into(">I", out, mfhd.body + 4, sequence + sequence_shift)
        for traf in _children(data, moof, "traf"):
            tfdt = _child(data, traf, "tfdt")
            if tfdt is None:
                raise MediaError(f"a traf at byte {traf.offset} has no tfdt to shift")
            fmt = ">Q" if data[tfdt.body] else ">I"
            (time,) = struct.unpack_from(fmt, data, tfdt.body + 4)
            if not 0 <= time + decode_shift < 1 << (64 if fmt == ">Q" else 32):
                raise MediaError(f"decode time {time + decode_shift} out of the tfdt's range")
            struct.pack_into(fmt, out, tfdt.body + 4, time + decode_shift)
    return bytes(out)
