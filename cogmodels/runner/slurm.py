"""Slurm sweeps through submitit, made to fail fast and to stay quiet.

``cogmodels run -m ... hydra/launcher=slurm`` submits one job array per sweep
through the Hydra submitit plugin; :func:`install` (called by ``cogmodels run``)
adds what that plugin leaves to the user:

* **A request the partition can never meet is refused before submission.**
  :func:`partition_limits` reads the partition's CPUs and memory per node from
  ``sinfo``, and :func:`check_request` names the resource to lower and the
  override that lowers it (``threads=...`` sets ``cpus_per_task``;
  ``hydra.launcher.mem_gb=...``).
* **A job that pends for a reason that will never resolve stops the driver.**
  Slurm accepts such jobs and lets them pend forever (``PartitionConfig``,
  ``ReqNodeNotAvail`` on a partition whose only node is down, ...). The watcher
  reads each job's pending reason from ``squeue``; on one of
  :data:`HOPELESS_REASONS` it cancels the sweep's jobs and raises a
  :class:`~cogmodels.errors.ConfigError` that says what to change.
* **No warning storm without accounting.** submitit polls ``sacct``; on a
  cluster without accounting storage every poll logs "Bypassing sacct error".
  There the watcher polls ``squeue`` instead (one log line at start-up says so).
  ``squeue`` keeps finished jobs for ``MinJobAge`` seconds (300 by default),
  longer than submitit's polling interval, so their final state is seen.

A run that fails inside its job is recorded as failed in the results store with
its error and the job's log file (:func:`cogmodels.runner.app.job_log_path`),
and ``cogmodels results`` lists it.
"""

from __future__ import annotations

import contextlib
import logging
import subprocess
from dataclasses import dataclass


from cogmodels.errors import ConfigError, format_problem

log = logging.getLogger(__name__)

# Pending reasons that no amount of waiting resolves, with what to do about each.
HOPELESS_REASONS = {
    "PartitionConfig": "the request exceeds what the partition allows (CPUs, memory or nodes per job)",
    "PartitionNodeLimit": "the request needs more nodes than the partition allows",
    "PartitionTimeLimit": "the time limit exceeds the partition's maximum (lower hydra.launcher.timeout_min)",
    "ReqNodeNotAvail": "the nodes it needs are down, drained or reserved",
    "Nodes_required_for_job_are_DOWN,_DRAINED_or_reserved_for_jobs_in_higher_priority_partitions":
        "every node of the partition is down, drained or reserved",
    "BadConstraints": "the constraints cannot be met by any node",
    "InvalidQOS": "the QOS does not exist (check hydra.launcher.qos)",
    "InvalidAccount": "the account does not exist (check hydra.launcher.account)",
}


@dataclass(frozen=True)
class PartitionLimits:
    """What one node of a partition offers."""

    partition: str
    cpus_per_node: int
    memory_mb_per_node: int
    n_nodes: int


def _run(command: list[str]) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise ConfigError(format_problem(" ".join(command[:1]), "a reachable Slurm controller",
                                         f"exit status {done.returncode}: {done.stderr.strip()[:300]}",
                                         "check SLURM_CONF and that slurmctld runs (`sinfo`)"))
    return done.stdout


def partition_limits(partition: str | None) -> PartitionLimits:
    """CPUs and memory of the largest node of ``partition`` (None: the default partition), from ``sinfo``."""
    rows = [line.split("|") for line in _run(["sinfo", "--noheader", "--format=%P|%c|%m|%D"]).splitlines() if line]
    for name, cpus, memory, nodes in rows:
        is_default = name.endswith("*")
        if name.rstrip("*") == partition or (partition is None and is_default):
            return PartitionLimits(name.rstrip("*"), int(cpus.rstrip("+")), int(memory.rstrip("+")),
                                   int(nodes))
    known = ", ".join(r[0] for r in rows) or "none"
    raise ConfigError(format_problem("hydra.launcher.partition", "a partition that sinfo lists",
                                     repr(partition), f"use one of: {known}"))


def check_request(params: dict, limits: PartitionLimits) -> None:
    """Refuse a job request that no node of the partition can ever satisfy."""
    cpus = int(params.get("cpus_per_task") or 1) * int(params.get("tasks_per_node") or 1)
    if cpus > limits.cpus_per_node:
        raise ConfigError(format_problem(
            "hydra.launcher.cpus_per_task", f"at most {limits.cpus_per_node} CPUs per node on partition "
            f"{limits.partition!r}", f"{cpus} (cpus_per_task x tasks_per_node)",
            f"lower threads (it sets cpus_per_task), e.g. threads={limits.cpus_per_node}, or pick a larger partition"))
    mem_gb = params.get("mem_gb")
    if mem_gb is not None and float(mem_gb) * 1024 > limits.memory_mb_per_node:
        raise ConfigError(format_problem(
            "hydra.launcher.mem_gb", f"at most {limits.memory_mb_per_node / 1024:.1f} GB per node on partition "
            f"{limits.partition!r}", f"{mem_gb} GB",
            f"lower it, e.g. hydra.launcher.mem_gb={max(1, int(limits.memory_mb_per_node / 1024))}"))
    if int(params.get("nodes") or 1) > limits.n_nodes:
        raise ConfigError(format_problem("hydra.launcher.nodes", f"at most {limits.n_nodes} on partition "
                                         f"{limits.partition!r}", str(params.get("nodes")),
                                         f"hydra.launcher.nodes={limits.n_nodes}"))


