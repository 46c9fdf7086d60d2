"""The pre-grading check finds broken submissions, says why per student, and writes nothing."""

import hashlib
import json

import pytest

from autoencoder_lib.instructor import submissions
from autoencoder_lib.instructor.course import RELEASE

ASSIGNMENT = "01_basic_autoencoder"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"


def _release():
    return json.loads((RELEASE / ASSIGNMENT / NOTEBOOK).read_text())


def _cell(nb, grade_id):
    return next(
        c
        for c in nb["cells"]
        if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id
    )


def _stripped(nb):
    for cell in nb["cells"]:
        cell["metadata"].pop("nbgrader", None)
    return nb


def _deleted_test(nb):
    nb["cells"].remove(_cell(nb, "encoder_tests"))
    return nb


def _more_points(nb):
    _cell(nb, "decoder_tests")["metadata"]["nbgrader"]["points"] = 100
    return nb


def _edited_test(nb):
    _cell(nb, "error_tests")["source"] = "assert True"
    return nb


def _copied_test(nb):
    nb["cells"].append(dict(_cell(nb, "encoder_tests")))
    return nb


def _added_graded_cell(nb):
    extra = dict(_cell(nb, "encoder_tests"))
    extra["metadata"] = {
        "nbgrader": {**extra["metadata"]["nbgrader"], "grade_id": "my_bonus"}
    }
    nb["cells"].append(extra)
    return nb


def _broken_schema(nb):
    _cell(nb, "encoder_tests")["outputs"] = [{"output_type": "telepathy"}]
    return nb


CASES = {
    "schema_student": (_broken_schema, "breaks the notebook format", True),
    "copying_student": (_copied_test, "'encoder_tests' appears in 2 cells", True),
    "bonus_student": (_added_graded_cell, "adds a graded cell 'my_bonus'", True),
    "colab_student": (_stripped, "metadata is gone", True),
    "deleting_student": (_deleted_test, "'encoder_tests' was deleted", True),
    "greedy_student": (_more_points, "points of 'decoder_tests' changed", True),
    "editing_student": (_edited_test, "locked cell 'error_tests' was edited", False),
}


@pytest.fixture
def submitted(tmp_path):
    root = tmp_path / "submitted"

    def put(student, content: bytes):
        folder = root / student / ASSIGNMENT
        folder.mkdir(parents=True)
        (folder / NOTEBOOK).write_bytes(content)

    put("honest_student", json.dumps(_release()).encode())
    for student, (change, _, _) in CASES.items():
        put(student, json.dumps(change(_release())).encode())
    put("truncated_student", json.dumps(_release()).encode()[:5000])
    put("pdf_student", b"%PDF-1.7 not a notebook")
    put("nested_student", b'{"cells": [], "x": ' + b"[" * 3000 + b"]" * 3000 + b"}")
    put("shallow_nest_student", b'{"cells": [], "x": ' + b"[" * 200 + b"]" * 200 + b"}")
    (root / "empty_student" / ASSIGNMENT).mkdir(parents=True)
    return root


def _digests(root):
    return {
        p: hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*.ipynb")
    }


def test_each_broken_submission_is_reported_with_its_reason(submitted):
    before = _digests(submitted)
    problems = submissions.check(submitted, RELEASE)
    by_student = {}
    for p in problems:
        by_student.setdefault(p.student, []).append(p)
    assert "honest_student" not in by_student
    for student, (_, message, blocking) in CASES.items():
        (found,) = by_student[student]
        assert message in found.message and found.blocking is blocking, found
    assert "truncated JSON" in by_student["truncated_student"][0].message
    assert "invalid or truncated JSON" in by_student["pdf_student"][0].message
    assert "no .ipynb" in by_student["empty_student"][0].message
    for student in ("nested_student", "shallow_nest_student"):
        (found,) = by_student[student]
        assert "nests more than 64 levels deep" in found.message and found.unreadable
    assert _digests(submitted) == before, "the check must never modify a submission"


def test_command_line_summary_and_exit_status(submitted, tmp_path, capsys):
    assert submissions.main([str(submitted), str(RELEASE)]) == 1
    out = capsys.readouterr().out
    assert "colab_student / 01_basic_autoencoder" in out
    assert "11 submission problem(s) that block grading, 1 note(s)." in out

    clean = tmp_path / "clean"
    (clean / "only" / ASSIGNMENT).mkdir(parents=True)
    (clean / "only" / ASSIGNMENT / NOTEBOOK).write_text(json.dumps(_release()))
    assert submissions.main([str(clean), str(RELEASE)]) == 0
    assert submissions.main([str(tmp_path / "missing"), str(RELEASE)]) == 1


def test_an_oversized_notebook_is_reported_without_being_read(tmp_path, monkeypatch):
    monkeypatch.setattr(submissions.limits, "SUBMISSION_LIMIT_BYTES", 2**20)
    folder = tmp_path / "submitted" / "big_student" / ASSIGNMENT
    folder.mkdir(parents=True)
    (folder / NOTEBOOK).write_bytes(b" " * (3 * 2**20))
    (problem,) = submissions.check(tmp_path / "submitted", RELEASE)
    assert problem.unreadable and "is 3 MiB, over the 1 MiB" in problem.message
