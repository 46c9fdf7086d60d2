"""A class graded side by side gets exactly the gradebook a serial run gets: with
threads on this machine, on a real Dask cluster on loopback, and into a real PostgreSQL
gradebook; an interrupted run keeps what it merged and a rerun grades only the rest.

The class is six students on the tiny assignment of test_hostile_submissions (no
Keras, so each student takes seconds): right, wrong in visible and hidden ways, blank,
and one who replaces np.allclose (flagged).
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pytest
from needs import missing
from test_hostile_submissions import ASSIGNMENT, _answered, _release_tiny

from autoencoder_lib.instructor import grading, sandbox
from autoencoder_lib.instructor.course import Course, venv_first

STUDENTS = {
    "ada": {},
    "ben": {"double": "def double(x):\n    return x + 2"},  # hidden test fails
    "cy": None,  # the blank release
    "dee": {"square": "def square(x):\n    return 3 * x"},  # visible test passes
    "eve": {"halve": "np.allclose = lambda *a, **k: True\ndef halve(x):\n    return x"},
    "fay": {},
}
TIMESTAMP = "2026-11-30 12:00:00.000000 UTC"
LIMITS = {
    "AUTOENCODER_CELL_TIMEOUT": "30",
    "AUTOENCODER_KERNEL_MEMORY_GB": "1",
    "AUTOENCODER_SCRATCH_MB": "64",
}


def _class_course(root: Path, students=tuple(STUDENTS)) -> Course:
    root.mkdir(parents=True, exist_ok=True)
    course = Course(root)
    release = _release_tiny(course)
    for student in students:
        answers = STUDENTS[student]
        nb = release if answers is None else _answered(release)
        for grade_id, source in (answers or {}).items():
            index = {"double": 1, "square": 3, "halve": 5}[grade_id]
            nb.cells[index].source = source
        folder = course.root / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / "hostile.ipynb")
        (folder / "timestamp.txt").write_text(TIMESTAMP)
    return course


def _env(**extra):
    return dict(os.environ, **LIMITS, **extra)


def _grade(course: Course, *args: str, env=None):
    result = course.autograde(ASSIGNMENT, *args, env=env or _env(), timeout=1200)
    lines = sorted(ln for ln in result.stdout.splitlines() if ln.startswith("  "))
    return result, lines


def _gradebook(course: Course, url: str | None = None) -> dict:
    default, course_id = grading.course_config(course.root)
    return grading.gradebook_digests(url or default, course_id)


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    course = _class_course(tmp_path_factory.mktemp("serial"))
    _, lines = _grade(course, "--workers=1")
    return course, lines


@pytest.fixture(scope="module")
def parallel(tmp_path_factory):
    course = _class_course(tmp_path_factory.mktemp("parallel"))
    result, lines = _grade(course, "--workers=2")
    return course, lines, result


def test_the_class_is_graded_as_expected(serial):
    """The comparison below means something only if the serial gradebook does."""
    _, lines = serial
    by_student = {line.split()[0]: line for line in lines}
    assert "graded  3 / 3" in by_student["ada"]
    assert "graded  3 / 3" in by_student["fay"]
    assert "graded  2 / 3" in by_student["ben"]
    assert "graded  0 / 3" in by_student["cy"]
    assert "graded  2 / 3" in by_student["dee"]
    assert "graded  2 / 3" in by_student["eve"] and "FLAGGED" in by_student["eve"]


def test_two_workers_write_the_gradebook_a_serial_run_writes(serial, parallel):
    (serial_course, serial_lines), (course, lines, result) = serial, parallel
    assert lines == serial_lines
    expected = _gradebook(serial_course)
    assert len(expected) == len(STUDENTS)
    assert _gradebook(course) == expected
    assert "2 at a time" in result.stdout
    assert f"{len(STUDENTS)} / {len(STUDENTS)} graded" in result.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def dask_cluster(tmp_path):
    """A real scheduler and two single-threaded workers, on loopback only."""
    dask = Path(sys.executable).parent / "dask"
    if not dask.exists():
        pytest.skip("Dask is not installed (pip install -e '.[instructor]')")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    common = ["--no-dashboard"]
    processes = [
        subprocess.Popen(
            [dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), *common],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
    ]
    try:
        for name in ("w1", "w2"):
            processes.append(
                subprocess.Popen(
                    [
                        dask,
                        "worker",
                        address,
                        "--nthreads",
                        "1",
                        "--name",
                        name,
                        "--host",
                        "127.0.0.1",
                        *common,
                    ],
                    env=_env(),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )  # fmt: skip
            )
        from distributed import Client

        with Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=120)
        yield address
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in reversed(processes):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def test_a_dask_cluster_writes_the_gradebook_a_serial_run_writes(
    tmp_path, serial, dask_cluster
):
    serial_course, serial_lines = serial
    course = _class_course(tmp_path / "course")
    result, lines = _grade(course, f"--scheduler={dask_cluster}")
    assert f"on {dask_cluster}" in result.stdout
    assert lines == serial_lines
    assert _gradebook(course) == _gradebook(serial_course)
    logs = (course.root / "logs" / ASSIGNMENT).glob("*.log")
    where = {line for p in logs for line in p.read_text().splitlines()[:1]}
    assert any("Dask worker w1" in line for line in where), where
    assert any("Dask worker w2" in line for line in where), where


# Slurm's two commands as dask-jobqueue calls them (`sbatch SCRIPT`, `scancel ID`), for
# a machine without Slurm: the job script dask-jobqueue wrote runs here, detached in a
# session of its own (its id is the job's), and scancel ends that session.
# dask-jobqueue submits the jobs at once: each gets a file name of its own from mktemp
# (counting the scripts already there raced, and two jobs then copied to one name).
SBATCH = """#!/bin/sh
set -e
script=$(mktemp --suffix=.sh "$SLURM_STAND_IN/job-XXXXXX")
cp "$1" "$script"
setsid sh "$script" > "${script%.sh}.out" 2>&1 < /dev/null &
echo "$!" >> "$SLURM_STAND_IN/ids"
echo "Submitted batch job $!"
"""
SCANCEL = """#!/bin/sh
echo "$1" >> "$SLURM_STAND_IN/cancelled"
kill -TERM -- "-$1" 2>/dev/null || true
"""


def _job_ids(jobs: Path) -> list[int]:
    ids = jobs / "ids"
    return [int(i) for i in ids.read_text().split()] if ids.exists() else []


def _running_in(session: int) -> list[int]:
    """Processes still running in a stand-in job's session."""
    import psutil

    found = []
    for process in psutil.process_iter():
        try:
            if os.getsid(process.pid) == session and process.status() != "zombie":
                found.append(process.pid)
        except (OSError, psutil.Error):
            pass
    return found


