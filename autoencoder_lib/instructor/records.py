"""The course's gradebook and records: one student's private result merged in, the
checksums that prove nothing else changed, and the record that lets an interrupted
run resume where it stopped."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from . import tasks
from .report import (
    Outcome,
)


def course_config(course: Path) -> tuple[str, str]:
    """(db_url, course_id) nbgrader is configured with in ``course`` (its defaults
    where unset)."""
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    section = config.get("CourseDirectory", {})
    url = section.get("db_url") or f"sqlite:///{course / 'gradebook.db'}"
    return str(url), str(section.get("course_id", "default_course"))


@dataclass
class StudentRun:
    """One student's private grading, unpacked on the instructor's machine."""

    student: str
    folder: Path
    returncode: int
    log: str


def unpacked(result: tasks.Result, work: Path) -> StudentRun:
    folder = work / "students" / result.student
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    tasks.unpack(result.files, folder)
    return StudentRun(result.student, folder, result.returncode, result.log)


def private_result(run: StudentRun, assignment: str):
    """(submission found, score, max score, points waiting for a human)."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(f"sqlite:///{run.folder / 'gradebook.db'}") as gradebook:
        try:
            submission = gradebook.find_submission(assignment, run.student)
        except MissingEntry:
            return None
        manual = sum(
            grade.max_score
            for notebook in submission.notebooks
            for grade in notebook.grades
            if grade.needs_manual_grade
        )
        return submission.score, submission.max_score, manual


def merge(run: StudentRun, assignment: str, url: str, course_id: str, flag: bool):
    """Copy one private result into the course's gradebook (auto scores, comments,
    late penalties, the review flag); the instructor's manual grades stay."""
    import warnings

    from nbgrader.api import Gradebook, MissingEntry
    from sqlalchemy.exc import SAWarning

    # nbgrader's own submission code warns so on every new student; it is harmless.
    warnings.filterwarnings("ignore", category=SAWarning)
    with Gradebook(f"sqlite:///{run.folder / 'gradebook.db'}") as source:
        found = source.find_submission(assignment, run.student)
        notebooks = [
            (
                nb.name,
                nb.late_submission_penalty,
                [(g.name, g.auto_score, g.needs_manual_grade) for g in nb.grades],
                [(c.name, c.auto_comment) for c in nb.comments],
            )
            for nb in found.notebooks
        ]
        timestamp = found.timestamp
    with Gradebook(url, course_id) as target:
        try:
            target.find_assignment(assignment)
        except MissingEntry as error:
            raise RuntimeError(
                f"the gradebook ({url}) has no assignment {assignment!r}: run "
                "`make release` first"
            ) from error
        target.update_or_create_student(run.student)
        target.update_or_create_submission(assignment, run.student, timestamp=timestamp)
        for name, penalty, grades, comments in notebooks:
            notebook = target.find_submission_notebook(name, assignment, run.student)
            notebook.late_submission_penalty = penalty
            if flag:
                notebook.flagged = True
            for grade_name, auto, manual_needed in grades:
                grade = target.find_grade(grade_name, name, assignment, run.student)
                grade.auto_score = auto
                grade.needs_manual_grade = manual_needed
            for comment_name, text in comments:
                comment = target.find_comment(
                    comment_name, name, assignment, run.student
                )
                comment.auto_comment = text
        target.db.commit()


def _submission_digest(submission, automatic_only: bool) -> str:
    rows = [str(submission.timestamp)]
    for nb in sorted(submission.notebooks, key=lambda n: n.name):
        rows.append(f"{nb.name}|{nb.late_submission_penalty}")
        if not automatic_only:
            rows[-1] += f"|{nb.flagged}"
        for g in sorted(nb.grades, key=lambda g: g.name):
            rows.append(f"{g.name}|{g.auto_score}")
            if not automatic_only:  # what grading by hand changes
                rows[-1] += f"|{g.needs_manual_grade}|{g.manual_score}|{g.extra_credit}"
        for c in sorted(nb.comments, key=lambda c: c.name):
            rows.append(f"{c.name}|{c.auto_comment}")
            if not automatic_only:
                rows[-1] += f"|{c.manual_comment}"
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()


