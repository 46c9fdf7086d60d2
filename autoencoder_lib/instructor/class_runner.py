"""One assignment graded for a class: the solution check, each student in private
(:mod:`.tasks`), the merges as results arrive, and the final checks."""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from . import limits, submissions, tasks
from .code_scan import (
    cell_source,
    suspicious_code,
)
from .records import (
    StudentRun,
    course_config,
    file_digests,
    graded_earlier,
    install_graded,
    merge,
    private_result,
    submission_digests,
    unpacked,
    verify,
    write_record,
)
from .report import (
    Outcome,
    Progress,
    cell_notes,
    death_hint,
)


def _template(course: Path, assignment: str, work: Path, env: dict) -> Path:
    """A course folder whose gradebook holds only this assignment (no student)."""
    template = work / "template"
    template.mkdir()
    shutil.copy(course / "nbgrader_config.py", template)
    shutil.copytree(
        course / "solutions" / assignment, template / "solutions" / assignment
    )
    url = f"sqlite:///{template / 'gradebook.db'}"
    with open(work / "template.log", "w", encoding="utf-8") as log:
        code = tasks.nbgrader(
            ["generate_assignment", assignment, "--force",
             f"--CourseDirectory.db_url={url}"],
            template, env, log, timeout=limits.MACHINE_TIMEOUT_S,
        )  # fmt: skip
    if code != 0:
        raise RuntimeError(
            f"could not prepare {assignment} for grading (see {work / 'template.log'})"
        )
    return template


def _template_files(template: Path, assignment: str) -> dict[str, bytes]:
    """What a private course needs: the config, the gradebook, the solutions."""
    files = {
        name: (template / name).read_bytes()
        for name in ("nbgrader_config.py", "gradebook.db")
    }
    files.update(
        {
            f"solutions/{assignment}/{k}": v
            for k, v in tasks.pack(template / "solutions" / assignment).items()
        }
    )
    return files


@contextlib.contextmanager
def _uninterrupted():
    """Ctrl-C waits until one student's merge, graded notebook and record are all
    written, so an interrupted run never leaves a student half-merged."""
    blocked = threading.current_thread() is threading.main_thread() and hasattr(
        signal, "pthread_sigmask"
    )
    if blocked:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        if blocked:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})


def _expected_work(folder: Path) -> int:
    """A rough cost of grading the notebooks in ``folder``: their code's length.

    Only the order of the runs depends on it, never a grade. A blank answer fails fast
    and everything after it with it; a full one trains every model. Starting the long
    ones first (longest processing time first) keeps the last worker from running a
    long notebook alone at the end while the others idle."""
    total = 0
    for path in folder.glob("*.ipynb"):
        nb, _ = submissions.read_notebook(path)
        if nb is None:
            continue  # unreadable: the submissions check reports it
        total += sum(
            len(cell_source(cell))
            for cell in nb["cells"]
            if isinstance(cell, dict) and cell.get("cell_type") == "code"
        )
    return total


def _result(future, student: str) -> tasks.Result:
    """A task's result; a task that failed (its worker died too often, the cluster
    went away) is a run that failed, with the reason in its log."""
    try:
        return future.result()
    except Exception as error:  # noqa: BLE001 (any failure of the executor)
        return tasks.Result(
            student, -3, f"[grading] the grading task failed: {error!r}\n", {}
        )


