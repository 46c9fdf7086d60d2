"""The first cell of every released notebook sets up Colab, and only Colab."""

import subprocess
import sys
import types

import nbformat
import pytest

from autoencoder_lib.instructor.course import (
    RELEASE,
    ROOT,
    Course,
    assignments,
    notebooks,
)


def _setup_cell(nb):
    cells = [c for c in nb.cells if c.cell_type == "code"]
    return cells[0].source


@pytest.mark.parametrize("assignment", assignments())
def test_the_preview_starts_with_the_colab_cell_and_badge_but_no_link(assignment):
    """course/ here is the instructor's preview: the markers stay, no placeholder URL
    is stamped; only the student edition carries links (test_student_edition.py)."""
    for path in notebooks(assignment, RELEASE):
        nb = nbformat.read(path, as_version=4)
        text = nb.cells[1].source + _setup_cell(nb)
        assert "google.colab" in _setup_cell(nb)
        assert "({{COLAB_URL}})" in nb.cells[1].source
        assert 'COURSE_REPOSITORY = "{{COURSE_REPOSITORY}}"' in _setup_cell(nb)
        assert "{{COURSE_VERSION}}" not in text
        assert "your-org" not in text and "github.com" not in text


def _run_cell(source, monkeypatch, on_colab, installed=None, pip_fails=False):
    """Run the set-up cell with Colab, pip and the installed version simulated."""
    import importlib.metadata

    calls = []

    def run(*args, **kwargs):
        calls.append(("run", args, kwargs))
        return types.SimpleNamespace(returncode=1 if pip_fails else 0)

    def version(name):
        if installed is None:
            raise importlib.metadata.PackageNotFoundError(name)
        return installed

    monkeypatch.setattr(subprocess, "run", run)
    monkeypatch.setattr(importlib.metadata, "version", version)
    if on_colab:
        output = types.SimpleNamespace(
            enable_custom_widget_manager=lambda: calls.append(("widgets",))
        )
        colab = types.ModuleType("google.colab")
        colab.output = output
        monkeypatch.setitem(sys.modules, "google.colab", colab)
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(compile(source, "setup-cell", "exec"), {})
    return calls


STUDENT_REPOSITORY = "https://github.com/acme/ae-students"


@pytest.fixture(scope="module")
def stamped_cell(tmp_path_factory):
    """The set-up cell as the student edition releases it."""
    course = Course(tmp_path_factory.mktemp("stamped"))
    release = course.release(
        "01_basic_autoencoder",
        env={"AUTOENCODER_COURSE_REPOSITORY": STUDENT_REPOSITORY},
    )
    return _setup_cell(nbformat.read(release / "01_basic_autoencoder.ipynb", 4))


def _preview_cell():
    nb = nbformat.read(notebooks("01_basic_autoencoder", RELEASE)[0], as_version=4)
    return _setup_cell(nb)


def test_on_colab_the_cell_installs_the_pinned_library_alone(monkeypatch, stamped_cell):
    from autoencoder_lib import __version__

    calls = _run_cell(stamped_cell, monkeypatch, on_colab=True)
    assert calls[0][0] == "run"
    command = calls[0][1][0]
    assert command[1:4] == ["-m", "pip", "install"]
    assert "--no-deps" in command, "Colab's own packages must stay as they are"
    assert command[-1] == (f"autoencoder_lib @ git+{STUDENT_REPOSITORY}@v{__version__}")
    assert calls[1] == ("widgets",)


def test_on_colab_with_the_library_at_that_version_nothing_is_installed(
    monkeypatch, stamped_cell
):
    from autoencoder_lib import __version__

    calls = _run_cell(stamped_cell, monkeypatch, on_colab=True, installed=__version__)
    assert calls == [("widgets",)]
    calls = _run_cell(stamped_cell, monkeypatch, on_colab=True, installed="0.0.1")
    assert calls[0][0] == "run", "another version is replaced"


def test_a_failed_install_says_what_to_do_in_one_line(monkeypatch, stamped_cell):
    with pytest.raises(SystemExit) as stopped:
        _run_cell(stamped_cell, monkeypatch, on_colab=True, pip_fails=True)
    message = str(stopped.value)
    assert "Could not install the course library" in message and "\n" not in message
    assert "run this cell again" in message


