"""The student edition: the tree students get, without a solution or a hidden test.

    make student-edition DEST=../course-students REPOSITORY=https://github.com/org/course-students
    python -m autoencoder_lib.instructor.edition DEST --repository URL

This repository is the instructor's and stays private: it holds ``solutions/`` (every
answer and hidden test), ``tests/`` (with the catalogue of wrong answers) and their
history. The edition holds the released notebooks (their Colab badges and set-up cell
pointing at ``REPOSITORY``), the student-side library (``autoencoder_lib`` without
``instructor/``), packaging, a student README and the JupyterLab settings, as a new
git repository with one commit, ready to push to ``REPOSITORY``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .course import REPOSITORY_ENV, ROOT, Course, assignments
from .preprocessors import check_repository

STUDENT_PYPROJECT = """\
[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "autoencoder_lib"
version = "{version}"
description = "Hands-on autoencoder course: the helpers the notebooks call (Keras 3)"
readme = "README.md"
requires-python = "{python}"
license = {{ text = "MIT" }}
# What the notebooks import, and no more: on Colab these are already there.
dependencies = {dependencies}

[project.optional-dependencies]
# Your own machine: JupyterLab, a Keras backend, and nbgrader's Validate button.
lab = {lab}

[project.urls]
Homepage = "{repository}"

[tool.setuptools]
packages = ["autoencoder_lib"]

# nbgrader's Validate reads its settings from the Jupyter configuration path: installed
# into the environment, the course's per-cell limit holds wherever JupyterLab starts.
[tool.setuptools.data-files]
"etc/jupyter" = ["jupyter-student/nbgrader_config.json"]
"""


def _toml_list(items: list[str]) -> str:
    return "[\n" + "".join(f'    "{item}",\n' for item in items) + "]"


def student_pyproject(repository: str) -> str:
    """The edition's packaging: the library's own requirements and its lab extra,
    as this repository's pyproject.toml declares them."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return STUDENT_PYPROJECT.format(
        version=_version(),
        repository=repository,
        python=project["requires-python"],
        dependencies=_toml_list(project["dependencies"]),
        lab=_toml_list(project["optional-dependencies"]["lab"]),
    )


STUDENT_MAKEFILE = """\
# `make lab`: a virtual environment with the course library, then JupyterLab on course/.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: lab

# Installed, not editable: pip then also puts the Validate settings (pyproject.toml's
# data-files) into the environment's Jupyter configuration.
$(VENV)/.installed: pyproject.toml constraints.txt $(wildcard autoencoder_lib/*.py) jupyter-student/nbgrader_config.json
\ttest -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
\t$(BIN)/python -m pip install --upgrade pip
\t$(BIN)/python -m pip install '.[lab]' -c constraints.txt
\ttouch $@

lab: $(VENV)/.installed
\tJUPYTER_CONFIG_PATH=$(CURDIR)/jupyter-student $(BIN)/jupyter lab course/
"""

STUDENT_README = """\
# Autoencoders, hands on

Eight notebooks, from a basic autoencoder to a variational one, each with exercises that
check themselves as you go: {titles}.

## On your machine

```bash
git clone {repository} && cd {name}
make lab
```

`make lab` makes a virtual environment in `.venv/`, installs the course library with
JupyterLab and TensorFlow into it (Python {python} or newer), at the versions in
`constraints.txt`, the ones the course was tested with, and opens `course/` in JupyterLab. The
datasets download on first use.

## On Google Colab

Open a notebook from its **Open in Colab** badge, run its first cell and pick a GPU runtime.
The cell installs the course library alone (a few pure-Python files, at this edition's tag);
everything else it needs is already on Colab, and none of Colab's packages change.

## Rerunning a notebook

A model you trained once is not trained again: rerun a notebook after a kernel restart and
each `training.fit` loads what it trained from `~/.keras/autoencoder_course/models/` (its
progress line says "Loaded from the model cache"). Change anything that decides the result (a
layer, a weight, the data, the epochs, your loss) and it trains. `training.fit(...,
cache=False)` always trains. On Colab the cache lasts as long as the runtime.

## Handing in

Run the test cell under each exercise; nbgrader's **Validate** button runs the whole notebook.
The tests you see are a subset: more tests decide your grade.

When you are done, save the notebook and download it (JupyterLab: File, Download; Colab:
File, Download, Download .ipynb). Upload that one `.ipynb` file, under its own name (for
example `01_basic_autoencoder.ipynb`), to the assignment on your course's site, as your
instructor tells you. Leave the cells you did not write as they are: a deleted or changed test
cell is reported to your instructor.
"""

