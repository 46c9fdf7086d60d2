"""The set-up files agree with each other and with the README."""

import re
import sys
import tomllib

import pytest
import yaml

from autoencoder_lib.instructor.course import ROOT


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _name(requirement: str) -> str:
    return (
        re.split(r"[<>=!~\[ ;]", requirement, maxsplit=1)[0].lower().replace("_", "-")
    )


def test_design_packages_have_lower_bounds_in_the_extra_of_who_needs_them():
    project = _pyproject()["project"]
    extras = project["optional-dependencies"]
    where = {
        "dependencies": (
            project["dependencies"],
            ("keras", "ipywidgets", "matplotlib"),
        ),
        "lab": (extras["lab"], ("jupyterlab", "tensorflow", "nbgrader")),
        "instructor": (extras["instructor"], ("nbgrader", "dask", "psycopg2-binary")),
        "dev": (extras["dev"], ("pytest", "nbval")),
    }
    for group, (requirements, names) in where.items():
        declared = {_name(r): r for r in requirements}
        for name in names:
            assert name in declared and ">=" in declared[name], (
                f"{name} needs a lower bound in {group}"
            )
    deps = {_name(r): r for r in project["dependencies"]}
    assert deps["keras"].startswith("keras>=3"), "the course is written for Keras 3"
    # What Colab already has and a student there never uses stays out of the library's
    # own requirements (tests/test_colab.py resolves them against Colab's runtime).
    for name in ("tensorflow", "jupyterlab", "nbgrader", "dask", "ipython", "notebook"):
        assert name not in deps, f"{name} belongs in an extra, not in dependencies"
    assert "autoencoder_lib[lab,instructor]" in extras["dev"]
    assert project["requires-python"] == ">=3.11"


def test_the_stated_python_floor_is_what_the_pinned_versions_need():
    """The Makefile and the README name the oldest Python that every version in
    constraints.txt installs on (each installed distribution's Requires-Python), no
    older and no newer. (environment.yml installs without the pins: pyproject's floor.)"""
    from importlib import metadata

    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    pins = [
        line.split("==")[0].strip()
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    ]
    needs = []
    for name in pins:
        try:
            spec = metadata.metadata(name).get("Requires-Python")
        except metadata.PackageNotFoundError:
            continue  # an optional part (JAX, PyTorch) not installed here
        if spec:
            needs.append(SpecifierSet(spec))
    candidates = [
        Version(f"3.{minor}.{patch}") for minor in (10, 11, 12) for patch in range(20)
    ]
    floor = min(v for v in candidates if all(v in spec for spec in needs))
    assert str(floor) == "3.11.5", f"the pinned versions need Python {floor}"
    assert (
        f"sys.version_info >= {tuple(floor.release)}" in (ROOT / "Makefile").read_text()
    )
    assert f"Python {floor} or newer" in (ROOT / "README.md").read_text()


def test_environment_yml_installs_the_same_project():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "conda-forge" in env["channels"]
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    python = next(d for d in conda if d.startswith("python"))
    assert (
        python.replace(" ", "") == "python" + _pyproject()["project"]["requires-python"]
    )
    assert "pip" in conda
    assert "-e .[dev]" in pip, (
        "environment.yml must install the project with its dev extra"
    )
    # Anything else it names must agree with pyproject.toml rather than pin its own list.
    declared = {
        _name(r): r
        for r in _pyproject()["project"]["dependencies"]
        + sum(_pyproject()["project"]["optional-dependencies"].values(), [])
    }
    for extra in [d for d in conda if not d.startswith(("python", "pip"))] + [
        p for p in pip if not p.startswith("-e")
    ]:
        assert _name(extra) in declared, (
            f"environment.yml names {extra}, pyproject.toml does not"
        )
        assert extra.replace(" ", "") == declared[_name(extra)], (
            f"{extra} disagrees with pyproject"
        )


def test_readme_commands_are_what_ci_and_make_run():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    makefile = (ROOT / "Makefile").read_text()
    assert "make lab" in readme and "make test" in readme
    assert re.search(r"^make test$", ci, re.M), (
        ".ci/run must call the README's test command"
    )
    assert re.search(r"^test: ", makefile, re.M) and re.search(
        r"^lab: ", makefile, re.M
    )


