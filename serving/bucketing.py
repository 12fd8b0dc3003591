"""Deterministic A/B bucketing: a stable hash of user id and salt mapped onto traffic shares."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

#: Number of distinct bucket values (the hash keeps 64 bits).
_SCALE = float(2**64)


def bucket(user_id: int, salt: str) -> float:
    """The user's position in [0, 1) for ``salt``: the first 64 bits of BLAKE2b of
    ``"{salt}:{user_id}"``; the same on every process, platform and Python version."""
    digest = hashlib.blake2b(f"{salt}:{user_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE


def choose(variants: Sequence[tuple[str, float]], u: float) -> str:
    """The variant whose cumulative share interval holds ``u``: ``variants`` are ``(name,
    share)`` in order, shares summing to 1; rounding leftovers at the top go to the last one."""
    if not variants:
        raise ValueError("no variants to choose from")
    cumulative = 0.0
    for name, share in variants:
        cumulative += share
        if u < cumulative:
            return name
    return variants[-1][0]
