"""The ``reelrank`` command line. Sub-commands import their packages only when they run."""

from __future__ import annotations

import json
import os
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from core.errors import ReelRankError

if TYPE_CHECKING:
    from core.settings import Settings
    from training.train import RunConfig

app = typer.Typer(
    name="reelrank",
    help="ReelRank: recommendation and personalization platform for video streaming.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
data_app = typer.Typer(help="Import, download and synthesise datasets.", no_args_is_help=True)
import_app = typer.Typer(help="Import a public dataset into the catalogue.", no_args_is_help=True)
db_app = typer.Typer(help="Catalogue database migrations.", no_args_is_help=True)
features_app = typer.Typer(help="The Feast feature store.", no_args_is_help=True)
media_app = typer.Typer(help="Ingest and transcode videos.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks that print figures.", no_args_is_help=True)
users_app = typer.Typer(help="Accounts.", no_args_is_help=True)
mlflow_app = typer.Typer(help="Review training runs in MLflow.", no_args_is_help=True)
app.add_typer(data_app, name="data")
data_app.add_typer(import_app, name="import")
app.add_typer(db_app, name="db")
app.add_typer(features_app, name="features")
app.add_typer(media_app, name="media")
app.add_typer(bench_app, name="bench")
app.add_typer(users_app, name="users")
flows_app = typer.Typer(help="Prefect flows: retrain, materialize-features, ingest-video.")
app.add_typer(flows_app, name="flows")
app.add_typer(mlflow_app, name="mlflow")


def _settings(*, ensure: bool = False) -> Settings:
    """The process settings, with logging and tool homes set up under the data root; with
    ``ensure``, the data root's folders created too."""
    from core.logging import setup_logging
    from core.settings import get_settings

    settings = get_settings()
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    prefect_environment(settings)

    setup_logging(settings.log_level)
    if ensure:
        settings.paths.ensure()
    return settings


def prefect_environment(settings: Settings) -> None:
    """Point Prefect at the data root (its home, its ephemeral server's database) unless the
    environment says otherwise; ``PREFECT_API_URL`` selects a Prefect server instead."""
    os.environ.setdefault("PREFECT_HOME", str(settings.paths.prefect_home))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # a cold ephemeral server takes longer than Prefect's 20 s default on a busy 2-core machine
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")


def _migrated_url() -> str:
    """The catalogue URL, migrated to the latest schema."""
    from core.db.migrate import upgrade

    settings = _settings(ensure=True)
    url = settings.resolved_database_url
    upgrade(url)
    return url


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Migrate the catalogue database to REVISION (default: the latest)."""
    from core.db.migrate import current, upgrade

    settings = _settings(ensure=True)
    upgrade(settings.resolved_database_url, revision)
    typer.echo(f"database at revision {current(settings.resolved_database_url)}")


@users_app.command("create")
def users_create_cmd(
    username: str,
    role: Annotated[str, typer.Option(help="viewer, creator or admin.")] = "viewer",
    email: Annotated[str | None, typer.Option(help="The account's email.")] = None,
    password_env: Annotated[
        str, typer.Option(help="Environment variable holding the password (never an argument).")
    ] = "REELRANK_NEW_PASSWORD",
) -> None:
    """Create an account of any role (the first admin is made this way)."""
    from core.db.session import session_scope
    from core.types import Role
    from serving.accounts import create_account

    password = os.environ.get(password_env)
    if not password:
        raise ReelRankError(f"set {password_env} to the new account's password")
    try:
        chosen = Role(role)
    except ValueError:
        raise ReelRankError(f"unknown role {role!r} (viewer, creator or admin)") from None
    with session_scope(_migrated_url()) as session:
        user = create_account(session, username, password, email, chosen)
        typer.echo(f"created {chosen.value} {user.username} (id {user.id})")


@db_app.command("current")
def db_current() -> None:
    """Print the catalogue database's migration revision."""
    from core.db.migrate import current

    typer.echo(current(_settings().resolved_database_url) or "unmigrated")


@import_app.command("movielens")
def import_movielens_cmd(
    path: Annotated[Path, typer.Argument(help="Folder of a MovieLens release.")],
) -> None:
    """Import MovieLens (ml-latest-small, ml-25m, ml-100k, ml-1m) into the catalogue."""
    from training.datasets.movielens import import_movielens

    url = _migrated_url()
    report = import_movielens(path, url, _settings().paths.events_file)
    typer.echo(report.summary())


@import_app.command("movietweetings")
def import_movietweetings_cmd(
    path: Annotated[Path, typer.Argument(help="Folder with ratings.dat (and movies.dat).")],
) -> None:
    """Import MovieTweetings into the catalogue."""
    from training.datasets.movietweetings import import_movietweetings

    url = _migrated_url()
    report = import_movietweetings(path, url, _settings().paths.events_file)
    typer.echo(report.summary())


@data_app.command("download")
def download_cmd(
    name: Annotated[str, typer.Argument(help="ml-latest-small, ml-100k, ml-1m or ml-25m.")],
    dest: Annotated[Path | None, typer.Option(help="Folder to unpack into.")] = None,
) -> None:
    """Download and unpack an official dataset archive (checksum verified, resumable)."""
    from training.datasets.download import download_dataset

    folder = download_dataset(name, dest or _settings().paths.datasets)
    typer.echo(str(folder))


@data_app.command("synth")
def synth_cmd(
    users: Annotated[int, typer.Option(min=1, help="Number of viewers.")] = 2_000,
    videos: Annotated[int, typer.Option(min=1, help="Number of videos.")] = 500,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same world.")] = 7,
    days: Annotated[int, typer.Option(min=1, help="Days of activity.")] = 28,
) -> None:
    """Generate a synthetic demo world: catalogue, users and weeks of events."""
    from training.datasets.synth import SynthConfig
    from training.datasets.synth_writer import synthesize

    url = _migrated_url()
    config = SynthConfig(users=users, videos=videos, seed=seed, days=days)
    typer.echo(synthesize(config, url, _settings().paths.events_file).summary())


@data_app.command("export-events")
def export_events_cmd() -> None:
    """Export every event in the catalogue (imported, synthesised or sent to ``POST /events``)
    to the parquet event log that features and training read."""
    from training.datasets.event_log import export_event_log

    settings = _settings()
    path = settings.paths.events_file
    count = export_event_log(_migrated_url(), path)
    typer.echo(f"exported {count} events to {path}")


AsOfOption = Annotated[
    datetime | None,
    typer.Option(help="Ignore events after this time (UTC); default: the latest event."),
]


@features_app.command("build")
def features_build_cmd(as_of: AsOfOption = None) -> None:
    """Compute every feature view's table from the event log and the catalogue."""
    from features.store import build_tables_from_log, write_store_config

    settings = _settings()
    paths = settings.paths.ensure()
    tables = build_tables_from_log(
        paths.events_file,
        paths.features,
        _migrated_url(),
        as_of,
        embedding_file=paths.embeddings_file,
    )
    write_store_config(paths.features, settings.online_store, settings.redis_url)
    rows = ", ".join(f"{view} {n}" for view, n in tables.rows.items())
    typer.echo(f"built feature tables as of {tables.as_of.isoformat()}: {rows}")


@features_app.command("apply")
def features_apply_cmd() -> None:
    """Register the feature definitions (config from the settings) and create online tables."""
    from features.store import apply, write_store_config

    settings = _settings()
    paths = settings.paths.ensure()
    write_store_config(paths.features, settings.online_store, settings.redis_url)
    apply(paths.features)
    typer.echo(f"applied the feature repo at {paths.features} ({settings.online_store} online)")


@features_app.command("materialize")
def features_materialize_cmd(
    end: Annotated[
        datetime | None, typer.Option(help="Load rows up to this time; default: the newest row.")
    ] = None,
) -> None:
    """Load the tables' rows into the online store."""
    from features.store import latest_row, materialize

    paths = _settings().paths
    stamp = materialize(paths.features, end=end or latest_row(paths.features))
    typer.echo(f"materialized up to {stamp.materialized_end} (online change #{stamp.version})")


@features_app.command("status")
def features_status_cmd(
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Each view's rows, last materialization and staleness; exit 1 when not ready."""
    import dataclasses
    import json

    from features.status import feature_status

    status = feature_status(_settings().paths.features)
    if json_out:
        body = dataclasses.asdict(status) | {
            "healthy": status.healthy,
            "staleness_s": status.staleness_s,
        }
        typer.echo(json.dumps(body, default=str, indent=2))
    else:
        typer.echo("\n".join(status.lines()))
    if not status.healthy:
        raise typer.Exit(1)


@features_app.command("sync")
def features_sync_cmd(as_of: AsOfOption = None) -> None:
    """build, apply and materialize in one go."""
    from features.store import sync_features

    settings = _settings()
    paths = settings.paths.ensure()
    report = sync_features(
        paths.events_file,
        paths,
        settings.online_store,
        settings.redis_url,
        as_of,
        database_url=_migrated_url(),
    )
    typer.echo(report.summary())


ModelOption = Annotated[
    list[str] | None,
    typer.Option(
        "--model",
        "-m",
        help="Model family to train (repeatable): popularity, trending, als, bpr, itemknn, "
        "ease, lightfm, content. Default: popularity and als.",
    ),
]


def _models(names: list[str] | None) -> list[str] | None:
    """The chosen model families, checked against the known ones (None: the default set)."""
    if not names:
        return None
    from models.families import FAMILIES

    unknown = [n for n in names if n not in FAMILIES]
    if unknown:
        raise typer.BadParameter(
            f"unknown model {', '.join(unknown)}; known: {', '.join(FAMILIES)}",
            param_hint="--model",
        )
    return names


RankerOption = Annotated[
    bool, typer.Option(help="Try the rankers (MLP and LightGBM lambdarank) on top of the blend.")
]


AlsFactorsOption = Annotated[int, typer.Option(min=1, help="ALS latent factors.")]
AlsIterationsOption = Annotated[int, typer.Option(min=1, help="ALS iterations.")]
KOption = Annotated[int, typer.Option(min=1, help="Cut-off of the offline metrics.")]


def _run_config(
    settings: Settings, model: list[str] | None, factors: int, iterations: int, k: int, ranker: bool
) -> RunConfig:
    """The run config of ``reelrank train`` and ``reelrank evaluate`` (tracking to the
    settings' MLflow store)."""
    from models.als import ALSConfig
    from training.train import DEFAULT_MODELS, RunConfig, TrackingSettings
    from training.tuning import DEFAULT_RANKERS

    return RunConfig(
        events_path=settings.paths.events_file,
        models=tuple(_models(model) or DEFAULT_MODELS),
        source_configs={"als": ALSConfig(factors=factors, iterations=iterations)},
        rankers=DEFAULT_RANKERS if ranker else (),
        database_url=settings.resolved_database_url,
        embeddings_path=settings.paths.embeddings_file,
        k=k,
        tracking=TrackingSettings(
            uri=settings.resolved_mlflow_uri, artifacts_dir=settings.paths.mlflow_artifacts
        ),
        progress=True,
    )


def _write_json(path: Path, body: object) -> None:
    """Write ``body`` as sorted, indented JSON to ``path`` (creating its folder); a NaN
    figure (say diversity of one-item lists) becomes null."""

    def finite(value: object) -> object:
        if isinstance(value, dict):
            return {key: finite(item) for key, item in value.items()}
        return None if isinstance(value, float) and value != value else value

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(finite(body), indent=2, sort_keys=True, allow_nan=False) + "\n")


@app.command("train")
def train_cmd(
    model: ModelOption = None,
    factors: AlsFactorsOption = 256,
    iterations: AlsIterationsOption = 15,
    k: KOption = 10,
    ranker: RankerOption = True,
    metrics_json: Annotated[
        Path | None, typer.Option(help="Also write the metrics as JSON here (for DVC).")
    ] = None,
    save_dir: Annotated[
        Path | None,
        typer.Option(help="Also save the registered pipeline into this folder (for DVC)."),
    ] = None,
) -> None:
    """Train models and the served pipeline on the event log; log to MLflow and register it."""
    from training.train import run_training

    settings = _settings(ensure=True)
    if (
        save_dir is not None
        and save_dir.is_dir()
        and any(save_dir.iterdir())
        and not (save_dir / "pipeline.json").is_file()
    ):
        raise typer.BadParameter(
            f"{save_dir} holds files that are not a saved pipeline", param_hint="--save-dir"
        )
    report = run_training(_run_config(settings, model, factors, iterations, k, ranker))
    if metrics_json is not None:
        _write_json(metrics_json, report.metrics)
    if save_dir is not None and report.model_name is not None:
        import shutil

        from models.mlflow_registry import load_pipeline_version

        pipeline = load_pipeline_version(
            report.model_name, str(report.model_version), tracking_uri=settings.resolved_mlflow_uri
        )
        shutil.rmtree(save_dir, ignore_errors=True)
        pipeline.save(save_dir)
    typer.echo(report.summary())


@app.command("evaluate")
def evaluate_cmd(
    model: ModelOption = None,
    factors: AlsFactorsOption = 256,
    iterations: AlsIterationsOption = 15,
    k: KOption = 10,
    ranker: RankerOption = True,
    metrics_json: Annotated[
        Path | None,
        typer.Option(help="Also write every metric per model as JSON here (for DVC)."),
    ] = None,
) -> None:
    """Evaluate models and the pipeline on a temporal split of the event log (nothing logged)."""
    from training.train import run_evaluation

    settings = _settings()
    config = _run_config(settings, model, factors, iterations, k, ranker)
    metrics = run_evaluation(config.model_copy(update={"tracking": None})).metrics
    if metrics_json is not None:
        _write_json(metrics_json, metrics)
    for name, values in metrics.items():
        shown = ", ".join(
            f"{metric}={values[metric]:.4f}"
            for metric in (
                f"ndcg_at_{k}",
                f"recall_at_{k}",
                f"precision_at_{k}",
                f"coverage_at_{k}",
            )
            if metric in values
        )
        typer.echo(f"{name:>16}  {shown or values}")


@app.command("index")
def index_cmd(
    pipeline_dir: Annotated[Path, typer.Argument(help="A saved pipeline (train --save-dir).")],
    out: Annotated[Path, typer.Option(help="Folder the indexes are published into.")],
    kind: Annotated[
        str, typer.Option(help="FAISS index: auto, flat (exact), hnsw or ivf.")
    ] = "auto",
    k: KOption = 10,
    metrics_json: Annotated[
        Path | None, typer.Option(help="Also write each index's recall@k and size as JSON here.")
    ] = None,
) -> None:
    """Build the pipeline's item index (and the content-vector index when the media pipeline
    wrote vectors) and publish them into OUT in one swap."""
    from pydantic import ValidationError

    from models.faiss_index import IndexConfig
    from models.pipeline import RecommendationPipeline
    from training.indexes import publish_indexes

    settings = _settings()
    try:
        config = IndexConfig.model_validate({"kind": kind})
    except ValidationError:
        raise typer.BadParameter(f"unknown index kind {kind!r}", param_hint="--kind") from None
    pipeline = RecommendationPipeline.load(pipeline_dir)  # ModelFormatError: not one
    published = publish_indexes(pipeline, out, config, settings.paths.embeddings_file, k)
    if metrics_json is not None:
        _write_json(metrics_json, published.metrics())
    for name, summary in published.indexes.items():
        typer.echo(
            f"{name}: {summary.size} x {summary.dim}-d {summary.kind} index of {summary.source}, "
            f"recall@{k} {summary.recall_at_k:.3f}"
        )
    typer.echo(f"published to {out}")


@mlflow_app.command("ui")
def mlflow_ui_cmd(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to bind.")] = 5000,
) -> None:
    """Serve the MLflow UI on the project's tracking store (artifacts under the data root)."""
    import sys

    settings = _settings(ensure=True)
    artifacts = settings.paths.mlflow_artifacts.resolve().as_uri()
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        settings.resolved_mlflow_uri,
        "--default-artifact-root",
        artifacts,
        "--artifacts-destination",
        artifacts,
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    typer.echo(f"MLflow UI on http://{host}:{port} ({settings.resolved_mlflow_uri})")
    sys.stdout.flush()
    os.execv(sys.executable, command)


@bench_app.command("recs")
def bench_recs_cmd(
    dataset: Annotated[Path, typer.Option(help="A MovieLens folder (ratings file suffices).")],
    json_path: Annotated[Path | None, typer.Option("--json", help="Write results here.")] = None,
    model: ModelOption = None,
) -> None:
    """Benchmark every model and the full pipeline under the 75/25 and temporal protocols."""
    from training.bench import bench_recs

    _settings()
    bench_recs(dataset, json_path, models=_models(model))


@bench_app.command("features")
def bench_features_cmd(
    json_path: Annotated[Path | None, typer.Option("--json", help="Write results here.")] = None,
    candidates: Annotated[int, typer.Option(min=1, max=500, help="Videos per request.")] = 200,
    requests: Annotated[int, typer.Option(min=10, max=100_000, help="Timed requests.")] = 2000,
    redis_url: Annotated[
        str, typer.Option(help="Redis to time as well (skipped when it does not answer).")
    ] = "redis://127.0.0.1:6379/14",
) -> None:
    """Online feature latency, 1 user x N candidates, on SQLite and (if reachable) Redis."""
    from training.feature_bench import bench_features

    _settings()
    bench_features(json_path, candidates=candidates, requests=requests, redis_url=redis_url)


@bench_app.command("search")
def bench_search_cmd(
    data_root: Annotated[
        Path | None,
        typer.Option(help="Folder of the benchmark world; default: a new temporary one."),
    ] = None,
    videos: Annotated[int, typer.Option(min=10, help="Synthetic videos.")] = 2_000,
    queries: Annotated[
        int, typer.Option(min=1, help="Exact (and misspelled) title queries.")
    ] = 100,
    seed: Annotated[int, typer.Option(help="Seed of the world and the query set.")] = 7,
    semantic_weight: Annotated[
        list[float] | None,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Weight of the semantic list in the fusion; repeat to compare several "
            "(default: the served one).",
        ),
    ] = None,
) -> None:
    """Search quality on a synthetic world: recall@10, MRR and latency of lexical-only and
    hybrid search over exact, misspelled and descriptive judged queries."""
    import tempfile

    from core.db.migrate import upgrade
    from core.paths import DataPaths
    from serving.search_bench import format_figures, run_search_bench
    from serving.search_service import SEMANTIC_WEIGHT
    from training.datasets.synth import SynthConfig
    from training.datasets.synth_writer import synthesize

    _settings()
    root = (data_root or Path(tempfile.mkdtemp(prefix="reelrank-search-bench-"))).resolve()
    paths = DataPaths(root).ensure()
    url = f"sqlite:///{paths.database}"
    upgrade(url)
    if not paths.events_file.exists():
        users = max(100, videos // 5)
        synthesize(SynthConfig(users=users, videos=videos, seed=seed), url, paths.events_file)
    started = time.perf_counter()
    weights = tuple(semantic_weight) if semantic_weight else (SEMANTIC_WEIGHT,)
    figures = run_search_bench(
        url, paths.packages, per_kind=queries, seed=seed, semantic_weights=weights
    )
    typer.echo(
        f"world: {videos} videos under {root} (indexed and judged in "
        f"{time.perf_counter() - started:.0f} s)"
    )
    typer.echo(format_figures(figures))


@bench_app.command("serve")
def bench_serve_cmd(
    json_path: Annotated[Path | None, typer.Option("--json", help="Write results here.")] = None,
    data_root: Annotated[
        Path | None,
        typer.Option(help="Folder of the benchmark world; default: a new one under the data root."),
    ] = None,
    reuse: Annotated[
        bool, typer.Option(help="Reuse (or finish) the world already in --data-root.")
    ] = False,
    users: Annotated[int, typer.Option(min=10, help="Synthetic viewers.")] = 100_000,
    videos: Annotated[int, typer.Option(min=10, help="Synthetic videos.")] = 10_000,
    workers: Annotated[int, typer.Option(min=1, help="Server worker processes.")] = 1,
    concurrency: Annotated[int, typer.Option(min=1, help="Closed-loop connections.")] = 32,
    seconds: Annotated[float, typer.Option(min=1, help="Seconds of each phase.")] = 20.0,
    rate: Annotated[float, typer.Option(min=1, help="Fixed-rate phase, requests/s.")] = 500.0,
    endpoint: Annotated[
        list[str] | None,
        typer.Option(
            help="Route to load instead of the defaults (repeatable): 'NAME=METHOD PATH "
            "[BODY] [rate=N]', PATH a template over {user_id} and {video_id}, BODY rerank or "
            "events, N the fixed rate if not --rate; "
            "e.g. 'home_recs=GET /users/{user_id}/recommendations'.",
        ),
    ] = None,
    freshness: Annotated[bool, typer.Option(help="Run the freshness probes.")] = True,
) -> None:
    """Serve a synthetic world on loopback and load it from another process: throughput,
    latency, events stored, freshness."""
    import tempfile

    from training.load_generator import DEFAULT_ENDPOINTS, parse_endpoint
    from training.serve_bench import ServeBenchConfig, bench_serve

    settings = _settings()
    try:
        endpoints = tuple(parse_endpoint(text) for text in endpoint or ()) or DEFAULT_ENDPOINTS
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--endpoint") from exc
    if data_root is None:
        settings.paths.ensure()
        data_root = Path(tempfile.mkdtemp(prefix="bench-serve-", dir=settings.paths.root))
    typer.echo(f"benchmark world: {data_root}")
    config = ServeBenchConfig(
        users=users,
        videos=videos,
        workers=workers,
        concurrency=concurrency,
        seconds=seconds,
        rate=rate,
        endpoints=endpoints,
        freshness=freshness,
    )
    bench_serve(data_root, config, json_path, reuse=reuse, say=typer.echo)


@media_app.command("ingest")
def media_ingest_cmd(
    file: Annotated[Path, typer.Argument(help="The video file to upload.")],
    title: Annotated[str | None, typer.Option(help="Title (default: the file name).")] = None,
    description: Annotated[str, typer.Option(help="Description.")] = "",
    tag: Annotated[list[str] | None, typer.Option(help="Tag (repeatable).")] = None,
    genre: Annotated[list[str] | None, typer.Option(help="Genre (repeatable).")] = None,
    ray: Annotated[bool, typer.Option(help="Transcode as Ray tasks.")] = True,
) -> None:
    """Ingest FILE: validate, transcode the ladder, package HLS, poster, storyboard, embeddings.

    The last line printed is the path of the master playlist.
    """
    from core.db.models import Video
    from core.db.session import session_scope
    from media.enrich.embeddings import VideoInput
    from media.jobs.extras import enrich_package
    from media.jobs.runner import ingest_and_process
    from media.jobs.state import PublishedRung

    url = _migrated_url()
    settings = _settings()
    if not file.is_file():
        raise typer.BadParameter(f"{file} is not a file", param_hint="FILE")

    def published(rung: PublishedRung) -> None:
        state = "" if rung.complete else ", playable while it grows"
        typer.echo(f"published {rung.name} ({rung.width}x{rung.height}{state})")

    package = ingest_and_process(file, title=title, on_ray=ray, on_publish=published)
    with session_scope(url) as session:
        video = session.get(Video, package.video_id)
        assert video is not None
        video.description = description
        video.tags = list(tag or [])
        video.genres = list(genre or [])
        text = VideoInput(
            package.video_id,
            video.title,
            description,
            tuple(video.tags),
            tuple(video.genres),
            path=package.source,
        )
    extras = enrich_package(package, settings.paths.root, text)
    rungs = ", ".join(rung.name for rung in package.renditions)
    typer.echo(f"video {package.video_id}: {rungs} in {package.seconds:.1f} s")
    typer.echo(f"poster {extras.poster}")
    typer.echo(f"storyboard {extras.storyboard}")
    typer.echo(f"download {extras.download}")
    for other, score in extras.near_duplicates:
        typer.echo(f"warning: looks like a re-upload of video {other} (similarity {score:.2f})")
    typer.echo(str(package.master))


@media_app.command("embed-catalogue")
def media_embed_catalogue_cmd() -> None:
    """Give every catalogue video without a content vector a MiniLM text vector."""
    from media.enrich.embeddings import embed_catalogue
    from training.item_metadata import load_item_metadata

    url = _migrated_url()
    target = _settings().paths.embeddings_file
    added = embed_catalogue(load_item_metadata(url), target)
    typer.echo(f"{added} videos embedded into {target}")


@media_app.command("status")
def media_status_cmd(video_id: int) -> None:
    """Show the processing job of VIDEO_ID: state, progress, rungs."""
    from media.jobs.records import job_status

    typer.echo(job_status(_migrated_url(), video_id).describe())


@media_app.command("resume")
def media_resume_cmd(video_id: int) -> None:
    """Finish a failed or interrupted job of VIDEO_ID, redoing only what is missing."""
    from media.jobs.runner import resume_job

    settings = _settings()
    package = resume_job(_migrated_url(), video_id, settings.paths.root)
    typer.echo(str(package.master))


@bench_app.command("transcode")
def bench_transcode_cmd(
    json_path: Annotated[Path | None, typer.Option("--json", help="Write results here.")] = None,
    seconds: Annotated[int, typer.Option(min=2, help="Length of the generated clip.")] = 60,
) -> None:
    """Time the ladder on a generated 1080p30 clip against one plain ffmpeg process."""
    from media.bench import bench_transcode, describe

    _settings()
    typer.echo(describe(bench_transcode(json_path, seconds=seconds, workers=(1, 2))))


@flows_app.command("list")
def flows_list_cmd() -> None:
    """Each flow's deployment and schedule."""
    from flows.schedules import describe

    typer.echo("\n".join(describe()))


@flows_app.command("serve")
def flows_serve_cmd() -> None:
    """Serve every flow's deployment with its schedule from this process (a Prefect server
    when PREFECT_API_URL is set, the local ephemeral mode otherwise)."""
    from flows.schedules import describe, serve_all

    _settings(ensure=True)
    where = os.environ.get("PREFECT_API_URL") or "the local ephemeral Prefect server"
    typer.echo(f"serving {len(describe())} deployments against {where}:")
    typer.echo("\n".join(f"  {line}" for line in describe()))
    serve_all()


@flows_app.command("run")
def flows_run_cmd(
    name: Annotated[str, typer.Argument(help="retrain, materialize-features or ingest-video.")],
    params: Annotated[
        str | None,
        typer.Option(help='Flow parameters as JSON, e.g. \'{"options": {"rankers": false}}\'.'),
    ] = None,
) -> None:
    """Run one flow now, in this process, and print its result."""
    from flows.schedules import flow_function

    _settings(ensure=True)
    try:
        function = flow_function(name)
    except KeyError as exc:
        raise typer.BadParameter(str(exc.args[0]), param_hint="NAME") from exc
    try:
        parameters = json.loads(params) if params else {}
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"not JSON: {exc}", param_hint="--params") from exc
    if not isinstance(parameters, dict):
        raise typer.BadParameter("must be a JSON object", param_hint="--params")
    from prefect.exceptions import ParameterBindError, ParameterTypeError

    try:
        result = function(**parameters)
    except (ParameterBindError, ParameterTypeError) as exc:
        raise typer.BadParameter(" ".join(str(exc).split()), param_hint="--params") from exc
    typer.echo(result.summary() if hasattr(result, "summary") else str(result))


