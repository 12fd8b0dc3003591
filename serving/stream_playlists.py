"""Playlist rewriting: every package-relative URI of a master playlist, media playlist or
storyboard index becomes a URL that carries a stream token."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable

#: A URI attribute of a playlist tag (``#EXT-X-MAP``, audio renditions, I-frame playlists).
_TAG_URI = re.compile(r'URI="([^"]+)"')
_ABSOLUTE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_EXTINF = re.compile(r"^#EXTINF:([0-9]+(?:\.[0-9]+)?)")
#: A storyboard cue's image: ``sprite.jpg#xywh=x,y,w,h``.
_SPRITE = re.compile(r"^([A-Za-z0-9_.-]+\.jpg)(#xywh=[0-9,]+)?$")

#: Maps a package-relative file path to its tokenised URL.
UrlFor = Callable[[str], str]


def _resolve(folder: str, uri: str) -> str | None:
    """The package-relative path of ``uri`` written in a playlist in ``folder``; None for
    absolute URLs and paths (left as they are)."""
    if _ABSOLUTE.match(uri) or uri.startswith("/"):
        return None
    path = posixpath.normpath(posixpath.join(folder, uri)) if folder else posixpath.normpath(uri)
    return None if path.startswith("..") else path


def rewrite_playlist(text: str, folder: str, url_for: UrlFor) -> str:
    """``text`` (a playlist in package folder ``folder``, "" for the root) with each relative
    URI line and ``URI="..."`` attribute replaced by ``url_for(path)``."""

    def attribute(match: re.Match[str]) -> str:
        path = _resolve(folder, match.group(1))
        return match.group(0) if path is None else f'URI="{url_for(path)}"'

    lines = []
    for line in text.splitlines():
        if line.startswith("#"):
            line = _TAG_URI.sub(attribute, line)
        elif line.strip():
            path = _resolve(folder, line.strip())
            line = line if path is None else url_for(path)
        lines.append(line)
    return "\n".join(lines) + "\n"


def playlist_seconds(text: str) -> float:
    """The summed ``#EXTINF`` durations of a media playlist."""
    return sum(float(m.group(1)) for line in text.splitlines() if (m := _EXTINF.match(line)))


def rewrite_storyboard(text: str, folder: str, url_for: UrlFor) -> str:
    """A storyboard WebVTT index with each cue's sprite image replaced by its URL (the
    ``#xywh`` fragment kept)."""
    lines = []
    for line in text.splitlines():
        match = _SPRITE.match(line.strip())
        if match is not None:
            path = _resolve(folder, match.group(1))
            if path is not None:
                line = url_for(path) + (match.group(2) or "")
        lines.append(line)
    return "\n".join(lines) + "\n"
