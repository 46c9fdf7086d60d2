"""A class with hostile and broken submissions still gets graded, and nothing is lost.

A tiny assignment (two one-line exercises, no Keras) keeps this fast; the limits and
the report are the ones `make autograde` uses on the course's notebooks
(`python -m autoencoder_lib.grading`, `nbgrader_config.py`). The real assignments are
graded under the same limits in test_grading.py.
"""

import copy
import hashlib
import json
import os
import subprocess
import sys

import nbformat
import pytest
from course_dir import Course
from nbformat.v4 import new_code_cell, new_notebook

ASSIGNMENT = "zz_hostile"
GOOD_DOUBLE = "def double(x):\n    return 2 * x"
GOOD_SQUARE = "def square(x):\n    return x * x"


def _cell(source, grade_id, *, solution=False, points=None):
    meta = {
        "grade_id": grade_id,
        "solution": solution,
        "grade": points is not None,
        "locked": not solution,
        "schema_version": 3,
    }
    if points is not None:
        meta["points"] = points
    return new_code_cell(source, metadata={"nbgrader": meta})


def _source_notebook():
    nb = new_notebook(
        cells=[
            _cell("import numpy as np", "setup"),
            _cell(
                "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n"
                "    ### END SOLUTION",
                "double",
                solution=True,
            ),
            _cell(
                "assert double(2) == 4\n### BEGIN HIDDEN TESTS\n"
                "assert double(-3) == -6\n### END HIDDEN TESTS",
                "test_double",
                points=1,
            ),
            _cell(
                "def square(x):\n    ### BEGIN SOLUTION\n    return x * x\n"
                "    ### END SOLUTION",
                "square",
                solution=True,
            ),
            _cell(
                "assert square(3) == 9\n### BEGIN HIDDEN TESTS\n"
                "assert square(-2) == 4\n### END HIDDEN TESTS",
                "test_square",
                points=1,
            ),
        ]
    )
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


def _answered(release, double=GOOD_DOUBLE, square=GOOD_SQUARE):
    nb = copy.deepcopy(release)
    nb.cells[1].source = double
    nb.cells[3].source = square
    return nb


def _students(release):
    """student -> notebook (or raw text for files that are not notebooks)."""
    good = _answered(release)
    stripped = copy.deepcopy(good)
    for cell in stripped.cells:
        cell.metadata.pop("nbgrader", None)
    edited_test = _answered(release, double="def double(x):\n    return 3 * x")
    edited_test.cells[2].source = "assert True"
    points = copy.deepcopy(good)
    points.cells[2].metadata["nbgrader"]["points"] = 100
    return {
        "good": good,
        "loops": _answered(release, double="while True:\n    pass"),
        "hogs_memory": _answered(
            release, double="hog = []\nwhile True:\n    hog.append(np.ones(10**8))"
        ),
        "calls_exit": _answered(release, double="import os\nos._exit(1)"),
        "kills_kernel": _answered(
            release, double="import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"
        ),
        "prints_megabytes": _answered(
            release, double="print('x' * 20_000_000)\n" + GOOD_DOUBLE
        ),
        "edits_test_cell": edited_test,
        "edits_points": points,
        "colab_stripped": stripped,
        "not_a_notebook": "PK\x03\x04 this is a zip file, not a notebook",
        "truncated_json": json.dumps(nbformat.from_dict(good))[:400],
    }


@pytest.fixture(scope="module")
def hostile_class(tmp_path_factory):
    course = Course(tmp_path_factory.mktemp("hostile"))
    source = course.root / "solutions" / ASSIGNMENT
    source.mkdir()
    nbformat.write(_source_notebook(), source / "hostile.ipynb")
    release = nbformat.read(course.release(ASSIGNMENT) / "hostile.ipynb", 4)
    hashes = {}
    for student, content in _students(release).items():
        folder = course.root / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        path = folder / "hostile.ipynb"
        if isinstance(content, str):
            path.write_text(content)
        else:
            nbformat.write(content, path)
        hashes[path] = hashlib.sha256(path.read_bytes()).hexdigest()
    env = dict(
        os.environ, AUTOENCODER_CELL_TIMEOUT="10", AUTOENCODER_KERNEL_MEMORY_GB="1"
    )
    result = subprocess.run(
        [sys.executable, "-m", "autoencoder_lib.grading", ASSIGNMENT],
        cwd=course.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    report = {
        line.split()[0]: line
        for line in result.stdout.splitlines()
        if line.startswith("  ")
    }
    return course, result, report, hashes


def test_the_class_is_graded_and_each_problem_reported(hostile_class):
    course, result, report, _ = hostile_class
    assert result.returncode == 1, result.stdout + result.stderr  # needs a look
    assert set(report) == set(_students(_source_notebook()))
    expected = {
        "good": ("graded  2 / 2", None),
        "loops": ("graded  1 / 2", "stopped at the 10 s time limit"),
        "hogs_memory": ("graded  1 / 2", "hit the 1 GiB memory limit"),
        "prints_megabytes": ("graded  2 / 2", "printed too much; its output was cut"),
        # nbgrader puts the release's test cell and points back before grading.
        "edits_test_cell": ("graded  1 / 2", "'test_double' was edited"),
        "edits_points": ("graded  2 / 2", "points of 'test_double' changed"),
        "calls_exit": (
            "NOT GRADED",
            "kernel died while running the notebook (cell 2 calls os._exit)",
        ),
        "kills_kernel": (
            "NOT GRADED",
            "kernel died while running the notebook (cell 2 calls os.kill)",
        ),
        "colab_stripped": ("NOT GRADED", "nbgrader cell metadata is gone"),
        "not_a_notebook": ("NOT GRADED", "is not a notebook"),
        "truncated_json": ("NOT GRADED", "truncated JSON"),
    }
    for student, (status, reason) in expected.items():
        line = report[student]
        assert status in line, line
        if reason:
            assert reason in line, line
        else:
            assert line.split(status)[1].strip() == "", line


def test_left_out_students_are_not_scored_zero_in_silence(hostile_class):
    course, *_ = hostile_class
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}") as gradebook:
        graded = {s.student.id for s in gradebook.assignment_submissions(ASSIGNMENT)}
    assert "good" in graded
    assert not graded & {"colab_stripped", "not_a_notebook", "truncated_json"}


def test_huge_output_is_cut_in_the_graded_copy(hostile_class):
    course, *_ = hostile_class
    graded = course.root / "autograded" / "prints_megabytes" / ASSIGNMENT
    assert (graded / "hostile.ipynb").stat().st_size < 200_000


def test_no_submitted_file_is_modified(hostile_class):
    *_, hashes = hostile_class
    for path, digest in hashes.items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, path
