"""An A/B experiment between the champion and another registered version, created and started."""

from __future__ import annotations

from core.settings import Settings


def start_champion_experiment(settings: Settings, version: int, name: str | None = None) -> str:
    """Create and start a 50/50 experiment, champion (control) against model ``version``;
    its name (default ``champion-vs-v<version>``). An existing experiment of that name is
    started if needed and reused."""
    from serving.experiment_models import ExperimentSpec, VariantSpec
    from serving.experiments import ExperimentNotFoundError, ExperimentRegistry

    name = name or f"champion-vs-v{version}"
    registry = ExperimentRegistry(settings.resolved_database_url)
    try:
        existing = registry.get(name)
    except ExperimentNotFoundError:
        existing = None
    if existing is None:
        registry.create(
            ExperimentSpec(
                name=name,
                description=f"The champion against model version {version}, 50/50.",
                variants=[
                    VariantSpec(name="champion", traffic=0.5, model="champion", control=True),
                    VariantSpec(name="challenger", traffic=0.5, model=str(version)),
                ],
            )
        )
    if existing is None or existing.status != "running":
        registry.start(name)
    return name
