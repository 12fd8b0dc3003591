"""Request and response bodies of the experiment routes; the create body is the validated
specification the experiment registry stores."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from core.types import ExperimentStatus

#: Experiment, variant and model names: lower-case letters, digits, ``_`` and ``-``.
NAME_PATTERN = r"^[a-z0-9_-]{1,64}$"
#: How far the traffic shares may sum from 1.
SHARE_TOLERANCE = 1e-6
MIN_VARIANTS, MAX_VARIANTS = 2, 10

Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]


class VariantSettings(BaseModel):
    """Pipeline settings a variant overrides; unknown keys are refused."""

    model_config = ConfigDict(extra="forbid")

    weights: dict[str, Annotated[float, Field(ge=0, allow_inf_nan=False)]] | None = Field(
        None, description="Blend weight per source model name (als, itemknn, popularity, ...)."
    )
    use_ranker: bool | None = Field(None, description="Whether the ranker re-scores the blend.")

    @field_validator("weights")
    @classmethod
    def _known_sources(cls, weights: dict[str, float] | None) -> dict[str, float] | None:
        if weights is None:
            return None
        from models.families import FAMILIES

        unknown = sorted(set(weights) - set(FAMILIES))
        if unknown:
            raise ValueError(f"unknown sources {unknown}; known: {', '.join(FAMILIES)}")
        if weights and not any(weights.values()):
            raise ValueError("at least one weight must be positive")
        return weights


class VariantSpec(BaseModel):
    """One arm of an experiment as an admin defines it."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    traffic: float = Field(gt=0, le=1, description="Share of users, (0, 1]; shares sum to 1.")
    model: Name = Field(
        "champion", description="Registered model alias (champion, challenger, ...) or version."
    )
    settings: VariantSettings = Field(default_factory=VariantSettings)
    control: bool = Field(False, description="The baseline; default: the first variant.")


class ExperimentSpec(BaseModel):
    """A new experiment: ``POST /experiments``."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    description: str = Field("", max_length=10_000)
    salt: Name | None = Field(
        None, description="Bucketing salt; default: the experiment name. A new salt reshuffles."
    )
    variants: list[VariantSpec] = Field(min_length=MIN_VARIANTS, max_length=MAX_VARIANTS)

    @model_validator(mode="after")
    def _consistent_variants(self) -> ExperimentSpec:
        names = [v.name for v in self.variants]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"variant names must be unique; repeated: {duplicates}")
        total = sum(v.traffic for v in self.variants)
        if abs(total - 1.0) > SHARE_TOLERANCE:
            raise ValueError(f"traffic shares must sum to 1, they sum to {total:.6g}")
        controls = [v.name for v in self.variants if v.control]
        if len(controls) > 1:
            raise ValueError(f"exactly one control variant; marked: {controls}")
        if not controls:
            self.variants[0].control = True
        return self

    @property
    def control(self) -> str:
        """The control variant's name."""
        return next(v.name for v in self.variants if v.control)


class VariantOut(BaseModel):
    """A stored variant."""

    model_config = ConfigDict(from_attributes=True)

    name: str
    traffic: float
    model: str
    settings: dict[str, Any]
    control: bool = Field(validation_alias="is_control")


class ExperimentOut(BaseModel):
    """A stored experiment."""

    model_config = ConfigDict(from_attributes=True)

    name: str
    description: str
    salt: str
    status: ExperimentStatus
    created_at: datetime
    started_at: datetime | None
    stopped_at: datetime | None
    variants: list[VariantOut]

    @field_validator("created_at", "started_at", "stopped_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        """SQLite returns naive datetimes; every stored time is UTC."""
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class MetricOut(BaseModel):
    """One metric of one variant: estimate and 95 % interval, and against control the
    difference and relative lift with their 95 % intervals (None where undefined)."""

    value: float | None
    ci_low: float | None
    ci_high: float | None
    diff: float | None = None
    diff_ci_low: float | None = None
    diff_ci_high: float | None = None
    p_value: float | None = None
    lift: float | None = None
    lift_ci_low: float | None = None
    lift_ci_high: float | None = None


class VariantResultOut(BaseModel):
    """Counts and metrics of one variant."""

    name: str
    control: bool
    traffic: float
    model: str
    users: int = Field(description="Distinct users with at least one exposure.")
    exposures: int = Field(description="Served lists logged.")
    impressions: int
    clicks: int
    plays: int
    watch_minutes: float
    metrics: dict[str, MetricOut] = Field(
        description="impressions_per_user, ctr, plays_per_impression, watch_minutes_per_user."
    )


class SampleRatioOut(BaseModel):
    """Chi-square test of assigned users against the traffic shares."""

    observed: dict[str, int]
    expected: dict[str, float]
    chi2: float | None
    p_value: float | None
    mismatch: bool = Field(description="p < threshold: the split is broken; do not trust results.")
    threshold: float


class ExperimentResultsOut(BaseModel):
    """``GET /experiments/{name}/results``."""

    experiment: str
    status: ExperimentStatus
    control: str
    confidence: float
    variants: list[VariantResultOut]
    sample_ratio: SampleRatioOut
