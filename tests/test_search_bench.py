"""The search benchmark: its judgements come from the catalogue, its metrics are right, and
``reelrank bench search`` prints figures for both modes."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from flows.cli import main
from serving.search_bench import recall_at_k, reciprocal_rank
from serving.search_index import query_words
from serving.search_judgements import judged_queries, misspell


def test_metrics_by_hand() -> None:
    relevant = frozenset({3, 9})
    assert recall_at_k([1, 3, 5], relevant) == 0.5
    assert recall_at_k([9, 3], relevant) == 1.0
    assert recall_at_k([], relevant) == 0.0
    assert reciprocal_rank([1, 2, 9], relevant) == pytest.approx(1 / 3)
    assert reciprocal_rank([1, 2], relevant) == 0.0


def test_a_misspelling_is_one_edit_of_the_longest_word() -> None:
    rng = random.Random(0)
    for _ in range(50):
        typo = misspell("The Golden Harbor", rng)
        assert typo != "The Golden Harbor"
        assert typo.split()[0] == "The"
        assert abs(len(typo) - len("The Golden Harbor")) <= 1


def test_judgements_come_from_titles_and_genres(sqlite_url: str) -> None:
    from tests.test_serving_search import _seed

    ids = _seed(sqlite_url)
    queries = judged_queries(sqlite_url, per_kind=10, seed=1)
    exact = {q.text: q.relevant for q in queries if q.kind == "exact"}
    assert exact["Midnight Harbor"] == {ids["haunted"], ids["harbor2"]}
    assert "Private Cats" not in exact
    descriptive = {q.text: q.relevant for q in queries if q.kind == "descriptive"}
    assert descriptive["how to cook tasty meals"] == {ids["kitchen"]}
    titles = {w for t in exact for w in query_words(t)}
    assert all(not set(query_words(text)) & titles for text in descriptive)


@pytest.mark.slow
def test_bench_search_prints_both_modes(
    data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "bench",
            "search",
            "--data-root",
            str(tmp_path / "world"),
            "--videos",
            "60",
            "--queries",
            "10",
            "--semantic-weight",
            "1",
            "--semantic-weight",
            "0.5",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    rows = re.findall(
        r"\| (lexical|hybrid) \| ([-\d.]+) \| (\w+) \| (\d+) \| ([\d.]+) \| ([\d.]+) \|", out
    )
    assert {(mode, weight, kind) for mode, weight, kind, *_ in rows} >= {
        ("lexical", "-", "exact"),
        ("hybrid", "1", "exact"),
        ("hybrid", "0.5", "exact"),
    }
    for _, _, _, n, recall, mrr in rows:
        assert int(n) > 0 and 0.0 <= float(recall) <= 1.0 and 0.0 <= float(mrr) <= 1.0
    averages = re.findall(r"\| (lexical|hybrid) \| ([-\d.]+) \| ([\d.]+) \|$", out, re.M)
    assert {(mode, weight) for mode, weight, _ in averages} == {
        ("lexical", "-"),
        ("hybrid", "1"),
        ("hybrid", "0.5"),
    }


def test_a_zero_semantic_weight_ranks_as_lexical_only(sqlite_url: str, tmp_path: Path) -> None:
    from serving.search_service import SearchFilters, SearchService
    from tests.test_serving_search import _seed

    _seed(sqlite_url)
    service = SearchService(sqlite_url, tmp_path, semantic=True, semantic_weight=0.0)
    service.refresh()
    for text in ("midnight harbor", "kitchen", "how to cook tasty meals"):
        hybrid = service.search(text, SearchFilters(), 20, 0, "hybrid")
        lexical = service.search(text, SearchFilters(), 20, 0, "lexical")
        assert hybrid.mode == "hybrid"
        lexical_ids = [hit.meta.video_id for hit in lexical.hits]
        assert [hit.meta.video_id for hit in hybrid.hits][: len(lexical_ids)] == lexical_ids
    with pytest.raises(ValueError, match="semantic_weight"):
        SearchService(sqlite_url, tmp_path, semantic_weight=1.5)
