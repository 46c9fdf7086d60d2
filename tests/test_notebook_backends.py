"""Solution notebooks, top to bottom, on JAX and PyTorch (TensorFlow's run is nbval's).

Each runs in a fresh kernel in fast mode, with the model cache off. A run passes when no
cell raises (every exercise's visible and hidden tests included) and no cell writes to
stderr: JupyterLab shows stderr in red and nbgrader counts it against a test cell, and
on these backends Keras' seeding imports TensorFlow, whose C++ start-up lines the
set-up cell must keep quiet.

The two notebooks here take about a minute per backend on 2 cores; every notebook on
every backend is `python benchmarks/backend_times.py` (about 22 minutes, in the README):
07, whose fast mode trains for 100 s, runs there, to keep CI well inside its time limit.
"""

import importlib.util

import pytest

from autoencoder_lib.instructor.backend_run import run
from autoencoder_lib.instructor.course import notebooks

NOTEBOOKS = ("01_basic_autoencoder", "08_variational_autoencoder")


@pytest.mark.parametrize("backend", ["jax", "torch"])
@pytest.mark.parametrize("assignment", NOTEBOOKS)
def test_solution_notebook_runs_cleanly(backend, assignment):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed (make test installs its CPU build)")
    (path,) = notebooks(assignment)
    result = run(path, backend, timeout=600)
    assert result["error"] is None, (
        f"{assignment} on {backend}: cell {result['error_cell']} raised {result['error']}"
    )
    assert result["stderr_cells"] == [], (
        f"{assignment} on {backend} wrote to stderr: {result['stderr_cells']}"
    )
