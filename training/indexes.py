"""Build a served pipeline's FAISS indexes into one folder and publish it in a single swap."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from core import columns as c
from models.base import EmbeddingModel
from models.faiss_index import IndexConfig, ItemIndex, measure_recall
from models.pipeline import RecommendationPipeline

#: Sub-folder of the item index (the pipeline's embedding source) and of the content index.
ITEMS = "items"
CONTENT = "content"
#: The published folder's description of its indexes.
MANIFEST = "indexes.json"
#: Most query vectors a recall measurement searches with.
RECALL_QUERIES = 1000


class IndexSummary(BaseModel):
    """One published index: what it holds and how closely it matches exact search."""

    source: str
    kind: str
    size: int
    dim: int
    digest: str
    recall_at_k: float


class PublishedIndexes(BaseModel):
    """What ``publish_indexes`` wrote (as in the folder's ``indexes.json``)."""

    folder: Path
    k: int
    indexes: dict[str, IndexSummary]

    def metrics(self) -> dict[str, float]:
        """Flat figures for DVC: ``<index>_recall_at_<k>``, ``<index>_size`` per index."""
        out: dict[str, float] = {}
        for name, summary in self.indexes.items():
            out[f"{name}_recall_at_{self.k}"] = summary.recall_at_k
            out[f"{name}_size"] = summary.size
        return out


def publish_indexes(
    pipeline: RecommendationPipeline,
    folder: Path,
    config: IndexConfig = IndexConfig(),  # noqa: B008 - frozen
    embeddings_path: Path | None = None,
    k: int = 10,
) -> PublishedIndexes:
    """Index the item vectors of ``pipeline``'s embedding source (``items/``) and, when
    ``embeddings_path`` exists, the media pipeline's content vectors (``content/``) as
    ``config`` says; write them and ``indexes.json`` (with each index's recall@k against exact
    search, queried with the source's user vectors or the content vectors themselves) into a
    new folder that then replaces ``folder`` whole (two renames). ``ValueError`` when the
    pipeline has no embedding source."""
    name = pipeline.config.indexed_source
    model = pipeline.sources.get(name) if name is not None else None
    if not isinstance(model, EmbeddingModel):
        raise ValueError("the pipeline has no embedding source whose items could be indexed")
    user_vectors, known = model.user_vectors(model.interactions.user_ids)
    built = {
        ITEMS: (f"{name} item vectors", ItemIndex.from_model(model, config), user_vectors[known])
    }
    if embeddings_path is not None and embeddings_path.is_file():
        from media.enrich.embeddings import VECTOR, read_embeddings

        frame = read_embeddings(embeddings_path)
        if len(frame):
            vectors = np.stack(frame[VECTOR].to_list()).astype(np.float32)
            content = ItemIndex.build(frame[c.VIDEO_ID].to_numpy(np.int64), vectors, config)
            built[CONTENT] = (f"content vectors of {embeddings_path.name}", content, vectors)
    summaries = {
        part: IndexSummary(
            source=source,
            kind=index.kind,
            size=index.item_ids.size,
            dim=index.dim,
            digest=index.digest,
            recall_at_k=_recall(index, queries[:RECALL_QUERIES], k),
        )
        for part, (source, index, queries) in built.items()
    }
    published = PublishedIndexes(folder=folder, k=k, indexes=summaries)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        for part, (_, index, _) in built.items():
            index.save(staging / part)
        body = published.model_dump(mode="json", exclude={"folder"})
        (staging / MANIFEST).write_text(json.dumps(body, indent=2) + "\n")
        _swap(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return published


def _recall(index: ItemIndex, queries: np.ndarray, k: int) -> float:
    """Recall@k of ``index`` against exact search over the same vectors (1.0 without queries)."""
    return measure_recall(index, index.exact(), queries, k) if len(queries) else 1.0


def _swap(staging: Path, folder: Path) -> None:
    """Put ``staging`` in ``folder``'s place; the old folder is removed afterwards."""
    old = folder.with_name(f".{folder.name}-old")
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        folder.rename(old)
    staging.rename(folder)
    shutil.rmtree(old, ignore_errors=True)
