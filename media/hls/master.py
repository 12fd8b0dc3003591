"""Write the master playlist: one variant per rung (plus the audio group), I-frame streams."""

from __future__ import annotations

from pathlib import Path

from media.errors import MediaError
from media.hls.audio import AudioPlaylist
from media.hls.playlists import Rendition, Variant, format_master_playlist, write_atomically
from media.hls.segments import MASTER_PLAYLIST, RungPlaylist

AUDIO_GROUP = "aud"


def write_master(package_dir: Path, rungs: list[RungPlaylist], audio: AudioPlaylist | None) -> Path:
    """Write (atomically replace) ``package_dir/master.m3u8`` listing ``rungs`` and ``audio``.

    Per variant: BANDWIDTH and AVERAGE-BANDWIDTH of the rung plus the audio, CODECS,
    RESOLUTION, FRAME-RATE and the audio group, smallest picture first; one
    ``#EXT-X-I-FRAME-STREAM-INF`` per rung (its I-frame playlist is written by ``package_rung``).
    Safe to call again as more rungs finish: readers see the old or the new playlist, whole.
    """
    package_dir = Path(package_dir)
    if not rungs:
        raise MediaError(f"{package_dir}: a master playlist needs at least one rung")
    renditions = []
    if audio is not None:
        renditions.append(
            Rendition(
                attributes={
                    "TYPE": "AUDIO",
                    "GROUP-ID": AUDIO_GROUP,
                    "LANGUAGE": audio.language,
                    "NAME": audio.name,
                    "DEFAULT": "YES",
                    "AUTOSELECT": "YES",
                    "CHANNELS": str(audio.channels),
                    "URI": _uri(package_dir, audio.playlist),
                }
            )
        )
    variants, iframe_streams = [], []
    for rung in sorted(rungs, key=lambda r: (r.width * r.height, r.peak_bitrate)):
        attributes = {
            "BANDWIDTH": str(rung.peak_bitrate + (audio.peak_bitrate if audio else 0)),
            "AVERAGE-BANDWIDTH": str(
                rung.average_bitrate + (audio.average_bitrate if audio else 0)
            ),
            "CODECS": f"{rung.codecs},{audio.codecs}" if audio else rung.codecs,
            "RESOLUTION": f"{rung.width}x{rung.height}",
            "FRAME-RATE": f"{rung.frame_rate:.3f}",
        }
        if audio is not None:
            attributes["AUDIO"] = AUDIO_GROUP
        variants.append(Variant(uri=_uri(package_dir, rung.playlist), attributes=attributes))
        iframe_streams.append(
            Variant(
                uri=_uri(package_dir, rung.iframe_playlist),
                attributes={
                    "BANDWIDTH": str(rung.iframe_peak_bitrate),
                    "AVERAGE-BANDWIDTH": str(rung.iframe_average_bitrate),
                    "CODECS": rung.codecs,
                    "RESOLUTION": f"{rung.width}x{rung.height}",
                },
            )
        )
    text = format_master_playlist(variants, renditions, iframe_streams)
    return write_atomically(package_dir / MASTER_PLAYLIST, text)


def _uri(package_dir: Path, playlist: Path) -> str:
    """``playlist`` as a URI relative to ``package_dir``; ``MediaError`` if it lies outside."""
    try:
        return Path(playlist).resolve().relative_to(package_dir.resolve()).as_posix()
    except ValueError:
        raise MediaError(f"{playlist} is not inside the package folder {package_dir}") from None