def autograde(
    course: Path,
    assignment: str,
    sandboxed: bool = True,
    workers: int = 1,
    check_solution: bool = True,
    executor=None,
    force: bool = False,
) -> list[Outcome]:
    """Grade one assignment of the course in ``course``; one outcome per student.

    Students run side by side on ``executor`` (a ``concurrent.futures`` executor: a
    Dask client's, say) or on ``workers`` threads here. Each result is merged as soon
    as the solution check has passed, so an interrupted run keeps what it merged and
    the next run grades only what is missing (``force`` regrades everyone)."""
    from .preprocessors import instructor_imports

    submitted = course / "submitted"
    students = sorted(
        p.parent.name for p in submitted.glob(f"*/{assignment}") if p.is_dir()
    )
    problems = submissions.check(submitted, course / "course")
    problems = [p for p in problems if p.assignment == assignment]
    left_out = {p.student for p in problems if p.unreadable}
    outcomes = {s: Outcome(s, graded=False, sandboxed=sandboxed) for s in students}
    for problem in problems:
        if problem.student in outcomes:
            outcomes[problem.student].notes.append(
                f"{problem.notebook}: {problem.message}"
            )
    to_grade = [s for s in students if s not in left_out]
    if not to_grade:
        return [outcomes[s] for s in students]

    url, course_id = course_config(course)
    logs = course / "logs" / assignment
    logs.mkdir(parents=True, exist_ok=True)
    before_files = file_digests(submitted)
    before_rows, auto_rows = submission_digests(url, course_id)
    if not force:
        for student in list(to_grade):
            earlier = graded_earlier(course, student, assignment, auto_rows)
            if earlier is not None:
                outcomes[student] = earlier
                to_grade.remove(student)
    if not to_grade:
        return [outcomes[s] for s in students]
    env = tasks.environment(sandboxed)
    cache = course / MODEL_CACHE_FOLDER
    model_cache = str(cache.resolve()) if cache.is_dir() else ""
    modules = set()
    for path in (course / "solutions" / assignment).glob("*.ipynb"):
        import nbformat

        modules |= set(instructor_imports(nbformat.read(path, as_version=4)))
    after_merge: dict[tuple[str, str], str] = {}

    def finish(run: StudentRun) -> None:
        with _uninterrupted():
            _finish(run)

    def _finish(run: StudentRun) -> None:
        outcome = outcomes[run.student]
        log_path = logs / f"{run.student}.log"
        log_path.write_text(run.log, encoding="utf-8")
        _judge(run, outcome, course, assignment, modules, log_path)
        if outcome.graded:
            merge(run, assignment, url, course_id, flag=bool(outcome.flags))
            install_graded(run, course, assignment)
            after_merge[(run.student, assignment)] = write_record(
                course, run, assignment, outcome, url, course_id
            )

    with tempfile.TemporaryDirectory(prefix=f"ae-grade-{assignment}-") as tmp:
        work = Path(tmp)
        template = _template(course, assignment, work, env)
        files = _template_files(template, assignment)
        pool = executor or ThreadPoolExecutor(max_workers=max(1, workers))
        # Here, the cores are shared among the students graded at once; a Dask
        # worker shares its own (0).
        threads = 0 if executor or workers <= 1 else max(1, tasks.cores() // workers)
        futures = {}

        def submit(student: str, folder: Path) -> None:
            task = tasks.Task(
                student, assignment, files, tasks.pack(folder), sandboxed, threads,
                model_cache,
            )  # fmt: skip
            futures[pool.submit(tasks.run, task)] = student

        if check_solution:
            canary = _canary_submission(template, assignment, work)
            submit(CANARY, canary / CANARY / assignment)
        # Behind the solution check (every merge waits for it), longest first.
        by_work = sorted(
            to_grade,
            key=lambda s: (-_expected_work(submitted / s / assignment), s),
        )
        for student in by_work:
            submit(student, submitted / student / assignment)
        progress = Progress(assignment, len(to_grade))
        waiting: list[StudentRun] | None = [] if check_solution else None
        try:
            for future in as_completed(futures):
                student = futures[future]
                run = unpacked(_result(future, student), work)
                if student == CANARY:
                    (logs / f"{CANARY}.log").write_text(run.log, encoding="utf-8")
                    shortfall = _shortfall(run, assignment)
                    if shortfall:
                        raise RuntimeError(
                            f"the instructor's own solution {shortfall} when graded "
                            "here, so every grade would be wrong; no grade was "
                            f"written. See {(logs / f'{CANARY}.log').relative_to(course)}"
                            " (data missing in the sandbox? a limit too tight?)"
                        )
                    for earlier in waiting:
                        finish(earlier)
                    waiting = None
                    continue
                if waiting is None:
                    finish(run)
                else:
                    waiting.append(run)
                progress.tick()  # after the merge: "done" means in the gradebook
        finally:
            for future in futures:
                future.cancel()
            if executor is None:
                pool.shutdown(wait=True, cancel_futures=True)
    changed = verify(
        course, submitted, before_files, before_rows, after_merge, url, course_id
    )
    if changed:
        for outcome in outcomes.values():
            outcome.flags.append(
                "files or gradebook rows changed while grading, which only the grader "
                "may do: " + ", ".join(changed[:5])
            )
    return [outcomes[s] for s in students]


# The solution, graded with the class in the same sandbox and limits: if it does not
# get full marks, the grading environment is broken (data out of reach, a limit too
# tight), and no student's grade may be written.
CANARY = "_solution_check"


# The course's trained-model cache (make warm-cache): every kernel reads it, none
# writes it.
MODEL_CACHE_FOLDER = "model_cache"


def _canary_submission(template: Path, assignment: str, work: Path) -> Path:
    import nbformat

    from .course import fill, solution_answers

    submitted = work / "canary"
    folder = submitted / CANARY / assignment
    folder.mkdir(parents=True)
    for source in sorted((template / "solutions" / assignment).glob("*.ipynb")):
        release = template / "course" / assignment / source.name
        answers = solution_answers(nbformat.read(source, as_version=4))
        nbformat.write(
            fill(nbformat.read(release, as_version=4), answers), folder / source.name
        )
    return submitted


def _shortfall(run: StudentRun, assignment: str) -> str | None:
    """How the solution fell short of full marks, or None."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(f"sqlite:///{run.folder / 'gradebook.db'}") as gradebook:
        try:
            submission = gradebook.find_submission(assignment, run.student)
        except MissingEntry:
            return "could not be graded"
        short = [
            f"{grade.name} {grade.auto_score or 0:g}/{grade.max_score:g}"
            for notebook in submission.notebooks
            for grade in notebook.grades
            if not grade.needs_manual_grade
            and (grade.auto_score or 0) < grade.max_score
        ]
    return f"lost marks ({', '.join(short[:4])})" if short else None


def _judge(run, outcome, course, assignment, modules, log_path) -> None:
    """Fill one student's outcome from their private run."""
    graded = sorted(
        (run.folder / "autograded" / run.student / assignment).glob("*.ipynb")
    )
    result = private_result(run, assignment) if graded else None
    for path in sorted(
        (course / "submitted" / run.student / assignment).glob("*.ipynb")
    ):
        nb, error = submissions.read_notebook(path)
        release, _ = submissions.read_notebook(
            course / "course" / assignment / path.name
        )
        if nb is not None:
            outcome.flags.extend(suspicious_code(nb, modules, release))
    guard_path = run.folder / "guard.json"
    killed = None
    if guard_path.is_file():
        for found in json.loads(guard_path.read_text()).values():
            outcome.flags.extend(found.get("findings", []))
            outcome.sandboxed = outcome.sandboxed and found.get("sandboxed", True)
            killed = killed or found.get("killed")
    relative = log_path.relative_to(course)
    if graded and result is not None and run.returncode == 0:
        outcome.graded = True
        outcome.score, outcome.max_score, outcome.manual_points = result
        for notebook in graded:
            outcome.notes.extend(cell_notes(notebook))
        return
    log = run.log
    if killed:
        reason = f"{killed}; grade it by hand"
    elif "Kernel died" in log or "DeadKernelError" in log:
        reason = (
            "the kernel died while running the notebook"
            + death_hint(course / "submitted" / run.student / assignment)
            + "; grade it by hand"
        )
    elif "did not finish within" in log:
        reason = "grading did not finish in time; grade it by hand"
    elif "Timeout" in log:
        reason = "the kernel stopped answering; grade it by hand"
    else:
        errors = [ln for ln in log.splitlines() if "ERROR" in ln or "Error" in ln]
        last = errors[-1:] or [ln for ln in log.splitlines() if ln.strip()][-1:]
        reason = f"nbgrader failed: {last[0].strip()[:160] if last else 'see the log'}"
    outcome.notes.insert(0, f"{reason} (log: {relative})")
