"""Shared set-up of the test suite.

Tests run in fast mode with a non-interactive plotting backend. The datasets come from
AUTOENCODER_DATA_DIR when it is set (CI sets it to the offline copy), else from the
Keras download cache or the internet, exactly as in the notebooks.
"""

import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("AUTOENCODER_FAST", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Tests watch models train: the model cache is off unless a test turns it on
# (tests/test_model_cache.py, and grading runs that test the cache's use there).
os.environ.setdefault("AUTOENCODER_MODEL_CACHE", "0")
# Every solution notebook that the suite runs must bear out its own text's claims in fast
# mode (autoencoder_lib/claims.py); grading never does this (instructor/tasks.py).
os.environ.setdefault("AUTOENCODER_STRICT_CLAIMS", "1")

import pytest  # noqa: E402

from autoencoder_lib.config import MODEL_CACHE_DIR_ENV, MODEL_CACHE_ENV  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

# The models the solution notebooks train under nbval (which pyproject.toml runs first,
# into an empty folder, so they do train), kept for the session: the grading round trip's
# courses read them as a cache an instructor's `make warm-cache` filled, so students whose
# models are the solution's load them. A solution nbval did not run completely here (a
# test run alone, a failed cell) is run again to fill it (warm_cache.warm).
SOLUTIONS_MODEL_CACHE = Path(tempfile.mkdtemp(prefix="ae-solutions-models-"))


@pytest.fixture(scope="session")
def solutions_model_cache():
    return SOLUTIONS_MODEL_CACHE


@pytest.fixture(scope="session")
def ran_under_nbval(pytestconfig):
    """Whether nbval ran every cell of a solution notebook without an error in this
    session: its trainings are then in SOLUTIONS_MODEL_CACHE already, and running it
    again to warm a cache would only replay them."""
    plugin = pytestconfig.pluginmanager.get_plugin("solutions-models")
    return plugin.ran_completely


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(SOLUTIONS_MODEL_CACHE, ignore_errors=True)


class _SolutionsWriteTheirModels:
    """A solution notebook's kernel (started in its first cell's set-up) writes what it
    trains into SOLUTIONS_MODEL_CACHE; every other test keeps the cache off. Registered
    as a plugin, since solutions/ lies outside this folder's conftest."""

    def __init__(self):
        self.cells = {}  # notebook -> its cells collected
        self.passed = {}  # notebook -> its cells run without an error
        self.failed = set()

    def ran_completely(self, notebook: Path) -> bool:
        key = str(Path(notebook).resolve())
        collected = self.cells.get(key, 0)
        return (
            bool(collected)
            and key not in self.failed
            and self.passed.get(key) == collected
        )

    @staticmethod
    def _notebook(item) -> str | None:
        """The solution notebook an nbval item is a cell of (resolved), else None."""
        path = Path(str(item.path))
        return str(path.resolve()) if path.suffix == ".ipynb" else None

    def pytest_collection_finish(self, session):
        for key in filter(None, map(self._notebook, session.items)):
            self.cells[key] = self.cells.get(key, 0) + 1

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        key = self._notebook(item)
        if key is None:
            return
        report = outcome.get_result()
        if report.failed:
            self.failed.add(key)
        elif report.when == "call" and report.passed:
            self.passed[key] = self.passed.get(key, 0) + 1

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_setup(self, item):
        if self._notebook(item) is None:
            yield
            return
        with pytest.MonkeyPatch.context() as env:
            env.setenv(MODEL_CACHE_ENV, "1")
            env.setenv(MODEL_CACHE_DIR_ENV, str(SOLUTIONS_MODEL_CACHE))
            yield


def pytest_configure(config):
    config.pluginmanager.register(_SolutionsWriteTheirModels(), "solutions-models")


@pytest.fixture(scope="session")
def mnist_small():
    """A small real slice of MNIST: 512 training and 256 test images."""
    from autoencoder_lib import data

    (x_train, y_train), (x_test, y_test) = data.load_dataset("mnist")
    return (x_train[:512], y_train[:512]), (x_test[:256], y_test[:256])


@pytest.fixture(scope="session")
def cifar_small():
    """64 real CIFAR-10 test images (the offline subset when no archive is at hand)."""
    from autoencoder_lib import data

    x_test, _ = data.load_split("cifar10", "test")
    return x_test[:64]


# The integration lane: modules whose tests start processes (nbgrader, kernels, a
# sandbox, servers, a browser, a fresh interpreter) or execute notebooks, and the
# solution notebooks themselves (nbval). Single tests elsewhere carry the mark
# themselves. `make test-fast` runs everything else; `make test` runs both.
_INTEGRATION_MODULES = {
    "test_backends",
    "test_browser",
    "test_colab",
    "test_doctor",
    "test_grading",
    "test_grading_model_cache",
    "test_grading_runner",
    "test_hostile_submissions",
    "test_instructor_workflow",
    "test_notebook_backends",
    "test_parallel_grading",
    "test_release",
    "test_student_edition",
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        path = Path(str(item.path))
        if path.suffix == ".ipynb" or path.stem in _INTEGRATION_MODULES:
            item.add_marker(pytest.mark.integration)
