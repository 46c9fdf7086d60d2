"""Autograde a class and report, per student, what happened and why (instructors).

    python -m autoencoder_lib.grading [ASSIGNMENT ...]      # what `make autograde` runs

For each assignment with submissions in ``submitted/``:

1. the submissions check (:mod:`autoencoder_lib.submissions`) runs first; a student
   whose file nbgrader cannot grade at all (not a notebook, truncated, cell metadata
   stripped by Colab, nothing submitted) is left out of grading, with the reason,
   instead of being scored 0 in silence;
2. ``nbgrader autograde`` grades everyone else in fast mode, under the per-cell time,
   memory and output limits of ``nbgrader_config.py``; its full log goes to
   ``logs/autograde-<assignment>.log``;
3. a table says, per student: graded (score) or not graded, and any cell that hit a
   limit.

Nothing under ``submitted/`` is written. Exit status 1 when some student needs the
instructor's attention, 0 otherwise; every assignment is processed either way.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from . import kernel_limits, submissions

# Calls that end the kernel; a submission containing one is the likely cause of a death.
_KERNEL_KILLERS = re.compile(
    r"os\._exit|os\.kill|sys\.exit|exit\(|quit\(|signal\.SIG|os\.abort"
)


@dataclass
class Outcome:
    student: str
    graded: bool
    score: float | None = None
    max_score: float | None = None
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        if self.graded:
            status = f"graded  {self.score:g} / {self.max_score:g}"
        else:
            status = "NOT GRADED"
        notes = "; ".join(self.notes)
        return f"  {self.student:<24} {status:<20} {notes}"


def _limits() -> str:
    return (
        f"{kernel_limits.cell_timeout_s()} s per cell, "
        f"{kernel_limits.kernel_memory_gb():g} GiB per kernel"
    )


def _cell_notes(notebook: Path) -> list[str]:
    """Cells of a graded notebook that hit a limit, in plain words."""
    timeout = kernel_limits.cell_timeout_s()
    memory = f"{kernel_limits.kernel_memory_gb():g}"
    notes = []
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    for number, cell in enumerate(nb.get("cells", []), start=1):
        names = {o.get("ename") for o in cell.get("outputs", [])}
        text = "".join("".join(o.get("text", "")) for o in cell.get("outputs", []))
        where = f"cell {number}"
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id:
            where += f" ({grade_id})"
        if "CellTimeoutError" in names:
            notes.append(f"{where} stopped at the {timeout} s time limit")
        if "MemoryError" in names:
            notes.append(f"{where} hit the {memory} GiB memory limit")
        if "output cut by the grader" in text:
            notes.append(f"{where} printed too much; its output was cut")
    return notes


def _death_hint(folder: Path) -> str:
    for path in sorted(folder.glob("*.ipynb")):
        nb, error = submissions.read_notebook(path)
        if error:
            continue
        for number, cell in enumerate(nb.get("cells", []), start=1):
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else source
            match = _KERNEL_KILLERS.search(source)
            if cell.get("cell_type") == "code" and match:
                return f" (cell {number} calls {match.group(0).rstrip('(')})"
    return ""


def _scores(course: Path, assignment: str) -> dict[str, tuple[float, float]]:
    from nbgrader.api import Gradebook, MissingEntry

    result = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        try:
            found = gradebook.assignment_submissions(assignment)
        except MissingEntry:
            return result
        for submission in found:
            result[submission.student.id] = (submission.score, submission.max_score)
    return result


def autograde(course: Path, assignment: str) -> list[Outcome]:
    """Grade one assignment of the course in ``course``; one outcome per student."""
    submitted = course / "submitted"
    students = sorted(
        p.parent.name for p in submitted.glob(f"*/{assignment}") if p.is_dir()
    )
    problems = submissions.check(submitted, course / "course")
    problems = [p for p in problems if p.assignment == assignment]
    left_out = {p.student: p for p in problems if p.unreadable}
    outcomes = {s: Outcome(s, graded=False) for s in students}
    for problem in problems:
        if problem.student in outcomes:
            outcomes[problem.student].notes.append(
                f"{problem.notebook}: {problem.message}"
            )

    to_grade = [s for s in students if s not in left_out]
    if to_grade:
        logs = course / "logs"
        logs.mkdir(exist_ok=True)
        log_path = logs / f"autograde-{assignment}.log"
        command = [sys.executable, "-m", "nbgrader", "autograde", assignment, "--force"]
        if left_out:
            command.append(
                f"--CourseDirectory.student_id_exclude={','.join(sorted(left_out))}"
            )
        env = dict(os.environ, AUTOENCODER_FAST="1")
        bin_dir = str(Path(sys.executable).parent)
        env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
        with open(log_path, "w", encoding="utf-8") as log:
            subprocess.run(
                command,
                cwd=course,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                check=False,
            )
        log_text = log_path.read_text(encoding="utf-8", errors="replace")
        scores = _scores(course, assignment)
        for student in to_grade:
            outcome = outcomes[student]
            graded = sorted(
                (course / "autograded" / student / assignment).glob("*.ipynb")
            )
            if graded:
                outcome.graded = True
                outcome.score, outcome.max_score = scores.get(student, (0.0, 0.0))
                for notebook in graded:
                    outcome.notes.extend(_cell_notes(notebook))
                continue
            block = _log_block(log_text, student, assignment)
            if "Kernel died" in block or "DeadKernelError" in block:
                reason = (
                    "the kernel died while running the notebook"
                    + _death_hint(submitted / student / assignment)
                    + "; grade it by hand"
                )
            elif "Timeout" in block:
                reason = "the kernel stopped answering; grade it by hand"
            else:
                last = [line for line in block.splitlines() if line.strip()][-1:]
                reason = f"nbgrader failed: {last[0][:160] if last else 'see the log'}"
            outcome.notes.insert(0, f"{reason} (log: {log_path.relative_to(course)})")
    return [outcomes[s] for s in students]


def _log_block(log: str, student: str, assignment: str) -> str:
    """The part of nbgrader's log about one student's submission."""
    marker = f"/{student}/{assignment}"
    blocks = re.split(
        r"(?=\[AutogradeApp \| INFO\] (?:Autograding|Copying|Sanitizing))", log
    )
    return "\n".join(b for b in blocks if marker in b)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    course = Path.cwd()
    submitted = course / "submitted"
    if not submitted.is_dir():
        print("No submitted/ folder: collect submissions first (README, Grading).")
        return 1
    assignments = args or sorted(
        p.name for p in (course / "solutions").iterdir() if p.is_dir()
    )
    attention = 0
    for assignment in assignments:
        if not any(submitted.glob(f"*/{assignment}")):
            continue
        print(f"{assignment}  (limits: {_limits()}; fast mode)")
        for outcome in autograde(course, assignment):
            print(outcome.line())
            attention += (not outcome.graded) or bool(outcome.notes)
    print(f"{attention} submission(s) need a look." if attention else "All graded.")
    return 1 if attention else 0


if __name__ == "__main__":
    sys.exit(main())
