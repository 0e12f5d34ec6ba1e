"""The seed's four assets (Dagster's project_ml tutorial), computed by cltrain.

digit_classifier -> model_evaluation -> production_digit_classifier -> batch_digit_predictions,
with the seed's names, groups, dependencies and config classes. Each asset runs one cltrain
command through Dagster Pipes; cltrain reports the materialization (and the asset checks
`accuracy_threshold` and `low_confidence_predictions`), so the asset returns what cltrain said.
A model travels from asset to asset through the metadata of the upstream materialization
(model_path, evaluated_model_path, production_path).
"""


import os
from typing import Optional

from dagster import (
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    Config,
    MaterializeResult,
    asset,
)

from .resource import CltrainResource


class ModelConfig(Config):
    """The seed's ModelConfig (names and defaults); each field is a cltrain config key."""

    # architecture
    conv1_channels: int = 32
    conv2_channels: int = 64
    conv3_channels: int = 128
    dropout1_rate: float = 0.1
    dropout2_rate: float = 0.2
    hidden_size: int = 256
    use_batch_norm: bool = True
    # training
    batch_size: int = 64
    learning_rate: float = 0.001
    epochs: int = 30
    optimizer_type: str = "adam"
    momentum: float = 0.9
    weight_decay: float = 1e-5
    # learning-rate schedule
    use_lr_scheduler: bool = True
    lr_step_size: int = 10
    lr_gamma: float = 0.1
    # early stopping
    use_early_stopping: bool = True
    patience: int = 7
    min_delta: float = 0.001
    # augmentation
    use_data_augmentation: bool = True
    rotation_degrees: float = 15.0
    translation_pixels: float = 0.1
    scale_range_min: float = 0.9
    scale_range_max: float = 1.1
    # saving
    save_model: bool = True
    model_save_dir: str = "./models"
    model_name_prefix: str = "mnist_cnn"
    # cltrain: train on the first N training images only (quick runs); None = all
    subset: Optional[int] = None

    def sets(self) -> list[str]:
        sections = {
            "model": ("conv1_channels", "conv2_channels", "conv3_channels", "dropout1_rate", "dropout2_rate",
                      "hidden_size", "use_batch_norm"),
            "training": ("batch_size", "learning_rate", "epochs", "optimizer_type", "momentum", "weight_decay"),
            "scheduler": ("use_lr_scheduler", "lr_step_size", "lr_gamma"),
            "early_stopping": ("use_early_stopping", "patience", "min_delta"),
            "augmentation": ("use_data_augmentation", "rotation_degrees", "translation_pixels", "scale_range_min",
                             "scale_range_max"),
            "output": ("save_model", "model_save_dir", "model_name_prefix"),
        }
        return [f"{s}.{k}={_value(getattr(self, k))}" for s, keys in sections.items() for k in keys]


class DeploymentConfig(Config):
    """The seed's DeploymentConfig."""

    accuracy_threshold: float = 0.90
    model_path: Optional[str] = None  # the model store (output.model_save_dir); None = cltrain's config
    custom_model_name: Optional[str] = None  # deploy this stored model as production_custom_<name>
    force_deploy: bool = False  # deploy whatever the accuracy


class BatchPredictionConfig(Config):
    """The seed's BatchPredictionConfig; cltrain predicts real images instead of random tensors."""

    batch_size: int = 64
    confidence_threshold: float = 0.8
    device: Optional[str] = None  # None = the resource's device
    # pictures (PNG/PGM) or MNIST IDX files; empty = the MNIST test images in the data folder
    input_paths: list[str] = []
    # the check low_confidence_predictions passes when at most this fraction is below the threshold
    max_low_confidence_fraction: float = 0.1


def _value(v) -> str:
    return ("true" if v else "false") if isinstance(v, bool) else str(v)


def _upstream(context: AssetExecutionContext, key: str, field: str) -> Optional[str]:
    """A metadata value of the newest materialization of an upstream asset."""
    event = context.instance.get_latest_materialization_event(AssetKey(key))
    mat = event.asset_materialization if event else None
    value = mat.metadata.get(field) if mat else None
    return getattr(value, "value", None) if value is not None else None


@asset(group_name="model_pipeline", kinds={"cltrain"}, description="Train DigitCNN (cltrain train)")
def digit_classifier(context: AssetExecutionContext, config: ModelConfig, cltrain: CltrainResource) -> MaterializeResult:
    args = ["--subset", str(config.subset)] if config.subset else []
    return cltrain.run(context, "train", args, sets=config.sets()).get_materialize_result()


@asset(
    deps=[digit_classifier],
    group_name="model_pipeline",
    kinds={"cltrain"},
    description="Evaluate the newest trained model on the test set (cltrain evaluate)",
)
def model_evaluation(context: AssetExecutionContext, cltrain: CltrainResource) -> MaterializeResult:
    model = _upstream(context, "digit_classifier", "model_path")
    args = ["--model", model] if model else []
    return cltrain.run(context, "evaluate", args).get_materialize_result()


@asset(
    deps=[digit_classifier, model_evaluation],
    group_name="model_pipeline",
    kinds={"cltrain"},
    check_specs=[AssetCheckSpec("accuracy_threshold", asset="production_digit_classifier")],
    description="Deploy the evaluated model if it meets the accuracy threshold (cltrain deploy)",
)
def production_digit_classifier(
    context: AssetExecutionContext, config: DeploymentConfig, cltrain: CltrainResource
) -> MaterializeResult:
    args = ["--threshold", str(config.accuracy_threshold)]
    if config.custom_model_name:
        args += ["--custom", config.custom_model_name]
    else:
        model = _upstream(context, "model_evaluation", "evaluated_model_path")
        args += ["--model", model] if model else []
    if config.force_deploy:
        args.append("--force")
    sets = [f"output.model_save_dir={config.model_path}"] if config.model_path else []
    return cltrain.run(context, "deploy", args, sets=sets).get_materialize_result()


@asset(
    deps=[production_digit_classifier],
    group_name="inference",
    kinds={"cltrain"},
    check_specs=[AssetCheckSpec("low_confidence_predictions", asset="batch_digit_predictions")],
    description="Predict digits in a batch of images with the production model (cltrain predict)",
)
def batch_digit_predictions(
    context: AssetExecutionContext, config: BatchPredictionConfig, cltrain: CltrainResource
) -> MaterializeResult:
    inputs = list(config.input_paths)
    if not inputs:
        data = cltrain.data_dir or "data/mnist"
        base = os.path.join(data, "t10k-images-idx3-ubyte")
        inputs = [base if os.path.exists(base) else base + ".gz"]
    args = ["--threshold", str(config.confidence_threshold)]
    production = _upstream(context, "production_digit_classifier", "production_path")
    if production:
        args += ["--model", production]
    return cltrain.run(
        context,
        "predict",
        [*args, "--", *inputs],
        sets=[f"prediction.batch_size={config.batch_size}"],
        device=config.device,
        extras={"max_low_confidence_fraction": config.max_low_confidence_fraction},
    ).get_materialize_result()
