"""What every pytest suite under tests/ shares: where the aimc binary, the imported models and the
data are (ctest passes them as AIMC_BIN, AIMC_TEST_MODELS, AIMC_TEST_DATA), and the loud skip for
absent data. Each suite puts tests/ on sys.path and imports this module."""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
AIMC = os.environ.get("AIMC_BIN", "")
MPIEXEC = os.environ.get("AIMC_MPIEXEC", "mpiexec")
MODELS = Path(os.environ.get("AIMC_TEST_MODELS", ""))
DATA = Path(os.environ.get("AIMC_TEST_DATA", REPO / "data"))


def need(path):
    """Skips loudly when a prerequisite is absent; fails instead when AIMC_REQUIRE_DATA=1 (CI has
    the data, so CI must not skip). Returns the path."""
    if not Path(path).exists():
        message = f"DATA MISSING: {path} (run scripts/fetch_data.sh and the import_models test)"
        if os.environ.get("AIMC_REQUIRE_DATA") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return Path(path)
