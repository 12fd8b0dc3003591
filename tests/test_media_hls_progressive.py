"""A rung published chunk by chunk (EVENT playlist) equals the rung packaged whole."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import av
import pytest

from media.encode.chunks import plan_progressive_chunks
from media.encode.ladder import LADDER
from media.encode.testpattern import make_test_clip, read_frame_number
from media.encode.transcode import encode_rungs, join_chunks
from media.errors import MediaError
from media.hls.isobmff import parse_fragments, parse_init, shift_fragments
from media.hls.playlists import parse_media_playlist
from media.hls.progressive import append_chunk, finish_rung
from media.hls.rung import package_rung
from media.hls.segments import INIT_SEGMENT, LIVE_PLAYLIST

LOW = LADDER[0]


@pytest.fixture(scope="module")
def chunks(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    folder = tmp_path_factory.mktemp("progressive")
    source = make_test_clip(folder / "clip.mp4", seconds=14, width=640, height=360, fps=25)
    plan = plan_progressive_chunks(14, 25, 6.0, 30)
    assert [(c.start_s, c.end_s) for c in plan] == [(None, 6.0), (6.0, 12.0), (12.0, None)]
    parts = [
        encode_rungs(source, [(folder / f"c{c.index}.mp4", LOW)], c.start_s, c.end_s)[0]
        for c in plan
    ]
    return folder, parts


def _decoded_numbers(playlist: Path) -> list[int]:
    media = parse_media_playlist(playlist)
    body = (playlist.parent / media.map_uri).read_bytes()
    body += b"".join((playlist.parent / s.uri).read_bytes() for s in media.segments)
    with av.open(io.BytesIO(body)) as container:
        return [read_frame_number(f.to_ndarray(format="rgb24")) for f in container.decode(video=0)]


def test_appended_chunks_make_the_same_rung_as_packaging_it_whole(
    chunks: tuple[Path, list], tmp_path: Path
) -> None:
    _, parts = chunks
    whole = package_rung(join_chunks(parts, tmp_path / "joined.mp4").path, tmp_path / "whole", "w")

    out = tmp_path / "pkg"
    progress = None
    for part in parts:
        offset = part.first_frame / 25
        progress = append_chunk(progress, part.path, out, "240p", offset)
        live = parse_media_playlist(out / "240p" / LIVE_PLAYLIST)
        assert live.playlist_type == "EVENT" and not live.endlist
        assert live.target_duration == 6
        assert [s.uri for s in live.segments] == [s.uri for s in progress.segments]
    assert progress is not None and progress.chunks == 3
    rung = finish_rung(progress)
    assert parse_media_playlist(out / "240p" / LIVE_PLAYLIST).endlist
    vod = parse_media_playlist(rung.playlist)
    assert vod.playlist_type == "VOD" and vod.endlist

    assert rung.segment_starts_s == whole.segment_starts_s == [0.0, 6.0, 12.0]
    assert rung.duration_s == pytest.approx(whole.duration_s)
    assert rung.peak_bitrate == whole.peak_bitrate
    assert rung.average_bitrate == whole.average_bitrate
    assert rung.codecs == whole.codecs
    assert [s.duration_s for s in vod.segments] == pytest.approx(
        [s.duration_s for s in parse_media_playlist(whole.playlist).segments]
    )
    # one continuous timeline: decode times and fragment numbers carry on across chunks
    init = (out / "240p" / INIT_SEGMENT).read_bytes()
    tracks = parse_init(init)
    decode_times, numbers = [], []
    for segment in vod.segments:
        data = (out / "240p" / segment.uri).read_bytes()
        for fragment in parse_fragments(data, tracks):
            samples = next(iter(fragment.samples.values()))
            decode_times += [s.decode_time for s in samples]
            numbers.append(int.from_bytes(data[fragment.offset + 20 : fragment.offset + 24]))
    assert all(b - a > 0 for a, b in itertools.pairwise(decode_times))
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
    assert _decoded_numbers(rung.playlist) == list(range(14 * 25))


def test_a_chunk_out_of_order_or_of_another_configuration_is_refused(
    chunks: tuple[Path, list], tmp_path: Path
) -> None:
    folder, parts = chunks
    progress = append_chunk(None, parts[0].path, tmp_path, "240p", 0.0)
    live = (tmp_path / "240p" / LIVE_PLAYLIST).read_text()
    with pytest.raises(MediaError, match=r"starts at 12\.000 s but rung 240p ends at 6\.000 s"):
        append_chunk(progress, parts[2].path, tmp_path, "240p", 12.0)
    other = encode_rungs(folder / "clip.mp4", [(tmp_path / "360.mp4", LADDER[1])], 6.0, 12.0)[0]
    with pytest.raises(MediaError, match="init segment differs"):
        append_chunk(progress, other.path, tmp_path, "240p", 6.0)
    assert (tmp_path / "240p" / LIVE_PLAYLIST).read_text() == live, "refusals change nothing"
    assert sorted(p.name for p in (tmp_path / "240p").iterdir() if p.suffix == ".m4s") == [
        "seg_00000.m4s"
    ]


def test_shift_fragments_moves_decode_times_and_sequence_numbers(
    chunks: tuple[Path, list], tmp_path: Path
) -> None:
    _, parts = chunks
    rung = package_rung(parts[0].path, tmp_path, "x")
    tracks = parse_init((tmp_path / "x" / INIT_SEGMENT).read_bytes())
    data = (tmp_path / "x" / "seg_00000.m4s").read_bytes()
    shifted = shift_fragments(data, 1000, 7)
    before, after = parse_fragments(data, tracks), parse_fragments(shifted, tracks)
    assert len(before) == len(after) == 3  # three 2 s GOPs in a 6 s segment
    for old, new in zip(before, after, strict=True):
        a, b = next(iter(old.samples.values())), next(iter(new.samples.values()))
        assert [s.decode_time + 1000 for s in a] == [s.decode_time for s in b]
        assert [s.size for s in a] == [s.size for s in b]
    assert len(shifted) == len(data) and rung.segment_count == 1
    with pytest.raises(MediaError, match="out of"):
        shift_fragments(data, -(10**9), 0)
