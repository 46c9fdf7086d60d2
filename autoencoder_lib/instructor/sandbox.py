"""Grading kernels inside bubblewrap: what a student's code can see, write and reach.

The trusted side (nbgrader's process, the gradebook, the hidden tests before they are
sent) stays outside. The kernel that runs a submission sees, read-only: the system's
programs and libraries, the Python environment, the course library and the datasets.
The instructor's trained-model cache (``make warm-cache``), when there is one, is bound
read-only at ``/model-cache``. It can write only to one size-capped tmpfs, which holds
its home (and so the student's own model-cache entries), its ``/tmp`` and its working
folder (a copy of the student's own files, never the notebook nbgrader is
filling in, which holds the hidden tests). It sees no repository, no ``solutions/``,
no gradebook, no other student, no home folder, and has no network (its own network
namespace, loopback only). It runs in its own PID namespace: every process it starts
ends with it.

nbgrader talks to the kernel over ZMQ through IPC sockets in a private folder that is
bound into the sandbox. Once the kernel answers, that folder is removed on the host
(:meth:`SandboxedKernelManager.seal`): the open connections live on, the bind inside
the sandbox goes with the folder, and nothing a student writes can land outside the
capped tmpfs.

bubblewrap is Debian's ``bubblewrap`` package (``make test`` installs it); it needs
unprivileged user namespaces, which most Linux distributions allow. Where it cannot
start, :func:`unavailable` says why and grading refuses unless the instructor opts out.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from traitlets import Integer, Unicode

from autoencoder_lib.config import MODEL_CACHE_DIR_ENV, MODEL_CACHE_SHARED_ENV

from . import confine, limits

# Variables passed into the sandbox; everything else in the grader's environment
# (tokens, the instructor's paths) stays out.
_PASS_PREFIXES = (
    "AUTOENCODER_",
    "KERAS_",
    "TF_CPP_",
    "TF_ENABLE_",
    "TF_NUM_",
    "TF_XLA_",
    "XLA_",
    "JAX_",
    "OPENBLAS_",
    "OMP_",
    "MKL_",
    "MPLBACKEND",
    "PYTHONHASHSEED",
    "LANG",
    "LC_",
    "TZ",
)
# Parts of /etc that programs need; the rest (shadow, ssh keys, ...) stays out.
_ETC = (
    "alternatives",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "fonts",
    "ssl",
    "ca-certificates",
    "mime.types",
    "nsswitch.conf",
    "hosts",
    "os-release",
    "matplotlibrc",
)
SCRATCH = "/scratch"  # the one writable place inside the sandbox (tmpfs)
WORKDIR = f"{SCRATCH}/work"  # the student's files, where the notebook's code runs
START = f"{SCRATCH}/start"  # empty: where the kernel starts
SUBMISSION = "/submission"  # the student's files, read-only, copied into SCRATCH/work
MODEL_CACHE = "/model-cache"  # the instructor's trained models, read-only
FONT_LISTS = "/font-lists"  # matplotlib's font lists from the host, copied in


def _font_lists(env: dict[str, str]) -> list[Path]:
    """matplotlib's cached font lists on the host (``fontlist-v*.json``)."""
    folders = [env.get("MPLCONFIGDIR", "")]
    cache_home = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    folders.append(str(Path(cache_home) / "matplotlib"))
    for folder in filter(None, folders):
        found = sorted(Path(folder).glob("fontlist-v*.json"))
        if found:
            return [f.resolve() for f in found if f.is_file()]
    return []


def _model_caches(env: dict[str, str] | None) -> list[Path]:
    """The shared model caches named in the grader's environment that exist here."""
    source = os.environ if env is None else env
    value = source.get(MODEL_CACHE_SHARED_ENV, "")
    folders = [Path(p).expanduser() for p in value.split(os.pathsep) if p.strip()]
    return [f.resolve() for f in folders if f.is_dir()]


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def _offline_data() -> str | None:
    """The offline data folder as the notebooks will name it (absolute, links kept)."""
    offline = os.environ.get("AUTOENCODER_DATA_DIR", "").strip()
    if offline and Path(offline).expanduser().is_dir():
        return os.path.abspath(Path(offline).expanduser())
    return None


