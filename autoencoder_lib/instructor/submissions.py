"""Check students' submitted notebooks before nbgrader grades them (instructors).

nbgrader scores a notebook whose cell metadata was stripped (Colab does this) as zero and
still exits 0, and it fails on files that are not notebooks. This check reads every
``submitted/<student>/<assignment>/<notebook>.ipynb``, compares it with the release in
``course/``, and reports each problem per student in plain words. It never writes.

    python -m autoencoder_lib.instructor.submissions [submitted_dir] [release_dir]

Exit status 1 when a submission cannot be graded as it is, 0 otherwise.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from . import limits


@dataclass(frozen=True)
class Problem:
    student: str
    assignment: str
    notebook: str
    message: str
    blocking: bool  # True: grading would give a wrong result or fail
    # True: nbgrader cannot grade the file at all (not a notebook, metadata stripped);
    # `make autograde` leaves such a student out and says why.
    unreadable: bool = False

    def __str__(self) -> str:
        kind = "CANNOT GRADE" if self.blocking else "note"
        return f"{self.student} / {self.assignment} / {self.notebook}: {kind}: {self.message}"


def _nbgrader_cells(nb: dict) -> dict[str, dict]:
    cells = {}
    for cell in nb.get("cells", []):
        meta = cell.get("metadata", {}).get("nbgrader")
        if meta and meta.get("grade_id"):
            source = cell.get("source", "")
            cells[meta["grade_id"]] = {
                "meta": meta,
                "source": "".join(source) if isinstance(source, list) else source,
            }
    return cells


def _depth(value) -> int:
    """How deeply lists and objects nest in ``value`` (without recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in item)
    return deepest