@app.command("serve")
def serve_cmd(
    host: Annotated[str | None, typer.Option(help="Interface to bind.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind.")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Server processes sharing the port.")] = 1,
) -> None:
    """Run the API server: each worker builds the app from the REELRANK_* environment; with
    several, /metrics sums them all."""
    import uvicorn

    from core.logging import setup_logging
    from serving.app import prepare_workers

    settings = _settings()
    setup_logging(settings.log_level, json_lines=settings.log_json)
    if workers > 1:
        prepare_workers(settings)
    uvicorn.run(
        "serving.app:app_from_environment",
        factory=True,
        workers=workers,
        host=host or settings.api_host,
        port=port or settings.api_port,
        log_config=None,  # uvicorn's records go through the root logger (JSON lines)
        log_level=settings.log_level.lower(),
        access_log=False,  # the request-context middleware writes one line per request
    )


@app.command("demo")
def demo_cmd(
    users: Annotated[int, typer.Option(min=10, help="Synthetic viewers.")] = 2_000,
    videos: Annotated[int, typer.Option(min=10, help="Synthetic videos.")] = 500,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
    serve: Annotated[bool, typer.Option(help="Leave the API running at the end.")] = True,
) -> None:
    """Run the walking skeleton end to end on the embedded defaults, then serve the API."""
    from flows.demo import DemoConfig, run_demo

    settings = _settings()
    run_demo(settings, DemoConfig(users=users, videos=videos, seed=seed, serve=serve))


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; print user errors as ``error: ...`` and return 2 for them."""
    try:
        app(args=argv, prog_name="reelrank")
    except ReelRankError as exc:
        typer.echo(f"error: {exc}", err=True)
        return 2
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


def run() -> None:
    """Console-script entry point."""
    raise SystemExit(main())
