"""The pipeline: cold start, exclusions, padding, explanations, save/load."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core import columns as c
from models.als import ALSConfig, ALSRecommender
from models.base import PAD_ID
from models.errors import ModelFormatError, VocabularyMismatchError
from models.faiss_index import ItemIndex
from models.interactions import Interactions
from models.lambdarank import LambdaRankConfig
from models.pair_features import (
    NoPairFeatures,
    PairFeatures,
    ranker_feature_names,
    ranker_inputs,
)
from models.pipeline import PipelineConfig, RecommendationPipeline
from models.popularity import PopularityRecommender
from models.postprocess import PostProcessConfig
from models.ranker import Ranker, RankerConfig
from models.rankers import make_ranker
from models.side_info import ItemFeatures
from tests.conftest import planted_tastes

ALS = ALSConfig(factors=8, iterations=8, regularization=0.05, alpha=10.0)
SOURCES = {"als": ALS}
N_ITEMS = 20


def _interactions(n_items: int = N_ITEMS, seed: int = 0) -> Interactions:
    """50 users in two taste halves of the catalogue (items 100..), 4 plays each."""
    return planted_tastes(
        50,
        n_cold=0,
        n_clusters=2,
        items_per_cluster=n_items // 2,
        plays=4,
        own_share=1.0,
        impressions=0,
        first_item=100,
        seed=seed,
    ).interactions()


def _features() -> ItemFeatures:
    """Items 100..109 are Comedy in English, 110..119 Drama in French."""
    ids = list(range(100, 100 + N_ITEMS))
    return ItemFeatures.from_metadata(
        pd.DataFrame(
            {
                c.VIDEO_ID: ids,
                "genres": [["Comedy"] if i < 110 else ["Drama"] for i in ids],
                "language": ["en" if i < 110 else "fr" for i in ids],
            }
        )
    )


@pytest.fixture(scope="module")
def pipeline() -> RecommendationPipeline:
    return RecommendationPipeline.fit(_interactions(), source_configs=SOURCES)


def test_default_pipeline_blends_als_and_popularity(pipeline: RecommendationPipeline) -> None:
    assert pipeline.config.sources == ("als", "popularity")
    assert pipeline.weights == pytest.approx({"als": 0.5 / 0.7, "popularity": 0.2 / 0.7})
    users = np.arange(1, 51)
    ids, scores = pipeline.recommend(users, 5)
    assert pipeline.personalized(users).all()
    assert np.all(np.diff(scores, axis=1) <= 0)
    # the blend's first picks are mostly in each user's own half of the catalogue (measured
    # over every user: 4 plays each is a weak signal, a handful of users is noise)
    halves = (ids[:, :2] - 100) // (N_ITEMS // 2)
    assert np.mean(halves == (users % 2)[:, None]) > 0.7


def test_als_alone_matches_the_model_through_the_index() -> None:
    from models.ensemble import EnsembleConfig

    config = PipelineConfig(ensemble=EnsembleConfig(weights={"als": 1.0}, normalisation="rank"))
    pipe = RecommendationPipeline.fit(_interactions(), source_configs=SOURCES, config=config)
    users = np.array([1, 2, 3])
    expected, _ = pipe.sources["als"].recommend(users, 5, exclude_seen=True)
    assert np.array_equal(pipe.recommend(users, 5)[0], expected)


def test_any_embedding_source_can_back_the_index(tmp_path: Path) -> None:
    from models.bpr import BPRConfig
    from models.ensemble import EnsembleConfig

    bpr = {"bpr": BPRConfig(factors=8, iterations=20, num_threads=1)}
    config = PipelineConfig(
        sources=("bpr", "popularity"),
        index_source="bpr",
        ensemble=EnsembleConfig(weights={"bpr": 1.0}, normalisation="rank"),
    )
    pipe = RecommendationPipeline.fit(_interactions(), config=config, source_configs=bpr)
    assert pipe.index is not None and pipe.index.dim == 9  # 8 factors and the item bias
    users = np.array([1, 2, 3])
    expected, _ = pipe.sources["bpr"].recommend(users, 5, exclude_seen=True)
    assert np.array_equal(pipe.retrieve(users, 5)["bpr"][0], expected)
    loaded = RecommendationPipeline.load(pipe.save(tmp_path / "p"))
    assert loaded.index is not None and loaded.index.digest == pipe.index.digest
    # by default: ALS when configured, else the first embedding source, else no index
    assert PipelineConfig(sources=("popularity", "bpr", "als")).indexed_source == "als"
    assert PipelineConfig(sources=("popularity", "lightfm", "bpr")).indexed_source == "lightfm"
    assert PipelineConfig(sources=("popularity", "itemknn")).indexed_source is None
    plain = PipelineConfig(sources=("itemknn", "popularity"))
    assert RecommendationPipeline.fit(_interactions(), config=plain).index is None
    with pytest.raises(ValueError, match="'popularity' has no user and item vectors"):
        RecommendationPipeline.fit(
            _interactions(),
            config=config.model_copy(update={"index_source": "popularity"}),
            source_configs=bpr,
        )


def test_cold_start_users_get_popularity(pipeline: RecommendationPipeline) -> None:
    ids, _ = pipeline.recommend(np.array([1, 9_999]), 4)
    assert not pipeline.personalized(np.array([9_999]))[0]
    assert ids[1].tolist() == pipeline.sources["popularity"].top_items(4)[0].tolist()
    assert not np.array_equal(ids[0], ids[1])


def test_seen_and_unavailable_items_are_filtered(pipeline: RecommendationPipeline) -> None:
    users = np.array([1, 9_999])
    default_ids, _ = pipeline.recommend(users, 20)
    for row, seen in zip(default_ids, pipeline.seen_items(users), strict=True):
        assert not seen & set(row.tolist())
    blocked = {int(default_ids[0, 0]), int(default_ids[1, 1])}
    ids, _ = pipeline.recommend(
        users, 5, seen=[set(), {int(default_ids[1, 0])}], unavailable=blocked
    )
    assert not blocked & set(ids.ravel().tolist())
    assert int(default_ids[1, 0]) not in ids[1].tolist()
    # with nothing seen, user 1 may now get items from their own history
    assert pipeline.seen_items(np.array([1]))[0] & set(ids[0].tolist())


def test_k_beyond_the_catalogue_is_padded(pipeline: RecommendationPipeline) -> None:
    ids, scores = pipeline.recommend(np.array([1, 9_999]), 30, unavailable={100})
    assert (ids[0] >= 0).sum() == N_ITEMS - 4 - 1  # 4 seen items, one unavailable
    assert (ids[1] >= 0).sum() == N_ITEMS - 1
    assert np.all(np.isneginf(scores[ids < 0]))
    assert len(set(ids[0][ids[0] >= 0].tolist())) == (ids[0] >= 0).sum()


def test_bad_arguments_are_explained(pipeline: RecommendationPipeline) -> None:
    with pytest.raises(ValueError, match="k must be a positive integer"):
        pipeline.recommend(np.array([1]), 0)
    with pytest.raises(ValueError, match="seen has 1 sets for 2 users"):
        pipeline.recommend(np.array([1, 2]), 3, seen=[set()])
    with pytest.raises(ValueError, match="genres has 1 entries for 2 users"):
        pipeline.recommend(np.array([1, 2]), 3, genres=[{"Drama"}])
    with pytest.raises(ValueError, match="unknown model 'nope'"):
        RecommendationPipeline.fit(_interactions(), config=PipelineConfig(sources=("nope",)))


def test_explanations_name_the_source_and_a_watched_anchor(
    pipeline: RecommendationPipeline,
) -> None:
    users = np.array([1, 9_999])
    explained = pipeline.recommend_explained(users, 5)
    ids, _ = pipeline.recommend(users, 5)
    assert [e.video_id for e in explained[0]] == ids[0].tolist()
    seen = pipeline.seen_items(np.array([1]))[0]
    als_items = [e for e in explained[0] if e.source == "als"]
    assert als_items and all("als" in e.sources for e in als_items)
    assert all(e.anchor_id in seen for e in als_items if e.anchor_id is not None)
    assert any(e.reason.startswith("because you watched") for e in als_items)
    # the cold user only has trending candidates
    assert {e.source for e in explained[1]} == {"popularity"}
    assert all(e.anchor_id is None and e.reason == "trending now" for e in explained[1])


def _with_features(**post: object) -> RecommendationPipeline:
    config = PipelineConfig(postprocess=PostProcessConfig(**post))  # type: ignore[arg-type]
    return RecommendationPipeline.fit(
        _interactions(), source_configs=SOURCES, config=config, item_features=_features()
    )


def test_cold_start_with_chosen_genres_and_language_filter() -> None:
    pipe = _with_features()
    ids, _ = pipe.recommend(np.array([9_999, 9_998]), 5, genres=[{"drama"}, set()])
    assert np.all(ids[0] >= 110)  # chosen genre first
    pop = pipe.sources["popularity"]
    got = pop.scores[pop.interactions.item_index(ids[1])]
    assert got.tolist() == pop.top_items(5)[1].tolist()  # equal up to ties
    french = _with_features(languages=("fr",))
    ids, _ = french.recommend(np.array([1, 2, 9_999]), 8)
    kept = ids[ids >= 0]
    assert kept.size and np.all(kept >= 110)


def test_genre_cap_and_mmr_diversify() -> None:
    capped = _with_features(diversity="genre_cap", genre_cap=2)
    ids, _ = capped.recommend(np.array([1]), 10)
    kept = ids[0][ids[0] >= 0]
    assert kept.size == 4  # two per genre, two genres
    mmr = _with_features(diversity="mmr", mmr_lambda=0.3)
    ids, _ = mmr.recommend(np.array([1]), 4)
    assert len({int(i) >= 110 for i in ids[0]}) == 2  # both genres in the first four


MARKED = (103, 108, 112, 117)


class Marked:
    """Pair features that reveal relevance: 1 for the ``MARKED`` items, 0 for the others."""

    def __init__(self, names: tuple[str, ...] = ("marked",)) -> None:
        self.names = names

    def pair_features(self, user_ids: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
        marked = np.isin(item_ids, MARKED).astype(np.float32)
        return np.repeat(marked[:, :, None], len(self.names), axis=2)


RANKER_CONFIGS: dict[str, RankerConfig | LambdaRankConfig] = {
    "neural": RankerConfig(epochs=60, learning_rate=0.02),
    "lambdarank": LambdaRankConfig(  # from scratch: the planted signal overrides the blend
        n_estimators=30,
        learning_rate=0.05,
        num_leaves=15,
        min_child_samples=5,
        blend_weight=0.0,
        reg_lambda=0.0,
    ),
}


def _trained_ranker(kind: str, provider: PairFeatures) -> Ranker:
    """A ranker trained on the plain pipeline's candidates to put ``MARKED`` items first."""
    base = RecommendationPipeline.fit(_interactions(), source_configs=SOURCES)
    users = np.arange(1, 51)
    candidates = base.candidates(users)
    features = ranker_inputs(users, candidates, provider)
    valid = candidates.item_ids != PAD_ID
    labels = valid & np.isin(candidates.item_ids, MARKED)
    names = ranker_feature_names(base.config.sources, provider.names)
    return make_ranker(RANKER_CONFIGS[kind]).fit(features, labels, valid, names)


