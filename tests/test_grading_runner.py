"""The class runner's own checks, on small inputs: the code scan, the checksums."""

import datetime

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from autoencoder_lib.instructor import grading
from autoencoder_lib.instructor.preprocessors import instructor_imports


def _answer(source, grade_id="answer"):
    meta = {"grade_id": grade_id, "solution": True, "grade": False, "locked": False}
    return new_code_cell(source, metadata={"nbgrader": meta})


def _locked(source, grade_id="setup"):
    meta = {"grade_id": grade_id, "solution": False, "grade": False, "locked": True}
    return new_code_cell(source, metadata={"nbgrader": meta})


def test_instructor_imports_are_read_from_locked_cells_only():
    nb = new_notebook(
        cells=[
            _locked("import numpy as np\nfrom autoencoder_lib import data, models"),
            _answer("import os as np_fake"),
        ]
    )
    assert instructor_imports(nb) == {
        "np": "numpy",
        "data": "autoencoder_lib.data",
        "models": "autoencoder_lib.models",
    }


CHEATS = {
    "np.allclose = lambda *a, **k: True": "replaces np.allclose",
    "setattr(np, 'allclose', print)": "calls setattr on np",
    "get_ipython().events.register('pre_run_cell', f)": "uses get_ipython()",
    "import sys\nsys.settrace(f)": "sets a trace function",
    "import sqlite3": "imports sqlite3",
    "open('../../gradebook.db')": "names the grader's files",
    "import ctypes": "imports ctypes",
    "import sys\nsys.modules['numpy'] = fake": "touches sys.modules",
    "exec(code)": "calls exec()",
    "x = sys._getframe(1).f_locals": "reads interpreter frames",
    "%load_ext something": "runs IPython magics or shell commands",
    "!cat /etc/passwd": "runs IPython magics or shell commands",
}


def test_the_code_scan_names_each_cheat():
    for source, reason in CHEATS.items():
        nb = nbformat.from_dict(new_notebook(cells=[_answer(source)]))
        found = grading.suspicious_code(nb, {"np"})
        assert any(reason in item for item in found), (source, found)


def test_honest_code_and_the_instructors_cells_are_not_flagged():
    honest = (
        "def build_encoder(latent_dim):\n"
        "    inputs = keras.Input(shape=(28, 28, 1))\n"
        "    h = keras.layers.Flatten()(inputs)\n"
        "    return keras.Model(inputs, keras.layers.Dense(latent_dim)(h))\n"
        "x = np.clip(x + 0.1 * np.random.default_rng(0).normal(size=x.shape), 0, 1)"
    )
    instructors = new_code_cell("import sys\nif 'google.colab' in sys.modules: pass")
    release = new_notebook(cells=[instructors])
    nb = new_notebook(cells=[instructors, _answer(honest)])
    assert grading.suspicious_code(nb, {"np", "keras"}, release) == []
    # The same cell edited by the student is judged like any answer.
    edited = new_code_cell("import sys\nsys.modules['numpy'] = None")
    nb = new_notebook(cells=[edited])
    assert grading.suspicious_code(nb, {"np"}, release)


def test_checksums_catch_changed_files_and_gradebook_rows(tmp_path):
    from nbgrader.api import Gradebook

    submitted = tmp_path / "submitted"
    (submitted / "ann" / "a1").mkdir(parents=True)
    (submitted / "ann" / "a1" / "a1.ipynb").write_text("{}")
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    with Gradebook(url) as gradebook:
        gradebook.add_assignment("a1")
        gradebook.add_student("ann")
        gradebook.add_student("ben")
        gradebook.add_submission("a1", "ann")
        gradebook.add_submission("a1", "ben")
    files = grading.file_digests(submitted)
    rows = grading.gradebook_digests(url, "default_course")
    assert set(rows) == {("ann", "a1"), ("ben", "a1")}
    assert (
        grading.verify(tmp_path, submitted, files, rows, {}, url, "default_course")
        == []
    )

    (submitted / "ann" / "a1" / "a1.ipynb").write_text('{"cells": []}')
    with Gradebook(url) as gradebook:
        submission = gradebook.find_submission("a1", "ben")
        submission.timestamp = datetime.datetime(2020, 1, 1)
        gradebook.db.commit()
    changed = grading.verify(
        tmp_path, submitted, files, rows, {}, url, "default_course"
    )
    assert "submitted/ann/a1/a1.ipynb" in changed
    assert "gradebook rows of ben / a1" in changed
    assert "gradebook rows of ann / a1" not in changed
    # Rows the grader itself just wrote are expected to differ.
    after = grading.gradebook_digests(url, "default_course")
    ok = grading.verify(
        tmp_path,
        submitted,
        grading.file_digests(submitted),
        rows,
        {("ben", "a1"): after[("ben", "a1")]},
        url,
        "default_course",
    )
    assert ok == []


GUARD_PROBE = r"""
import json
from autoencoder_lib.instructor import guard
guard.install()
from sklearn.neighbors import NearestNeighbors
import numpy as np
x = np.random.default_rng(0).random((500, 32))
NearestNeighbors(n_neighbors=5).fit(x).kneighbors(x)
print(json.dumps(json.loads(guard.check("library"))["events"]))
cell = "import ctypes\nctypes.CDLL(None).getpid\nimport gc\ngc.get_objects()"
exec(compile(cell, "/tmp/ipykernel_1/cell.py", "exec"))
print(json.dumps(json.loads(guard.check("notebook"))["events"]))
"""


def test_the_guard_flags_ctypes_and_gc_from_the_notebook_not_from_libraries():
    """scikit-learn's neighbour search (t-SNE's first step) loads the BLAS libraries
    through ctypes (threadpoolctl): an honest latent-space notebook must not be flagged
    for it; the same calls written in a cell are."""
    import json
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", GUARD_PROBE],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout.splitlines()
    library, notebook = (json.loads(line) for line in out[-2:])
    assert library == []
    assert notebook == [
        "loaded a C library through ctypes",
        "looked up a C symbol through ctypes",
        "searched the interpreter's objects (gc.get_objects)",
    ]
