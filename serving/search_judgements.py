"""The judged query set of the search benchmark, built from the catalogue's own titles and
genres (never from search results): exact titles, misspelled titles, and descriptions of a
genre that share no word with any title."""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from typing import Literal

from core.db.models import Video
from core.db.session import session_factory
from serving.search_index import query_words
from serving.visibility import listed_videos

QueryKind = Literal["exact", "misspelled", "descriptive"]

#: What a viewer might type when looking for a genre, in words of their own.
GENRE_DESCRIPTIONS: dict[str, str] = {
    "Action": "fights and explosive stunts",
    "Adventure": "explorers hunting for lost riches",
    "Animation": "drawn cartoons with animated characters",
    "Comedy": "funny jokes that make you laugh",
    "Crime": "police solving murders and robberies",
    "Documentary": "real facts about how the world works",
    "Drama": "an emotional story about a troubled family",
    "Family": "something to watch with children and parents",
    "Fantasy": "sorcerers casting spells in enchanted lands",
    "Horror": "scary ghosts and monsters",
    "Music": "singers and guitar performances on stage",
    "Mystery": "solving a puzzling riddle",
    "Romance": "a couple falling in love",
    "Sci-Fi": "astronauts exploring distant galaxies",
    "Sports": "athletes competing for a trophy",
    "Thriller": "tense spies and dangerous plots",
    "Travel": "tourists visiting foreign countries",
    "Cooking": "how to cook tasty meals",
}


@dataclass(frozen=True)
class JudgedQuery:
    """A query and the videos that answer it."""

    kind: QueryKind
    text: str
    relevant: frozenset[int]


def misspell(text: str, rng: random.Random) -> str:
    """``text`` with one typo in its longest word: two neighbouring letters swapped, or one
    letter dropped or doubled."""
    words = text.split()
    longest = max(range(len(words)), key=lambda i: len(words[i]))
    word = words[longest]
    if len(word) < 4:
        return text
    at = rng.randrange(1, len(word) - 1)
    edit = rng.choice(("swap", "drop", "double"))
    if edit == "swap":
        word = word[: at - 1] + word[at] + word[at - 1] + word[at + 1 :]
    elif edit == "drop":
        word = word[:at] + word[at + 1 :]
    else:
        word = word[:at] + word[at] + word[at:]
    words[longest] = word
    return " ".join(words)


def judged_queries(database_url: str, per_kind: int = 100, seed: int = 0) -> list[JudgedQuery]:
    """``per_kind`` exact and misspelled title queries (relevant: every listed video with that
    title) and one descriptive query per genre present (relevant: the genre's videos; a
    description sharing a word with any title is left out)."""
    with session_factory(database_url)() as session:
        rows = session.execute(
            listed_videos().with_only_columns(Video.id, Video.title, Video.genres)
        ).all()
    by_title: dict[str, set[int]] = defaultdict(set)
    by_genre: dict[str, set[int]] = defaultdict(set)
    title_words: set[str] = set()
    for video_id, title, genres in rows:
        by_title[title].add(int(video_id))
        title_words.update(query_words(title))
        for genre in genres or []:
            by_genre[genre].add(int(video_id))
    rng = random.Random(seed)
    titles = sorted(by_title)
    chosen = rng.sample(titles, min(per_kind, len(titles)))
    queries = [JudgedQuery("exact", t, frozenset(by_title[t])) for t in chosen]
    queries += [JudgedQuery("misspelled", misspell(t, rng), frozenset(by_title[t])) for t in chosen]
    for genre, text in GENRE_DESCRIPTIONS.items():
        if by_genre.get(genre) and not set(query_words(text)) & title_words:
            queries.append(JudgedQuery("descriptive", text, frozenset(by_genre[genre])))
    return queries
