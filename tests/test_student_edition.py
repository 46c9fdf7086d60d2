"""The student edition holds no answer: no line of any solution or hidden-test block of
solutions/, in any file or in its git history; and no instructor-side file."""

import json
import re
import subprocess
import sys

import pytest

from autoencoder_lib.instructor import edition
from autoencoder_lib.instructor.course import ROOT, SOLUTIONS

REPOSITORY = "https://github.com/acme/autoencoders-students"
_BLOCK = re.compile(r"### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END \1", re.S)


# Building blocks that the library's own builders are made of too; an answer is the
# lines around them, which stay secret.
GENERIC = {
    "h = keras.layers.Flatten()(inputs)",
    "code = keras.layers.Dense(",
    "rng = np.random.default_rng(seed)",
}


def _secret_lines() -> set[str]:
    """Non-trivial lines inside solution and hidden-test blocks that the notebooks do
    not show outside such blocks (an instruction that quotes a line gives it away)."""
    inside, visible = set(), []
    for path in SOLUTIONS.glob("*/*.ipynb"):
        for cell in json.loads(path.read_text())["cells"]:
            source = "".join(cell["source"])
            for _, block in _BLOCK.findall(source):
                inside |= {ln.strip() for ln in block.splitlines()}
            visible.append(_BLOCK.sub("", source))
    shown = "\n".join(visible)
    return {
        ln
        for ln in inside - GENERIC
        if len(ln) >= 16 and not ln.startswith("#") and ln not in shown
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    dest = tmp_path_factory.mktemp("edition") / "course-students"
    return edition.build(dest, REPOSITORY)


def _leaks(folder, secrets) -> set[tuple[str, str]]:
    texts = {
        str(p.relative_to(folder)): p.read_text(errors="replace")
        for p in folder.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(folder).parts
    }
    texts["git history"] = subprocess.run(
        ["git", "-C", folder, "log", "-p", "--all", "--format=%B"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return {(name, ln) for name, text in texts.items() for ln in secrets if ln in text}


def test_no_solution_or_hidden_test_line_is_in_any_file_or_commit(built):
    secrets = _secret_lines()
    assert len(secrets) > 100, "the secret lines were not found"
    found = _leaks(built, secrets)
    assert not found, sorted(found)[:10]


def test_the_leak_check_finds_an_answer_in_the_library_or_a_commit(built, tmp_path):
    """05's colourfulness answer, as autoencoder_lib/metrics.py once held it, is caught
    in a file and, once deleted again, in the history."""
    secrets = _secret_lines()
    answer = "yb = (0.5 * (r + g) - b).reshape(len(x), -1)"
    assert answer in secrets
    copy = tmp_path / "copy"
    subprocess.run(["git", "clone", "-q", built, copy], check=True)
    planted = copy / "autoencoder_lib" / "metrics.py"
    planted.write_text(planted.read_text() + f"\n# {answer}\n")
    assert ("autoencoder_lib/metrics.py", answer) in _leaks(copy, secrets)
    git = ["git", "-C", copy, "-c", "user.name=t", "-c", "user.email=t@localhost"]
    subprocess.run([*git, "commit", "-qam", "leak"], check=True)
    subprocess.run(
        ["git", "-C", copy, "checkout", "-q", "HEAD~1", "--", "."], check=True
    )
    subprocess.run([*git, "commit", "-qam", "unleak"], check=True)
    assert _leaks(copy, secrets) == {("git history", answer)}


def test_no_instructor_file_and_links_point_at_the_student_repository(built):
    names = {p.relative_to(built).as_posix() for p in built.rglob("*")}
    for forbidden in ("solutions", "tests", "nbgrader_config.py", "benchmarks",
                      "autoencoder_lib/instructor", "gradebook.db"):  # fmt: skip
        assert forbidden not in names, forbidden
    assert not [n for n in names if "wrong_answers" in n]
    notebooks = sorted(built.glob("course/*/*.ipynb"))
    assert len(notebooks) == len(list(SOLUTIONS.glob("*/*.ipynb")))
    for path in notebooks:
        text = path.read_text()
        assert REPOSITORY in text and "your-org" not in text, path.name
        assert "{{" not in text, f"{path.name} keeps an unstamped marker"
        assert (
            f"colab.research.google.com/github/acme/autoencoders-students/blob/main/course/{path.parent.name}/{path.name}"
            in text
        )
    log = subprocess.run(
        ["git", "-C", built, "log", "--oneline"], capture_output=True, text=True
    ).stdout.splitlines()
    assert len(log) == 1
    pyproject = (built / "pyproject.toml").read_text()
    assert "tensorflow" not in pyproject.split("[project.optional-dependencies]")[0]
    assert '"ipywidgets>=7.7"' in pyproject


def test_the_library_in_the_edition_imports_without_the_instructor_side(built):
    code = (
        "import autoencoder_lib, autoencoder_lib.data, autoencoder_lib.vae; print('ok')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=built, capture_output=True, text=True,
        env={"PYTHONPATH": str(built), "PATH": "/usr/bin:/bin", "KERAS_BACKEND": "numpy"},
    )  # fmt: skip
    assert result.stdout.strip() == "ok", result.stderr[-2000:]


@pytest.mark.parametrize(
    "url",
    ["", "https://github.com/your-org/autoencoder-course", "{{COURSE_REPOSITORY}}"],
)
def test_a_placeholder_repository_is_refused_with_one_line(tmp_path, url):
    result = subprocess.run(
        [sys.executable, "-m", "autoencoder_lib.instructor.edition",
         tmp_path / "out", f"--repository={url}"],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().startswith("Say where students get the course")
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_an_existing_folder_is_never_overwritten(tmp_path):
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="nothing is overwritten"):
        edition.build(tmp_path, REPOSITORY)
    assert (tmp_path / "mine.txt").read_text() == "keep me"


_LOAD_VALIDATE_CONFIG = """
import json
from nbgrader.server_extensions.validate_assignment.handlers import (
    ValidateAssignmentHandler,
)
config = ValidateAssignmentHandler.load_config(None)  # as the Validate button does
print(json.dumps({k: config.Execute[k] for k in config.Execute}))
"""


def _validate_settings(cwd, config_path=None) -> dict:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd), "JUPYTER_PLATFORM_DIRS": "1"}
    if config_path:
        env["JUPYTER_CONFIG_PATH"] = str(config_path)
    result = subprocess.run(
        [sys.executable, "-c", _LOAD_VALIDATE_CONFIG],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_validate_gets_the_course_limits_wherever_jupyterlab_starts(built, tmp_path):
    """nbgrader's Validate reads nbgrader_config from the server's working directory
    and the Jupyter configuration path; the edition's settings sit on that path."""
    from autoencoder_lib.instructor import limits

    elsewhere = tmp_path / "somewhere" / "else"
    elsewhere.mkdir(parents=True)
    # Without the edition's settings, nbgrader falls back to its own 30 s per cell.
    assert "timeout" not in _validate_settings(elsewhere)
    settings = _validate_settings(elsewhere, built / "jupyter-student")
    assert settings == {
        "timeout": limits.cell_timeout_s(),
        "interrupt_on_timeout": True,
        "startup_timeout": limits.MACHINE_TIMEOUT_S,
        "iopub_timeout": limits.MACHINE_TIMEOUT_S,
    }


def test_installing_the_edition_puts_the_validate_settings_on_the_config_path(
    built, tmp_path
):
    """pip installs the settings into <prefix>/etc/jupyter, which is on every Jupyter
    configuration path of that environment (jupyter_core: sys.prefix/etc/jupyter).
    --ignore-installed: without it pip would uninstall this environment's library."""
    prefix = tmp_path / "prefix"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
         "--no-build-isolation", "--ignore-installed", "--prefix", prefix, built],
        check=True, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    installed = prefix / "etc" / "jupyter" / "nbgrader_config.json"
    assert (
        installed.read_text()
        == (built / "jupyter-student" / "nbgrader_config.json").read_text()
    )
    assert _validate_settings(tmp_path, installed.parent)["timeout"] > 30
    import importlib.metadata

    assert importlib.metadata.distribution("autoencoder_lib"), "still installed here"


def test_the_edition_installs_the_versions_the_course_was_tested_with(built):
    """`make lab` in the edition pins every package it installs to the instructor's
    tested versions (constraints.txt), and its README names the Python they need."""
    import tomllib

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pins = {
        canonicalize_name(line.split("==")[0]): line.split("==")[1]
        for line in (built / "constraints.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    project = tomllib.loads((built / "pyproject.toml").read_text())["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["lab"]
    unpinned = [r for r in wanted if canonicalize_name(Requirement(r).name) not in pins]
    assert not unpinned, f"the edition's constraints.txt does not pin {unpinned}"
    for requirement in map(Requirement, wanted):
        assert requirement.specifier.contains(
            pins[canonicalize_name(requirement.name)], prereleases=True
        ), f"the pinned {requirement.name} does not meet {requirement}"
    assert not any("+" in version for version in pins.values())
    assert "-c constraints.txt" in (built / "Makefile").read_text()
    assert "Python 3.11.5 or newer" in (built / "README.md").read_text()
