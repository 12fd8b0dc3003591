"""The quality-of-experience (QoE) score of one playback session, 0 (unwatchable) to 100.

A heuristic in the spirit of published models, not a calibrated one: like ITU-T P.1203
(mode 0) and the Conviva / Dobrian et al. (SIGCOMM 2011) findings it weighs stalling far
above start-up delay, penalises frequent quality switches, and adds the buffer level players
report as an early warning of stalls. It has not been fitted to viewer ratings.

Each component ``i`` has a badness ``b_i`` in ``[0, 1]`` and a weight ``w_i``; the score is

    QoE = 100 * (1 - sum(w_i * b_i) / sum(w_i))     over the components the session has.

==========  ======  ====================================================================
component   weight  badness
==========  ======  ====================================================================
start-up    20      ``clip((T - 2 s) / (10 s - 2 s), 0, 1)``, T = start-up time: viewers
                    start abandoning after 2 s (Krishnan & Sitaraman, IMC 2012); 10 s is
                    as bad as it gets
stalling    50      ``1 - exp(-r / 0.05)``, r = stall / (watch + stall): the exponential
                    decay of the IQX hypothesis (Hossfeld et al.); 1 % stalling costs 18 %
                    of the weight, 5 % costs 63 %, 15 % costs 95 %
switches    15      ``min(1, s / 3)``, s = switches / max(watch minutes, 1): one switch
                    every 20 s or more often is the worst; the one-minute floor keeps a
                    single switch in a short clip from counting as a storm
buffer      15      ``clip(1 - B / 10 s, 0, 1)``, B = mean reported buffer level: 10 s ahead
                    is healthy (HLS players aim at 10-30 s); an empty buffer is the worst
==========  ======  ====================================================================

Missing information degrades gracefully: stalling and switches are always scored (no
``rebuffer`` or ``quality_change`` event means none happened, and no watch time with no stall
gives ``r = 0``), while a session without a start-up time or without any buffer report is
scored on the components it has, the weights renormalised over them. Every score is
non-increasing in start-up time, stall time and switches, and non-decreasing in buffer level
and (stall and switches fixed) in watch time. Negative or non-finite inputs count as 0 or
as missing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Component weights (they sum to 100).
STARTUP_WEIGHT, STALL_WEIGHT, SWITCH_WEIGHT, BUFFER_WEIGHT = 20.0, 50.0, 15.0, 15.0
#: Start-up time without penalty, and the time of the full penalty (seconds).
STARTUP_OK_S, STARTUP_WORST_S = 2.0, 10.0
#: Rebuffering ratio at which the stall badness reaches ``1 - 1/e``.
STALL_SCALE = 0.05
#: Switches per minute of the full penalty, and the least minutes a rate is taken over.
SWITCHES_WORST_PER_MIN, SWITCH_MIN_MINUTES = 3.0, 1.0
#: Mean buffer level without penalty (seconds).
BUFFER_HEALTHY_S = 10.0


@dataclass(frozen=True)
class SessionQuality:
    """What one playback session's player reported (see ``docs/analytics.md``)."""

    watch_seconds: float = 0.0
    stall_seconds: float = 0.0
    switches: int = 0
    startup_ms: float | None = None
    mean_buffer_s: float | None = None


def _amount(value: float) -> float:
    """``value`` if finite and positive, else 0."""
    return value if math.isfinite(value) and value > 0 else 0.0


def _known(value: float | None) -> float | None:
    """``value`` if finite and not negative, else None (missing)."""
    return value if value is not None and math.isfinite(value) and value >= 0 else None


def _clip01(value: float) -> float:
    return min(1.0, max(0.0, value))


def rebuffer_ratio(stall_seconds: float, watch_seconds: float) -> float:
    """Stall time over watch plus stall time; 0 when both are 0."""
    stall, watch = _amount(stall_seconds), _amount(watch_seconds)
    return stall / (watch + stall) if stall > 0 else 0.0


def startup_badness(startup_ms: float) -> float:
    """0 up to 2 s of start-up, rising linearly to 1 at 10 s."""
    seconds = _amount(startup_ms) / 1000.0
    return _clip01((seconds - STARTUP_OK_S) / (STARTUP_WORST_S - STARTUP_OK_S))


def stall_badness(ratio: float) -> float:
    """``1 - exp(-ratio / 0.05)``."""
    return 1.0 - math.exp(-_amount(ratio) / STALL_SCALE)


def switch_badness(switches: int, watch_seconds: float) -> float:
    """Switches per minute (at least one minute) over 3, capped at 1."""
    minutes = max(_amount(watch_seconds) / 60.0, SWITCH_MIN_MINUTES)
    return min(1.0, max(0, switches) / minutes / SWITCHES_WORST_PER_MIN)


def buffer_badness(mean_buffer_s: float) -> float:
    """1 for an empty buffer, falling linearly to 0 at 10 s."""
    return _clip01(1.0 - _amount(mean_buffer_s) / BUFFER_HEALTHY_S)


def qoe_score(session: SessionQuality) -> float:
    """The session's QoE in ``[0, 100]``: the weighted badness of the components it has."""
    ratio = rebuffer_ratio(session.stall_seconds, session.watch_seconds)
    parts = [
        (STALL_WEIGHT, stall_badness(ratio)),
        (SWITCH_WEIGHT, switch_badness(session.switches, session.watch_seconds)),
    ]
    startup = _known(session.startup_ms)
    if startup is not None:
        parts.append((STARTUP_WEIGHT, startup_badness(startup)))
    buffer = _known(session.mean_buffer_s)
    if buffer is not None:
        parts.append((BUFFER_WEIGHT, buffer_badness(buffer)))
    weight = sum(w for w, _ in parts)
    penalty = sum(w * b for w, b in parts)
    return min(100.0, max(0.0, 100.0 * (1.0 - penalty / weight)))
