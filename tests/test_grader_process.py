"""Every notebook is graded in the grader's process, and its test cells can run there.

In the grader's process a test cell sees only what the notebook's set-up cells define
(``metadata.autoencoder.grader == "setup"``), what earlier test cells defined, and the
student's work through ``student``. A test cell that names a student's variable or
function directly would work in the student's kernel and fail for everyone when graded;
this finds it before a class does.
"""

import builtins
import symtable

import nbformat
import pytest

from autoencoder_lib.instructor import grader
from autoencoder_lib.instructor.course import assignments, notebooks

BUILTINS = set(dir(builtins))


def _defined(source: str) -> set[str]:
    table = symtable.symtable(source, "cell", "exec")
    return {
        s.get_name()
        for s in table.get_symbols()
        if s.is_assigned() or s.is_imported() or s.is_namespace()
    }


def _needed(source: str) -> set[str]:
    """Global names the cell reads and does not define itself."""
    table = symtable.symtable(source, "cell", "exec")
    own = _defined(source)
    needed = {
        s.get_name()
        for s in table.get_symbols()
        if s.is_referenced() and s.get_name() not in own
    }
    stack = list(table.get_children())
    while stack:
        child = stack.pop()
        stack.extend(child.get_children())
        needed |= {
            s.get_name()
            for s in child.get_symbols()
            if s.is_global() and s.is_referenced() and s.get_name() not in own
        }
    return needed


def _role(cell) -> str | None:
    return (cell.metadata.get("autoencoder") or {}).get("grader")


@pytest.mark.parametrize("assignment", assignments())
def test_every_notebook_is_graded_in_the_graders_process(assignment):
    for path in notebooks(assignment):
        assert grader.plan(path) is not None, (
            f"{path.name}: set metadata.autoencoder.grader = 'process' and mark its locked "
            "set-up cells (imports, data, constants) with grader: 'setup'"
        )


@pytest.mark.parametrize("assignment", assignments())
def test_test_cells_read_the_student_only_through_student(assignment):
    for path in notebooks(assignment):
        nb = nbformat.read(path, as_version=4)
        available = set(BUILTINS)
        problems = []
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            meta = cell.metadata.get("nbgrader", {})
            if _role(cell) == "setup":
                available |= _defined(cell.source)
            elif meta.get("grade") and not meta.get("solution"):
                missing = _needed(cell.source) - available
                if missing:
                    problems.append(f"{meta['grade_id']}: {sorted(missing)}")
                available |= _defined(cell.source)
        assert not problems, (
            f"{path.name}: test cells name what the grader's process does not have "
            f"(read it with student.value/call/model, or define it in a set-up cell): "
            f"{problems}"
        )


def test_the_check_finds_a_name_the_grader_lacks():
    assert _needed("x = f(y)\nprint(x)") == {"f", "y", "print"}
    assert _needed("def g(a):\n    return a + z\n") == {"z"}
    assert _needed("[v * w for v in range(3)]") == {"w", "range"}
    assert "student" in _needed('student.call("f", 1)')