@pytest.fixture(scope="module", params=list(RANKER_CONFIGS))
def ranked(request: pytest.FixtureRequest) -> RecommendationPipeline:
    """The plain pipeline's sources with a ranker (of each kind) that reads ``Marked``."""
    return RecommendationPipeline.fit(
        _interactions(), source_configs=SOURCES, ranker=_trained_ranker(request.param, Marked())
    )


USERS = np.array([1, 4, 17, 9_999, 12_345])  # three warm users, two cold


def test_pair_features_reorder_warm_users_only(
    ranked: RecommendationPipeline, pipeline: RecommendationPipeline
) -> None:
    assert not ranked.ranking_active  # no pair features attached yet
    ranked.attach_features(Marked())
    assert ranked.ranking_active
    ids, scores = ranked.recommend(USERS, 3)
    plain, _ = pipeline.recommend(USERS, 3)
    warm = pipeline.personalized(USERS)
    assert warm.tolist() == [True, True, True, False, False]
    # warm users: the marked items they have not watched come first
    for row, seen in zip(ids[warm], ranked.seen_items(USERS[warm]), strict=True):
        unseen_marked = set(MARKED) - seen
        assert set(row[: len(unseen_marked)].tolist()) <= unseen_marked
    assert not np.array_equal(ids[warm], plain[warm])
    # cold users: exactly the cold-start source's items, in its order
    assert np.array_equal(ids[~warm], plain[~warm])
    top = pipeline.sources["popularity"].top_items(3)[0]
    assert all(row.tolist() == top.tolist() for row in ids[~warm])
    assert np.all(np.diff(scores, axis=1) <= 0)
    ranked.attach_features(None)
    assert not ranked.ranking_active


