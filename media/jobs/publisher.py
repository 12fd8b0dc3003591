"""Publish a job's finished rungs: join chunks, package, rewrite the master, record renditions."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

from media.encode.transcode import EncodedRung, join_chunks
from media.hls.audio import AudioPlaylist, package_audio
from media.hls.master import write_master
from media.hls.progressive import ProgressiveRung, append_chunk, finish_rung
from media.hls.rung import package_rung
from media.hls.segments import RungPlaylist
from media.jobs.options import TranscodeOptions
from media.jobs.plan import encoded_parts
from media.jobs.records import save_job
from media.jobs.state import AUDIO_UNIT, UNIT_DONE, JobDetail, PublishedRung, unit_key
from media.video_records import record_rendition

log = logging.getLogger(__name__)


class Publisher:
    """Joins, packages and records finished rungs of one job; keeps the job's state saved."""

    def __init__(
        self,
        database_url: str,
        video_id: int,
        job_id: int,
        detail: JobDetail,
        data_root: Path,
        options: TranscodeOptions,
        on_publish: Callable[[PublishedRung], None] | None,
    ) -> None:
        self.database_url, self.video_id, self.job_id = database_url, video_id, job_id
        self.detail, self.data_root, self.options = detail, data_root, options
        self.on_publish = on_publish
        self.package_dir = detail.package_dir
        self.work = detail.work_dir
        self.first_playable_s: float | None = None
        self._saving = threading.Lock()

    def save(self) -> None:
        """Store the job's state with a fresh heartbeat (safe from the heartbeat thread too)."""
        with self._saving:
            save_job(self.database_url, self.job_id, self.detail)

    def audio_ready(self) -> bool:
        """Whether the audio (if any) is encoded."""
        unit = self.detail.units.get(AUDIO_UNIT)
        return unit is None or unit.state == UNIT_DONE

    def publish_ready_rungs(self, started: float) -> None:
        """Publish every rung whose chunks (and the audio) are all done, and the chunks of the
        progressive rung that are done in order."""
        if not self.audio_ready():
            return
        progressive = self.detail.progressive
        for rung in self.detail.rungs:
            name = rung.name
            if name in self.detail.published:
                continue
            if progressive is not None and progressive.rung == name:
                self._advance(name, started)
                continue
            parts = encoded_parts(self.detail, name)
            if parts is None:
                continue
            self._publish(name, parts)
            if self.first_playable_s is None:
                self.first_playable_s = round(time.perf_counter() - started, 3)

    def _advance(self, name: str, started: float) -> None:
        """Append the progressive rung's chunks that are done in order; finish it when all are."""
        state = self.detail.progressive
        assert state is not None, "only the progressive rung advances"
        progress: ProgressiveRung | None = state.state
        chunks = self.detail.chunks_of(name)
        appended = progress.chunks if progress else 0
        grew = False
        for chunk in chunks[appended:]:
            unit = self.detail.units[unit_key(name, chunk.index)]
            if unit.state != UNIT_DONE or unit.encoded is None:
                break
            encoded = unit.encoded
            offset = float(Fraction(encoded.first_frame) / encoded.frame_rate)
            progress = append_chunk(
                progress, encoded.path, self.package_dir, name, offset, self.options.segment_seconds
            )
            grew = True
        if not grew or progress is None:
            return
        state.state = progress
        self.save()
        if progress.chunks < len(chunks):
            rung = self.detail.rung(name)
            cap = rung.max_video_bitrate + rung.buffer_size / self.options.segment_seconds
            self._announce(name, progress.live(math.ceil(cap)), None, complete=False)
        else:
            parts = encoded_parts(self.detail, name) or []
            self._announce(name, finish_rung(progress), self._joined(name, parts), complete=True)
        if self.first_playable_s is None:
            self.first_playable_s = round(time.perf_counter() - started, 3)

    def _audio(self) -> AudioPlaylist | None:
        """The packaged audio, packaging it on first use."""
        if AUDIO_UNIT not in self.detail.units:
            return None
        if self.detail.audio is None:
            self.detail.audio = package_audio(
                self.work / "audio.mp4",
                self.package_dir,
                segment_seconds=self.options.segment_seconds,
            )
            self.save()
        return self.detail.audio

    def _joined(self, name: str, parts: list[EncodedRung]) -> EncodedRung:
        """The chunks of rung ``name`` joined into one MP4 in the work folder."""
        joined = self.work / f"{name}.mp4"
        if len(parts) == 1:
            if parts[0].path.is_file():
                parts[0].path.replace(joined)
            return parts[0].model_copy(update={"path": joined})
        return join_chunks(parts, joined)

    def _publish(self, name: str, parts: list[EncodedRung]) -> None:
        encoded = self._joined(name, parts)
        rung = package_rung(encoded.path, self.package_dir, name, self.options.segment_seconds)
        self._announce(name, rung, encoded, complete=True)

    def _announce(
        self, name: str, rung: RungPlaylist, encoded: EncodedRung | None, complete: bool
    ) -> None:
        """Put ``rung`` in the master playlist and the catalogue; record it when complete."""
        audio = self._audio()
        playlists = {**self.detail.playlists, name: rung}
        master = write_master(self.package_dir, list(playlists.values()), audio)
        published = PublishedRung(
            name=name,
            playlist=rung.playlist,
            encoded=encoded.path if encoded is not None else None,
            width=rung.width,
            height=rung.height,
            bandwidth=rung.peak_bitrate + (audio.peak_bitrate if audio else 0),
            average_bandwidth=rung.average_bitrate + (audio.average_bitrate if audio else 0),
            codecs=f"{rung.codecs},{audio.codecs}" if audio else rung.codecs,
            complete=complete,
        )
        record_rendition(
            self.database_url,
            self.video_id,
            name=name,
            width=published.width,
            height=published.height,
            bitrate=published.bandwidth,
            codecs=published.codecs,
            playlist=published.playlist,
            data_root=self.data_root,
        )
        self.detail.master = master
        self.detail.playlists = playlists
        if complete:
            self.detail.published = [*self.detail.published, name]
            self.detail.renditions = {**self.detail.renditions, name: published}
        self.save()
        log.info(
            "video %s: published %s%s (%s)",
            self.video_id,
            name,
            "" if complete else f" so far ({rung.duration_s:.1f} s, EVENT)",
            master,
        )
        if self.on_publish is not None:
            self.on_publish(published)
