"""A throw-away nbgrader course: the repository's config and notebooks, copied.

Tests and benchmarks grade in a temporary folder through this, so the repository's
gradebook, course/ and any student files are never touched. It works from the
instructor's repository (``ROOT``), where ``solutions/`` lives.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS = ROOT / "solutions"
RELEASE = ROOT / "course"
# The student edition's public repository, which nbgrader_config.py stamps into links.
REPOSITORY_ENV = "AUTOENCODER_COURSE_REPOSITORY"


def assignments(solutions: Path = SOLUTIONS) -> list[str]:
    """Every assignment of a course: the folders of its solutions/ whose name starts
    with a digit (NN_topic), as the Makefile's ``solutions/[0-9]*`` picks them. Every
    tool that needs "all assignments" asks this."""
    return sorted(
        p.name for p in Path(solutions).iterdir() if p.is_dir() and p.name[0].isdigit()
    )


def notebooks(assignment: str, base: Path = SOLUTIONS) -> list[Path]:
    return sorted((base / assignment).glob("*.ipynb"))


def all_notebooks(base: Path = SOLUTIONS) -> list[Path]:
    """Every notebook of every assignment, in course order."""
    return [path for a in assignments(base) for path in notebooks(a, base)]


def venv_first(env: dict) -> dict:
    """``env`` with this interpreter's bin folder first on PATH (nbgrader runs
    ``alembic`` and kernels from PATH), changed in place and returned."""
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def graded_or_solution(cell) -> bool:
    """Whether nbgrader marks the cell as graded (a test or a written answer) or as a
    solution (an exercise)."""
    meta = cell.metadata.get("nbgrader", {})
    return bool(meta.get("grade") or meta.get("solution"))


def grade_cells(nb) -> dict[str, dict]:
    """nbgrader metadata of the graded and solution cells, by grade_id."""
    return {
        c.metadata["nbgrader"]["grade_id"]: {
            **c.metadata["nbgrader"],
            "cell_type": c.cell_type,
        }
        for c in nb.cells
        if graded_or_solution(c)
    }


def solution_answers(source_nb) -> dict[str, str]:
    """grade_id -> source of every solution cell of a source notebook."""
    return {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in source_nb.cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }


def fill(release_nb, answers: dict[str, str]):
    """The release notebook with the given solution cells filled in, as a student would."""
    nb = nbformat.from_dict(release_nb)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id].strip("\n")
    return nb


class Course:
    """A temporary nbgrader course folder driven through nbgrader's command line."""

    def __init__(self, root: Path):
        self.root = root
        shutil.copy(ROOT / "nbgrader_config.py", root / "nbgrader_config.py")
        shutil.copytree(SOLUTIONS, root / "solutions")

    def nbgrader(
        self,
        *args: str,
        timeout: int = 1800,
        check: bool = True,
        env: dict | None = None,
    ) -> subprocess.CompletedProcess:
        """nbgrader's command line in this course; ``env`` adds variables."""
        env = venv_first(dict(os.environ, **(env or {})))
        env["AUTOENCODER_FAST"] = "1"
        result = subprocess.run(
            [sys.executable, "-m", "nbgrader", *args],
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"nbgrader {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-4000:]}"
            )
        return result

    def release(self, assignment: str, env: dict | None = None) -> Path:
        """The assignment released into this course's course/: the instructor's
        preview, unless ``env`` names the student edition's repository."""
        env = {REPOSITORY_ENV: "", **(env or {})}
        self.nbgrader("generate_assignment", "--force", assignment, env=env)
        return self.root / "course" / assignment

    def submit(self, student: str, assignment: str, notebook: str, nb) -> Path:
        folder = self.root / "submitted" / student / assignment
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / notebook
        nbformat.write(nb, path)
        return path

    def autograde(
        self, assignment: str, *args: str, env: dict | None = None, timeout: int = 3600
    ) -> subprocess.CompletedProcess:
        """Grade as `make autograde` does (the class runner); its report is stdout.

        Where no sandbox can start (tests that need one are skipped there), grades
        unsandboxed, so that the scores can still be checked."""
        from .sandbox import unavailable

        if unavailable() and "--unsandboxed" not in args:
            args = (*args, "--unsandboxed")
        environment = venv_first(dict(os.environ if env is None else env))
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "autoencoder_lib.instructor.grading",
                assignment,
                *args,
            ],
            cwd=self.root,
            env=environment,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode not in (0, 1) or "Traceback" in result.stderr:
            raise AssertionError(
                f"grading {assignment} failed ({result.returncode}):\n"
                f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        return result

    def feedback(self, assignment: str) -> None:
        self.nbgrader("generate_feedback", "--force", assignment)

    def scores(self, assignment: str, notebook_id: str) -> dict[str, dict[str, dict]]:
        """student -> grade_id -> {auto, manual_needed, max} from the gradebook."""
        from nbgrader.api import Gradebook

        result: dict[str, dict[str, dict]] = {}
        with Gradebook(f"sqlite:///{self.root / 'gradebook.db'}") as gb:
            for submission in gb.assignment_submissions(assignment):
                student = submission.student.id
                nb = gb.find_submission_notebook(notebook_id, assignment, student)
                result[student] = {
                    grade.cell.name: {
                        "auto": grade.auto_score,
                        "max": grade.max_score,
                        "manual_needed": grade.needs_manual_grade,
                    }
                    for grade in nb.grades
                }
        return result
