"""Execute a notebook top to bottom on a chosen Keras backend, and describe the run.

Used by ``benchmarks/backend_times.py`` (the backend table in benchmarks/RESULTS.md) and by
``tests/test_notebook_backends.py`` (whole notebooks, or their exercises alone): each
run is a fresh kernel with ``KERAS_BACKEND`` set, fast or full mode, every claim strict
(a claim the run contradicts is an error), and the model cache off, so every model trains.
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import datetime
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from ..config import STRICT_CLAIMS_ENV
from ..doctor import BACKEND_PACKAGES
from .course import venv_first
from .exercise_slice import exercises_only

BACKENDS = tuple(BACKEND_PACKAGES)


def stderr_cells(nb) -> list[dict]:
    """The code cells that wrote to stderr: their index and first line written."""
    noisy = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        text = "".join(
            out.get("text", "")
            for out in cell.get("outputs", [])
            if out.get("output_type") == "stream" and out.get("name") == "stderr"
        )
        if text.strip():
            noisy.append(
                {"cell": index, "first_line": text.strip().splitlines()[0][:160]}
            )
    return noisy


def _timestamp(stamp: str) -> float:
    # Jupyter writes UTC times ending in "Z", which fromisoformat reads from Python 3.11.
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def cell_times(nb) -> list[tuple[int, float, float]]:
    """(index, start, end) in seconds of every cell an executed notebook records times
    for (nbclient's ``record_timing``, on by default; nbgrader's kernels record them too)."""
    times = []
    for index, cell in enumerate(nb.cells):
        timing = cell.metadata.get("execution", {})
        began, ended = (
            timing.get("iopub.execute_input"),
            timing.get("shell.execute_reply"),
        )
        if began and ended:
            times.append((index, _timestamp(began), _timestamp(ended)))
    return times


def run(
    path: Path,
    backend: str,
    *,
    full: bool = False,
    timeout: int = -1,
    exercises: bool = False,
) -> dict:
    """Execute one notebook on one backend in a fresh kernel, and describe the run.
    ``exercises=True`` runs only the cells its exercises and their tests need
    (:mod:`.exercise_slice`). Every claim is strict: one the run contradicts is an
    error, as under nbval."""
    nb = nbformat.read(path, as_version=4)
    if exercises:
        nb = exercises_only(nb)
    env = dict(os.environ, KERAS_BACKEND=backend, AUTOENCODER_MODEL_CACHE="0")
    env[STRICT_CLAIMS_ENV] = "1"
    env["AUTOENCODER_FAST"] = "0" if full else "1"
    venv_first(env)
    # ipykernel stops forwarding what C++ code writes to file descriptor 2 into the
    # notebook when it sees this variable (run under pytest): without it, the kernel
    # shows that output as JupyterLab and nbgrader's kernels do.
    env.pop("PYTEST_CURRENT_TEST", None)
    error = None
    with tempfile.TemporaryDirectory(prefix="ae-backend-") as tmp:
        client = NotebookClient(
            nb,
            timeout=timeout,
            kernel_name="python3",
            record_timing=True,
            resources={"metadata": {"path": tmp}},
        )
        start = time.perf_counter()
        try:
            client.execute(env=env)
        except CellExecutionError as exc:
            error = f"{exc.ename}: {exc.evalue}"[:300]
        seconds = time.perf_counter() - start
    failed_cell = None
    for index, cell in enumerate(nb.cells):
        outputs = cell.get("outputs", [])
        if cell.cell_type == "code" and any(
            o.get("output_type") == "error" for o in outputs
        ):
            failed_cell = index
            break
    slowest, slowest_cell = 0.0, None
    for index, began, ended in cell_times(nb):
        if ended - began > slowest:
            slowest, slowest_cell = ended - began, index
    return {
        "seconds": round(seconds, 1),
        "slowest_cell": slowest_cell,
        "slowest_cell_s": round(slowest, 1),
        "error": error,
        "error_cell": failed_cell,
        "stderr_cells": stderr_cells(nb),
    }
