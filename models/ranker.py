"""Rankers that re-score blended candidates from pair features, and the MLP ranker.

A ranker reads ``(n, width, F)`` features of each user's candidates (``models.pair_features``:
the blend's features, then a provider's) and scores each pair. ``Ranker`` is the shallow base
class: it owns the input checks, the fitted state and the manifest save/load; a kind supplies
how it fits, scores and stores its parameters. ``NeuralRanker`` is a small MLP trained with a
listwise (softmax) or pairwise (BPR over candidates that are not relevant) loss; the LightGBM
lambdarank ranker is in ``models.lambdarank`` and the kind table in ``models.rankers``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal, Self

import numpy as np
from pydantic import Field

from models.config import ModelConfig
from models.errors import ModelFormatError, NotFittedError
from models.manifest import read_manifest, write_manifest
from models.pair_features import BLEND_SCORE, check_finite

if TYPE_CHECKING:
    import torch

_WEIGHTS = "ranker.pt"
_NAMES = "features.json"


class RankerConfig(ModelConfig):
    """Shape and training of the MLP ranker."""

    kind: Literal["neural"] = Field("neural", description="The ranker kind (the MLP).")
    hidden: int = Field(8, gt=0, description="Units of the hidden layer.")
    epochs: int = Field(30, gt=0, description="Passes over the training users.")
    learning_rate: float = Field(0.003, gt=0, description="Adam step size.")
    weight_decay: float = Field(
        1e-2,
        ge=0,
        description="L2 penalty (Adam weight decay); with 8 hidden units chosen on "
        "validation lists (see docs/benchmarks.md).",
    )
    batch_users: int = Field(64, gt=0, description="Users (candidate lists) per step.")
    loss: Literal["listwise", "pairwise"] = Field(
        "listwise", description="Softmax over each user's candidates, or BPR against negatives."
    )
    negatives: int = Field(
        10, gt=0, description="Pairwise only: non-relevant candidates sampled per positive."
    )
    blend_weight: float = Field(
        0.0,
        ge=0,
        description="The MLP corrects the blend: a candidate's score is this weight times its "
        "blend score standardised within its list plus the MLP's output, whose last layer "
        "starts at zero (so training starts from the blend's order). 0: the MLP ranks alone.",
    )
    seed: int = Field(0, description="Seed of initialisation and batching.")
    num_threads: int = Field(
        1,
        gt=0,
        description="torch CPU threads (at most 2 on the reference machine). The MLP is tiny: "
        "one thread is fastest on a loaded host.",
    )


def blend_prior(features: np.ndarray, valid: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """float32 ``(n, width)``: the ``blend_score`` column standardised within each list over
    its valid candidates (the blend's order on a scale that does not depend on the blend's
    normalisation); zeros where the column is missing, invalid or constant in its list."""
    if BLEND_SCORE not in names:
        return np.zeros(features.shape[:2], dtype=np.float32)
    score = features[:, :, names.index(BLEND_SCORE)].astype(np.float64)
    count = np.maximum(valid.sum(axis=1, keepdims=True), 1)
    mean = np.where(valid, score, 0.0).sum(axis=1, keepdims=True) / count
    centred = np.where(valid, score - mean, 0.0)
    std = np.sqrt((centred**2).sum(axis=1, keepdims=True) / count)
    z = np.divide(centred, std, out=np.zeros_like(centred), where=std > 1e-12)
    return z.astype(np.float32)


def useful_lists(labels: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Rows with both a relevant and a non-relevant valid candidate (the others teach
    nothing); ``ValueError`` if there is none."""
    pos = (labels & valid).sum(axis=1)
    neg = (~labels & valid).sum(axis=1)
    useful = np.flatnonzero((pos > 0) & (neg > 0))
    if useful.size == 0:
        raise ValueError(
            "no candidate list has both a relevant and a non-relevant item: nothing to learn"
        )
    return useful


