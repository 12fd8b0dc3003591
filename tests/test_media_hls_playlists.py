"""HLS playlist reading and writing: attributes, byte ranges, target durations, errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from media.errors import MediaError
from media.hls.playlists import (
    Rendition,
    Segment,
    Variant,
    format_attributes,
    format_master_playlist,
    format_media_playlist,
    parse_master_playlist,
    parse_media_playlist,
    target_duration,
    write_atomically,
)


def test_media_playlist_round_trip_with_byte_ranges(tmp_path: Path) -> None:
    segments = [
        Segment(uri="seg_00000.m4s", duration_s=2.0, byte_range=(300, 0)),
        Segment(uri="seg_00000.m4s", duration_s=2.0, byte_range=(280, 5000)),
        Segment(uri="seg_00001.m4s", duration_s=0.52, byte_range=(310, 0)),
    ]
    text = format_media_playlist(segments, "init.mp4", iframes_only=True)
    assert "#EXT-X-I-FRAMES-ONLY" in text and "#EXT-X-BYTERANGE:280@5000" in text
    path = write_atomically(tmp_path / "iframes.m3u8", text)
    parsed = parse_media_playlist(path)
    assert parsed.iframes_only and parsed.endlist and parsed.playlist_type == "VOD"
    assert (parsed.version, parsed.target_duration, parsed.map_uri) == (7, 2, "init.mp4")
    assert parsed.segments == segments
    assert parsed.duration_s == pytest.approx(4.52)
    assert [p.name for p in tmp_path.iterdir()] == ["iframes.m3u8"], "no temporary left"


def test_byte_range_without_offset_continues_the_previous_one(tmp_path: Path) -> None:
    path = tmp_path / "p.m3u8"
    path.write_text(
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n#EXT-X-BYTERANGE:100@20\na.m4s\n"
        "#EXTINF:2,\n#EXT-X-BYTERANGE:50\na.m4s\n"
    )
    assert [s.byte_range for s in parse_media_playlist(path).segments] == [(100, 20), (50, 120)]
    path.write_text("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n#EXT-X-BYTERANGE:50\na.m4s\n")
    with pytest.raises(MediaError, match="a byte range without an offset must follow"):
        parse_media_playlist(path)


def test_target_duration_rounds_half_up() -> None:
    assert target_duration([6.0, 1.0]) == 6
    assert target_duration([6.49]) == 6
    assert target_duration([6.5]) == 7
    assert target_duration([0.2]) == 1


def test_master_playlist_round_trip(tmp_path: Path) -> None:
    audio = Rendition(attributes={"TYPE": "AUDIO", "GROUP-ID": "aud", "URI": "a/index.m3u8"})
    variant = Variant(
        uri="360p/index.m3u8",
        attributes={"BANDWIDTH": "900000", "CODECS": "avc1.64001e,mp4a.40.2", "AUDIO": "aud"},
    )
    iframe = Variant(uri="360p/iframes.m3u8", attributes={"BANDWIDTH": "90000"})
    text = format_master_playlist([variant], [audio], [iframe])
    assert '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",URI="a/index.m3u8"' in text
    assert '#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=90000,URI="360p/iframes.m3u8"' in text
    path = write_atomically(tmp_path / "master.m3u8", text)
    parsed = parse_master_playlist(path)
    assert (parsed.version, parsed.independent_segments) == (7, True)
    assert parsed.variants == [variant] and parsed.renditions == [audio]
    assert parsed.iframe_streams[0].uri == "360p/iframes.m3u8"
    assert format_attributes({"NAME": "English", "DEFAULT": "YES"}) == 'NAME="English",DEFAULT=YES'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("#EXT-X-TARGETDURATION:2\n", "not an HLS playlist (first line is not #EXTM3U)"),
        ("#EXTM3U\n#EXTINF:2,\na.m4s\n", "media playlist lacks #EXT-X-TARGETDURATION"),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:2\na.m4s\n", "segment 'a.m4s' has no #EXTINF before it"),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:two\n", "malformed line '#EXT-X-TARGETDURATION:two'"),
    ],
)
def test_malformed_media_playlists(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "p.m3u8"
    path.write_text(text)
    with pytest.raises(MediaError, match=re.escape(message)):
        parse_media_playlist(path)


def test_malformed_master_playlists(tmp_path: Path) -> None:
    path = tmp_path / "m.m3u8"
    path.write_text("#EXTM3U\n#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1\n#EXT-X-STREAM-INF:X=1\na\n")
    with pytest.raises(MediaError, match="#EXT-X-I-FRAME-STREAM-INF has no URI"):
        parse_master_playlist(path)
    path.write_text("#EXTM3U\nvariant.m3u8\n")
    with pytest.raises(MediaError, match=r"URI 'variant\.m3u8' has no #EXT-X-STREAM-INF"):
        parse_master_playlist(path)
    path.write_text("#EXTM3U\n#EXT-X-VERSION:7\n")
    with pytest.raises(MediaError, match="lists no variant streams"):
        parse_master_playlist(path)