def test_constraints_pin_what_is_installed_and_make_installs_with_them():
    """constraints.txt holds the versions the README's figures come from: one exact
    pin per package, and the environment running the tests has those versions."""
    from importlib.metadata import PackageNotFoundError, version

    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, sep, pinned = line.partition("==")
        assert sep and pinned, f"not an exact pin: {line!r}"
        assert _name(name) not in pins, f"pinned twice: {name}"
        pins[_name(name)] = pinned.strip()
    for package in ("keras", "tensorflow", "numpy", "nbgrader", "jupyterlab"):
        assert package in pins, f"{package} is not pinned"
    differ = []
    for name, pinned in pins.items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            continue  # e.g. a backend whose install was skipped here
        if installed != pinned:
            differ.append(f"{name} {installed} installed, {pinned} pinned")
    assert not differ, "; ".join(differ) + " (make constraints refreshes the file)"
    makefile = (ROOT / "Makefile").read_text()
    assert "pip install -e '.[dev]' -c constraints.txt" in makefile


def test_nbgrader_config_maps_solutions_and_course():
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    assert config.CourseDirectory.source_directory == "solutions"
    assert config.CourseDirectory.release_directory == "course"
    assert config.Execute.timeout >= 300, "nbgrader's 30 s default kills training cells"
    assert config.IgnorePattern.enabled


def test_grading_state_stays_out_of_git():
    ignored = (ROOT / ".gitignore").read_text().split()
    for entry in (
        "gradebook.db",
        "/submitted/",
        "/autograded/",
        "/feedback/",
        ".venv/",
    ):
        assert entry in ignored, f"{entry} must be in .gitignore"


# Import name -> distribution name, where the two differ.
DISTRIBUTIONS = {"skimage": "scikit-image", "sklearn": "scikit-learn", "PIL": "pillow"}
# IPython comes with ipywidgets (a dependency), ipykernel with any kernel that runs them.
WITH_JUPYTERLAB = {"IPython", "ipykernel"}
# Imported only on Colab, which provides it (the notebooks' first cell).
ON_COLAB_ONLY = {"google"}


def test_every_notebook_import_is_a_dependency():
    """A student installs the dependencies only: the notebooks must need nothing else."""
    import nbformat

    deps = {_name(r) for r in _pyproject()["project"]["dependencies"]}
    missing = {}
    for path in sorted((ROOT / "solutions").glob("*/*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "code":
                continue
            pattern = r"^\s*(?:from|import)\s+([A-Za-z_]\w*)"
            for module in re.findall(pattern, cell.source, re.M):
                if module in sys.stdlib_module_names or module == "autoencoder_lib":
                    continue
                if module in WITH_JUPYTERLAB or module in ON_COLAB_ONLY:
                    continue
                dist = DISTRIBUTIONS.get(module, module).lower().replace("_", "-")
                if dist not in deps:
                    missing.setdefault(dist, set()).add(path.name)
    assert not missing, (
        f"notebooks import packages missing from dependencies: {missing}"
    )


@pytest.mark.integration
def test_pre_commit_runs_the_ci_linters_and_keeps_notebooks_as_committed(tmp_path):
    """The hooks are the commands `make lint` runs, and nbstripout as configured leaves
    every committed notebook byte for byte as it is (ids and nbgrader metadata kept)."""
    import shutil
    import subprocess

    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    hooks = {h["id"]: h["entry"] for r in config["repos"] for h in r["hooks"]}
    makefile = (ROOT / "Makefile").read_text()
    for hook in ("ruff-check", "ruff-format"):
        command = (
            hooks[hook].split(" --force-exclude")[0].replace(".venv/bin/", "$(BIN)/")
        )
        assert command in makefile, f"{hook} is not what make lint runs"
    entry = hooks["nbstripout"].split()
    notebooks = sorted(ROOT.glob("solutions/*/*.ipynb")) + sorted(
        ROOT.glob("course/*/*.ipynb")
    )
    copies = []
    for i, path in enumerate(notebooks):
        copy = tmp_path / f"{i}-{path.name}"
        shutil.copy(path, copy)
        copies.append(copy)
    binary = shutil.which("nbstripout") or str(ROOT / entry[0])
    subprocess.run([binary, *entry[1:], *map(str, copies)], check=True)
    for path, copy in zip(notebooks, copies, strict=True):
        assert copy.read_bytes() == path.read_bytes(), (
            f"nbstripout would rewrite {path}"
        )