def read_notebook(path: Path) -> tuple[dict | None, str | None]:
    """The notebook at ``path``, or why it cannot be graded: unreadable, larger than
    ``limits.SUBMISSION_LIMIT_BYTES``, not JSON, nested deeper than
    ``limits.SUBMISSION_MAX_DEPTH``, or not a notebook."""
    try:
        size = path.stat().st_size
    except OSError as error:
        return None, f"cannot be read ({error})"
    if size > limits.SUBMISSION_LIMIT_BYTES:
        return None, (
            f"is {size / 2**20:,.0f} MiB, over the {limits.SUBMISSION_LIMIT_BYTES >> 20}"
            " MiB a submission may have (outputs saved in it?). Ask the student to "
            "clear the outputs (Edit > Clear Outputs of All Cells), save and hand in "
            "again."
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        return None, f"cannot be read ({error})"
    try:
        nb = json.loads(text)
    except json.JSONDecodeError as error:
        return None, (
            f"is not a notebook: invalid or truncated JSON ({error.msg} at line "
            f"{error.lineno}). Ask the student to download the .ipynb again."
        )
    except RecursionError:
        nb = None
    if nb is None or _depth(nb) > limits.SUBMISSION_MAX_DEPTH:
        return None, (
            f"is not a notebook: its JSON nests more than {limits.SUBMISSION_MAX_DEPTH}"
            " levels deep, which no notebook does. Ask the student to hand in the "
            ".ipynb that JupyterLab or Colab saved."
        )
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        return None, "is JSON but not a Jupyter notebook (no list of cells)."
    return nb, None


def schema_error(nb: dict) -> str | None:
    """What makes ``nb`` break the notebook format (nbformat's schema), or None."""
    import nbformat

    try:
        node = nbformat.reads(json.dumps(nb), as_version=4)
        nbformat.validate(node)
    except nbformat.ValidationError as error:
        return str(error.message if hasattr(error, "message") else error).split("\n")[0]
    except Exception as error:  # nbformat's converters raise their own errors
        return f"{type(error).__name__}: {error}".split("\n")[0]
    return None


def check_notebook(path: Path, release: Path, student: str, assignment: str):
    """The problems of one submitted notebook against its release."""
    name = path.name

    def problem(message, blocking=True, unreadable=False):
        return Problem(student, assignment, name, message, blocking, unreadable)

    nb, error = read_notebook(path)
    if error:
        return [problem(error, unreadable=True)]
    if not release.is_file():
        return [
            problem(f"has no counterpart in the release ({release}).", unreadable=True)
        ]
    expected = _nbgrader_cells(json.loads(release.read_text(encoding="utf-8")))
    found = _nbgrader_cells(nb)
    if expected and not found:
        return [
            problem(
                "its nbgrader cell metadata is gone (Colab and some editors strip it); "
                "nbgrader would score it 0. Copy the answers into a fresh copy of the "
                "release notebook, or open it in JupyterLab from the release and save.",
                unreadable=True,
            )
        ]
    problems = []
    invalid = schema_error(nb)
    if invalid:
        problems.append(
            problem(
                f"breaks the notebook format ({invalid[:160]}); nbgrader may fail on "
                "it. Ask the student to save it again from JupyterLab."
            )
        )
    ids = [
        cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        for cell in nb["cells"]
    ]
    for grade_id in sorted({i for i in ids if i and ids.count(i) > 1}):
        numbers = [str(n) for n, i in enumerate(ids, start=1) if i == grade_id]
        problems.append(
            problem(
                f"grade_id {grade_id!r} appears in {len(numbers)} cells "
                f"({', '.join(numbers)}): a copied cell, which nbgrader cannot grade. "
                "Delete the copy and submit again, or fix the file by hand.",
                unreadable=True,
            )
        )
    for grade_id, cell in found.items():
        if grade_id not in expected:
            kind = "graded cell" if cell["meta"].get("grade") else "nbgrader cell"
            problems.append(
                problem(
                    f"adds a {kind} {grade_id!r} that the release does not have; "
                    "nbgrader cannot grade it. Remove that cell's nbgrader metadata "
                    "(or the cell) and submit again.",
                    unreadable=bool(cell["meta"].get("grade")),
                )
            )
    for grade_id, cell in expected.items():
        meta = cell["meta"]
        mine = found.get(grade_id)
        if mine is None:
            what = "test cell" if meta.get("grade") else "cell"
            problems.append(
                problem(f"{what} {grade_id!r} was deleted or lost its metadata.")
            )
            continue
        if mine["meta"].get("points") != meta.get("points"):
            problems.append(
                problem(
                    f"points of {grade_id!r} changed from {meta.get('points')} to "
                    f"{mine['meta'].get('points')}."
                )
            )
        for flag in ("grade", "solution", "locked"):
            if bool(mine["meta"].get(flag)) != bool(meta.get(flag)):
                problems.append(
                    problem(f"the {flag!r} flag of {grade_id!r} was changed.")
                )
        if meta.get("locked") and mine["source"] != cell["source"]:
            problems.append(
                problem(
                    f"locked cell {grade_id!r} was edited; nbgrader restores it from the "
                    "release when grading.",
                    blocking=False,
                )
            )
    return problems


def check(submitted: Path, release_dir: Path) -> list[Problem]:
    """Every problem of every submission under ``submitted`` (student/assignment/)."""
    problems = []
    for folder in sorted(p for p in submitted.glob("*/*") if p.is_dir()):
        student, assignment = folder.parent.name, folder.name
        notebooks = sorted(folder.glob("*.ipynb"))
        if not notebooks:
            problems.append(
                Problem(
                    student,
                    assignment,
                    "-",
                    "no .ipynb file was submitted.",
                    True,
                    True,
                )
            )
        for path in notebooks:
            release = release_dir / assignment / path.name
            problems.extend(check_notebook(path, release, student, assignment))
    return problems


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    submitted = Path(args[0] if args else "submitted")
    release_dir = Path(args[1] if len(args) > 1 else "course")
    if not submitted.is_dir():
        print(f"{submitted} does not exist: collect submissions into it first.")
        return 1
    problems = check(submitted, release_dir)
    for item in problems:
        print(item)
    blocking = [p for p in problems if p.blocking]
    print(
        f"{len(blocking)} submission problem(s) that block grading, "
        f"{len(problems) - len(blocking)} note(s)."
    )
    return 1 if blocking else 0


if __name__ == "__main__":
    sys.exit(main())
