"""dagster_cltrain: the seed's digit-classifier assets in Dagster, computed by cltrain (an OpenCL
training engine in C) through Dagster Pipes."""

from .assets import (
    BatchPredictionConfig,
    DeploymentConfig,
    ModelConfig,
    batch_digit_predictions,
    digit_classifier,
    model_evaluation,
    production_digit_classifier,
)
from .resource import CltrainResource

ASSETS = [digit_classifier, model_evaluation, production_digit_classifier, batch_digit_predictions]

__all__ = [
    "ASSETS",
    "BatchPredictionConfig",
    "CltrainResource",
    "DeploymentConfig",
    "ModelConfig",
    "batch_digit_predictions",
    "digit_classifier",
    "model_evaluation",
    "production_digit_classifier",
]
