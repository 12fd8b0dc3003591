"""Saved pipelines as MLflow models: log, register with a champion/challenger alias, load."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import mlflow.pyfunc
import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

from core import columns as c
from core.errors import NotFoundError
from models.errors import ModelFormatError
from models.pipeline import RecommendationPipeline

DEFAULT_MODEL_NAME = "reelrank-recommender"
CHAMPION = "champion"
CHALLENGER = "challenger"
#: Name of the pipeline directory inside the logged MLflow model's artifacts.
ARTIFACT_KEY = "pipeline"
_REQUIREMENTS = [
    "numpy",
    "scipy",
    "faiss-cpu",
    "implicit",
    "pandas",
    "pydantic",
    "torch",
    "rectools-lightfm",
]


@contextmanager
def tracking_uri_scope(uri: str) -> Iterator[None]:
    """Use MLflow tracking (and registry) URI ``uri`` inside the block, then restore the old one."""
    from mlflow.tracking._tracking_service import utils

    previous_uri = utils._tracking_uri
    previous_env = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        # None is MLflow's own "not set" state, which the stub's str | Path does not admit
        mlflow.set_tracking_uri(previous_uri)  # type: ignore[arg-type]
        if previous_env is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = previous_env


class PipelineModel(PythonModel):
    """pyfunc wrapper: a frame of ``user_id`` rows in, one row per (user, rank) out."""

    def load_context(self, context: Any) -> None:
        """Load the pipeline from the model's artifacts."""
        self.pipeline = RecommendationPipeline.load(Path(context.artifacts[ARTIFACT_KEY]))

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        """Top-k rows per input user (``params["k"]``, default 10), padding dropped."""
        k = int((params or {}).get("k", 10))
        users = np.asarray(model_input[c.USER_ID], dtype=np.int64)
        ids, scores = self.pipeline.recommend(users, k)
        frame = pd.DataFrame(
            {
                c.USER_ID: np.repeat(users, k),
                c.VIDEO_ID: ids.reshape(-1),
                c.SCORE: scores.reshape(-1),
                c.RANK: np.tile(np.arange(1, k + 1), users.size),
            }
        )
        return frame[frame[c.VIDEO_ID] >= 0].reset_index(drop=True)


@dataclass(frozen=True)
class RegisteredVersion:
    """A registered model version and the alias it received."""

    name: str
    version: int
    alias: str


def _signature() -> Any:
    """Input: a ``user_id`` column; output: user, video, score, rank rows; param ``k``."""
    from mlflow.models.signature import ModelSignature
    from mlflow.types.schema import ColSpec, ParamSchema, ParamSpec, Schema

    return ModelSignature(
        inputs=Schema([ColSpec("long", c.USER_ID)]),
        outputs=Schema(
            [
                ColSpec("long", c.USER_ID),
                ColSpec("long", c.VIDEO_ID),
                ColSpec("float", c.SCORE),
                ColSpec("long", c.RANK),
            ]
        ),
        params=ParamSchema([ParamSpec("k", "long", 10)]),
    )


def log_pipeline(pipeline_dir: Path, name: str = "model") -> str:
    """Log a saved pipeline directory as a pyfunc model in the active run; return its URI."""
    if not (pipeline_dir / "pipeline.json").is_file():
        raise ModelFormatError(f"{pipeline_dir} is not a saved pipeline directory")
    info = mlflow.pyfunc.log_model(
        name=name,
        python_model=PipelineModel(),
        artifacts={ARTIFACT_KEY: str(pipeline_dir)},
        pip_requirements=_REQUIREMENTS,
        signature=_signature(),
        input_example=pd.DataFrame({c.USER_ID: [0]}),
    )
    return info.model_uri


def register_pipeline(
    model_uri: str,
    alias: str,
    tracking_uri: str,
    model_name: str = DEFAULT_MODEL_NAME,
    *,
    description: str | None = None,
    tags: dict[str, str] | None = None,
) -> RegisteredVersion:
    """Register ``model_uri`` as a new version of ``model_name`` and point ``alias`` at it
    (the caller decides champion or challenger); ``description`` says why."""
    client = mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    with tracking_uri_scope(tracking_uri):
        version = mlflow.register_model(model_uri, model_name, tags=tags or {})
    if description:
        client.update_model_version(model_name, version.version, description=description)
    client.set_registered_model_alias(model_name, alias, version.version)
    return RegisteredVersion(model_name, int(version.version), alias)


def resolve_version(model_name: str, ref: str, *, tracking_uri: str) -> str:
    """The version number ``ref`` (an alias such as ``champion``, or a version number) names
    in the registry now; NotFoundError when there is none."""
    from mlflow.exceptions import MlflowException

    client = mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    try:
        if ref.isdigit():
            return str(client.get_model_version(model_name, ref).version)
        return str(client.get_model_version_by_alias(model_name, ref).version)
    except MlflowException as exc:
        raise NotFoundError(
            f"no model version {model_name}@{ref} in {tracking_uri}: train and register first"
        ) from exc


def registered_versions(model_name: str, *, tracking_uri: str) -> list[int]:
    """Every registered version number of ``model_name``, ascending."""
    client = mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    found = client.search_model_versions(f"name = '{model_name}'")
    return sorted(int(v.version) for v in found)


def load_pipeline_version(
    model_name: str, version: str, *, tracking_uri: str
) -> RecommendationPipeline:
    """The pipeline registered as ``models:/<model_name>/<version>`` (a fixed version, so an
    alias moving during the download cannot mix two versions)."""
    # MLflow resolves models:/ URIs with the global URIs, whatever is passed: scope them.
    with tracking_uri_scope(tracking_uri), tempfile.TemporaryDirectory() as tmp:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{model_name}/{version}",
            dst_path=tmp,
            tracking_uri=tracking_uri,
            registry_uri=tracking_uri,
        )
        return RecommendationPipeline.load(_pipeline_dir(Path(local)))


def load_pipeline(
    model_name: str = DEFAULT_MODEL_NAME, alias: str = CHAMPION, *, tracking_uri: str
) -> RecommendationPipeline:
    """The pipeline registered as ``models:/<model_name>@<alias>`` in ``tracking_uri``."""
    version = resolve_version(model_name, alias, tracking_uri=tracking_uri)
    return load_pipeline_version(model_name, version, tracking_uri=tracking_uri)


def _pipeline_dir(model_dir: Path) -> Path:
    """Where the pipeline directory lies inside a downloaded pyfunc model directory."""
    from mlflow.models import Model

    try:
        artifacts = Model.load(str(model_dir)).flavors["python_function"]["artifacts"]
        return model_dir / artifacts[ARTIFACT_KEY]["path"]
    except (OSError, KeyError, TypeError) as exc:
        raise ModelFormatError(f"{model_dir} is not a logged ReelRank pipeline model") from exc
