"""The manifest every saved model directory carries: model kind, format version and config."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from models.config import ModelConfig
from models.errors import ModelFormatError

MANIFEST = "model.json"
FORMAT_VERSION = 1

C = TypeVar("C", bound=ModelConfig)


def write_manifest(path: Path, kind: str, config: ModelConfig) -> None:
    """Create directory ``path`` and write its manifest."""
    path.mkdir(parents=True, exist_ok=True)
    body = {"kind": kind, "format": FORMAT_VERSION, "config": config.model_dump(mode="json")}
    (path / MANIFEST).write_text(json.dumps(body, indent=2, sort_keys=True))


def _body(path: Path) -> dict[str, Any]:
    target = path / MANIFEST
    if not target.is_file():
        raise ModelFormatError(f"no {MANIFEST} in {path}: not a saved model directory")
    try:
        body = json.loads(target.read_text())
    except json.JSONDecodeError as exc:
        raise ModelFormatError(f"{target} is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise ModelFormatError(f"{target} is not a manifest (a JSON object)")
    return body


def manifest_kind(path: Path) -> str:
    """The kind of model saved in ``path`` (to pick the class that loads it)."""
    return str(_body(path).get("kind"))


def read_manifest(path: Path, kind: str, config_type: type[C]) -> C:
    """The config saved in ``path``; ``ModelFormatError`` if it is not a saved ``kind`` model."""
    target = path / MANIFEST
    body = _body(path)
    if body.get("kind") != kind:
        raise ModelFormatError(f"{path} holds a {body.get('kind')!r} model, not a {kind!r} model")
    if body.get("format") != FORMAT_VERSION:
        raise ModelFormatError(
            f"{path} has format {body.get('format')!r}; this version reads {FORMAT_VERSION}"
        )
    try:
        return config_type.model_validate(body.get("config", {}))
    except ValidationError as exc:
        raise ModelFormatError(f"{target} has an invalid {kind} config: {exc}") from exc
