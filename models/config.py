"""Base class of the models' pydantic configs: frozen, unknown keys refused, flattenable."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class ModelConfig(BaseModel):
    """Hyper-parameters of one model; subclasses add fields with defaults."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def flat(self, prefix: str) -> dict[str, Any]:
        """The fields as ``{"<prefix>.<field>": value}``, ready for ``mlflow.log_params``."""
        return {f"{prefix}.{key}": value for key, value in self.model_dump(mode="json").items()}
