"""Where students are graded side by side: threads here, a Dask cluster, or Dask
workers started as Slurm jobs."""

from __future__ import annotations

import os

from . import limits, tasks


def default_workers() -> int:
    """One student per core, as many as memory holds at the kernel's memory cap."""
    cores = tasks.cores()
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        return cores
    return max(1, min(cores, int(memory // limits.kernel_memory_gb())))


def dask_executor(address: str):
    """A ``concurrent.futures`` executor on the Dask cluster at ``address``."""
    try:
        from distributed import Client
    except ImportError as error:
        raise SystemExit(
            "Grading on a cluster needs Dask: pip install -e '.[instructor]'"
        ) from error
    try:
        client = Client(address, timeout="30s")
    except OSError as error:
        raise SystemExit(
            f"No Dask scheduler answers at {address} ({error}). Start one with "
            f"`dask scheduler` and on each grading machine `dask worker {address} "
            "--nthreads N` (N students at once)."
        ) from error
    return client, client.get_executor(pure=False)


# How long the first Slurm job may take to start a worker before the run gives up: a
# busy queue can take a while, a wrong partition or account never starts one.
SLURM_WAIT_ENV = "AUTOENCODER_SLURM_WAIT_S"


def slurm_executor(jobs: int):
    """A ``concurrent.futures`` executor on Dask workers that Slurm runs as ``jobs``
    batch jobs (dask-jobqueue), each grading one student per core it was given.

    The partition, account, walltime, network interface and the rest come from
    Dask's own configuration (``~/.config/dask/jobqueue.yaml``, section
    ``jobqueue.slurm``, or ``DASK_JOBQUEUE__SLURM__QUEUE=...``); only cores and
    memory get defaults here, sized for the grading kernels' memory cap."""
    try:
        import dask
        from dask_jobqueue import SLURMCluster
        from distributed import Client
    except ImportError as error:
        raise SystemExit(
            "Grading on Slurm needs dask-jobqueue: pip install -e '.[instructor]'"
        ) from error
    config = dask.config.get("jobqueue.slurm")
    cores = config.get("cores") or 8
    memory = config.get("memory") or f"{cores * (limits.kernel_memory_gb() + 1):g}GiB"
    # No dashboard unless the configuration asks for one: it would listen on every
    # interface of the instructor's machine.
    scheduler_options = {"dashboard": False, **(config.get("scheduler-options") or {})}
    cluster = SLURMCluster(
        cores=cores,
        memory=memory,
        processes=1,
        name="autoencoder-grading",
        scheduler_options=scheduler_options,
    )
    # Kept at `jobs` throughout: a job that ends (its walltime, a node lost) is
    # replaced, and its students are graded again by the others (Dask reruns them).
    cluster.adapt(minimum_jobs=jobs, maximum_jobs=jobs)
    client = Client(cluster)
    wait = float(os.environ.get(SLURM_WAIT_ENV, limits.MACHINE_TIMEOUT_S))
    try:
        client.wait_for_workers(1, timeout=wait)
    except (TimeoutError, OSError) as error:
        client.close()
        cluster.close()
        raise SystemExit(
            f"No Slurm job started a grading worker within {wait:.0f} s ({error!r}). "
            "Check `squeue --me` and the job's output; the job script was:\n"
            + cluster.job_script()
        ) from error
    return _SlurmClient(client, cluster), client.get_executor(pure=False)


class _SlurmClient:
    """The Dask client, whose close also cancels the Slurm jobs."""

    def __init__(self, client, cluster):
        self.client, self.cluster = client, cluster

    def close(self) -> None:
        try:
            self.client.close()
        finally:
            self.cluster.close()