def submission_digests(url: str, course_id: str, only: tuple[str, str] | None = None):
    """(everything, what autograding writes): (student, assignment) -> a checksum of
    what the gradebook says of it, in one pass (``only``: one submission)."""
    from nbgrader.api import Gradebook, MissingEntry

    full, automatic = {}, {}
    with Gradebook(url, course_id) as gradebook:
        if only is not None:
            try:
                found = [gradebook.find_submission(only[1], only[0])]
            except MissingEntry:
                found = []
        else:
            found = [
                submission
                for assignment in gradebook.assignments
                for submission in gradebook.assignment_submissions(assignment.name)
            ]
        for submission in found:
            key = (submission.student.id, submission.assignment.name)
            full[key] = _submission_digest(submission, automatic_only=False)
            automatic[key] = _submission_digest(submission, automatic_only=True)
    return full, automatic


def gradebook_digests(
    url: str,
    course_id: str,
    only: tuple[str, str] | None = None,
    automatic_only: bool = False,
) -> dict[tuple[str, str], str]:
    """(student, assignment) -> a checksum of everything the gradebook says of it
    (of what autograding writes, with ``automatic_only``; ``only`` one submission)."""
    full, automatic = submission_digests(url, course_id, only)
    return automatic if automatic_only else full


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def file_digests(folder: Path) -> dict[Path, str]:
    return {
        p: _sha256(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def install_graded(run: StudentRun, course: Path, assignment: str) -> None:
    """The graded notebook into autograded/, replacing an earlier one only now."""
    source = run.folder / "autograded" / run.student / assignment
    target = course / "autograded" / run.student / assignment
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{assignment}.new"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(source, staging, symlinks=True)
    if target.exists():
        old = target.parent / f".{assignment}.old"
        shutil.rmtree(old, ignore_errors=True)
        target.rename(old)
        staging.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        staging.rename(target)


def _record_path(course: Path, student: str, assignment: str) -> Path:
    return course / "logs" / assignment / f"{student}.graded.json"


def _submitted_digest(submitted: Path, student: str, assignment: str) -> str:
    files = tasks.pack(submitted / student / assignment)
    digest = hashlib.sha256()
    for name, content in sorted(files.items()):
        digest.update(name.encode() + b"\0" + hashlib.sha256(content).digest())
    return digest.hexdigest()


def graded_earlier(course, student, assignment, auto_rows) -> Outcome | None:
    """The recorded outcome if this student's submission was graded and merged before
    and neither it nor its automatic rows in the gradebook have changed since."""
    try:
        record = json.loads(_record_path(course, student, assignment).read_text())
    except (OSError, ValueError):
        return None
    if (
        record.get("submitted")
        != _submitted_digest(course / "submitted", student, assignment)
        or record.get("rows") != auto_rows.get((student, assignment))
        or not (course / "autograded" / student / assignment).is_dir()
    ):
        return None
    return Outcome(student, graded=True, earlier=True, **record["outcome"])


def write_record(course, run: StudentRun, assignment, outcome, url, course_id) -> str:
    """Note that this submission is graded and merged; returns its rows' digest."""
    key = (run.student, assignment)
    full, automatic = submission_digests(url, course_id, key)
    rows, auto = full[key], automatic[key]
    fields = ("score", "max_score", "manual_points", "sandboxed", "notes", "flags")
    record = {
        "submitted": _submitted_digest(course / "submitted", run.student, assignment),
        "rows": auto,
        "outcome": {f: getattr(outcome, f) for f in fields},
    }
    path = _record_path(course, run.student, assignment)
    path.write_text(json.dumps(record, indent=1), encoding="utf-8")
    return rows


def verify(course, submitted, before_files, before_rows, after_merge, url, course_id):
    """What changed that only the grader may change: submitted files, and gradebook
    rows other than those it just wrote."""
    changed = [
        str(p.relative_to(course))
        for p, digest in before_files.items()
        if not p.is_file() or _sha256(p) != digest
    ]
    rows = gradebook_digests(url, course_id)
    for key, digest in before_rows.items():
        expected = after_merge.get(key, digest)
        if rows.get(key) != expected:
            changed.append(f"gradebook rows of {key[0]} / {key[1]}")
    for key, digest in after_merge.items():
        if rows.get(key) != digest:
            changed.append(f"gradebook rows of {key[0]} / {key[1]}")
    return sorted(set(changed))