STUDENT_CONSTRAINTS_HEADER = """\
# The versions the course was tested with: `make lab` installs these (pip -c), so your
# environment is the one the notebooks' tests and figures ran on, not whatever is newest.
"""


def student_constraints() -> str:
    """The instructor's pinned versions (constraints.txt), without its comments and
    without local builds (``+cpu``) that only the instructor's own indexes serve."""
    pins = [
        line.strip()
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if "==" in line and not line.lstrip().startswith("#") and "+" not in line
    ]
    return STUDENT_CONSTRAINTS_HEADER + "".join(f"{pin}\n" for pin in pins)


def python_floor() -> str:
    """The oldest Python the pinned versions install on, as the Makefile checks it."""
    import re

    makefile = (ROOT / "Makefile").read_text()
    found = re.search(r"sys\.version_info >= \((\d+), (\d+), (\d+)\)", makefile)
    if found is None:
        # A README naming a guessed version would be wrong without anyone noticing.
        raise RuntimeError(
            "the Makefile no longer checks sys.version_info >= (X, Y, Z): update "
            "edition.python_floor to read the Python floor from where it now lives"
        )
    return ".".join(found.groups())


GITIGNORE = """\
.venv/
__pycache__/
*.egg-info/
.ipynb_checkpoints/
"""


def _version() -> str:
    from autoencoder_lib import __version__

    return __version__


def _released_notebooks(repository: str, work: Path) -> Path:
    """Every assignment released again, its links stamped with ``repository``."""
    course = Course(work)
    for assignment in assignments():
        course.release(assignment, env={REPOSITORY_ENV: repository})
    return course.root / "course"


def build(dest: Path, repository: str) -> Path:
    """Write the student edition into ``dest`` (which must not exist or be empty)."""
    repository = check_repository(repository)
    dest = Path(dest).resolve()
    if dest.exists() and any(dest.iterdir()):
        raise FileExistsError(
            f"{dest} is not empty: give a new folder (nothing is overwritten)."
        )
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ae-edition-") as tmp:
        released = _released_notebooks(repository, Path(tmp))
        shutil.copytree(released, dest / "course")
    shutil.copytree(
        ROOT / "autoencoder_lib",
        dest / "autoencoder_lib",
        ignore=shutil.ignore_patterns("instructor", "__pycache__", "*.pyc"),
    )
    shutil.copytree(ROOT / "jupyter-student", dest / "jupyter-student")
    name = repository.rsplit("/", 1)[-1]
    titles = ", ".join(a.split("_", 1)[1].replace("_", " ") for a in assignments())
    (dest / "pyproject.toml").write_text(student_pyproject(repository))
    (dest / "Makefile").write_text(STUDENT_MAKEFILE)
    (dest / "constraints.txt").write_text(student_constraints())
    (dest / "README.md").write_text(
        STUDENT_README.format(
            repository=repository, name=name, titles=titles, python=python_floor()
        )
    )
    (dest / ".gitignore").write_text(GITIGNORE)
    git = ["git", "-C", str(dest), "-c", "user.name=Course edition",
           "-c", "user.email=edition@localhost", "-c", "init.defaultBranch=main"]  # fmt: skip
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run(
        [*git, "commit", "-q", "-m", f"Student edition {_version()}"], check=True
    )
    # The notebooks' Colab cell installs the library at this tag (push it too).
    subprocess.run([*git, "tag", f"v{_version()}"], check=True)
    return dest


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m autoencoder_lib.instructor.edition",
        description="Write the student edition (no solutions, no hidden tests).",
    )
    parser.add_argument("dest", type=Path)
    parser.add_argument("--repository", default="")
    options = parser.parse_args(argv)
    try:
        dest = build(options.dest, options.repository)
    except (ValueError, FileExistsError) as error:
        print(error, file=sys.stderr)
        return 2
    print(
        f"Student edition in {dest}: push it to {check_repository(options.repository)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
