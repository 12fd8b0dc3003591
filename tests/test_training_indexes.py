"""``publish_indexes`` builds a pipeline's item index and the content-vector index into one
folder and replaces the published folder whole; ``reelrank index`` explains bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core import columns as c
from flows.cli import main
from media.enrich.embeddings import write_embeddings
from models.als import ALSConfig
from models.base import EmbeddingModel
from models.faiss_index import IndexConfig, ItemIndex
from models.pipeline import PipelineConfig, RecommendationPipeline
from tests.conftest import PlantedTastes
from training.indexes import CONTENT, ITEMS, MANIFEST, publish_indexes


@pytest.fixture(scope="module")
def pipeline(model_tastes: PlantedTastes) -> RecommendationPipeline:
    """ALS and popularity fitted on the shared planted tastes."""
    return RecommendationPipeline.fit(
        model_tastes.interactions(),
        source_configs={"als": ALSConfig(factors=8, iterations=5)},
    )


def content_vectors(video_ids: np.ndarray, path: Path, dim: int = 16) -> Path:
    """An embeddings file with random unit vectors for ``video_ids``."""
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(video_ids.size, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    frame = pd.DataFrame(
        {
            c.VIDEO_ID: video_ids,
            "vector": list(vectors),
            "text": list(vectors),
            "visual": [None] * video_ids.size,
            "fingerprint": [None] * video_ids.size,
            "fingerprint_interval_s": [None] * video_ids.size,
            "model": ["test"] * video_ids.size,
        }
    )
    return write_embeddings(frame, path)


def test_item_and_content_indexes_are_published_with_a_manifest(
    pipeline: RecommendationPipeline, tmp_path: Path
) -> None:
    videos = np.arange(500, 540, dtype=np.int64)
    embeddings = content_vectors(videos, tmp_path / "embeddings.parquet")
    folder = tmp_path / "published" / "indexes"
    report = publish_indexes(pipeline, folder, embeddings_path=embeddings)
    assert set(report.indexes) == {ITEMS, CONTENT}
    als = pipeline.sources["als"]
    assert isinstance(als, EmbeddingModel)
    items = ItemIndex.load(folder / ITEMS, als)  # checks it matches the model's items
    assert pipeline.index is not None and items.digest == pipeline.index.digest
    content = ItemIndex.load(folder / CONTENT)
    assert content.item_ids.tolist() == videos.tolist() and content.dim == 16
    ids, _ = content.search(content.vectors()[:3], 1)
    assert ids[:, 0].tolist() == videos[:3].tolist()  # each vector finds itself first
    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["indexes"][CONTENT]["size"] == 40
    assert manifest["indexes"][ITEMS]["recall_at_k"] == 1.0  # flat: exact
    assert report.metrics() == {
        "items_recall_at_10": 1.0,
        "items_size": items.item_ids.size,
        "content_recall_at_10": 1.0,
        "content_size": 40,
    }
    assert sorted(p.name for p in folder.parent.iterdir()) == ["indexes"]  # no staging left


def test_a_second_publish_replaces_the_folder_whole(
    pipeline: RecommendationPipeline, tmp_path: Path
) -> None:
    folder = tmp_path / "indexes"
    content_vectors(np.arange(5, dtype=np.int64), tmp_path / "embeddings.parquet")
    publish_indexes(pipeline, folder, embeddings_path=tmp_path / "embeddings.parquet")
    report = publish_indexes(pipeline, folder, IndexConfig(kind="hnsw", hnsw_m=8), k=5)
    assert {p.name for p in folder.iterdir()} == {ITEMS, MANIFEST}  # content gone
    assert ItemIndex.load(folder / ITEMS).kind == "hnsw"
    assert 0.5 < report.indexes[ITEMS].recall_at_k <= 1.0
    assert json.loads((folder / MANIFEST).read_text())["k"] == 5


def test_a_pipeline_without_embedding_source_is_refused(
    model_tastes: PlantedTastes, tmp_path: Path
) -> None:
    popular = RecommendationPipeline.fit(
        model_tastes.interactions(), config=PipelineConfig(sources=("popularity",))
    )
    with pytest.raises(ValueError, match="no embedding source"):
        publish_indexes(popular, tmp_path / "indexes")
    assert not (tmp_path / "indexes").exists()


def test_index_command_explains_bad_input(
    data_root: Path, pipeline: RecommendationPipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["index", str(data_root), "--out", str(data_root / "ix")]) == 2
    assert "not a saved pipeline" in capsys.readouterr().err
    saved = pipeline.save(data_root / "pipeline")
    assert main(["index", str(saved), "--out", str(data_root / "ix"), "--kind", "lsh"]) == 2
    assert "unknown index kind 'lsh'" in capsys.readouterr().err
    assert main(["index", str(saved), "--out", str(data_root / "ix")]) == 0
    assert "items:" in capsys.readouterr().out
    assert (data_root / "ix" / MANIFEST).is_file()