def test_the_preview_on_colab_installs_nothing_and_says_where_to_go(monkeypatch):
    with pytest.raises(SystemExit) as stopped:
        _run_cell(_preview_cell(), monkeypatch, on_colab=True)
    message = str(stopped.value)
    assert "student edition" in message and "\n" not in message


@pytest.mark.parametrize("cell", ["preview", "stamped"])
def test_off_colab_the_cell_does_nothing(monkeypatch, stamped_cell, cell):
    source = _preview_cell() if cell == "preview" else stamped_cell
    assert _run_cell(source, monkeypatch, on_colab=False) == []


@pytest.mark.parametrize(
    "url", ["https://github.com/your-org/autoencoder-course", "github.com/acme/ae"]
)
def test_a_release_with_a_placeholder_repository_is_refused(tmp_path, url):
    result = Course(tmp_path).nbgrader(
        "generate_assignment", "--force", "01_basic_autoencoder",
        env={"AUTOENCODER_COURSE_REPOSITORY": url}, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "Say where students get the course: REPOSITORY=" in (
        result.stdout + result.stderr
    )
    assert not list((tmp_path / "course").glob("*/*.ipynb")), "nothing is released"


def test_the_edition_release_stamps_the_student_repository(tmp_path):
    from autoencoder_lib import __version__

    course = Course(tmp_path)
    release = course.release(
        "01_basic_autoencoder",
        env={"AUTOENCODER_COURSE_REPOSITORY": "https://github.com/acme/ae.git"},
    )
    nb = nbformat.read(release / "01_basic_autoencoder.ipynb", as_version=4)
    assert "git+{COURSE_REPOSITORY}@v{COURSE_VERSION}" in _setup_cell(nb)
    assert 'COURSE_REPOSITORY = "https://github.com/acme/ae"' in _setup_cell(nb)
    assert f'COURSE_VERSION = "{__version__}"' in _setup_cell(nb)
    assert (
        "https://colab.research.google.com/github/acme/ae/blob/main/course/"
        "01_basic_autoencoder/01_basic_autoencoder.ipynb" in nb.cells[1].source
    )


COLAB_FREEZE = ROOT.parent / "shared" / "colab" / "pip-freeze.gpu.txt"
# What Colab's kernel and the course's models depend on, at Colab's versions.
COLAB_PINNED = (
    "ipython", "ipykernel", "traitlets", "notebook", "jupyter-server",
    "jupyter-client", "tornado", "tensorflow", "keras", "numpy", "ipywidgets",
)  # fmt: skip


def _colab_versions() -> dict[str, str]:
    from packaging.utils import canonicalize_name

    versions = {}
    for line in COLAB_FREEZE.read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, _, version = line.partition("==")
            versions[canonicalize_name(name)] = version.strip()
    return versions


def test_the_colab_install_changes_no_package_colab_pins(tmp_path):
    """Resolved offline against Google's published pip freeze of Colab's GPU runtime:
    the cell's install (pip --dry-run --report, as the cell runs it) adds the course
    library and nothing else, and every package the library needs is already there at
    a version it accepts."""
    import json

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    from autoencoder_lib.instructor import edition

    if not COLAB_FREEZE.is_file():
        pytest.skip(f"no Colab pip freeze at {COLAB_FREEZE}")
    colab = _colab_versions()
    for name in COLAB_PINNED:
        assert canonicalize_name(name) in colab, f"{name} is not in Colab's freeze"
    built = edition.build(tmp_path / "edition", "https://github.com/acme/ae-students")
    cell = _setup_cell(nbformat.read(sorted(built.glob("course/*/*.ipynb"))[0], 4))
    assert '"--no-deps"' in cell
    import tomllib

    project = tomllib.loads((built / "pyproject.toml").read_text())["project"]
    for requirement in map(Requirement, project["dependencies"]):
        have = colab.get(canonicalize_name(requirement.name))
        assert have is not None, f"Colab lacks {requirement.name}"
        assert requirement.specifier.contains(have, prereleases=True), (
            f"Colab's {requirement.name} {have} does not satisfy {requirement}"
        )
    report = tmp_path / "report.json"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--no-deps",
         "--no-index", "--no-build-isolation", "--ignore-installed",
         "--report", report, built],
        check=True, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    installs = json.loads(report.read_text())["install"]
    names = [canonicalize_name(item["metadata"]["name"]) for item in installs]
    assert names == ["autoencoder-lib"], names
    assert not set(names) & {canonicalize_name(n) for n in COLAB_PINNED}
