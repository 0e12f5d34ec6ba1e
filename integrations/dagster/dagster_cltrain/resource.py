"""CltrainResource: runs one cltrain command under Dagster Pipes.

cltrain speaks the Pipes protocol itself (src/io/pipes.c): it reads the context Dagster injects,
reports its materializations, checks, logs and its whole --json result, and ends with `closed`.
This resource only builds the command line and the Pipes extras (`set`: config overrides,
`device`), and hands the process to Dagster's PipesSubprocessClient.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from typing import Any, Optional

from dagster import ConfigurableResource, DagsterEventType, Failure, PipesSubprocessClient
from dagster._core.errors import DagsterPipesExecutionError
from dagster._core.pipes.client import PipesClientCompletedInvocation
from pydantic import Field


class CltrainResource(ConfigurableResource):
    """Where cltrain is and how every command runs.

    binary: the cltrain executable (a path, or a name looked up in PATH).
    device: OpenCL device selector for every command (index, P:D, gpu/cpu, part of a name);
        None = cltrain's choice (the config's `device`, $CLTRAIN_DEVICE, else the best device).
    config_file: a cltrain YAML config passed as --config (e.g. configs/dev.yaml).
    overrides: extra `section.key=value` settings applied to every command (after the config file,
        before each asset's own settings), e.g. ["output.model_save_dir=/srv/models"].
    data_dir: MNIST folder (--data); None = the config's data.dir.
    working_dir: the folder cltrain runs in (relative model/run folders live there); None = the
        current folder.
    env: extra environment variables for cltrain.
    """

    binary: str = "cltrain"
    device: Optional[str] = None
    config_file: Optional[str] = None
    overrides: list[str] = Field(default_factory=list)
    data_dir: Optional[str] = None
    working_dir: Optional[str] = None
    env: dict[str, str] = Field(default_factory=dict)

    def executable(self) -> str:
        path = self.binary if os.sep in self.binary else shutil.which(self.binary)
        if not path or not os.access(path, os.X_OK):
            raise FileNotFoundError(
                f"cltrain executable not found: {self.binary!r} (set CltrainResource(binary=...) to build/cltrain)"
            )
        return os.path.abspath(path)

    def command(self, subcommand: str, args: Sequence[str] = ()) -> list[str]:
        cmd = [self.executable(), subcommand]
        if self.config_file:
            cmd += ["--config", self.config_file]
        if self.data_dir and subcommand in ("train", "evaluate", "deploy", "pipeline"):
            cmd += ["--data", self.data_dir]
        return cmd + list(args)

    def extras(self, sets: Sequence[str] = (), device: Optional[str] = None, **more: Any) -> dict[str, Any]:
        extras: dict[str, Any] = {"set": [*self.overrides, *sets]}
        if device or self.device:
            extras["device"] = device or self.device
        extras.update(more)
        return extras

    def run(
        self,
        context,
        subcommand: str,
        args: Sequence[str] = (),
        sets: Sequence[str] = (),
        device: Optional[str] = None,
        extras: Optional[Mapping[str, Any]] = None,
    ) -> PipesClientCompletedInvocation:
        """Runs `cltrain SUBCOMMAND ... --json` under Pipes; cltrain reports the assets of the step."""
        client = PipesSubprocessClient(cwd=self.working_dir, env=dict(self.env))
        try:
            return client.run(
                context=context,
                command=self.command(subcommand, ["--json", *args]),
                extras=self.extras(sets, device, **dict(extras or {})),
            )
        except DagsterPipesExecutionError as e:
            reason = _closed_exception(context)
            if reason is None:
                raise
            raise Failure(description=f"cltrain {subcommand} failed: {reason}") from e


def _closed_exception(context) -> Optional[str]:
    """cltrain's error, as it reported it in its Pipes `closed` message (an engine event)."""
    records = context.instance.all_logs(context.run.run_id, of_type=DagsterEventType.ENGINE_EVENT)
    for record in reversed(records):
        event = record.dagster_event
        if event and event.message and "closed with exception" in event.message and event.step_key == context.op_handle.name:
            err = getattr(event.event_specific_data, "error", None)
            if err is not None:
                return f"{err.message.strip()} ({err.cls_name})"
    return None