def accounting_enabled() -> bool:
    """Whether the cluster keeps job accounting (so that ``sacct`` answers)."""
    for line in _run(["scontrol", "show", "config"]).splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "AccountingStorageType":
            return value.strip() not in ("", "accounting_storage/none", "(null)")
    return False


def _watcher_class(use_squeue: bool):
    from submitit.slurm.slurm import SlurmInfoWatcher

    class PendingAwareWatcher(SlurmInfoWatcher):
        """submitit's watcher, plus ``squeue`` for pending reasons (and for states where ``sacct`` is absent)."""

        def _make_command(self):
            if not use_squeue:
                return super()._make_command()
            ids = sorted({job.split("_")[0] for job in self._registered - self._finished})
            return ["squeue", "--noheader", "--array", "--states=all", "--format=%i|%T|%N|%r",
                    "--jobs=" + ",".join(ids)] if ids else None

        def read_info(self, string):
            if not use_squeue:
                info = super().read_info(string)
                _raise_if_hopeless(_squeue_states(self._registered - self._finished))
                return info
            info = _parse_squeue(string.decode() if isinstance(string, bytes) else string)
            _raise_if_hopeless(info)
            return info

    return PendingAwareWatcher


def _parse_squeue(text: str) -> dict:
    info = {}
    for line in text.splitlines():
        job_id, state, nodes, reason = (line.split("|") + ["", "", "", ""])[:4]
        if job_id:
            info[job_id.strip()] = {"State": state.strip(), "NodeList": nodes.strip(), "Reason": reason.strip()}
    return info


def _squeue_states(job_ids) -> dict:
    ids = sorted({j.split("_")[0] for j in job_ids})
    if not ids:
        return {}
    done = subprocess.run(["squeue", "--noheader", "--array", "--format=%i|%T|%N|%r", "--jobs=" + ",".join(ids)],
                          capture_output=True, text=True, timeout=60)
    return _parse_squeue(done.stdout) if done.returncode == 0 else {}


def _reason_code(reason: str) -> str:
    """``ReqNodeNotAvail, UnavailableNodes:vm`` -> ``ReqNodeNotAvail``."""
    code = reason.strip().strip("()")
    return code if code in HOPELESS_REASONS else code.split(",")[0].split(" ")[0]


def _raise_if_hopeless(info: dict) -> None:
    stuck = {job: _reason_code(row.get("Reason", "")) for job, row in info.items() if row.get("State") == "PENDING"}
    stuck = {job: reason for job, reason in stuck.items() if reason in HOPELESS_REASONS}
    if not stuck:
        return
    subprocess.run(["scancel", *sorted({job.split("_")[0] for job in stuck})], capture_output=True, timeout=60)
    job, reason = sorted(stuck.items())[0]
    raise ConfigError(format_problem(
        f"Slurm job {job}", "a job the cluster can start",
        f"pending with reason {reason}: {HOPELESS_REASONS[reason]} ({len(stuck)} job(s) cancelled)",
        "lower the request: threads=N sets cpus_per_task, hydra.launcher.mem_gb=N the memory, "
        "hydra.launcher.partition=P the partition (see `sinfo` for what each node has)"))


@contextlib.contextmanager
def _jobs_watched_by(watcher) -> None:
    from submitit.slurm.slurm import SlurmJob

    saved = SlurmJob.watcher
    SlurmJob.watcher = watcher
    try:
        yield
    finally:
        SlurmJob.watcher = saved


def checked_launch(plugin_launch):
    """Wrap the plugin's ``SlurmLauncher.launch``: check the request, watch pending reasons, poll quietly."""

    def launch(self, job_overrides, initial_job_idx):
        params = dict(self.params)
        check_request(params, partition_limits(params.get("partition")))
        use_squeue = not accounting_enabled()
        if use_squeue:
            log.info("Slurm keeps no job accounting here: job states are polled with squeue")
        with _jobs_watched_by(_watcher_class(use_squeue)(delay_s=10 if use_squeue else 60)):
            return plugin_launch(self, job_overrides, initial_job_idx)

    launch.cogmodels_checked = True
    return launch


def install() -> None:
    """Give the Hydra submitit Slurm launcher the checks of this module (idempotent).

    Hydra instantiates launchers only from the ``hydra_plugins`` namespace, so the
    plugin's class is kept (``hydra/launcher=slurm`` stays the plugin's config) and its
    ``launch`` is wrapped in place; ``cogmodels run`` calls this before Hydra starts.
    """
    try:
        from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher
    except ImportError:  # the `cluster` extra is not installed: no Slurm launcher to wrap
        return
    if not getattr(SlurmLauncher.launch, "cogmodels_checked", False):
        SlurmLauncher.launch = checked_launch(SlurmLauncher.launch)
