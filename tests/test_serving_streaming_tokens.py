"""Stream tokens: format, round trip, and each way a token is refused."""

from __future__ import annotations

import pytest

from serving import stream_tokens
from serving.stream_tokens import (
    StreamTokenExpired,
    StreamTokenForged,
    StreamTokenMalformed,
    StreamTokenMissing,
)

KEY = b"k" * 64
SESSION = "0123456789abcdef0123456789abcdef"
NOW = 1_800_000_000


def test_round_trip_and_format() -> None:
    token = stream_tokens.issue(KEY, 42, 7, SESSION, NOW + 600)
    assert token.startswith(f"s1.42.7.{SESSION}.{NOW + 600}.")
    assert len(token) < 130 and all(c.isalnum() or c in "._-" for c in token)
    grant = stream_tokens.verify(KEY, token, now=NOW)
    assert grant == stream_tokens.StreamGrant(42, 7, SESSION, NOW + 600)
    anonymous = stream_tokens.verify(KEY, stream_tokens.issue(KEY, 42, 0, None, NOW + 1), NOW)
    assert anonymous.viewer_id == 0 and anonymous.session_id is None


def test_every_changed_character_is_refused() -> None:
    token = stream_tokens.issue(KEY, 42, 7, SESSION, NOW + 600)
    for index, char in enumerate(token):
        for other in "0A_":
            if other == char:
                continue
            changed = token[:index] + other + token[index + 1 :]
            with pytest.raises((StreamTokenForged, StreamTokenMalformed)):
                stream_tokens.verify(KEY, changed, now=NOW)


def test_another_key_and_expiry() -> None:
    token = stream_tokens.issue(KEY, 42, 7, None, NOW + 600)
    with pytest.raises(StreamTokenForged, match="signature"):
        stream_tokens.verify(b"x" * 64, token, now=NOW)
    with pytest.raises(StreamTokenExpired, match="expired"):
        stream_tokens.verify(KEY, token, now=NOW + 600)
    assert stream_tokens.verify(KEY, token, now=NOW + 599).expires_at == NOW + 600


@pytest.mark.parametrize(
    "token",
    [
        "x",
        "s1.1.2.0.3",
        "s1.1.2.0.3.4.5",
        "s1.01.2.0.3." + "a" * 43,
        "s1.1.2.zz.3." + "a" * 43,
        "s1.1.-2.0.3." + "a" * 43,
        "s1.1.2.0.3." + "a" * 42,
        "s1.1.2.0.3." + "a" * 42 + "=",
        "s1." + "9" * 30 + ".2.0.3." + "a" * 43,
    ],
)
def test_malformed_tokens(token: str) -> None:
    with pytest.raises(StreamTokenMalformed):
        stream_tokens.verify(KEY, token, now=NOW)


def test_missing_token() -> None:
    with pytest.raises(StreamTokenMissing):
        stream_tokens.verify(KEY, None)
    with pytest.raises(StreamTokenMissing):
        stream_tokens.verify(KEY, "")


def test_the_stream_key_is_not_the_signing_key() -> None:
    assert stream_tokens.stream_key(KEY) != KEY
