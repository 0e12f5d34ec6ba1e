"""The seed's four assets materialized in-process by a real Dagster (ephemeral instance), with
cltrain (CLTRAIN_EXE, else build/cltrain of this checkout) doing the compute on the committed MNIST
subset (tests/fixtures/mnist-small): metadata values, check results, dependency order, no
"[pipes] did not receive any messages", cltrain's error message on a bad config, and a skipped
deployment as a failed WARN check on a successful run."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from dagster import (
    AssetCheckSeverity,
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    RunConfig,
    materialize,
)

from dagster_cltrain import (
    ASSETS,
    BatchPredictionConfig,
    CltrainResource,
    DeploymentConfig,
    ModelConfig,
    production_digit_classifier,
)

REPO = Path(__file__).resolve().parents[3]
MNIST = REPO / "tests" / "fixtures" / "mnist-small"
NO_MESSAGES = "did not receive any messages"


def _binary() -> str:
    exe = os.environ.get("CLTRAIN_EXE") or str(REPO / "build" / "cltrain")
    if not os.access(exe, os.X_OK):  # a missing binary is a failure, not a skip
        pytest.fail(f"cltrain executable not found at {exe}: build it or set CLTRAIN_EXE")
    return exe


# small and quick: 600 training images, one epoch, the seed's architecture
TRAIN = ModelConfig(epochs=1, subset=600, use_data_augmentation=False, use_early_stopping=False)


def _event_texts(result) -> str:
    """Everything the run's event log says: log lines, event messages, error texts."""
    out = []
    for ev in result.all_events:
        out.append(ev.message or "")
        err = getattr(ev.event_specific_data, "error", None)
        if err is not None:
            out.append(err.to_string())
    return "\n".join(out)


def _log_texts(instance, result) -> str:
    out = []
    for entry in instance.all_logs(result.run_id):
        out.append(entry.user_message or "")
        ev = entry.dagster_event
        err = getattr(ev.event_specific_data, "error", None) if ev else None
        if err is not None:
            out.append(err.to_string())
    return "\n".join(out)


def _materializations(result) -> dict:
    """asset key -> AssetMaterialization, in the order the run materialized them"""
    return {
        ev.event_specific_data.materialization.asset_key.to_user_string(): ev.event_specific_data.materialization
        for ev in result.all_events
        if ev.event_type == DagsterEventType.ASSET_MATERIALIZATION
    }


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    work = tmp_path_factory.mktemp("cltrain")
    resource = CltrainResource(
        binary=_binary(),
        data_dir=str(MNIST),
        working_dir=str(work),
    )
    return DagsterInstance.ephemeral(), resource, work


@pytest.fixture(scope="module")
def pipeline(workspace):
    instance, resource, work = workspace
    result = materialize(
        ASSETS,
        instance=instance,
        resources={"cltrain": resource},
        run_config=RunConfig(
            {
                "digit_classifier": TRAIN,
                "production_digit_classifier": DeploymentConfig(accuracy_threshold=0.0),
                "batch_digit_predictions": BatchPredictionConfig(max_low_confidence_fraction=1.0),
            }
        ),
        raise_on_error=False,
    )
    return result


def test_all_four_assets_materialize(pipeline, workspace, capsys):
    assert pipeline.success, _event_texts(pipeline)
    mats = _materializations(pipeline)
    assert list(mats) == [
        "digit_classifier",
        "model_evaluation",
        "production_digit_classifier",
        "batch_digit_predictions",
    ], "materialized in the order of the dependencies"
    assert NO_MESSAGES not in _log_texts(workspace[0], pipeline)
    assert NO_MESSAGES not in capsys.readouterr().err


def test_digit_classifier_metadata(pipeline):
    m = _materializations(pipeline)["digit_classifier"]
    md = m.metadata
    assert md["training_epochs"].value == 1 and md["configured_epochs"].value == 1
    assert md["train_samples"].value == 600, "--subset 600 training images"
    assert 0.0 < md["final_val_accuracy"].value <= 100.0
    assert isinstance(md["final_train_loss"].value, float)
    assert md["optimizer"].value == "adam" and md["batch_size"].value == 64
    assert md["model_parameters"].value == 455754
    assert md["train_images_per_second"].value > 0
    path = md["model_path"].value
    assert os.path.isabs(path) and path.endswith(".safetensors") and os.path.exists(path)
    assert m.tags.get("dagster/data_version") == hashlib.md5(Path(path).read_bytes()).hexdigest()
    assert md["epoch_metrics"].value["epoch"] == [1]


