"""Item and user side information built from catalogue metadata and content embeddings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from core import columns as c
from core.errors import DatasetError
from models.errors import ModelFormatError
from models.interactions import Interactions
from models.side_info import ItemFeatures, UserFeatures

META = pd.DataFrame(
    {
        c.VIDEO_ID: [30, 10, 20, 40],
        "genres": [["Drama"], ["Comedy", "Drama"], "Comedy|Animation", None],
        "tags": [["slow", "sad"], ["funny", "Funny", "sad"], ["funny"], []],
        "release_year": [1994.0, 1999.0, np.nan, 2011.0],
        "language": ["en", "EN", None, "fr"],
        "title": ["Rain man", "Laugh story", "Toon story", "Paris"],
        "description": [None, None, "A story of toons", None],
    }
)


def _row(features: ItemFeatures, video: int) -> dict[str, float]:
    row = features.align(np.array([video])).toarray()[0]
    return {n: float(v) for n, v in zip(features.names, row, strict=True) if v}


def test_blocks_and_names() -> None:
    f = ItemFeatures.from_metadata(META)
    assert f.item_ids.tolist() == [10, 20, 30, 40]
    assert f.matrix.dtype == np.float32 and f.matrix.shape == (4, len(f.names))
    assert {n for n in f.names if n.startswith("genre:")} == {
        "genre:Animation",
        "genre:Comedy",
        "genre:Drama",
    }
    # tags are lower-cased; "slow" is in one item only and min_tag_items=2 drops it
    assert {n for n in f.names if n.startswith("tag:")} == {"tag:funny", "tag:sad"}
    assert "word:story" in f.names and "word:rain" not in f.names
    assert set(_row(f, 10)) >= {"genre:Comedy", "genre:Drama", "year:1995", "language:en"}
    assert "year:1990" in _row(f, 30) and not any(n.startswith("year:") for n in _row(f, 20))
    assert set(_row(f, 40)) == {"year:2010", "language:fr"}


def test_rows_are_unit_length_and_tfidf_weighs_rare_tags_more() -> None:
    f = ItemFeatures.from_metadata(META, block_weights={"genre": 0, "word": 0, "year": 0})
    norms = np.sqrt(np.asarray(f.matrix.multiply(f.matrix).sum(axis=1)).ravel())
    assert norms == pytest.approx([1.0, 1.0, 1.0, 1.0], abs=1e-6)
    row = _row(f, 10)  # "funny" twice (in 2 items), "sad" once (in 2 items)
    assert row["tag:funny"] > row["tag:sad"] > 0


def test_block_weights_change_the_cosine() -> None:
    plain = ItemFeatures.from_metadata(META, block_weights={"tag": 0, "word": 0})
    genre_heavy = ItemFeatures.from_metadata(META, block_weights={"genre": 5, "tag": 0, "word": 0})

    def cos(f: ItemFeatures) -> float:
        a = f.align(np.array([10, 30])).toarray()
        return float(a[0] @ a[1])

    assert cos(genre_heavy) > cos(plain)


def test_align_returns_zero_rows_for_unknown_ids() -> None:
    f = ItemFeatures.from_metadata(META)
    rows = f.align(np.array([40, 999, 10]))
    assert rows.shape == (3, len(f.names))
    assert rows[1].nnz == 0
    assert np.allclose(rows[0].toarray(), f.matrix[3].toarray())
    assert np.allclose(rows[2].toarray(), f.matrix[0].toarray())


def test_embeddings_add_a_block_and_new_items() -> None:
    emb = pd.DataFrame({c.VIDEO_ID: [10, 50], "vector": [np.array([1.0, 0.0]), [0.0, 2.0]]})
    f = ItemFeatures.from_metadata(META, embeddings=emb)
    assert f.item_ids.tolist() == [10, 20, 30, 40, 50]
    assert _row(f, 50) == {"embedding:1": pytest.approx(1.0)}
    assert "embedding:0" in _row(f, 10)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_embeddings_are_refused(bad: float) -> None:
    emb = pd.DataFrame({c.VIDEO_ID: [10, 20], "vector": [[1.0, 0.0], [bad, 1.0]]})
    with pytest.raises(ValueError, match="content embedding of video 20 contains NaN or infinite"):
        ItemFeatures.from_metadata(META, embeddings=emb)


def test_bad_metadata_is_explained() -> None:
    with pytest.raises(ValueError, match="release_year is infinite for video 10"):
        ItemFeatures.from_metadata(META.assign(release_year=[1990.0, np.inf, 2000.0, 2001.0]))
    with pytest.raises(DatasetError, match="lacks the video_id column"):
        ItemFeatures.from_metadata(META.drop(columns=[c.VIDEO_ID]))
    with pytest.raises(ValueError, match="duplicate video_id rows"):
        ItemFeatures.from_metadata(pd.concat([META, META.iloc[:1]]))
    with pytest.raises(ValueError, match="different lengths"):
        emb = pd.DataFrame({c.VIDEO_ID: [10, 20], "vector": [[1.0], [1.0, 2.0]]})
        ItemFeatures.from_metadata(META, embeddings=emb)
    with pytest.raises(ValueError, match="unknown feature blocks \\['colour'\\]"):
        ItemFeatures.from_metadata(META, block_weights={"colour": 1.0})
    with pytest.raises(ValueError, match="NaN or infinite values"):
        ItemFeatures(np.array([1]), sp.csr_matrix(np.array([[np.nan]])), ("x",))


def test_only_the_video_id_column_is_required() -> None:
    f = ItemFeatures.from_metadata(pd.DataFrame({c.VIDEO_ID: [3, 1]}))
    assert f.item_ids.tolist() == [1, 3] and f.names == ()


def test_save_load_round_trip(tmp_path: Path) -> None:
    f = ItemFeatures.from_metadata(META)
    f.save(tmp_path, "items")
    loaded = ItemFeatures.load(tmp_path, "items")
    assert loaded.names == f.names and np.array_equal(loaded.item_ids, f.item_ids)
    assert (loaded.matrix != f.matrix).nnz == 0
    with pytest.raises(ModelFormatError, match="no saved other features"):
        ItemFeatures.load(tmp_path, "other")


def test_user_genre_affinity() -> None:
    frame = pd.DataFrame(
        {
            c.USER_ID: [1, 1, 2],
            c.VIDEO_ID: [10, 20, 30],
            c.EVENT_TYPE: "play",
            c.EVENT_TIMESTAMP: pd.Timestamp("2024-01-01", tz="UTC"),
        }
    )
    users = UserFeatures.from_interactions(
        Interactions.from_events(frame), ItemFeatures.from_metadata(META)
    )
    assert users.user_ids.tolist() == [1, 2]
    affinity = dict(zip(users.names, users.align(np.array([1])).toarray()[0], strict=True))
    # user 1 watched Comedy twice, Drama and Animation once each
    assert affinity["user_genre:Comedy"] > affinity["user_genre:Drama"] > 0
    assert users.align(np.array([2])).toarray()[0].tolist() == pytest.approx([0, 0, 1])
    no_genres = ItemFeatures.from_metadata(META, block_weights={"genre": 0})
    with pytest.raises(ValueError, match="no 'genre' block"):
        UserFeatures.from_interactions(Interactions.from_events(frame), no_genres)