def test_without_pair_features_the_ranker_serves_the_blend(
    ranked: RecommendationPipeline,
    pipeline: RecommendationPipeline,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ranked.attach_features(None)
    with caplog.at_level(logging.WARNING, logger="models.pipeline"):
        first, _ = ranked.recommend(USERS, 6)
        again, _ = ranked.recommend(USERS, 6)
    assert np.array_equal(first, pipeline.recommend(USERS, 6)[0])
    assert np.array_equal(again, first)
    warnings = [r for r in caplog.records if "no pair features attached" in r.getMessage()]
    assert len(warnings) == 1  # once, not once per request


def test_use_ranker_off_serves_the_blend(
    ranked: RecommendationPipeline, pipeline: RecommendationPipeline
) -> None:
    off = RecommendationPipeline(
        ranked.sources,
        ranked.config.model_copy(update={"use_ranker": False}),
        index=ranked.index,
        ranker=ranked.ranker,
    )
    off.attach_features(Marked())
    assert not off.ranking_active
    assert np.array_equal(off.recommend(USERS, 3)[0], pipeline.recommend(USERS, 3)[0])


def test_pair_features_other_than_the_rankers_are_refused(
    ranked: RecommendationPipeline,
) -> None:
    with pytest.raises(ValueError, match=r"trained on pair features \['marked'\], the provider"):
        ranked.attach_features(Marked(("popularity",)))
    with pytest.raises(ValueError, match="trained on pair features"):
        ranked.attach_features(Marked(("marked", "extra")))
    with pytest.raises(ValueError, match="trained on pair features"):
        ranked.attach_features(NoPairFeatures())
    assert not ranked.ranking_active


def test_a_ranker_for_other_sources_is_refused(ranked: RecommendationPipeline) -> None:
    with pytest.raises(ValueError, match="the ranker was trained on features"):
        RecommendationPipeline({"popularity": ranked.sources["popularity"]}, ranker=ranked.ranker)


def test_a_ranker_of_blend_features_alone_needs_nothing_attached() -> None:
    ranker = _trained_ranker("lambdarank", NoPairFeatures())
    pipe = RecommendationPipeline.fit(_interactions(), source_configs=SOURCES, ranker=ranker)
    assert pipe.ranking_active and pipe.pair_features is not None
    assert pipe.pair_features.names == ()


def test_a_ranked_pipeline_round_trips_with_its_ranker_kind(
    ranked: RecommendationPipeline, tmp_path: Path
) -> None:
    assert ranked.ranker is not None
    ranked.attach_features(Marked())
    loaded = RecommendationPipeline.load(ranked.save(tmp_path / "p"))
    assert type(loaded.ranker) is type(ranked.ranker)
    assert (
        json.loads((tmp_path / "p" / "pipeline.json").read_text())["ranker"] == ranked.ranker.kind
    )
    assert not loaded.ranking_active  # pair features are not saved: the caller attaches them
    loaded.attach_features(Marked())
    for args in ({}, {"unavailable": {101, 115}}):
        expected = ranked.recommend(USERS, 6, **args)
        got = loaded.recommend(USERS, 6, **args)
        assert np.array_equal(expected[0], got[0])
        assert np.array_equal(expected[1], got[1])


def test_save_load_round_trip(pipeline: RecommendationPipeline, tmp_path: Path) -> None:
    pipeline.save(tmp_path / "p")
    loaded = RecommendationPipeline.load(tmp_path / "p")
    users = np.array([1, 4, 17, 9_999, 12_345])
    for args in ({}, {"unavailable": {101, 115}}):
        expected = pipeline.recommend(users, 6, **args)
        got = loaded.recommend(users, 6, **args)
        assert np.array_equal(expected[0], got[0])
        assert np.array_equal(expected[1], got[1])


def test_load_refuses_an_index_from_another_model(
    pipeline: RecommendationPipeline, tmp_path: Path
) -> None:
    pipeline.save(tmp_path / "p")
    other = ALSRecommender(ALS).fit(_interactions(n_items=16, seed=3))
    shutil.rmtree(tmp_path / "p" / "index")
    ItemIndex.from_model(other).save(tmp_path / "p" / "index")
    with pytest.raises(VocabularyMismatchError, match="rebuild the index from this model"):
        RecommendationPipeline.load(tmp_path / "p")
    with pytest.raises(VocabularyMismatchError, match="does not match the model's"):
        RecommendationPipeline(
            {"als": other, "popularity": pipeline.sources["popularity"]}, index=pipeline.index
        )


def test_load_of_something_else_is_explained(tmp_path: Path) -> None:
    PopularityRecommender().fit(_interactions()).save(tmp_path / "pop")
    with pytest.raises(ModelFormatError, match="not a saved pipeline"):
        RecommendationPipeline.load(tmp_path / "pop")
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "pipeline.json").write_text('{"format": 2}')
    with pytest.raises(ModelFormatError, match="pipeline format 2; this version reads 3: retrain"):
        RecommendationPipeline.load(tmp_path / "old")


