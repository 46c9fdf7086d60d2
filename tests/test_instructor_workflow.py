"""The instructor's commands around grading, and the student's JupyterLab set-up."""

import hashlib
import json
import os
import subprocess
import sys
import zipfile

import nbformat
from test_hostile_submissions import ASSIGNMENT, _answered, _release_tiny

from autoencoder_lib.instructor.course import ROOT, Course

STUDENT_LAB = ROOT / "jupyter-student"
NBGRADER_PANELS = [
    "@jupyter/nbgrader:assignment-list",
    "@jupyter/nbgrader:course-list",
    "@jupyter/nbgrader:formgrader",
    "@jupyter/nbgrader:create-assignment",
]


def _zip_collect(course):
    return course.nbgrader("zip_collect", ASSIGNMENT, timeout=300, check=False)


def test_collect_unpacks_lms_downloads_and_never_overwrites(tmp_path):
    course = Course(tmp_path)
    release = _release_tiny(course)
    answer = nbformat.writes(_answered(release))
    archive = course.root / "downloaded" / ASSIGNMENT / "archive"
    archive.mkdir(parents=True)
    # Canvas names: <student>_[late_]<user id>_<submission id>_<file name>.
    with zipfile.ZipFile(archive / "submissions.zip", "w") as bundle:
        bundle.writestr("alice_1001_5001_hostile.ipynb", answer)
        bundle.writestr("bob_late_1002_5002_hostile.ipynb", answer)

    result = _zip_collect(course)
    assert result.returncode == 0, result.stderr[-2000:]
    for student in ("alice", "bob"):
        collected = course.root / "submitted" / student / ASSIGNMENT / "hostile.ipynb"
        assert collected.read_text() == answer

    # A second download must not replace what was collected (and maybe graded).
    alice = course.root / "submitted" / "alice" / ASSIGNMENT / "hostile.ipynb"
    before = hashlib.sha256(alice.read_bytes()).hexdigest()
    with zipfile.ZipFile(archive / "submissions.zip", "w") as bundle:
        bundle.writestr("alice_1001_5003_hostile.ipynb", answer.replace("2 * x", "x"))
    result = _zip_collect(course)
    assert result.returncode != 0
    assert "Directory not empty" in result.stderr
    assert hashlib.sha256(alice.read_bytes()).hexdigest() == before


def test_collect_gives_each_file_to_the_owner_of_its_archive(tmp_path):
    """A student's zip may hold files named for anyone: the archive's LMS name says
    whose they are. Bad ids and duplicates are reported; the class is collected."""
    course = Course(tmp_path)
    release = _release_tiny(course)
    answer = nbformat.writes(_answered(release))
    archive = course.root / "downloaded" / ASSIGNMENT / "archive"
    archive.mkdir(parents=True)
    with zipfile.ZipFile(archive / "alice_1001_5001_work.zip", "w") as bundle:
        bundle.writestr("bob_1002_5002_hostile.ipynb", answer.replace("2 * x", "9"))
    (archive / "bob_1002_5003_hostile.ipynb").write_text(answer)
    with zipfile.ZipFile(archive / "carol_1003_5004_work.zip", "w") as bundle:
        bundle.writestr("dave_1004_5005_hostile.ipynb", answer)
    (archive / ".._1005_5006_hostile.ipynb").write_text(answer)
    with zipfile.ZipFile(archive / "eve_1006_5007_work.zip", "w") as bundle:
        bundle.writestr("first/hostile.ipynb", answer)
        bundle.writestr("second/hostile.ipynb", answer)

    result = _zip_collect(course)
    assert result.returncode == 0, result.stderr[-3000:]
    submitted = course.root / "submitted"
    assert sorted(p.name for p in submitted.iterdir()) == [
        "alice",
        "bob",
        "carol",
        "eve",
    ]
    mine = submitted / "alice" / ASSIGNMENT / "hostile.ipynb"
    assert "return 9" in mine.read_text(), "alice's archive is alice's submission"
    assert (submitted / "bob" / ASSIGNMENT / "hostile.ipynb").read_text() == answer
    assert "named for 'bob' but came in 'alice'" in result.stderr
    assert "named for 'dave' but came in 'carol'" in result.stderr
    assert "the student id '..'" in result.stderr
    assert "'eve' already handed in a hostile.ipynb" in result.stderr
    assert not (course.root / "hostile.ipynb").exists()
    assert not (submitted.parent / ASSIGNMENT).exists()


