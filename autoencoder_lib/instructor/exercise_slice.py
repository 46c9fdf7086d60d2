"""A notebook cut down to its exercises: what a check of the exercises alone must run.

Running every notebook top to bottom on every backend takes longer than CI has
(``benchmarks/backend_times.py`` does it). The exercises and their tests need less: the
set-up, each exercise's solution and test cells, and the cells before the last test
that define or change a name those cells use, found by reading the code (``ast``).
What is left out is a demonstration no exercise reads: a sweep, a table, a figure.

The reading is conservative: a name counts as changed by a cell that assigns it, deletes
it, assigns to its items or attributes, calls one of its methods (``model.fit(...)``),
or passes it to a training call (``training.fit(model, ...)``); a test cell's
``student.value("name")`` or ``student.call("name", ...)`` reads it. A cell it cannot parse
is kept. Were a needed cell ever left out anyway, the exercise's tests would fail (a
``NameError``, or a model that did not train), never pass quietly.
"""

from __future__ import annotations

import ast

import nbformat

from .course import graded_or_solution

# Calls that change the model passed to them, as training.fit(model, ...) does.
TRAINING_CALLS = frozenset({"fit", "fine_tune", "train", "compile"})
# The notebooks' first code cells (Colab install, imports and set-up) always run.
SET_UP_CELLS = 2


def _root(node: ast.AST) -> str | None:
    """The name at the bottom of ``a.b[c].d``, if any."""
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def names(source: str) -> tuple[set[str], set[str]] | None:
    """(names a cell may define or change, names it reads), or None if it does not parse.
    IPython's magics and shell lines are left out before parsing."""
    code = "\n".join(
        line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))
    )
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    changed, read = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else changed).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            changed.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            changed.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.Attribute, ast.Subscript)) and not isinstance(
            node.ctx, ast.Load
        ):
            changed.add(_root(node))
        elif isinstance(node, ast.Call):
            function = node.func
            if isinstance(function, ast.Attribute):
                changed.add(_root(function.value))
                called = function.attr
            else:
                called = getattr(function, "id", None)
            if called in TRAINING_CALLS:
                changed.update(_root(arg) for arg in node.args)
            # A test cell's student.value("name") (autoencoder_lib.answers) reads name.
            if (
                isinstance(function, ast.Attribute)
                and _root(function.value) == "student"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                read.add(node.args[0].value.split(".")[0])
    changed.discard(None)
    return changed, read


def exercise_cells(nb) -> list[int]:
    """Indices of the code cells that the exercises and their tests need, in order."""
    code = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"]
    keep = set(code[:SET_UP_CELLS])
    keep.update(i for i in code if graded_or_solution(nb.cells[i]))
    read = {i: names(nb.cells[i].source) for i in code}
    keep.update(i for i in code if read[i] is None and i < max(keep))
    needed = set().union(*(read[i][1] for i in keep if read[i]))
    last = max(keep)
    # Walk backwards: a kept cell's reads can only be defined by an earlier cell.
    for i in reversed(code):
        if i in keep or i > last:
            continue
        changed, reads = read[i]
        if changed & needed:
            keep.add(i)
            needed |= reads
    return sorted(keep)


def exercises_only(nb):
    """A copy of ``nb`` whose code cells other than those :func:`exercise_cells` picks
    are emptied (so they run as nothing, and cell numbers stay the notebook's)."""
    kept = set(exercise_cells(nb))
    cut = nbformat.from_dict(nb)
    for i, cell in enumerate(cut.cells):
        if cell.cell_type == "code" and i not in kept:
            cell.source = ""
    return cut