def _data_folders() -> list[Path]:
    """Datasets the notebooks read: the offline folder and the download cache."""
    folders = []
    offline = _offline_data()
    if offline:
        folders.append(Path(offline).resolve())
    keras_home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    if (keras_home / "datasets").is_dir():
        folders.append((keras_home / "datasets").resolve())
    return folders


def _python_folders() -> list[Path]:
    """The interpreter, the environment and the course library (an editable install
    points outside the environment)."""
    import autoencoder_lib

    folders = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix)}
    folders.add(Path(autoencoder_lib.__file__).resolve().parent)
    folders.add(Path(sys.executable).resolve().parent)
    return sorted(f.resolve() for f in folders if f.exists())


def _python() -> str:
    # Lexically absolute (no "..", links kept): the environment's own interpreter.
    return os.path.abspath(sys.executable)


def command(
    inner: list[str],
    *,
    files: Path,
    ipc: Path,
    scratch_mb: int,
    env: dict[str, str] | None = None,
) -> list[str]:
    """The bwrap command line that runs ``inner`` in the sandbox.

    ``files`` (host) is bound read-only at /submission and copied into the scratch
    working folder before ``inner`` starts; ``ipc`` (host) is bound read-write at the
    same path, for the kernel's sockets and connection file.
    """
    bwrap = bwrap_path()
    if bwrap is None:
        raise RuntimeError("bubblewrap (bwrap) is not installed")
    args = [
        bwrap,
        "--unshare-user",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--uid",
        "1000",
        "--gid",
        "1000",
        "--hostname",
        "grading",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        # /dev is a tmpfs of bwrap's; shared memory gets a small one of its own.
        "--size",
        str(64 * 2**20),
        "--tmpfs",
        "/dev/shm",
        "--ro-bind",
        "/usr",
        "/usr",
    ]
    for top in ("/bin", "/lib", "/lib32", "/lib64", "/libx32", "/sbin"):
        path = Path(top)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), top]
        elif path.is_dir():
            args += ["--ro-bind", top, top]
    for name in _ETC:
        if Path("/etc", name).exists():
            args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    # One capped tmpfs for everything writable; /tmp points into it.
    args += ["--size", str(scratch_mb * 2**20), "--tmpfs", SCRATCH]
    for folder in ("home", "tmp", "work", "start"):
        args += ["--dir", f"{SCRATCH}/{folder}"]
    # Relative, so that binds below /tmp (the IPC folder) resolve inside the sandbox.
    args += ["--symlink", f"{SCRATCH.lstrip('/')}/tmp", "/tmp"]
    # CPU topology, read by the numerical libraries to size their thread pools.
    if Path("/sys/devices/system/cpu").is_dir():
        args += ["--ro-bind", "/sys/devices/system/cpu", "/sys/devices/system/cpu"]
    for folder in _python_folders():
        args += ["--ro-bind", str(folder), str(folder)]
    keras_home = f"{SCRATCH}/home/.keras"
    offline = _offline_data()
    if offline:
        # Bound where the variable points, even through a link on the host.
        args += ["--ro-bind", str(Path(offline).resolve()), offline]
    cache = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets"
    if cache.is_dir():
        args += ["--ro-bind", str(cache.resolve()), f"{keras_home}/datasets"]
    # The instructor's trained-model caches: read, never written (a student's new
    # entries go to the scratch tmpfs, and end with the kernel).
    shared = []
    for i, folder in enumerate(_model_caches(env)):
        inside_path = f"{MODEL_CACHE}/{i}"
        args += ["--ro-bind", str(folder), inside_path]
        shared.append(inside_path)
    # matplotlib's font list, built once on the host: without it every kernel scans
    # the system's fonts again at its first plot.
    fonts = _font_lists(source_env := (os.environ if env is None else env))
    for font_list in fonts:
        args += ["--ro-bind", str(font_list), f"{FONT_LISTS}/{font_list.name}"]
    args += ["--ro-bind", str(files), SUBMISSION, "--bind", str(ipc), str(ipc)]
    # bwrap's own root is a tmpfs without a size cap: read-only once it is laid out.
    args += ["--remount-ro", "/", "--remount-ro", "/dev"]
    inside = {k: v for k, v in source_env.items() if k.startswith(_PASS_PREFIXES)}
    if offline:
        inside["AUTOENCODER_DATA_DIR"] = offline
    inside.update(
        HOME=f"{SCRATCH}/home",
        TMPDIR=f"{SCRATCH}/tmp",
        KERAS_HOME=keras_home,
        MPLCONFIGDIR=f"{SCRATCH}/home/.matplotlib",
        PATH=f"{Path(_python()).parent}:/usr/local/bin:/usr/bin:/bin",
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONNOUSERSITE="1",
    )
    inside[MODEL_CACHE_DIR_ENV] = f"{keras_home}/autoencoder_course/models"
    inside.pop(MODEL_CACHE_SHARED_ENV, None)
    if shared:
        inside[MODEL_CACHE_SHARED_ENV] = os.pathsep.join(shared)
    for key, value in sorted(inside.items()):
        args += ["--setenv", key, value]
    # The kernel starts in an empty folder, so that nothing of the student's is read as
    # configuration or imported while it starts; it moves into WORKDIR before any
    # notebook code runs (limits.enter_workdir).
    args += ["--dir", START, "--chdir", START, "--"]
    if inner and inner[0] == sys.executable:
        # Isolated mode: no working folder, user site or PYTHON* variables on the path.
        inner = [_python(), "-I", *inner[1:]]
    # Copy the student's files into the writable folder, then become the kernel.
    setup = f"cp -R {SUBMISSION}/. {WORKDIR}"
    if fonts:
        setup += f' && mkdir -p "$MPLCONFIGDIR" && cp {FONT_LISTS}/* "$MPLCONFIGDIR"/'
    args += ["/bin/sh", "-c", f'{setup} && exec "$@"', "sandbox"]
    return args + inner