def test_new_video_gets_content_neighbours_and_content_joins_the_blend() -> None:
    meta = pd.DataFrame(
        {
            c.VIDEO_ID: [*range(100, 100 + N_ITEMS), 500],
            "genres": [["Comedy"] if i < 110 else ["Drama"] for i in range(100, 120)] + [["Drama"]],
        }
    )
    features = ItemFeatures.from_metadata(meta)
    config = PipelineConfig(sources=("als", "content", "popularity"))
    pipe = RecommendationPipeline.fit(
        _interactions(), source_configs=SOURCES, config=config, item_features=features
    )
    assert pipe.weights == pytest.approx({"als": 0.5, "content": 0.3, "popularity": 0.2})
    # video 500 has no interactions yet: its neighbours come from its metadata
    ids, _ = pipe.similar_items(np.array([500]), 5)
    assert np.all((ids[0] >= 110) & (ids[0] < 120))
    explained = pipe.recommend_explained(np.array([2]), 10)[0]
    assert {"als", "content"} & {s for e in explained for s in e.sources}


def test_rp3beta_is_a_collaborative_source_with_explanations(tmp_path: Path) -> None:
    from models.rp3beta import RP3betaConfig

    config = PipelineConfig(sources=("rp3beta", "popularity"))
    pipe = RecommendationPipeline.fit(
        _interactions(), config=config, source_configs={"rp3beta": RP3betaConfig(neighbours=5)}
    )
    assert pipe.roles == {"rp3beta": "collaborative", "popularity": "trending"}
    ids, _ = pipe.recommend(np.array([1, 2, 424_242]), 3)
    assert np.all(ids[0, :2] >= 110) and np.all(ids[1, :2] < 110)  # own half first
    explained = pipe.recommend_explained(np.array([2]), 3)[0]
    assert explained[0].source == "rp3beta" and explained[0].anchor_id is not None
    loaded = RecommendationPipeline.load(pipe.save(tmp_path / "p"))
    assert np.array_equal(loaded.recommend(np.array([1, 2]), 3)[0], ids[:2])


