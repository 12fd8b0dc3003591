"""Per-video content vectors (text + visual) and fingerprints, extracted as Ray tasks, in parquet.

Each row: ``video_id``; ``text`` (384-d MiniLM of title, description, tags and genres);
``visual`` (the visual encoder's vector, null without a media file); ``fingerprint`` (pHash per
sampled frame, null without a media file) and ``fingerprint_interval_s``; ``vector`` = the
concatenation ``[text, visual or zeros]`` L2-normalised, the same length for every row so that
videos with and without media files share one space; ``model`` names the encoders. The
recommender (``ItemFeatures.from_metadata(..., embeddings=...)``), Feast and FAISS read
``video_id`` + ``vector``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from core import columns as c
from core.errors import DatasetError, ReelRankError
from core.settings import get_settings
from media.encode.frames import sample_frames
from media.enrich.fingerprint import NEAR_DUPLICATE, Fingerprint, fingerprint_frames, similarity
from media.enrich.text import TextEncoder, clean_text, text_encoder, video_text, word_list
from media.enrich.visual import HandcraftedVisualEncoder, VisualEncoder
from media.errors import MediaError
from media.ray_runtime import init_ray

log = logging.getLogger(__name__)

VECTOR = "vector"
TEXT = "text"
VISUAL = "visual"
FINGERPRINT = "fingerprint"
FINGERPRINT_INTERVAL = "fingerprint_interval_s"
MODEL = "model"
#: Columns of an embeddings parquet file, in order.
EMBEDDING_COLUMNS: tuple[str, ...] = (
    c.VIDEO_ID,
    VECTOR,
    TEXT,
    VISUAL,
    FINGERPRINT,
    FINGERPRINT_INTERVAL,
    MODEL,
)
SCHEMA = pa.schema(
    [
        pa.field(c.VIDEO_ID, pa.int64(), nullable=False),
        pa.field(VECTOR, pa.list_(pa.float32()), nullable=False),
        pa.field(TEXT, pa.list_(pa.float32()), nullable=False),
        pa.field(VISUAL, pa.list_(pa.float32())),
        pa.field(FINGERPRINT, pa.list_(pa.uint64())),
        pa.field(FINGERPRINT_INTERVAL, pa.float64()),
        pa.field(MODEL, pa.string(), nullable=False),
    ]
)
#: Frames per second sampled for the visual vector and the fingerprint.
SAMPLE_FPS = 1.0
#: Texts per Ray task in a text pass (each task loads the model once).
TEXT_CHUNK = 1024


@dataclass(frozen=True)
class VideoInput:
    """What to embed for one video: its catalogue text and, when it has one, its media file."""

    video_id: int
    title: str
    description: str = ""
    tags: Sequence[str] = field(default_factory=tuple)
    genres: Sequence[str] = field(default_factory=tuple)
    path: Path | None = None

    @property
    def text(self) -> str:
        """The text that is embedded (see ``video_text``)."""
        return video_text(self.title, self.description, self.tags, self.genres)


@dataclass(frozen=True)
class VisualResult:
    """The visual vector and fingerprint of one media file."""

    visual: np.ndarray
    fingerprint: Fingerprint


def model_name(text_name: str, visual: VisualEncoder) -> str:
    """The ``model`` cell: which encoders made the row."""
    return f"text={text_name}; visual={visual.name} ({visual.dim}-d); fingerprint=phash64"


def combine(text: np.ndarray, visual: np.ndarray | None, visual_dim: int) -> np.ndarray:
    """``[text, visual or zeros(visual_dim)]``, L2-normalised, float32."""
    if visual is not None and visual.shape != (visual_dim,):
        raise MediaError(f"a visual vector of shape {visual.shape} is not {visual_dim}-d")
    block = np.zeros(visual_dim, np.float32) if visual is None else visual
    vector = np.concatenate([np.asarray(text, np.float32), np.asarray(block, np.float32)])
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def extract_visual(
    path: Path, encoder: VisualEncoder | None = None, fps: float = SAMPLE_FPS
) -> VisualResult:
    """Sample ``path`` once at ``fps`` and compute its visual vector and fingerprint."""
    encoder = encoder or HandcraftedVisualEncoder()
    samples = sample_frames(Path(path), fps=fps)
    images = [s.image for s in samples]
    span = samples[-1].time_s - samples[0].time_s
    interval = span / (len(samples) - 1) if len(samples) > 1 and span > 0 else 1.0 / fps
    return VisualResult(
        visual=encoder.encode(images),
        fingerprint=fingerprint_frames(images, interval),
    )


def _rows(
    videos: Sequence[VideoInput],
    texts: np.ndarray,
    visuals: Sequence[VisualResult | None],
    model: str,
    visual_dim: int,
) -> pd.DataFrame:
    """The embeddings frame of ``videos`` from their text vectors and visual results."""
    return pd.DataFrame(
        {
            c.VIDEO_ID: np.array([v.video_id for v in videos], dtype=np.int64),
            VECTOR: [
                combine(t, r.visual if r else None, visual_dim)
                for t, r in zip(texts, visuals, strict=True)
            ],
            TEXT: list(texts.astype(np.float32)),
            VISUAL: [r.visual if r else None for r in visuals],
            FINGERPRINT: [r.fingerprint.hashes if r else None for r in visuals],
            FINGERPRINT_INTERVAL: [r.fingerprint.interval_s if r else None for r in visuals],
            MODEL: [model] * len(videos),
        },
        columns=list(EMBEDDING_COLUMNS),
    )


def _check_inputs(videos: Sequence[VideoInput]) -> None:
    """Raise ``DatasetError`` for duplicate ids or videos with no text."""
    ids = [v.video_id for v in videos]
    if len(set(ids)) != len(ids):
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        raise DatasetError(f"videos to embed have duplicate video_id values: {dupes[:10]}")
    empty = [v.video_id for v in videos if not v.text]
    if empty:
        raise DatasetError(
            f"{len(empty)} videos have no title, description, tags or genres to embed "
            f"(video_id {', '.join(map(str, empty[:10]))})"
        )


def extract_embeddings(
    videos: Sequence[VideoInput],
    visual_encoder: VisualEncoder | None = None,
    encoder: TextEncoder | None = None,
) -> pd.DataFrame:
    """The embeddings frame of ``videos``, computed in this process (no Ray)."""
    _check_inputs(videos)
    visual_encoder = visual_encoder or HandcraftedVisualEncoder()
    encoder = encoder or text_encoder()
    texts = encoder.encode([v.text for v in videos])
    visuals = [extract_visual(v.path, visual_encoder) if v.path else None for v in videos]
    model = model_name(encoder.name, visual_encoder)
    return _rows(videos, texts, visuals, model, visual_encoder.dim)


def _encode_texts(texts: list[str]) -> tuple[np.ndarray, str]:
    """Ray task body: the text vectors of ``texts`` and the text model's name."""
    encoder = text_encoder()
    return encoder.encode(texts), encoder.name


