"""A real single-node Slurm cluster for the tests, started from Debian's packages.

The fixture starts munge, slurmctld and slurmd for one node (this machine, with its
real CPU count and memory) inside a temporary folder, on free ports, and stops them
by their PIDs afterwards.  Nothing outside that folder is touched: the daemons read
``SLURM_CONF`` and the munge socket given there, so a system Slurm, if any, is left
alone.

Tests that use it are marked ``slurm``; they skip, with the reason, where the
daemons are missing or the process is not root.  To run them by hand::

    apt-get install -y slurmctld slurmd slurm-client munge
    .venv/bin/python -m pytest -m slurm tests/slurm
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo")
START_TIMEOUT_S = 60


@dataclass
class SlurmCluster:
    """A running test cluster: its folder, its ``slurm.conf`` and the environment that points at it."""

    root: Path
    conf: Path
    partition: str
    cpus: int
    memory_mb: int

    @property
    def env(self) -> dict:
        return {**os.environ, "SLURM_CONF": str(self.conf)}


def _missing_reason() -> str | None:
    if os.name != "posix" or os.geteuid() != 0:
        return "the Slurm test cluster runs its daemons as root; this process is not root"
    missing = [name for name in DAEMONS if shutil.which(name) is None
               and not Path("/usr/sbin", name).exists()]
    if missing:
        return (f"Slurm daemons missing ({', '.join(missing)}); "
                "install them with: apt-get install -y slurmctld slurmd slurm-client munge")
    return None


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _binary(name: str) -> str:
    return shutil.which(name) or str(Path("/usr/sbin") / name)


def _memory_mb() -> int:
    with open("/proc/meminfo") as f:
        total_kb = next(int(line.split()[1]) for line in f if line.startswith("MemTotal"))
    return total_kb // 1024 - 1024  # leave 1 GiB to the system, as slurmd would report slightly less


def write_conf(root: Path, host: str, cpus: int, memory_mb: int, partition: str = "debug") -> Path:
    """Write a minimal slurm.conf for one node, without accounting storage."""
    ctld_port, d_port = _free_ports(2)
    conf = root / "slurm.conf"
    conf.write_text("\n".join([
        "ClusterName=cogmodels-test",
        f"SlurmctldHost={host}",
        f"SlurmctldPort={ctld_port}",
        f"SlurmdPort={d_port}",
        "AuthType=auth/munge",
        f"AuthInfo=socket={root / 'munge' / 'munge.socket'}",
        "CredType=cred/munge",
        "SlurmUser=root",
        "SlurmdUser=root",
        f"StateSaveLocation={root / 'state'}",
        f"SlurmdSpoolDir={root / 'spool'}",
        f"SlurmctldPidFile={root / 'slurmctld.pid'}",
        f"SlurmdPidFile={root / 'slurmd.pid'}",
        f"SlurmctldLogFile={root / 'log' / 'slurmctld.log'}",
        f"SlurmdLogFile={root / 'log' / 'slurmd.log'}",
        "ProctrackType=proctrack/linuxproc",
        "TaskPlugin=task/none",
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_Core_Memory",
        "ReturnToService=2",
        "SchedulerType=sched/backfill",
        "MpiDefault=none",
        "JobAcctGatherType=jobacct_gather/none",
        "AccountingStorageType=accounting_storage/none",
        # schedule quickly: the tests submit small jobs and wait for them
        "SchedulerParameters=sched_interval=1",
        "MessageTimeout=20",
        f"NodeName={host} CPUs={cpus} RealMemory={memory_mb} State=UNKNOWN",
        f"PartitionName={partition} Nodes={host} Default=YES MaxTime=INFINITE State=UP",
        "",
    ]))
    return conf


def _start_munge(root: Path) -> None:
    munge = root / "munge"
    munge.mkdir(mode=0o700)
    key = munge / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    subprocess.run([_binary("munged"), f"--key-file={key}", f"--socket={munge / 'munge.socket'}",
                    f"--pid-file={munge / 'munged.pid'}", f"--log-file={munge / 'munged.log'}",
                    f"--seed-file={munge / 'seed'}", "--force"], check=True, capture_output=True)


def _wait_until_idle(cluster: SlurmCluster) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    state = ""
    while time.monotonic() < deadline:
        out = subprocess.run(["sinfo", "--noheader", "--format=%t"], env=cluster.env,
                             capture_output=True, text=True)
        state = out.stdout.strip()
        if state in ("idle", "mix", "alloc"):
            return
        time.sleep(0.5)
    logs = "\n".join(p.read_text()[-2000:] for p in sorted((cluster.root / "log").glob("*.log")))
    raise RuntimeError(f"the test Slurm node did not become idle in {START_TIMEOUT_S} s "
                       f"(sinfo state {state!r}). Daemon logs:\n{logs}")


def _stop(root: Path) -> None:
    for pid_file in (root / "slurmd.pid", root / "slurmctld.pid", root / "munge" / "munged.pid"):
        try:
            pid = int(pid_file.read_text().strip())
        except (OSError, ValueError):
            continue
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        for _ in range(50):  # up to 5 s, then force
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory) -> SlurmCluster:
    """Start a one-node Slurm cluster for the test session; stop it afterwards."""
    reason = _missing_reason()
    if reason:
        pytest.skip(reason)
    # a short path: munge's socket path must fit in sun_path (108 bytes)
    root = Path(tmp_path_factory.mktemp("slurm", numbered=True))
    for sub in ("state", "spool", "log"):
        (root / sub).mkdir()
    cpus, memory_mb = os.cpu_count() or 1, _memory_mb()
    cluster = SlurmCluster(root=root, conf=write_conf(root, socket.gethostname(), cpus, memory_mb),
                           partition="debug", cpus=cpus, memory_mb=memory_mb)
    try:
        _start_munge(root)
        for daemon in ("slurmctld", "slurmd"):
            subprocess.run([_binary(daemon), "-f", str(cluster.conf)], env=cluster.env,
                           check=True, capture_output=True)
        _wait_until_idle(cluster)
        yield cluster
    finally:
        _stop(root)
