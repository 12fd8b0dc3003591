"""The ranker kinds: the typed table (kind -> class), making a ranker from its config, loading."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field

from models.errors import ModelFormatError
from models.lambdarank import LambdaRankConfig, LambdaRanker
from models.manifest import manifest_kind
from models.ranker import NeuralRanker, Ranker, RankerConfig

#: Every ranker kind, by the name its config's ``kind`` and its manifest carry.
RANKERS: dict[str, type[Ranker]] = {
    NeuralRanker.KIND: NeuralRanker,
    LambdaRanker.KIND: LambdaRanker,
}
#: A config of any ranker kind; pydantic tells them apart by ``kind``.
AnyRankerConfig = Annotated[RankerConfig | LambdaRankConfig, Field(discriminator="kind")]


def make_ranker(config: RankerConfig | LambdaRankConfig) -> Ranker:
    """An unfitted ranker of the config's kind."""
    return RANKERS[config.kind](config)


def load_ranker(path: Path) -> Ranker:
    """The ranker saved in ``path``, whatever its kind; ``ModelFormatError`` for other models."""
    kind = manifest_kind(path)
    ranker = RANKERS.get(kind)
    if ranker is None:
        raise ModelFormatError(
            f"{path} holds a {kind!r} model, not a ranker; ranker kinds: {', '.join(RANKERS)}"
        )
    return ranker.load(path)
