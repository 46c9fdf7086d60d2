"""course/ is exactly what nbgrader generates from solutions/, and carries no outputs."""

import json

import nbformat
import pytest

from autoencoder_lib.instructor.course import (
    RELEASE,
    SOLUTIONS,
    Course,
    assignments,
    grade_cells,
    notebooks,
)


def test_there_are_assignments():
    assert "01_basic_autoencoder" in assignments()


@pytest.mark.parametrize("assignment", assignments())
def test_release_is_generated_from_solutions(assignment, tmp_path):
    course = Course(tmp_path)
    generated = course.release(assignment)
    expected = sorted(p.name for p in generated.glob("*.ipynb"))
    committed = sorted(p.name for p in (RELEASE / assignment).glob("*.ipynb"))
    assert committed == expected, (
        "course/ holds other notebooks than nbgrader generates: run make release"
    )
    for name in expected:
        fresh = json.loads((generated / name).read_text())
        kept = json.loads((RELEASE / assignment / name).read_text())
        assert kept == fresh, (
            f"course/{assignment}/{name} differs from the generated release: run make release"
        )


@pytest.mark.parametrize(
    "path",
    sorted(RELEASE.glob("*/*.ipynb")) + sorted(SOLUTIONS.glob("*/*.ipynb")),
    ids=str,
)
def test_committed_notebooks_carry_no_outputs(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                f"{path.name} has outputs: strip them (nbstripout keeps nbgrader metadata)"
            )


@pytest.mark.parametrize("assignment", assignments())
def test_assignment_shape(assignment):
    """At least three autograded exercises with hidden tests, and one written answer."""
    for path in notebooks(assignment):
        nb = nbformat.read(path, as_version=4)
        cells = grade_cells(nb)
        tests = {
            k: v for k, v in cells.items() if v["grade"] and v["cell_type"] == "code"
        }
        written = {
            k: v
            for k, v in cells.items()
            if v["grade"] and v["cell_type"] == "markdown"
        }
        assert len(tests) >= 3, f"{path.name}: only {len(tests)} autograded test cells"
        assert written, f"{path.name}: no manually graded written answer"
        sources = {
            c.metadata["nbgrader"]["grade_id"]: c.source
            for c in nb.cells
            if "nbgrader" in c.metadata
        }
        for grade_id in tests:
            assert "### BEGIN HIDDEN TESTS" in sources[grade_id], (
                f"{grade_id} has no hidden tests"
            )
            assert cells[grade_id]["locked"], f"{grade_id} must be locked"
