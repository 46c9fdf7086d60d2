"""Autograde a class, one student at a time in private, and report what happened.

    python -m autoencoder_lib.instructor.grading [ASSIGNMENT ...] [--unsandboxed]

This is what ``make autograde`` runs. For each assignment with submissions in
``submitted/``:

1. the submissions check (:mod:`.submissions`) runs first; a student whose file
   nbgrader cannot grade (not a notebook, truncated, metadata stripped by Colab, a
   duplicated or added graded cell, nothing submitted) is left out, with the reason;
2. each other student is graded by ``nbgrader autograde`` in a private course folder
   of their own (a copy of their submission and a gradebook holding only the
   assignment), with every kernel in the sandbox (:mod:`.sandbox`) and the test
   cells' machinery guarded (:mod:`.guard`). One student's notebook can only fail
   that student's run;
3. the trusted process merges each result into the course's gradebook (whatever
   ``db_url`` nbgrader is configured with) and copies the graded notebook into
   ``autograded/``; submissions whose cells reach for the interpreter's machinery, or
   whose run tripped the guard, are flagged in the gradebook for review;
4. it checks, by checksum, that no submitted file and no other student's gradebook
   rows changed while it graded;
5. a table says, per student: graded (score, and points waiting for grading by hand)
   or not graded with the reason, any cell that hit a limit, and any flag.

Nothing under ``submitted/`` is written. Exit status 1 when some student needs the
instructor's attention, 2 when grading cannot start, 0 otherwise.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from . import limits, submissions, tasks
from .course import assignments as course_assignments

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
    manual_points: float = 0.0
    sandboxed: bool = True
    notes: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    earlier: bool = False

    def line(self) -> str:
        if self.graded:
            status = f"graded  {self.score:g} / {self.max_score:g}"
        else:
            status = "NOT GRADED"
        notes = list(self.notes)
        if self.graded and self.manual_points:
            notes.insert(0, f"{self.manual_points:g} points wait for grading by hand")
        if self.earlier:
            notes.insert(0, "graded earlier, unchanged since (FORCE=1 regrades)")
        if self.flags:
            notes.append("FLAGGED for review: " + "; ".join(self.flags[:4]))
            if len(self.flags) > 4:
                notes[-1] += f"; and {len(self.flags) - 4} more (see the log)"
        if not self.sandboxed:
            notes.append("graded UNSANDBOXED")
        return f"  {self.student:<24} {status:<20} {'; '.join(notes)}"

    def needs_look(self) -> bool:
        return not self.graded or bool(self.flags) or bool(self.notes)


def _limits() -> str:
    return (
        f"{limits.cell_timeout_s()} s per cell, "
        f"{limits.kernel_memory_gb():g} GiB and {limits.scratch_mb()} MiB of disk "
        "per kernel"
    )


def _cell_notes(notebook: Path) -> list[str]:
    """Cells of a graded notebook that hit a limit, in plain words."""
    timeout = limits.cell_timeout_s()
    memory = f"{limits.kernel_memory_gb():g}"
    notes = []
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    for number, cell in enumerate(nb.get("cells", []), start=1):
        outputs = cell.get("outputs", [])
        names = {o.get("ename") for o in outputs}
        text = "".join("".join(o.get("text", "")) for o in outputs) + "".join(
            "".join(o.get("data", {}).get("text/plain", "")) for o in outputs
        )
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
        if "No space left on device" in json.dumps(outputs):
            notes.append(f"{where} filled its {limits.scratch_mb()} MiB of disk")
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


# What a submission's own cells have no business touching: the interpreter's and
# IPython's machinery, other processes' memory, the grader's files.
_SUSPICIOUS_NAMES = {
    "get_ipython": "uses get_ipython() (IPython's machinery)",
    "settrace": "sets a trace function",
    "setprofile": "sets a profile function",
    "addaudithook": "adds an audit hook",
    "input_transformers_cleanup": "changes IPython's input transformers",
    "input_transformers_post": "changes IPython's input transformers",
    "input_transformer_manager": "changes IPython's input transformers",
    "ast_transformers": "changes IPython's AST transformers",
    "set_custom_exc": "installs a custom exception handler",
    "showtraceback": "changes how errors are shown",
    "_showtraceback": "changes how errors are shown",
    "__builtins__": "touches __builtins__",
    "meta_path": "changes the import system",
    "path_hooks": "changes the import system",
    "_getframe": "reads interpreter frames",
    "f_back": "reads interpreter frames",
    "f_globals": "reads interpreter frames",
    "f_locals": "reads interpreter frames",
    "get_referrers": "searches the interpreter's objects",
    "get_objects": "searches the interpreter's objects",
    "shell_handlers": "changes the kernel's handlers",
    "do_execute": "changes the kernel's handlers",
    "run_cell": "changes how cells run",
}
_SUSPICIOUS_MODULES = {
    "ctypes": "imports ctypes",
    "builtins": "imports builtins",
    "gc": "imports gc",
    "sqlite3": "imports sqlite3",
    "nbgrader": "imports nbgrader",
    "importlib": "imports importlib",
    "ipykernel": "imports ipykernel",
}
_SUSPICIOUS_STRINGS = ("gradebook", "solutions/", ".ipynb", "autograded", "submitted/")


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def suspicious_code(
    nb: dict, module_names: set[str], release: dict | None = None
) -> list[str]:
    """Why a submission's own cells (answers, edited or added cells) need a look.

    Cells whose code is exactly a cell of the release are the instructor's and are
    not judged; nbgrader restores locked cells anyway."""
    found = []
    theirs = {_source(c).strip() for c in (release or {}).get("cells", [])}
    for number, cell in enumerate(nb.get("cells", []), start=1):
        meta = cell.get("metadata", {}).get("nbgrader", {}) or {}
        if cell.get("cell_type") != "code" or (meta and not meta.get("solution")):
            continue
        source = _source(cell)
        if source.strip() in theirs:
            continue
        where = f"cell {number}" + (f" ({meta['grade_id']})" if meta else "")
        reasons = _scan(source, module_names)
        found.extend(f"{where} {reason}" for reason in reasons)
    return found


def _scan(source: str, module_names: set[str]) -> list[str]:
    # IPython syntax (magics, shell escapes) is not Python; judge those lines apart.
    lines = source.splitlines()
    reasons = []
    if any(line.lstrip().startswith(("!", "%")) for line in lines):
        reasons.append("runs IPython magics or shell commands")
    python = "\n".join(
        "" if line.lstrip().startswith(("!", "%")) else line for line in lines
    )
    try:
        tree = ast.parse(python)
    except SyntaxError:
        words = set(re.findall(r"[A-Za-z_]+", python))
        return reasons + sorted({v for k, v in _SUSPICIOUS_NAMES.items() if k in words})
    for node in ast.walk(tree):
        name = None
        if isinstance(node, ast.Name):
            name = node.id
        elif isinstance(node, ast.Attribute):
            name = node.attr
        if name in _SUSPICIOUS_NAMES:
            reasons.append(_SUSPICIOUS_NAMES[name])
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
            )
            for module in modules:
                top = module.split(".")[0]
                if top in _SUSPICIOUS_MODULES:
                    reasons.append(_SUSPICIOUS_MODULES[top])
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.Delete)):
            targets = node.targets if hasattr(node, "targets") else [node.target]
            for target in targets:
                base = target
                while isinstance(base, ast.Attribute):
                    base = base.value
                if (
                    isinstance(target, ast.Attribute)
                    and isinstance(base, ast.Name)
                    and base.id in module_names | {"sys", "os"}
                ):
                    reasons.append(f"replaces {ast.unparse(target)}")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in ("setattr", "delattr") and node.args:
                first = node.args[0]
                if isinstance(first, ast.Name) and first.id in module_names | {
                    "sys",
                    "os",
                }:
                    reasons.append(f"calls {node.func.id} on {first.id}")
            if node.func.id in ("exec", "eval", "compile", "__import__"):
                reasons.append(f"calls {node.func.id}()")
        if isinstance(node, ast.Attribute) and node.attr == "modules":
            if isinstance(node.value, ast.Name) and node.value.id == "sys":
                reasons.append("touches sys.modules")
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if any(s in node.value for s in _SUSPICIOUS_STRINGS):
                reasons.append(f"names the grader's files ({node.value[:40]!r})")
    return list(dict.fromkeys(reasons))


def _course_config(course: Path) -> tuple[str, str]:
    """(db_url, course_id) nbgrader is configured with in ``course`` (its defaults
    where unset)."""
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    section = config.get("CourseDirectory", {})
    url = section.get("db_url") or f"sqlite:///{course / 'gradebook.db'}"
    return str(url), str(section.get("course_id", "default_course"))


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


@dataclass
class StudentRun:
    """One student's private grading, unpacked on the instructor's machine."""

    student: str
    folder: Path
    returncode: int
    log: str


def _unpacked(result: tasks.Result, work: Path) -> StudentRun:
    folder = work / "students" / result.student
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    tasks.unpack(result.files, folder)
    return StudentRun(result.student, folder, result.returncode, result.log)


def _private_result(run: StudentRun, assignment: str):
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


def _digests(url: str, course_id: str, only: tuple[str, str] | None = None):
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
    full, automatic = _digests(url, course_id, only)
    return automatic if automatic_only else full


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def file_digests(folder: Path) -> dict[Path, str]:
    return {
        p: _sha256(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def _install(run: StudentRun, course: Path, assignment: str) -> None:
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


def _graded_earlier(course, student, assignment, auto_rows) -> Outcome | None:
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


def _record(course, run: StudentRun, assignment, outcome, url, course_id) -> str:
    """Note that this submission is graded and merged; returns its rows' digest."""
    key = (run.student, assignment)
    full, automatic = _digests(url, course_id, key)
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