@cache
def _remote(function: Any) -> Any:
    """``function`` as a Ray remote function (one CPU; no retries: errors are reported)."""
    import ray

    return ray.remote(num_cpus=1, max_retries=0)(function)


def extract_embeddings_on_ray(
    videos: list[VideoInput],
    out_path: Path,
    visual_encoder: VisualEncoder | None = None,
) -> Path:
    """Embed ``videos`` as Ray tasks and write the embeddings parquet file to ``out_path``.

    One task per media file (frames sampled once: visual vector and fingerprint) and one per
    ``TEXT_CHUNK`` texts. Starts Ray from the settings when it is not running. If any video
    fails, raises ``MediaError`` naming each failed video and why, and writes nothing.
    """
    import ray
    from ray.exceptions import RayTaskError

    _check_inputs(videos)
    if not videos:
        raise DatasetError("there are no videos to embed")
    visual_encoder = visual_encoder or HandcraftedVisualEncoder()
    if not ray.is_initialized():
        settings = get_settings()
        init_ray(settings.resolved_ray_address, settings.paths.ray_tmp)
    encoder_ref = ray.put(visual_encoder)
    visual_refs = {
        v.video_id: _remote(extract_visual).remote(Path(v.path), encoder_ref)
        for v in videos
        if v.path is not None
    }
    texts = [v.text for v in videos]
    text_refs = [
        _remote(_encode_texts).remote(texts[i : i + TEXT_CHUNK])
        for i in range(0, len(texts), TEXT_CHUNK)
    ]
    failures: list[str] = []
    visuals: dict[int, VisualResult] = {}
    for video_id, ref in visual_refs.items():
        try:
            visuals[video_id] = ray.get(ref)
        except RayTaskError as exc:
            cause = exc.cause if isinstance(exc.cause, ReelRankError) else exc
            failures.append(f"video {video_id}: {cause}")
    try:
        chunks = ray.get(text_refs)
    except RayTaskError as exc:
        if isinstance(exc.cause, ReelRankError):
            raise exc.cause from None
        raise
    if failures:
        raise MediaError(f"{len(failures)} videos could not be embedded: " + "; ".join(failures))
    text_vectors = np.concatenate([chunk for chunk, _ in chunks])
    model = model_name(chunks[0][1], visual_encoder)
    frame = _rows(
        videos, text_vectors, [visuals.get(v.video_id) for v in videos], model, visual_encoder.dim
    )
    return write_embeddings(frame, out_path)