def test_slurm_jobs_write_the_gradebook_a_serial_run_writes(tmp_path, serial):
    """`make autograde SLURM=2`: dask-jobqueue submits two worker jobs, the class is
    graded on them, and the jobs are cancelled at the end. Slurm itself is a stand-in
    (SBATCH above); the job scripts, the scheduler and the workers are real, and on
    loopback only (the interface comes from Dask's jobqueue configuration, as an
    instructor's cluster would set it)."""
    pytest.importorskip("dask_jobqueue", reason="pip install -e '.[instructor]'")
    serial_course, serial_lines = serial
    bin_dir, jobs = tmp_path / "bin", tmp_path / "jobs"
    bin_dir.mkdir()
    jobs.mkdir()
    for name, text in (("sbatch", SBATCH), ("scancel", SCANCEL)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    env = _env(
        SLURM_STAND_IN=str(jobs),
        PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        DASK_JOBQUEUE__SLURM__INTERFACE="lo",
        DASK_JOBQUEUE__SLURM__CORES="1",
        DASK_JOBQUEUE__SLURM__MEMORY="2GiB",
        DASK_JOBQUEUE__SLURM__QUEUE="grading",
    )
    course = _class_course(tmp_path / "course")
    try:
        result, lines = _grade(course, "--slurm=2", env=env)
        ids = _job_ids(jobs)
        deadline = time.monotonic() + 60
        while any(map(_running_in, ids)) and time.monotonic() < deadline:
            time.sleep(0.5)
        left = [pid for job in ids for pid in _running_in(job)]
    finally:
        for job in _job_ids(jobs):  # whatever happened above, no job outlives the test
            with contextlib.suppress(OSError):
                os.killpg(job, signal.SIGKILL)
    assert "on 2 Slurm job(s)" in result.stdout, result.stdout + result.stderr
    assert lines == serial_lines
    assert _gradebook(course) == _gradebook(serial_course)
    scripts = sorted(jobs.glob("job-*.sh"))
    assert len(scripts) == len(ids), (scripts, ids)
    script = scripts[0].read_text()
    assert "#SBATCH -p grading" in script and "#SBATCH --cpus-per-task=1" in script
    assert "--interface lo" in script
    logs = (course.root / "logs" / ASSIGNMENT).glob("*.log")
    where = {line for p in logs for line in p.read_text().splitlines()[:1]}
    assert all("Dask worker" in line for line in where), where
    assert len(ids) >= 2
    cancelled = (jobs / "cancelled").read_text().split()
    assert sorted(map(int, cancelled)) == sorted(ids)
    assert not left, f"processes of a cancelled Slurm job outlived the run: {left}"


def _postgres_bin() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return versions[-1].parent if versions else None


def _as_server_user() -> list[str]:
    """PostgreSQL refuses to run as root: run it as nobody there."""
    if os.geteuid() != 0:
        return []
    return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]