def test_model_evaluation_metadata(pipeline):
    mats = _materializations(pipeline)
    md = mats["model_evaluation"].metadata
    assert md["test_samples"].value == 1000
    acc = md["test_accuracy"].value
    assert isinstance(acc, float) and 0.1 < acc <= 1.0
    cm = md["confusion_matrix"].value
    assert len(cm) == 10 and all(len(r) == 10 for r in cm) and sum(map(sum, cm)) == 1000
    assert abs(sum(cm[i][i] for i in range(10)) / 1000 - acc) < 1e-9, "accuracy = trace / total"
    for k in ("precision_macro", "recall_macro", "f1_macro"):
        assert 0.0 <= md[k].value <= 1.0
    assert "macro avg" in md["classification_report"].value
    assert md["evaluated_model_path"].value == mats["digit_classifier"].metadata["model_path"].value
    assert os.path.exists(md["confusion_matrix_png"].value)


def test_deployment_and_check(pipeline):
    mats = _materializations(pipeline)
    md = mats["production_digit_classifier"].metadata
    assert md["deployment_status"].value == "deployed"
    assert md["model_name"].value.startswith("production_model_")
    assert os.path.exists(md["production_path"].value)
    checks = {c.check_name: c for c in pipeline.get_asset_check_evaluations()}
    assert checks["accuracy_threshold"].passed
    assert checks["accuracy_threshold"].asset_key == AssetKey("production_digit_classifier")


def test_batch_predictions_and_check(pipeline):
    mats = _materializations(pipeline)
    md = mats["batch_digit_predictions"].metadata
    assert md["total_predictions"].value == 1000
    assert md["low_confidence_count"].value + md["high_confidence_count"].value == 1000
    assert md["confidence_threshold"].value == 0.8
    assert sum(md["predictions_by_label"].value.values()) == 1000
    assert md["model_path"].value == mats["production_digit_classifier"].metadata["production_path"].value
    checks = {c.check_name: c for c in pipeline.get_asset_check_evaluations()}
    assert checks["low_confidence_predictions"].passed  # max fraction 1.0


def test_skipped_deploy_is_a_warning(pipeline, workspace, capsys):
    instance, resource, _ = workspace
    result = materialize(
        ASSETS,
        selection=[production_digit_classifier],
        instance=instance,
        resources={"cltrain": resource},
        run_config=RunConfig({"production_digit_classifier": DeploymentConfig(accuracy_threshold=1.0)}),
        raise_on_error=False,
    )
    assert result.success, "a skipped deployment is a result, not a failure"
    assert "below the threshold" in _log_texts(instance, result), "cltrain's warning in the run's log"
    md = _materializations(result)["production_digit_classifier"].metadata
    assert md["deployment_status"].value == "skipped"
    (check,) = result.get_asset_check_evaluations()
    assert check.check_name == "accuracy_threshold" and not check.passed
    assert check.severity == AssetCheckSeverity.WARN
    assert NO_MESSAGES not in _log_texts(instance, result)
    assert NO_MESSAGES not in capsys.readouterr().err


def test_bad_config_surfaces_cltrain_error(workspace, capsys):
    instance, resource, _ = workspace
    result = materialize(
        ASSETS[:1],
        instance=instance,
        resources={"cltrain": resource},
        run_config=RunConfig({"digit_classifier": ModelConfig(epochs=1, optimizer_type="adamw")}),
        raise_on_error=False,
    )
    assert not result.success
    failure = _event_texts(result)
    # the step's failure carries cltrain's own message (from the Pipes `closed` exception)
    assert "cltrain train failed: --set training.optimizer_type=adamw: 'adamw' is not allowed" in failure, failure
    assert "cltrain.UsageError" in failure
    logs = _log_texts(instance, result)
    assert "cltrain: error: --set training.optimizer_type=adamw" in logs, "the ERROR log line"
    assert NO_MESSAGES not in logs
    assert NO_MESSAGES not in capsys.readouterr().err


def test_definitions_load():
    from dagster_cltrain.definitions import defs

    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert keys == {"digit_classifier", "model_evaluation", "production_digit_classifier", "batch_digit_predictions"}
    graph = defs.resolve_asset_graph()
    assert graph.get(AssetKey("model_evaluation")).parent_keys == {AssetKey("digit_classifier")}
    assert graph.get(AssetKey("batch_digit_predictions")).parent_keys == {AssetKey("production_digit_classifier")}