def embed_catalogue_text(
    frame: pd.DataFrame,
    encoder: TextEncoder | None = None,
    visual_dim: int = HandcraftedVisualEncoder.dim,
    visual_name: str = HandcraftedVisualEncoder.name,
) -> pd.DataFrame:
    """Text-only embeddings of a catalogue frame (for videos without media files).

    ``frame`` needs ``video_id`` and ``title``; ``description``, ``tags`` and ``genres`` are used
    when present (lists or ``|``-joined strings). ``vector`` has zeros where the visual block
    goes (``visual_dim`` long) so it matches vectors of videos with media files.
    """
    missing = [col for col in (c.VIDEO_ID, "title") if col not in frame.columns]
    if missing:
        raise DatasetError(f"the catalogue frame lacks required columns: {', '.join(missing)}")
    if frame[c.VIDEO_ID].isna().any():
        raise DatasetError("some catalogue rows have no video_id")

    def cells(name: str) -> list[Any]:
        return frame[name].tolist() if name in frame.columns else [None] * len(frame)

    videos = [
        VideoInput(
            video_id=int(video_id),
            title=clean_text(title),
            description=clean_text(description),
            tags=tuple(word_list(tags)),
            genres=tuple(word_list(genres)),
        )
        for video_id, title, description, tags, genres in zip(
            cells(c.VIDEO_ID),
            cells("title"),
            cells("description"),
            cells("tags"),
            cells("genres"),
            strict=True,
        )
    ]
    _check_inputs(videos)
    encoder = encoder or text_encoder()
    texts = encoder.encode([v.text for v in videos])
    model = f"text={encoder.name}; visual={visual_name} ({visual_dim}-d); fingerprint=phash64"
    return _rows(videos, texts, [None] * len(videos), model, visual_dim)


def write_embeddings(frame: pd.DataFrame, path: Path) -> Path:
    """Write an embeddings frame to ``path`` (atomically, with ``SCHEMA``); return ``path``."""
    missing = [col for col in EMBEDDING_COLUMNS if col not in frame.columns]
    if missing:
        raise DatasetError(f"the embeddings frame lacks columns: {', '.join(missing)}")
    table = pa.Table.from_pandas(
        frame[list(EMBEDDING_COLUMNS)], schema=SCHEMA, preserve_index=False
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        pq.write_table(table, tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    log.info("wrote %d video embeddings to %s", len(frame), path)
    return path


def read_embeddings(path: Path) -> pd.DataFrame:
    """An embeddings parquet file as a frame (vectors as float32 arrays)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such embeddings file")
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DatasetError(f"{path}: not a parquet file ({exc})") from exc
    missing = [col for col in EMBEDDING_COLUMNS if col not in table.column_names]
    if missing:
        raise DatasetError(f"{path}: not an embeddings file, it lacks {', '.join(missing)}")
    frame = table.select(list(EMBEDDING_COLUMNS)).to_pandas()
    for col in (VECTOR, TEXT, VISUAL):
        frame[col] = [None if v is None else np.asarray(v, np.float32) for v in frame[col]]
    frame[FINGERPRINT] = [
        None if v is None else np.asarray(v, np.uint64) for v in frame[FINGERPRINT]
    ]
    return frame


def near_duplicates(
    frame: pd.DataFrame, candidate: Fingerprint, threshold: float = NEAR_DUPLICATE
) -> list[tuple[int, float]]:
    """``(video_id, similarity)`` of the videos in ``frame`` that ``candidate`` re-uploads.

    Compared only with rows that have a fingerprint at the same interval; most similar first.
    """
    found: list[tuple[int, float]] = []
    for video_id, hashes, interval in zip(
        frame[c.VIDEO_ID], frame[FINGERPRINT], frame[FINGERPRINT_INTERVAL], strict=True
    ):
        if hashes is None or interval is None or np.isnan(interval):
            continue
        stored = Fingerprint(np.asarray(hashes, np.uint64), float(interval))
        if not np.isclose(stored.interval_s, candidate.interval_s, rtol=0.05):
            continue
        score = similarity(candidate, stored)
        if score > threshold:
            found.append((int(video_id), score))
    return sorted(found, key=lambda pair: -pair[1])


def embed_catalogue(frame: pd.DataFrame, target: Path) -> int:
    """Add text-only vectors for catalogue videos that ``target`` has no vector for yet.

    ``frame`` is catalogue metadata (``video_id``, ``title``, and ``description``, ``tags``,
    ``genres`` when known). Videos already embedded (with their media) are kept as they are.
    Returns how many videos were added.
    """
    stored = read_embeddings(target) if target.is_file() else None
    known = set() if stored is None else set(stored[c.VIDEO_ID].astype(int))
    todo = frame[~frame[c.VIDEO_ID].astype(int).isin(known)]
    if todo.empty:
        return 0
    added = embed_catalogue_text(todo)
    merged = added if stored is None else pd.concat([stored, added], ignore_index=True)
    write_embeddings(merged, target)
    return len(added)
