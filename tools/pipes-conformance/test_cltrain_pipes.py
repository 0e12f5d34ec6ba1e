"""dagster-io's shared Pipes test suite against cltrain's harness (tools/pipes_harness.c).
PIPES_HARNESS: the built harness (default: build/pipes_harness of this checkout)."""

import os
from pathlib import Path

from dagster_pipes_tests import PipesTestSuite

HARNESS = os.environ.get("PIPES_HARNESS") or str(Path(__file__).resolve().parents[2] / "build" / "pipes_harness")


class TestCltrainPipes(PipesTestSuite):
    BASE_ARGS = [HARNESS]
