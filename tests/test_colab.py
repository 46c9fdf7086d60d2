"""The first cell of every released notebook sets up Colab, and only Colab."""

import subprocess
import sys
import types

import nbformat
import pytest

from autoencoder_lib.instructor.course import RELEASE, Course, assignments, notebooks


def _setup_cell(nb):
    cells = [c for c in nb.cells if c.cell_type == "code"]
    return cells[0].source


@pytest.mark.parametrize("assignment", assignments())
def test_release_starts_with_a_stamped_colab_cell_and_badge(assignment):
    for path in notebooks(assignment, RELEASE):
        nb = nbformat.read(path, as_version=4)
        assert "{{" not in nb.cells[1].source + _setup_cell(nb)
        assert "google.colab" in _setup_cell(nb)
        badge = (
            "https://colab.research.google.com/github/your-org/autoencoder-course/"
            f"blob/main/course/{assignment}/{path.name}"
        )
        assert badge in nb.cells[1].source


def _run_cell(source, monkeypatch, on_colab):
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: calls.append(("run", a, k)))
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


def test_on_colab_the_cell_installs_the_course_and_enables_widgets(monkeypatch):
    nb = nbformat.read(notebooks("01_basic_autoencoder", RELEASE)[0], as_version=4)
    calls = _run_cell(_setup_cell(nb), monkeypatch, on_colab=True)
    assert calls[0][0] == "run"
    command = calls[0][1][0]
    assert command[1:4] == ["-m", "pip", "install"]
    assert command[-1] == "git+https://github.com/your-org/autoencoder-course"
    assert calls[0][2] == {"check": True}
    assert calls[1] == ("widgets",)


def test_off_colab_the_cell_does_nothing(monkeypatch):
    nb = nbformat.read(notebooks("01_basic_autoencoder", RELEASE)[0], as_version=4)
    assert _run_cell(_setup_cell(nb), monkeypatch, on_colab=False) == []


def test_release_stamps_the_instructors_repository(tmp_path, monkeypatch):
    monkeypatch.setenv(
        "AUTOENCODER_COURSE_REPOSITORY", "https://github.com/acme/ae.git"
    )
    course = Course(tmp_path)
    release = course.release("01_basic_autoencoder")
    nb = nbformat.read(release / "01_basic_autoencoder.ipynb", as_version=4)
    assert "git+{COURSE_REPOSITORY}" in _setup_cell(nb)
    assert 'COURSE_REPOSITORY = "https://github.com/acme/ae"' in _setup_cell(nb)
    assert (
        "https://colab.research.google.com/github/acme/ae/blob/main/course/"
        "01_basic_autoencoder/01_basic_autoencoder.ipynb" in nb.cells[1].source
    )
