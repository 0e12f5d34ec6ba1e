"""Definitions for `dagster dev -m dagster_cltrain.definitions`.

The resource is configured from the environment: CLTRAIN_BINARY (default: `cltrain` in PATH),
CLTRAIN_DEVICE, CLTRAIN_CONFIG (a cltrain YAML config), CLTRAIN_DATA (MNIST folder),
CLTRAIN_WORKDIR (where models/ and runs/ go).
"""

from dagster import Definitions, define_asset_job

from . import ASSETS
from .resource import CltrainResource


def _resource() -> CltrainResource:
    import os

    return CltrainResource(
        binary=os.environ.get("CLTRAIN_BINARY", "cltrain"),
        device=os.environ.get("CLTRAIN_DEVICE") or None,
        config_file=os.environ.get("CLTRAIN_CONFIG") or None,
        data_dir=os.environ.get("CLTRAIN_DATA") or None,
        working_dir=os.environ.get("CLTRAIN_WORKDIR") or None,
    )


model_pipeline_job = define_asset_job("digit_classifier_pipeline", selection=ASSETS)

defs = Definitions(assets=ASSETS, resources={"cltrain": _resource()}, jobs=[model_pipeline_job])

__all__ = ["defs"]