def _env_with_student_lab():
    return dict(os.environ, JUPYTER_CONFIG_PATH=str(STUDENT_LAB))


def test_student_lab_hides_nbgrader_panels_that_need_an_exchange():
    result = subprocess.run(
        [sys.executable, "-m", "jupyter", "labextension", "list"],
        env=_env_with_student_lab(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    listing = result.stdout + result.stderr
    disabled = listing.split("Disabled extensions:")[1]
    for panel in NBGRADER_PANELS:
        assert panel in disabled, listing
    assert "@jupyter/nbgrader:validate-assignment" not in disabled


def test_student_server_runs_only_the_validate_extension(tmp_path):
    code = (
        "import json\n"
        "from jupyter_server.serverapp import ServerApp\n"
        "app = ServerApp()\n"
        "app.initialize(argv=['--no-browser', '--port=0'])\n"
        "print(json.dumps({k: v for k, v in app.jpserver_extensions.items() "
        "if 'nbgrader' in k}))\n"
    )
    env = _env_with_student_lab()
    env["JUPYTER_RUNTIME_DIR"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    enabled = json.loads(result.stdout.strip().splitlines()[-1])
    assert enabled == {
        "nbgrader.server_extensions.assignment_list": False,
        "nbgrader.server_extensions.course_list": False,
        "nbgrader.server_extensions.formgrader": False,
        "nbgrader.server_extensions.validate_assignment": True,
    }


def test_make_lab_uses_the_student_set_up():
    makefile = (ROOT / "Makefile").read_text()
    lab_recipe = makefile.split("\nlab: ")[1].split("\n\n")[0]
    assert "JUPYTER_CONFIG_PATH=$(CURDIR)/jupyter-student" in lab_recipe
    assert "--ServerApp.root_dir=course" in lab_recipe


def test_instructor_lab_has_an_exchange_and_no_news_pop_up(tmp_path):
    """The formgrader warns when the exchange folder is missing; the config points it
    beside nbgrader_config.py, and `make instructor-lab` creates it."""
    course = Course(tmp_path)
    code = (
        "from nbgrader.apps.api import NbGraderAPI\n"
        "from nbgrader.coursedir import CourseDirectory\n"
        "from traitlets.config.loader import PyFileConfigLoader\n"
        "config = PyFileConfigLoader('nbgrader_config.py', path='.').load_config()\n"
        "import os; os.makedirs(config.Exchange.root, exist_ok=True)\n"
        "api = NbGraderAPI(CourseDirectory(config=config), config=config)\n"
        "print(config.Exchange.root, api.exchange_missing)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=course.root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    root, missing = result.stdout.split()
    assert root == str(course.root / "exchange") and missing == "False"
    recipe = (ROOT / "Makefile").read_text().split("\ninstructor-lab: ")[1]
    assert "mkdir -p exchange" in recipe.split("\n\n")[0]
    listing = subprocess.run(
        [sys.executable, "-m", "jupyter", "labextension", "list"],
        env=dict(os.environ, JUPYTER_CONFIG_PATH=str(ROOT / "jupyter-instructor")),
        capture_output=True,
        text=True,
        timeout=120,
    )
    disabled = (listing.stdout + listing.stderr).split("Disabled extensions:")[1]
    assert "@jupyterlab/apputils-extension:announcements" in disabled
    assert "@jupyter/nbgrader:formgrader" not in disabled
