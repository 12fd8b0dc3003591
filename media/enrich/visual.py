"""Visual descriptors of a video from its sampled frames, behind one ``VisualEncoder`` interface.

``HandcraftedVisualEncoder`` needs no downloaded weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Protocol, runtime_checkable

import cv2
import numpy as np

from media.errors import MediaError

_HSV_BINS = (8, 4, 4)  # hue, saturation, value
_ORIENTATION_BINS = 8
_LBP_BINS = 9  # number of neighbours brighter than the centre, 0..8
#: Histogram distance (Bhattacharyya) between consecutive samples that counts as a shot change.
SHOT_CHANGE_DISTANCE = 0.5
_IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
_IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


@runtime_checkable
class VisualEncoder(Protocol):
    """Turns the sampled frames of one video (RGB uint8, in time order) into one vector."""

    @property
    def name(self) -> str:
        """What the encoder is, with its version (recorded next to the vectors)."""
        ...

    @property
    def dim(self) -> int:
        """Length of the vectors ``encode`` returns."""
        ...

    def encode(self, frames: list[np.ndarray]) -> np.ndarray:
        """An L2-normalised float32 vector of length ``dim`` for the video."""
        ...


def _check_frames(frames: Sequence[np.ndarray]) -> None:
    """Raise ``MediaError`` unless ``frames`` is a non-empty list of HxWx3 uint8 images."""
    if len(frames) == 0:
        raise MediaError("a visual descriptor needs at least one frame")
    for i, frame in enumerate(frames):
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8 or 0 in frame.shape:
            raise MediaError(
                f"frame {i} is not an RGB uint8 image (shape {frame.shape}, dtype {frame.dtype})"
            )


def _unit(vector: np.ndarray) -> np.ndarray:
    """``vector`` scaled to unit L2 norm (zeros stay zeros), as float32."""
    norm = float(np.linalg.norm(vector))
    return (vector / norm if norm > 0 else vector).astype(np.float32)


class HandcraftedVisualEncoder:
    """Colour, texture, edges, motion and cutting pace, from pixels alone.

    Blocks, each L2-normalised then weighted equally: a joint HSV colour histogram (8x4x4),
    a histogram of gradient orientations weighted by Sobel magnitude (8), a local-binary-pattern
    histogram (9: neighbours brighter than the centre), and scalar statistics (Canny edge
    density, mean and spread of brightness and saturation, motion energy between consecutive
    samples, shot-change rate). Histograms enter as square roots (Hellinger), so the dot
    product of two vectors compares distributions sensibly.
    """

    name = "handcrafted-v1"
    dim = int(np.prod(_HSV_BINS)) + _ORIENTATION_BINS + _LBP_BINS + 8

    def encode(self, frames: list[np.ndarray]) -> np.ndarray:
        """The descriptor of one video's sampled frames (see the class docstring)."""
        _check_frames(frames)
        colour = np.zeros(int(np.prod(_HSV_BINS)), np.float64)
        orientation = np.zeros(_ORIENTATION_BINS, np.float64)
        lbp = np.zeros(_LBP_BINS, np.float64)
        edges, brightness, saturation = [], [], []
        greys: list[np.ndarray] = []
        hists: list[np.ndarray] = []
        for frame in frames:
            hsv = cv2.cvtColor(frame, cv2.COLOR_RGB2HSV)
            counts = cv2.calcHist([hsv], [0, 1, 2], None, list(_HSV_BINS), [0, 180, 0, 256, 0, 256])
            hist: np.ndarray = counts.flatten() / max(1.0, float(counts.sum()))
            hists.append(hist.astype(np.float32))
            colour += hist
            grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
            greys.append(cv2.resize(grey, (64, 64), interpolation=cv2.INTER_AREA))
            orientation += _orientation_histogram(grey)
            lbp += _lbp_histogram(grey)
            edges.append(float((cv2.Canny(grey, 100, 200) > 0).mean()))
            brightness.append(hsv[..., 2].mean() / 255.0)
            saturation.append(hsv[..., 1].mean() / 255.0)
        motion = [
            float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean()) / 255.0
            for a, b in pairwise(greys)
        ]
        cuts = [
            cv2.compareHist(a, b, cv2.HISTCMP_BHATTACHARYYA) > SHOT_CHANGE_DISTANCE
            for a, b in pairwise(hists)
        ]
        stats = np.array(
            [
                np.mean(edges),
                np.mean(brightness),
                np.std(brightness),
                np.mean(saturation),
                np.std(saturation),
                np.mean(motion) if motion else 0.0,
                np.max(motion) if motion else 0.0,
                np.mean(cuts) if cuts else 0.0,
            ]
        )
        blocks = [np.sqrt(colour / len(frames)), np.sqrt(_norm1(orientation)), np.sqrt(_norm1(lbp))]
        return _unit(np.concatenate([_unit(b) for b in [*blocks, stats]]))


def _norm1(hist: np.ndarray) -> np.ndarray:
    """``hist`` divided by its sum (zeros stay zeros)."""
    total = float(hist.sum())
    return hist / total if total > 0 else hist


def _orientation_histogram(grey: np.ndarray) -> np.ndarray:
    """Gradient orientations (0..180 degrees) in bins, weighted by Sobel magnitude."""
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    magnitude, angle = cv2.cartToPolar(gx, gy, angleInDegrees=True)
    bins = (np.mod(angle, 180.0) * _ORIENTATION_BINS / 180.0).astype(np.int64) % _ORIENTATION_BINS
    return np.bincount(bins.ravel(), weights=magnitude.ravel(), minlength=_ORIENTATION_BINS)


def _lbp_histogram(grey: np.ndarray) -> np.ndarray:
    """Histogram of how many of the 8 neighbours of each pixel are brighter than it."""
    centre = grey[1:-1, 1:-1].astype(np.int16)
    count = np.zeros(centre.shape, np.int64)
    height, width = grey.shape
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy or dx:
                neighbour = grey[1 + dy : height - 1 + dy, 1 + dx : width - 1 + dx]
                count += neighbour.astype(np.int16) > centre
    return np.bincount(count.ravel(), minlength=_LBP_BINS).astype(np.float64)