class Ranker:
    """Scores each user's candidates from ``(n, width, F)`` pair features; higher is better.

    Subclasses set ``KIND`` (the manifest kind) and ``CONFIG`` (their config class) and
    implement ``_fit``, ``_score``, ``_save_parameters`` and ``_load_parameters``.
    """

    KIND: ClassVar[str]
    CONFIG: ClassVar[type[ModelConfig]]

    def __init__(self, config: ModelConfig) -> None:
        self.config = config
        self.feature_names: tuple[str, ...] = ()
        self._fitted = False

    @property
    def kind(self) -> str:
        """The ranker kind (``neural``, ``lambdarank``)."""
        return self.KIND

    @property
    def n_features(self) -> int:
        """Width of the feature vectors the ranker was trained on."""
        if not self._fitted:
            raise NotFittedError(f"the {self.KIND} ranker is not fitted: call fit() first")
        return len(self.feature_names)

    def fit(
        self,
        features: np.ndarray,
        labels: np.ndarray,
        valid: np.ndarray,
        names: tuple[str, ...] | None = None,
    ) -> Self:
        """Train on ``(n, width, F)`` features, bool ``labels`` (relevant) and ``valid`` masks;
        ``names`` are the F column names (checked again when the ranker is attached).

        Lists without a relevant (or without a non-relevant) valid candidate teach nothing and
        are skipped; ``ValueError`` if none is left.
        """
        features = np.asarray(features, dtype=np.float32)
        labels = np.asarray(labels, dtype=bool)
        valid = np.asarray(valid, dtype=bool)
        if features.ndim != 3 or not labels.shape == valid.shape == features.shape[:2]:
            raise ValueError(
                f"features must be (users, candidates, features) with matching labels and "
                f"mask; got {features.shape}, {labels.shape}, {valid.shape}"
            )
        names = names or tuple(f"f{j}" for j in range(features.shape[2]))
        if len(names) != features.shape[2]:
            raise ValueError(f"{len(names)} feature names for {features.shape[2]} columns")
        check_finite(features)
        useful = useful_lists(labels, valid)
        self.feature_names = tuple(names)
        self._fit(features, labels & valid, valid, useful)
        self._fitted = True
        return self

    def score(self, features: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """float32 ``(n, width)`` scores, ``-inf`` where ``valid`` is False."""
        features = np.asarray(features, dtype=np.float32)
        if features.ndim != 3 or features.shape[2] != self.n_features:
            raise ValueError(
                f"the ranker was trained on {self.n_features} features, got shape "
                f"{features.shape}: the sources or pair features differ from its training"
            )
        check_finite(features)
        if features.shape[0] == 0 or features.shape[1] == 0:
            return np.full(features.shape[:2], -np.inf, dtype=np.float32)
        out = self._score(features, valid)
        return np.where(valid, out, -np.inf).astype(np.float32)

    def save(self, path: Path) -> Path:
        """Write the manifest, the feature names and the parameters into directory ``path``."""
        if not self._fitted:
            raise NotFittedError(f"the {self.KIND} ranker is not fitted: call fit() first")
        write_manifest(path, self.KIND, self.config)
        (path / _NAMES).write_text(json.dumps(list(self.feature_names)))
        self._save_parameters(path)
        return path

    @classmethod
    def load(cls, path: Path) -> Self:
        """Read a directory written by ``save``."""
        ranker = cls(read_manifest(path, cls.KIND, cls.CONFIG))
        if not (path / _NAMES).is_file():
            raise ModelFormatError(f"no {_NAMES} in {path}: incomplete {cls.KIND} ranker")
        ranker.feature_names = tuple(json.loads((path / _NAMES).read_text()))
        ranker._load_parameters(path)
        ranker._fitted = True
        return ranker

    # -- what a kind supplies -----------------------------------------------------------------
    def _fit(
        self, features: np.ndarray, labels: np.ndarray, valid: np.ndarray, useful: np.ndarray
    ) -> None:
        """Learn from the ``useful`` rows; ``labels`` are already masked by ``valid``;
        ``feature_names`` is already set."""
        raise NotImplementedError

    def _score(self, features: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """Scores ``(n, width)`` of finite features of the right width (padding included;
        ``valid`` marks the real candidates)."""
        raise NotImplementedError

    def _save_parameters(self, path: Path) -> None:
        raise NotImplementedError

    def _load_parameters(self, path: Path) -> None:
        raise NotImplementedError


class NeuralRanker(Ranker):
    """An MLP over standardised pair features, trained to put relevant candidates first."""

    KIND = "neural"
    CONFIG = RankerConfig
    config: RankerConfig

    def __init__(self, config: RankerConfig = RankerConfig()) -> None:  # noqa: B008 - frozen
        super().__init__(config)
        self._net: torch.nn.Module | None = None
        self._mean: np.ndarray | None = None
        self._std: np.ndarray | None = None

    def _build(self, n_features: int) -> torch.nn.Module:
        import torch

        torch.manual_seed(self.config.seed)
        first = torch.nn.Linear(n_features, self.config.hidden)
        last = torch.nn.Linear(self.config.hidden, 1)
        if self.config.blend_weight > 0:  # start from the blend's order exactly
            torch.nn.init.zeros_(last.weight)
            torch.nn.init.zeros_(last.bias)
        return torch.nn.Sequential(first, torch.nn.ReLU(), last)

    def _fit(
        self, features: np.ndarray, labels: np.ndarray, valid: np.ndarray, useful: np.ndarray
    ) -> None:
        import torch

        torch.set_num_threads(self.config.num_threads)
        flat = features[valid]
        self._mean = flat.mean(axis=0)
        self._std = np.where(flat.std(axis=0) > 1e-6, flat.std(axis=0), 1.0)
        x_all = torch.from_numpy((features[useful] - self._mean) / self._std)
        prior = self.config.blend_weight * blend_prior(features, valid, self.feature_names)
        p_all = torch.from_numpy(prior[useful])
        y_all = torch.from_numpy(labels[useful])
        m_all = torch.from_numpy(valid[useful])
        net = self._build(features.shape[2])
        opt = torch.optim.Adam(
            net.parameters(),
            lr=self.config.learning_rate,
            weight_decay=self.config.weight_decay,
        )
        gen = torch.Generator().manual_seed(self.config.seed)
        for _ in range(self.config.epochs):
            perm = torch.randperm(useful.size, generator=gen)
            for start in range(0, useful.size, self.config.batch_users):
                batch = perm[start : start + self.config.batch_users]
                scores = net(x_all[batch]).squeeze(-1) + p_all[batch]
                loss = self._loss(scores, y_all[batch], m_all[batch], gen)
                opt.zero_grad()
                loss.backward()
                opt.step()
        self._net = net

    def _loss(
        self,
        scores: torch.Tensor,
        labels: torch.Tensor,
        mask: torch.Tensor,
        gen: torch.Generator,
    ) -> torch.Tensor:
        import torch

        s, y, m = scores, labels, mask
        if self.config.loss == "listwise":
            logp = torch.log_softmax(s.masked_fill(~m, -1e9), dim=1)
            target = y.float() / y.float().sum(dim=1, keepdim=True)
            return -(target * logp.masked_fill(~m, 0.0)).sum(dim=1).mean()
        # pairwise BPR: each positive against sampled non-relevant candidates of its list
        neg_pool = (~y & m).float()
        picks = torch.multinomial(neg_pool, self.config.negatives, True, generator=gen)
        neg_scores = torch.gather(s, 1, picks)
        diff = s.unsqueeze(2) - neg_scores.unsqueeze(1)
        weight = y.float().unsqueeze(2)
        return (
            -(torch.nn.functional.logsigmoid(diff) * weight).sum()
            / weight.sum().clamp(min=1)
            / self.config.negatives
        )

    def _score(self, features: np.ndarray, valid: np.ndarray) -> np.ndarray:
        import torch

        net = self._net
        assert net is not None and self._mean is not None and self._std is not None
        torch.set_num_threads(self.config.num_threads)
        x = torch.from_numpy(((features - self._mean) / self._std).astype(np.float32))
        with torch.no_grad():
            out = np.asarray(net(x).squeeze(-1).numpy())
        if self.config.blend_weight == 0:
            return out
        return out + self.config.blend_weight * blend_prior(features, valid, self.feature_names)

    def _save_parameters(self, path: Path) -> None:
        import torch

        assert self._net is not None and self._mean is not None and self._std is not None
        torch.save(
            {
                "state": self._net.state_dict(),
                "mean": torch.from_numpy(self._mean),
                "std": torch.from_numpy(self._std),
            },
            path / _WEIGHTS,
        )

    def _load_parameters(self, path: Path) -> None:
        import torch

        if not (path / _WEIGHTS).is_file():
            raise ModelFormatError(f"no {_WEIGHTS} in {path}: incomplete neural ranker")
        saved = torch.load(path / _WEIGHTS, weights_only=True)
        net = self._build(len(self.feature_names))
        net.load_state_dict(saved["state"])
        self._net = net
        self._mean, self._std = saved["mean"].numpy(), saved["std"].numpy()
