"""Code cells with nbgrader's metadata, for the small assignments tests build, and what
an executed notebook printed."""

from nbformat.v4 import new_code_cell


def nbgrader_cell(source, grade_id, *, solution=False, points=None):
    """A code cell: a solution cell (``solution=True``), a graded test cell (``points``),
    or a locked cell of the assignment (neither)."""
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


def printed(nb) -> str:
    """Everything an executed notebook's cells wrote as text (streams, plain results)."""
    return "".join(
        out.get("text", "") for cell in nb.cells for out in cell.get("outputs", [])
    )