@cache
def unavailable() -> str | None:
    """None when a sandboxed process starts here; otherwise why it does not."""
    if not sys.platform.startswith("linux"):
        return f"bubblewrap needs Linux (this is {sys.platform})"
    if bwrap_path() is None:
        return "bubblewrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    with tempfile.TemporaryDirectory(prefix="ae-probe-") as tmp:
        files, ipc = Path(tmp, "files"), Path(tmp, "ipc")
        files.mkdir()
        ipc.mkdir()
        probe = [_python(), "-c", "import autoencoder_lib; print('ok')"]
        try:
            result = subprocess.run(
                command(probe, files=files, ipc=ipc, scratch_mb=16),
                capture_output=True,
                text=True,
                timeout=120,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            return f"bubblewrap could not start: {error}"
    if result.returncode != 0 or result.stdout.strip() != "ok":
        detail = (result.stderr or result.stdout).strip().splitlines()[-1:]
        hint = ""
        if detail and ("namespace" in detail[0] or "ermission" in detail[0]):
            hint = (
                "; user namespaces may be disabled (kernel.unprivileged_userns_clone)"
            )
        return (
            "bubblewrap could not start a sandbox here"
            + (f" ({detail[0]})" if detail else "")
            + hint
        )
    return None


class ConfinedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels start under hard limits set from outside
    (:mod:`.confine`): memory, processes and threads, CPU time."""

    memory_bytes = Integer(0, help="RLIMIT_DATA of the kernel; 0: the default.").tag(
        config=True
    )

    def format_kernel_cmd(self, extra_arguments=None):
        inner = self._inner_command(extra_arguments)
        self._confinement = confine.confinement(
            memory_bytes=self.memory_bytes or None,
            scratch_bytes=getattr(self, "scratch_mb", limits.scratch_mb()) * 2**20,
        )
        return self._confinement.command(inner)

    def _inner_command(self, extra_arguments=None):
        return super().format_kernel_cmd(extra_arguments)

    # jupyter_client's shutdown awaits this one; AsyncKernelManager aliases both names.
    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        try:
            await super()._async_cleanup_resources(restart=restart)
        finally:
            confinement = getattr(self, "_confinement", None)
            if confinement is not None:
                confinement.release()

    cleanup_resources = _async_cleanup_resources


class SandboxedKernelManager(ConfinedKernelManager):
    """A kernel manager whose kernels run in the sandbox, reached over IPC sockets."""

    submission_files = Unicode(
        "", help="Host folder of the student's own files, copied into the sandbox."
    ).tag(config=True)

    def __init__(self, **kwargs):
        self._rundir = Path(tempfile.mkdtemp(prefix="ae-kernel-"))
        self._ipc = self._rundir / "ipc"
        self._ipc.mkdir()
        self._files = self._rundir / "files"
        kwargs.setdefault("transport", "ipc")
        kwargs.setdefault("ip", str(self._ipc / "kernel"))
        super().__init__(**kwargs)
        self.connection_file = str(self._ipc / "kernel.json")
        self.scratch_mb = 1024

    def _stage_files(self, cwd: str | None) -> None:
        """The student's files for the kernel: everything in the folder nbgrader
        grades in, except notebooks (the one being graded holds the hidden tests)."""
        self._files.mkdir(exist_ok=True)
        source = Path(cwd) if cwd else None
        if source is None or not source.is_dir():
            return
        for path in source.rglob("*"):
            if path.suffix == ".ipynb" or ".ipynb_checkpoints" in path.parts:
                continue
            target = self._files / path.relative_to(source)
            if path.is_dir() and not path.is_symlink():
                target.mkdir(parents=True, exist_ok=True)
            elif path.is_file() and not path.is_symlink():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)

    def _inner_command(self, extra_arguments=None):
        inner = super()._inner_command(extra_arguments)
        return command(
            inner, files=self._files, ipc=self._ipc, scratch_mb=self.scratch_mb
        )

    async def _async_pre_start_kernel(self, **kw):
        self._stage_files(kw.get("cwd"))
        # The kernel's working folder is inside the sandbox (--chdir); the host one
        # is only where nbgrader writes the graded notebook.
        kw["cwd"] = str(self._rundir)
        # Interrupts go over the control channel: bwrap does not pass signals on.
        if self.kernel_spec is not None:
            self.kernel_spec.interrupt_mode = "message"
        return await super()._async_pre_start_kernel(**kw)

    def seal(self) -> None:
        """Remove the socket folder on the host once the kernel is connected."""
        if self._ipc.is_dir():
            shutil.rmtree(self._ipc, ignore_errors=True)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        try:
            await super()._async_cleanup_resources(restart=restart)
        finally:
            if not restart:
                shutil.rmtree(self._rundir, ignore_errors=True)

    cleanup_resources = _async_cleanup_resources

    def write_connection_file(self, **kwargs):
        result = super().write_connection_file(**kwargs)
        # Readable by the kernel inside; the key only ever served this kernel.
        os.chmod(self.connection_file, 0o644)
        return result


def describe() -> dict:
    """What the sandbox binds, for the README and the report."""
    return {
        "read_only": [str(p) for p in _python_folders() + _data_folders()],
        "writable": f"{SCRATCH} (tmpfs)",
        "network": "none (own network namespace)",
    }


if __name__ == "__main__":
    reason = unavailable()
    print(json.dumps({"available": reason is None, "reason": reason, **describe()}))
