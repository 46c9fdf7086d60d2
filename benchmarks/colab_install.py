"""What the Colab set-up cell installs, how much it fetches and how long it takes,
measured in a simulated Colab runtime.

    python benchmarks/colab_install.py [--runs 3]

The simulated runtime is a fresh virtual environment holding, at the versions of
Google's published ``pip freeze`` of Colab's GPU runtime (../shared/colab/), pip and
setuptools, the Jupyter/IPython stack Colab's kernel depends on, Keras, NumPy and every
package the course library requires. Two differences from Colab, said in the output:
this machine's Python (Colab's is 3.13), and no TensorFlow (the cell installs with
--no-deps, so pip never looks at it, and it is 600 MB). ``google.colab`` is a stand-in
module, so the cell takes its Colab branch.

A student edition is built (``make student-edition``) with a GitHub URL, and git's
``url.<base>.insteadOf`` sends that URL to the edition's local repository, so the
notebook's first cell runs exactly as released. Each run starts without the library
and without pip's cache, as a fresh Colab VM does. Reported: seconds per install,
seconds for a rerun (the library already at that version: nothing installed), the
bytes fetched (the edition's git pack, and what pip downloads from the package index
to build it), the installed size, and whether ``pip freeze`` changed in anything but
``autoencoder_lib``. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
FREEZE = ROOT.parent / "shared" / "colab" / "pip-freeze.gpu.txt"
REPOSITORY = "https://github.com/course-org/autoencoders-students"
# Colab's versions of these go into the simulated runtime (TensorFlow aside).
COLAB_PACKAGES = (
    "pip", "setuptools", "ipython", "ipykernel", "traitlets", "notebook",
    "jupyter_server", "jupyter_client", "tornado", "ipywidgets", "widgetsnbextension",
    "jupyterlab_widgets", "keras", "numpy", "scipy", "scikit-learn", "scikit-image",
    "pillow", "matplotlib",
)  # fmt: skip
# Puts a stand-in google.colab in sys.modules, then runs the cell's source.
RUN_CELL = """
import sys, types
output = types.SimpleNamespace(enable_custom_widget_manager=lambda: None)
colab = types.ModuleType("google.colab")
colab.output = output
sys.modules["google"] = types.ModuleType("google")
sys.modules["google.colab"] = colab
exec(compile(open(sys.argv[1]).read(), "colab-cell", "exec"), {})
"""


def colab_versions() -> dict[str, str]:
    versions = {}
    for line in FREEZE.read_text().splitlines():
        name, sep, version = line.partition("==")
        if sep:
            versions[name.strip().lower().replace("-", "_")] = version.strip()
    return versions


def run(*command, cwd=None, **kwargs) -> subprocess.CompletedProcess:
    # Away from the repository by default: its autoencoder_lib.egg-info (the editable
    # install's metadata) would look like an installed library to a script run here.
    return subprocess.run(
        command, check=True, capture_output=True, text=True,
        cwd=cwd or tempfile.gettempdir(), **kwargs,
    )  # fmt: skip


def freeze(python: Path) -> set[str]:
    return set(run(python, "-m", "pip", "freeze", "--all").stdout.splitlines())


def simulated_colab(folder: Path) -> Path:
    """A virtual environment with Colab's versions of COLAB_PACKAGES."""
    versions = colab_versions()
    run(sys.executable, "-m", "venv", folder)
    python = folder / "bin" / "python"
    pins = [
        f"{name}=={versions[name.lower().replace('-', '_')]}" for name in COLAB_PACKAGES
    ]
    run(python, "-m", "pip", "install", "-q", pins[0])  # Colab's pip, then the rest
    run(python, "-m", "pip", "install", "-q", "--no-deps", *pins[1:])
    return python


def first_cell(edition: Path) -> str:
    path = sorted(edition.glob("course/*/*.ipynb"))[0]
    cell = next(c for c in nbformat.read(path, 4).cells if c.cell_type == "code")
    return cell.source