def default_workers() -> int:
    """One student per core, as many as memory holds at the kernel's memory cap."""
    cores = tasks.cores()
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        return cores
    return max(1, min(cores, int(memory // limits.kernel_memory_gb())))


class _Progress:
    """done / total and the time left, on stderr, as each student finishes."""

    def __init__(self, assignment: str, total: int):
        self.assignment, self.total, self.done = assignment, total, 0
        self.start = time.monotonic()

    def tick(self) -> None:
        self.done += 1
        elapsed = time.monotonic() - self.start
        left = elapsed / self.done * (self.total - self.done)
        print(
            f"  ... {self.assignment}: {self.done} / {self.total} graded, "
            f"{elapsed:.0f} s so far, about {left:.0f} s left",
            file=sys.stderr,
            flush=True,
        )


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
            len(_source(cell))
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

    url, course_id = _course_config(course)
    logs = course / "logs" / assignment
    logs.mkdir(parents=True, exist_ok=True)
    before_files = file_digests(submitted)
    before_rows, auto_rows = _digests(url, course_id)
    if not force:
        for student in list(to_grade):
            earlier = _graded_earlier(course, student, assignment, auto_rows)
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
            _install(run, course, assignment)
            after_merge[(run.student, assignment)] = _record(
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
        if check_solution:
            canary = _canary_submission(template, assignment, work)
            task = tasks.Task(
                CANARY, assignment, files,
                tasks.pack(canary / CANARY / assignment), sandboxed, threads,
                model_cache,
            )  # fmt: skip
            futures[pool.submit(tasks.run, task)] = CANARY
        # Behind the solution check (every merge waits for it), longest first.
        by_work = sorted(
            to_grade,
            key=lambda s: (-_expected_work(submitted / s / assignment), s),
        )
        for student in by_work:
            task = tasks.Task(
                student, assignment, files,
                tasks.pack(submitted / student / assignment), sandboxed, threads,
                model_cache,
            )  # fmt: skip
            futures[pool.submit(tasks.run, task)] = student
        progress = _Progress(assignment, len(to_grade))
        waiting: list[StudentRun] | None = [] if check_solution else None
        try:
            for future in as_completed(futures):
                student = futures[future]
                run = _unpacked(_result(future, student), work)
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
    changed = _verify(
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
    result = _private_result(run, assignment) if graded else None
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
            outcome.notes.extend(_cell_notes(notebook))
        return
    log = run.log
    if killed:
        reason = f"{killed}; grade it by hand"
    elif "Kernel died" in log or "DeadKernelError" in log:
        reason = (
            "the kernel died while running the notebook"
            + _death_hint(course / "submitted" / run.student / assignment)
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


def _verify(course, submitted, before_files, before_rows, after_merge, url, course_id):
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


def _dask_executor(address: str):
    """A ``concurrent.futures`` executor on the Dask cluster at ``address``."""
    try:
        from distributed import Client
    except ImportError as error:
        raise SystemExit(
            "Grading on a cluster needs Dask: pip install -e '.[instructor]'"
        ) from error
    try:
        client = Client(address, timeout="30s")
    except OSError as error:
        raise SystemExit(
            f"No Dask scheduler answers at {address} ({error}). Start one with "
            f"`dask scheduler` and on each grading machine `dask worker {address} "
            "--nthreads N` (N students at once)."
        ) from error
    return client, client.get_executor(pure=False)


# How long the first Slurm job may take to start a worker before the run gives up: a
# busy queue can take a while, a wrong partition or account never starts one.
SLURM_WAIT_ENV = "AUTOENCODER_SLURM_WAIT_S"


def _slurm_executor(jobs: int):
    """A ``concurrent.futures`` executor on Dask workers that Slurm runs as ``jobs``
    batch jobs (dask-jobqueue), each grading one student per core it was given.

    The partition, account, walltime, network interface and the rest come from
    Dask's own configuration (``~/.config/dask/jobqueue.yaml``, section
    ``jobqueue.slurm``, or ``DASK_JOBQUEUE__SLURM__QUEUE=...``); only cores and
    memory get defaults here, sized for the grading kernels' memory cap."""
    try:
        import dask
        from dask_jobqueue import SLURMCluster
        from distributed import Client
    except ImportError as error:
        raise SystemExit(
            "Grading on Slurm needs dask-jobqueue: pip install -e '.[instructor]'"
        ) from error
    config = dask.config.get("jobqueue.slurm")
    cores = config.get("cores") or 8
    memory = config.get("memory") or f"{cores * (limits.kernel_memory_gb() + 1):g}GiB"
    # No dashboard unless the configuration asks for one: it would listen on every
    # interface of the instructor's machine.
    scheduler_options = {"dashboard": False, **(config.get("scheduler-options") or {})}
    cluster = SLURMCluster(
        cores=cores,
        memory=memory,
        processes=1,
        name="autoencoder-grading",
        scheduler_options=scheduler_options,
    )
    # Kept at `jobs` throughout: a job that ends (its walltime, a node lost) is
    # replaced, and its students are graded again by the others (Dask reruns them).
    cluster.adapt(minimum_jobs=jobs, maximum_jobs=jobs)
    client = Client(cluster)
    wait = float(os.environ.get(SLURM_WAIT_ENV, limits.MACHINE_TIMEOUT_S))
    try:
        client.wait_for_workers(1, timeout=wait)
    except (TimeoutError, OSError) as error:
        client.close()
        cluster.close()
        raise SystemExit(
            f"No Slurm job started a grading worker within {wait:.0f} s ({error!r}). "
            "Check `squeue --me` and the job's output; the job script was:\n"
            + cluster.job_script()
        ) from error
    return _SlurmClient(client, cluster), client.get_executor(pure=False)


class _SlurmClient:
    """The Dask client, whose close also cancels the Slurm jobs."""

    def __init__(self, client, cluster):
        self.client, self.cluster = client, cluster

    def close(self) -> None:
        try:
            self.client.close()
        finally:
            self.cluster.close()


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m autoencoder_lib.instructor.grading",
        description="Autograde submitted/ (what `make autograde` runs).",
    )
    parser.add_argument("assignments", nargs="*")
    parser.add_argument(
        "--unsandboxed",
        action="store_true",
        help="grade without bubblewrap (every report line says so)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="students graded at once on this machine (default: one per core, as "
        "many as memory holds)",
    )
    parser.add_argument(
        "--scheduler",
        help="grade on the Dask cluster whose scheduler is at this address "
        "(tcp://host:8786) instead of this machine",
    )
    parser.add_argument(
        "--slurm",
        type=int,
        metavar="JOBS",
        help="grade on Dask workers started as this many Slurm jobs (dask-jobqueue; "
        "partition, account and walltime from Dask's jobqueue.slurm configuration)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="regrade submissions graded before and unchanged since",
    )
    parser.add_argument(
        "--no-solution-check",
        action="store_true",
        help="write grades even if the solution itself loses marks when graded here",
    )
    options = parser.parse_args(sys.argv[1:] if argv is None else argv)
    sandboxed = not options.unsandboxed
    if options.scheduler and options.slurm:
        parser.error("--scheduler and --slurm are two clusters: choose one")
    if options.slurm is not None and options.slurm < 1:
        parser.error("--slurm needs at least one job")
    args = options.assignments
    course = Path.cwd()
    submitted = course / "submitted"
    if not submitted.is_dir():
        print("No submitted/ folder: collect submissions first (README, Grading).")
        return 1
    remote = bool(options.scheduler or options.slurm)
    if sandboxed and not remote:
        from . import sandbox

        reason = sandbox.unavailable()
        if reason:
            print(
                f"Grading refused: {reason}. Student code would run with your "
                "permissions. Install bubblewrap, or grade without the sandbox "
                "knowingly: make autograde UNSANDBOXED=1."
            )
            return 2
    assignments = args or course_assignments(course / "solutions")
    client, executor = None, None
    if options.scheduler:
        client, executor = _dask_executor(options.scheduler)
    elif options.slurm:
        client, executor = _slurm_executor(options.slurm)
    workers = options.workers or default_workers()
    where = f"{workers} at a time"
    if options.scheduler:
        where = f"on {options.scheduler}"
    elif options.slurm:
        where = f"on {options.slurm} Slurm job(s)"
    attention = 0
    try:
        for assignment in assignments:
            if not any(submitted.glob(f"*/{assignment}")):
                continue
            mode = "sandboxed" if sandboxed else "UNSANDBOXED"
            print(
                f"{assignment}  (limits: {_limits()}; fast mode; {mode}; {where})",
                flush=True,
            )
            try:
                outcomes = autograde(
                    course,
                    assignment,
                    sandboxed=sandboxed,
                    workers=workers,
                    check_solution=not options.no_solution_check,
                    executor=executor,
                    force=options.force,
                )
            except RuntimeError as error:
                print(f"  grading of {assignment} stopped: {error}")
                attention += 1
                continue
            for outcome in outcomes:
                print(outcome.line(), flush=True)
                attention += outcome.needs_look()
    except KeyboardInterrupt:
        print(
            "Interrupted. Every student merged so far is in the gradebook; run the "
            "same command again to grade only the rest."
        )
        return 130
    finally:
        if client is not None:
            client.close()
    print(f"{attention} submission(s) need a look." if attention else "All graded.")
    return 1 if attention else 0


if __name__ == "__main__":
    sys.exit(main())