def test_shallow_candidate_lists_still_fill_k_around_filters() -> None:
    from models.ensemble import EnsembleConfig

    config = PipelineConfig(ensemble=EnsembleConfig(depth=3))
    shallow = RecommendationPipeline.fit(_interactions(), source_configs=SOURCES, config=config)
    users = np.array([1, 2])
    top, _ = shallow.recommend(users, 3)
    assert (top >= 0).all()
    # the three best items of both users become unavailable: the lists reach deeper
    blocked = {int(i) for i in top.ravel()}
    ids, _ = shallow.recommend(users, 3, unavailable=blocked)
    assert (ids >= 0).all() and not blocked & set(ids.ravel().tolist())
    # an explicit history (sources do not know it) widens the lists by its size too
    history = [set(range(100, 100 + N_ITEMS // 2)), set()]
    ids, _ = shallow.recommend(users, 3, seen=history)
    assert (ids[0] >= 0).all() and not history[0] & set(ids[0].tolist())


def test_cold_users_get_the_trending_order_when_a_personal_source_is_served_alone() -> None:
    from models.ensemble import EnsembleConfig

    config = PipelineConfig(ensemble=EnsembleConfig(weights={"als": 1.0}))
    alone = RecommendationPipeline.fit(_interactions(), source_configs=SOURCES, config=config)
    ids, scores = alone.recommend(np.array([9_999, 1]), 5)
    pop = alone.sources["popularity"]
    got = pop.scores[pop.interactions.item_index(ids[0])]
    assert got.tolist() == pop.top_items(5)[1].tolist()  # equal up to ties
    assert scores[0, 0] > scores[0, -1]
    assert np.array_equal(ids[1], alone.sources["als"].recommend(np.array([1]), 5)[0][0])