def pack_bytes(edition: Path, folder: Path) -> int:
    """What cloning the edition transfers: its objects, packed as git sends them."""
    bare = folder / "clone.git"
    run("git", "clone", "-q", "--bare", f"file://{edition}", bare)
    return sum(p.stat().st_size for p in (bare / "objects" / "pack").glob("*.pack"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from autoencoder_lib import __version__
    from autoencoder_lib.instructor import edition

    with tempfile.TemporaryDirectory(prefix="ae-colab-") as tmp:
        tmp = Path(tmp)
        print("Building the simulated Colab runtime (Colab's versions) ...", flush=True)
        python = simulated_colab(tmp / "colab")
        built = edition.build(tmp / "edition", REPOSITORY)
        cell = tmp / "cell.py"
        cell.write_text(first_cell(built))
        gitconfig = tmp / "gitconfig"
        gitconfig.write_text(f'[url "file://{built}"]\n\tinsteadOf = {REPOSITORY}\n')
        env = dict(
            os.environ, GIT_CONFIG_GLOBAL=str(gitconfig), PIP_NO_CACHE_DIR="1",
            PIP_LOG=str(tmp / "pip.log"), PIP_DISABLE_PIP_VERSION_CHECK="1",
        )  # fmt: skip
        before = freeze(python)
        installs, downloads = [], []
        for number in range(options.runs):
            if number:  # each install starts without the library, as on a fresh VM
                run(python, "-m", "pip", "uninstall", "-q", "-y", "autoencoder_lib")
            (tmp / "pip.log").unlink(missing_ok=True)
            start = time.perf_counter()
            done = run(python, "-c", RUN_CELL, cell, env=env, timeout=600)
            installs.append(time.perf_counter() - start)
            if not (tmp / "pip.log").is_file():
                raise SystemExit(
                    f"The cell installed nothing: {done.stdout}{done.stderr}"
                )
            log = (tmp / "pip.log").read_text()
            # pip logs each download twice (console and log handlers)
            downloads = sorted(set(re.findall(r"Downloading (\S+) \(([^)]+)\)", log)))
        after = freeze(python)
        start = time.perf_counter()
        run(python, "-c", RUN_CELL, cell, env=env, timeout=600)
        rerun = time.perf_counter() - start
        changed = sorted((after - before) | (before - after))
        site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip())  # fmt: skip
        installed = sum(
            p.stat().st_size
            for p in (site / "autoencoder_lib").rglob("*")
            if p.is_file()
        )
        config = (tmp / "colab" / "etc" / "jupyter" / "nbgrader_config.json").is_file()
        pack = pack_bytes(built, tmp)
        python_version = run(python, "-c", "import platform; print(platform.python_version())").stdout.strip()  # fmt: skip
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "python": python_version,
        "colab_python": "3.13",
        "left_out": "tensorflow (not looked at by pip --no-deps)",
        "library_version": __version__,
        "install_s": [round(t, 2) for t in installs],
        "install_s_median": round(statistics.median(installs), 2),
        "rerun_s": round(rerun, 2),
        "git_pack_bytes": pack,
        "pip_downloads": downloads,
        "installed_bytes": installed,
        "validate_config_installed": config,
        "freeze_changes": changed,
    }
    print(
        f"Colab cell, simulated runtime (Python {python_version}; Colab has 3.13; "
        f"no TensorFlow), {result['machine']}:"
    )
    print(f"  install: {result['install_s_median']} s, median of {result['install_s']}")
    print(f"  rerun at that version: {result['rerun_s']} s (nothing installed)")
    print(
        f"  fetched: edition git pack {pack / 1e3:.0f} kB; from the index: {downloads or 'nothing'}"
    )
    print(f"  installed: {installed / 1e3:.0f} kB of autoencoder_lib")
    print(f"  pip freeze changes: {changed}")
    print(json.dumps(result))
    only_library = all(line.lower().startswith("autoencoder") for line in changed)
    return 0 if only_library else 1


if __name__ == "__main__":
    sys.exit(main())
