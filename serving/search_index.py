"""The lexical half of search: an in-process tantivy index (in RAM, one per worker) over
title, description, tags, creator and transcript, queried term by term with typo tolerance.

User text never reaches tantivy's query parser: it is split into words and each word becomes
a term query (BM25, weighted by field) plus, for longer words, a fuzzy term query, so no
input can be a syntax error.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

import tantivy

#: Field weights: title 3, description 2, tags 2, creator 2, transcript 1.
FIELD_WEIGHTS: dict[str, float] = {
    "title": 3.0,
    "description": 2.0,
    "tags": 2.0,
    "creator": 2.0,
    "transcript": 1.0,
}
#: A typo-tolerant match counts for this share of an exact one.
FUZZY_SHARE = 0.5
#: Words shorter than this must match exactly; from it, 1 edit; from ``TWO_EDITS``, 2 edits.
ONE_EDIT, TWO_EDITS = 4, 8
#: Most words of a query used (the rest are ignored).
MAX_QUERY_WORDS = 12
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def query_words(text: str) -> list[str]:
    """The lower-cased words of ``text`` as the index tokenizes them (at most 12, each at
    most 40 characters: the tokenizer drops longer tokens)."""
    words = [w.lower() for w in _WORD.findall(text) if len(w) <= 40]
    return list(dict.fromkeys(words))[:MAX_QUERY_WORDS]


@dataclass(frozen=True)
class SearchDocument:
    """What is indexed of one video."""

    video_id: int
    title: str
    description: str
    tags: str
    creator: str
    transcript: str = ""


class LexicalIndex:
    """A RAM tantivy index keyed by video id; writes are serialised, searches see the last
    commit."""

    def __init__(self) -> None:
        builder = tantivy.SchemaBuilder()
        builder.add_integer_field("id", stored=True, indexed=True, fast=True)
        for field in FIELD_WEIGHTS:
            builder.add_text_field(field, stored=False)
        self.schema = builder.build()
        self._index = tantivy.Index(self.schema)
        self._writer = self._index.writer(heap_size=50_000_000, num_threads=1)
        self._lock = threading.Lock()
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def upsert(self, documents: list[SearchDocument], removed: list[int]) -> None:
        """Replace ``documents`` (by id) and drop ``removed``, in one commit."""
        if not documents and not removed:
            return
        with self._lock:
            for video_id in [d.video_id for d in documents] + removed:
                self._writer.delete_documents_by_term("id", video_id)
            for doc in documents:
                self._writer.add_document(
                    tantivy.Document(
                        id=doc.video_id,
                        title=doc.title,
                        description=doc.description,
                        tags=doc.tags,
                        creator=doc.creator,
                        transcript=doc.transcript,
                    )
                )
            self._writer.commit()
            self._index.reload()
            self._size = self._index.searcher().num_docs

    def query(self, text: str) -> tantivy.Query | None:
        """The weighted, typo-tolerant query of ``text``; None when it has no words."""
        clauses: list[tuple[tantivy.Occur, tantivy.Query]] = []
        for word in query_words(text):
            for field, weight in FIELD_WEIGHTS.items():
                exact = tantivy.Query.term_query(self.schema, field, word)
                clauses.append((tantivy.Occur.Should, tantivy.Query.boost_query(exact, weight)))
                if len(word) >= ONE_EDIT:
                    distance = 2 if len(word) >= TWO_EDITS else 1
                    fuzzy = tantivy.Query.fuzzy_term_query(
                        self.schema, field, word, distance, True, False
                    )
                    clauses.append(
                        (
                            tantivy.Occur.Should,
                            tantivy.Query.boost_query(fuzzy, weight * FUZZY_SHARE),
                        )
                    )
        return tantivy.Query.boolean_query(clauses) if clauses else None

    def search(self, text: str, limit: int) -> list[tuple[int, float]]:
        """The best ``limit`` (video id, score) pairs for ``text``."""
        query = self.query(text)
        if query is None:
            return []
        searcher = self._index.searcher()
        result = searcher.search(query, limit, count=False)
        return [
            (int(searcher.doc(address)["id"][0]), float(score)) for score, address in result.hits
        ]
