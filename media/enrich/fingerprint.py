"""Perceptual fingerprints of videos (a 64-bit pHash per sampled frame) to flag re-uploads.

A re-encoded or rescaled copy of a video keeps its frames' low-frequency structure, so their
pHashes differ in few bits; frames of unrelated videos differ in about half of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from media.errors import MediaError

#: Similarity above which two videos are near-duplicates (the same footage re-uploaded).
NEAR_DUPLICATE = 0.95
#: Frames whose hashes differ in at most this many bits match fully ...
MATCH_BITS = 8
#: ... and in at least this many bits not at all (linear in between).
MISMATCH_BITS = 20
#: Largest time shift, in samples, tried when aligning two fingerprints.
MAX_SHIFT = 2
_HASH_SIDE = 32
_DCT_SIDE = 8


@dataclass(frozen=True)
class Fingerprint:
    """One 64-bit perceptual hash per sampled frame, in time order, ``interval_s`` apart."""

    hashes: np.ndarray  # uint64, shape (n,)
    interval_s: float = 1.0

    def __post_init__(self) -> None:
        hashes = np.asarray(self.hashes)
        if hashes.ndim != 1 or hashes.size == 0:
            raise MediaError("a fingerprint needs at least one frame hash")
        if not self.interval_s > 0:
            raise MediaError(f"a fingerprint's interval must be positive, got {self.interval_s}")
        object.__setattr__(self, "hashes", hashes.astype(np.uint64))

    def to_list(self) -> list[int]:
        """The hashes as Python ints (for parquet ``list<uint64>`` and JSON)."""
        return [int(h) for h in self.hashes]

    @classmethod
    def from_list(cls, hashes: Sequence[int], interval_s: float = 1.0) -> Fingerprint:
        """A fingerprint from stored hashes."""
        return cls(np.asarray(list(hashes), dtype=np.uint64), interval_s)


def frame_hash(image: np.ndarray) -> int:
    """The 64-bit pHash of an RGB (or grey) image: signs of its 8x8 lowest DCT frequencies.

    Each bit says whether a coefficient is above the median of the 63 non-DC coefficients.
    """
    if image.ndim not in (2, 3) or image.shape[0] < 1 or image.shape[1] < 1:
        raise MediaError(f"a frame hash needs an HxW or HxWx3 image, got shape {image.shape}")
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    small = cv2.resize(
        grey.astype(np.float32), (_HASH_SIDE, _HASH_SIDE), interpolation=cv2.INTER_AREA
    )
    low = cv2.dct(small)[:_DCT_SIDE, :_DCT_SIDE].flatten()
    bits = low > np.median(low[1:])
    return int(np.packbits(bits).view(">u8")[0])


def fingerprint_frames(frames: Sequence[np.ndarray], interval_s: float = 1.0) -> Fingerprint:
    """The fingerprint of frames sampled ``interval_s`` apart."""
    if not frames:
        raise MediaError("a fingerprint needs at least one frame")
    return Fingerprint(np.array([frame_hash(f) for f in frames], dtype=np.uint64), interval_s)


def _popcount(values: np.ndarray) -> np.ndarray:
    """Set bits of each uint64."""
    bits = np.unpackbits(values.astype(">u8").view(np.uint8).reshape(-1, 8), axis=1)
    return bits.sum(axis=1, dtype=np.int64)


def similarity(a: Fingerprint, b: Fingerprint, max_shift: int = MAX_SHIFT) -> float:
    """How much of the longer video the other one reproduces, from 0 (unrelated) to 1 (same).

    Frames are compared pairwise at the best alignment within ``max_shift`` samples; a pair
    scores 1 up to ``MATCH_BITS`` differing bits, 0 from ``MISMATCH_BITS``, linearly between.
    The sum is divided by the longer fingerprint's length less one sample, so copies that
    differ by one sample at an end (a rounding of the duration) are not penalised.
    """
    if not np.isclose(a.interval_s, b.interval_s, rtol=0.05):
        raise MediaError(
            f"fingerprints sampled {a.interval_s:.3f} s and {b.interval_s:.3f} s apart "
            "cannot be compared; sample both at the same rate"
        )
    ha, hb = a.hashes, b.hashes
    longest = max(ha.size, hb.size)
    best = 0.0
    for shift in range(-max_shift, max_shift + 1):
        lo, hi = max(0, shift), min(ha.size, hb.size + shift)
        if hi <= lo:
            continue
        bits = _popcount(np.bitwise_xor(ha[lo:hi], hb[lo - shift : hi - shift]))
        match = np.clip((MISMATCH_BITS - bits) / (MISMATCH_BITS - MATCH_BITS), 0.0, 1.0)
        best = max(best, float(match.sum()) / max(1, longest - 1))
    return min(1.0, best)
