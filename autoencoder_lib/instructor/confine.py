"""Hard limits on a grading kernel, set from outside it.

The grader starts every kernel through :func:`wrap`'s command line: a small launcher,
run by the trusted side, that joins a control group made for that kernel where the
machine allows it (Linux cgroups v1 or v2, writable: ``pids.max`` and a memory ceiling)
and sets the resource limits, soft and hard alike, before it becomes the kernel (or
the sandbox around it). No code inside can raise a hard limit or leave its control
group, so a notebook cannot lift them:

- memory: RLIMIT_DATA at the grading limit (an allocation past it raises
  ``MemoryError`` in the cell), and where cgroups serve, a ceiling on everything the
  kernel's processes hold (the limit, its scratch space and 1 GiB), past which the
  kernel is killed;
- processes and threads: ``pids.max`` in the kernel's control group; without cgroups,
  RLIMIT_NPROC (which Linux does not apply to root, so an instructor grading as root
  without writable cgroups has no process cap, and the report says so);
- CPU time: RLIMIT_CPU per process.

Students never call this.
"""

from __future__ import annotations

import os
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from . import limits

CGROUP_ROOT = Path("/sys/fs/cgroup")
GROUP_PREFIX = "autoencoder-grading-"


@dataclass
class Confinement:
    """The limits of one kernel, and the control groups that enforce some of them."""

    memory_bytes: int
    tasks: int
    cpu_seconds: int
    groups: list[Path] = field(default_factory=list)

    def command(self, inner: list[str]) -> list[str]:
        """``inner`` started under these limits (through this module's launcher)."""
        launcher = [os.path.abspath(sys.executable), "-I", "-m", __name__]
        args = [
            f"--memory={self.memory_bytes}",
            f"--tasks={self.tasks}",
            f"--cpu={self.cpu_seconds}",
        ]
        args += [f"--group={g}" for g in self.groups]
        return [*launcher, *args, "--", *inner]

    @property
    def tasks_capped(self) -> bool:
        """Whether the process cap holds (a control group, or a user other than
        root, to whom RLIMIT_NPROC applies)."""
        return any((g / "pids.max").exists() for g in self.groups) or os.geteuid() != 0

    def release(self) -> None:
        """End whatever is left in the kernel's control groups, and remove them."""
        for group in self.groups:
            _kill_all(group)
            try:
                group.rmdir()
            except OSError:
                pass
        self.groups = []


def _own_group(controller: str) -> Path | None:
    """This process's control group for ``controller`` (v1), or with ``""`` its v2
    group."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, names, path = line.split(":", 2)
        if controller in names.split(","):
            return (CGROUP_ROOT / controller / path.lstrip("/")).resolve()
    return None


def _write(path: Path, value: str) -> bool:
    try:
        path.write_text(value)
        return True
    except OSError:
        return False


def _make_group(parent: Path | None, settings: dict[str, str]) -> Path | None:
    if parent is None or not parent.is_dir():
        return None
    group = parent / f"{GROUP_PREFIX}{uuid.uuid4().hex[:12]}"
    try:
        group.mkdir()
    except OSError:
        return None
    if all(_write(group / name, value) for name, value in settings.items()):
        return group
    try:
        group.rmdir()
    except OSError:
        pass
    return None


def _kill_all(group: Path) -> None:
    import signal

    for _ in range(20):
        try:
            pids = [int(p) for p in (group / "cgroup.procs").read_text().split()]
        except (OSError, ValueError):
            return
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        import time

        time.sleep(0.05)


def confinement(
    memory_bytes: int | None = None,
    tasks: int | None = None,
    cpu_seconds: int | None = None,
    scratch_bytes: int | None = None,
) -> Confinement:
    """Limits for one new kernel, with its control groups made where that works."""
    memory_bytes = memory_bytes or int(limits.kernel_memory_gb() * 2**30)
    tasks = tasks or limits.kernel_tasks()
    cpu_seconds = cpu_seconds or limits.kernel_cpu_s()
    scratch_bytes = scratch_bytes or limits.scratch_mb() * 2**20
    ceiling = memory_bytes + scratch_bytes + 2**30
    found = Confinement(memory_bytes, tasks, cpu_seconds)
    if not sys.platform.startswith("linux") or os.environ.get(limits.NO_CGROUPS_ENV):
        return found
    unified = CGROUP_ROOT / "cgroup.controllers"
    if unified.is_file():  # cgroups v2: one group, where pids and memory are delegated
        group = _make_group(
            _own_group(""), {"pids.max": str(tasks), "memory.max": str(ceiling)}
        )
        if group is not None:
            found.groups.append(group)
        return found
    pids = _make_group(_own_group("pids"), {"pids.max": str(tasks)})
    if pids is not None:
        found.groups.append(pids)
    memory = _make_group(
        _own_group("memory"),
        {"memory.limit_in_bytes": str(ceiling)},
    )
    if memory is not None:
        found.groups.append(memory)
    return found


def _launch(argv: list[str]) -> None:
    """The launcher: join the groups, set the limits, become ``argv``'s command."""
    import resource

    options, command = argv[: argv.index("--")], argv[argv.index("--") + 1 :]
    values: dict[str, list[str]] = {}
    for option in options:
        key, _, value = option.lstrip("-").partition("=")
        values.setdefault(key, []).append(value)
    for group in values.get("group", []):
        Path(group, "cgroup.procs").write_text(str(os.getpid()))
    memory = int(values["memory"][0])
    resource.setrlimit(resource.RLIMIT_DATA, (memory, memory))
    cpu = int(values["cpu"][0])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    if not any(Path(g, "pids.max").exists() for g in values.get("group", [])):
        # Counted over all of the user's processes, not the kernel's alone: wider.
        tasks = 4 * int(values["tasks"][0])
        resource.setrlimit(resource.RLIMIT_NPROC, (tasks, tasks))
    os.execvp(command[0], command)


if __name__ == "__main__":
    _launch(sys.argv[1:])