@pytest.fixture
def postgres():
    """A throw-away PostgreSQL server on loopback, in a temporary folder."""
    bin_dir = _postgres_bin()
    if bin_dir is None:
        missing("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        missing("psycopg2 is not installed (pip install -e '.[instructor]')")
    folder = Path(tempfile.mkdtemp(prefix="ae-postgres-"))
    data, run = folder / "data", folder / "run"
    run.mkdir()
    if os.geteuid() == 0:
        shutil.chown(folder, "nobody", "nogroup")
        shutil.chown(run, "nobody", "nogroup")
    port = _free_port()
    user = _as_server_user()
    log = folder / "server.log"
    try:
        made = subprocess.run(
            [*user, bin_dir / "initdb", "-D", data, "-U", "grader", "-A", "trust"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        if made.returncode != 0:
            missing(f"initdb could not make a database: {made.stderr[-300:]}")
        started = subprocess.run(
            [*user, bin_dir / "pg_ctl", "-D", data, "-l", log, "-w", "-t", "60",
             "-o", f"-h 127.0.0.1 -p {port} -k {run}", "start"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        if started.returncode != 0:
            text = log.read_text() if log.exists() else started.stderr
            missing(f"PostgreSQL could not start: {text[-300:]}")
        yield f"postgresql+psycopg2://grader@127.0.0.1:{port}/postgres"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(
                [*user, bin_dir / "pg_ctl", "-D", data, "-m", "immediate", "stop"],
                capture_output=True, timeout=120,
            )  # fmt: skip
        shutil.rmtree(folder, ignore_errors=True)


def test_a_postgresql_gradebook_gets_what_a_sqlite_one_gets(
    tmp_path, serial, postgres, monkeypatch
):
    serial_course, serial_lines = serial
    env = _env(AUTOENCODER_DB_URL=postgres)
    monkeypatch.setenv("AUTOENCODER_DB_URL", postgres)  # Course.release runs nbgrader
    course = _class_course(tmp_path / "course")
    _, lines = _grade(course, "--workers=2", "--no-solution-check", env=env)
    assert lines == serial_lines
    assert not (course.root / "gradebook.db").exists()
    assert _gradebook(course, postgres) == _gradebook(serial_course)


def _runner(course: Course, *args: str) -> subprocess.Popen:
    """The class runner as `make autograde` starts it, in its own process group so
    that the test can press Ctrl-C on it as a terminal would."""
    args = (*args, "--unsandboxed") if sandbox.unavailable() else args
    env = _env()
    venv_first(env)
    return subprocess.Popen(
        [sys.executable, "-m", "autoencoder_lib.instructor.grading", ASSIGNMENT, *args],
        cwd=course.root, env=env, text=True, start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


def _wait_for(process: subprocess.Popen, text: str, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    for line in process.stderr:
        if text in line:
            return
        assert time.monotonic() < deadline, f"no {text!r} within {timeout} s"
    raise AssertionError(f"the runner ended before {text!r}")


def _consistent(course: Course, expected: dict) -> set[str]:
    """Students merged so far; each has exactly the serial run's rows, and their
    graded notebook is in autograded/, and no one else is in the gradebook."""
    rows = _gradebook(course)
    merged = {student for student, _ in rows}
    for key, digest in rows.items():
        assert digest == expected[key], f"{key} is half-merged"
    on_disk = {p.parent.name for p in course.root.glob(f"autograded/*/{ASSIGNMENT}")}
    assert on_disk == merged
    return merged


def test_ctrl_c_keeps_what_was_merged_and_a_rerun_grades_the_rest(tmp_path, serial):
    serial_course, serial_lines = serial
    expected = _gradebook(serial_course)
    students = ("ada", "ben", "cy", "eve")
    course = _class_course(tmp_path / "course", students)
    process = _runner(course, "--workers=1", "--no-solution-check")
    _wait_for(process, f"1 / {len(students)} graded")
    os.killpg(process.pid, signal.SIGINT)
    out, _ = process.communicate(timeout=300)
    assert process.returncode == 130, out
    assert "Interrupted" in out
    merged = _consistent(course, expected)
    assert 1 <= len(merged) < len(students)

    result, lines = _grade(course, "--no-solution-check")
    assert result.stdout.count("graded earlier") == len(merged)
    assert [ln.replace("graded earlier, unchanged since (FORCE=1 regrades); ", "")
            .replace("graded earlier, unchanged since (FORCE=1 regrades)", "").rstrip()
            for ln in lines] == [ln.rstrip() for ln in serial_lines
                                 if ln.split()[0] in students]  # fmt: skip
    assert _gradebook(course) == {k: v for k, v in expected.items() if k[0] in students}


def test_a_killed_grading_process_costs_only_that_student_a_rerun(tmp_path, serial):
    import psutil

    serial_course, _ = serial
    expected = _gradebook(serial_course)
    students = ("ada", "ben", "cy")
    course = _class_course(tmp_path / "course", students)
    process = _runner(course, "--workers=2", "--no-solution-check")
    victim = None
    deadline = time.monotonic() + 300
    while victim is None and time.monotonic() < deadline:
        for child in psutil.Process(process.pid).children(recursive=True):
            try:
                if "--student=ben" in child.cmdline():
                    victim = child
            except psutil.Error:
                pass
        time.sleep(0.2)
    assert victim is not None, "ben's grading never started"
    victim.kill()
    out, _ = process.communicate(timeout=600)
    ben = next(ln for ln in out.splitlines() if ln.split()[:1] == ["ben"])
    assert "NOT GRADED" in ben, out
    assert _consistent(course, expected) == {"ada", "cy"}

    result, lines = _grade(course, "--no-solution-check")
    assert result.stdout.count("graded earlier") == 2
    assert _gradebook(course) == {k: v for k, v in expected.items() if k[0] in students}


def test_a_changed_submission_is_regraded_and_force_regrades_all(tmp_path):
    course = _class_course(tmp_path / "course", ("ada", "ben"))
    _grade(course, "--no-solution-check")
    graded = course.root / "autograded" / "ada" / ASSIGNMENT / "hostile.ipynb"
    before = graded.stat().st_mtime_ns
    result, _ = _grade(course, "--no-solution-check")
    assert result.stdout.count("graded earlier") == 2
    assert graded.stat().st_mtime_ns == before

    ben = course.root / "submitted" / "ben" / ASSIGNMENT / "hostile.ipynb"
    nb = nbformat.read(ben, as_version=4)
    nb.cells[1].source = "def double(x):\n    return 2 * x"
    nbformat.write(nb, ben)
    result, lines = _grade(course, "--no-solution-check")
    assert result.stdout.count("graded earlier") == 1
    assert "graded  3 / 3" in next(ln for ln in lines if ln.split()[0] == "ben")

    result, _ = _grade(course, "--no-solution-check", "--force")
    assert "graded earlier" not in result.stdout
    assert graded.stat().st_mtime_ns != before
