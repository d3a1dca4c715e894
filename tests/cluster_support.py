"""A real Spark standalone cluster on 127.0.0.1 for tests, and a Python that lacks our package.

:func:`standalone_cluster` starts a master and workers with the ``spark-class``
script of the installed pyspark (the same classes ``sbin/start-master.sh`` and
``start-worker.sh`` run), waits until every worker has registered, and stops
them all afterwards. :func:`bare_python` makes an interpreter that sees numpy
and pyspark (and the rest of the project's environment) but *not* kmeans_spark,
as on a cluster where only pyspark and numpy are installed: a job that works
with it got the package from ``--py-files``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pyspark

SPARK_HOME = Path(pyspark.__file__).resolve().parent
SPARK_CLASS = SPARK_HOME / "bin" / "spark-class"
SPARK_SUBMIT = SPARK_HOME / "bin" / "spark-submit"
MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"
LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def cluster_env(**extra: str) -> dict[str, str]:
    """Environment for the cluster's daemons and for spark-submit: everything on loopback."""
    env = dict(os.environ)
    env["SPARK_LOCAL_IP"] = LOOPBACK
    env["SPARK_HOME"] = str(SPARK_HOME)
    # A proxy must not see the master's JSON page.
    env["NO_PROXY"] = env["no_proxy"] = LOOPBACK
    env.update(extra)
    return env


@dataclass
class StandaloneCluster:
    """A running master and its workers.

    Attributes
    ----------
    master_url : str
        ``spark://127.0.0.1:PORT``, for ``spark-submit --master``.
    web_url : str
        The master's web UI; ``<web_url>/json/`` describes the cluster.
    log_dir : Path
        One log file per daemon.
    """

    master_url: str
    web_url: str
    log_dir: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    worker_arguments: list[list[str]] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)

    def state(self) -> dict[str, object]:
        """The master's JSON view of the cluster (workers, applications)."""
        with urllib.request.urlopen(f"{self.web_url}/json/", timeout=5) as response:
            return dict(json.load(response))

    def alive_workers(self) -> int:
        try:
            return int(self.state().get("aliveworkers", 0))  # type: ignore[call-overload]
        except OSError:
            return 0

    def log_tails(self, lines: int = 30) -> str:
        """The last lines of every daemon's log, for assertion messages."""
        parts = []
        for path in sorted(self.log_dir.glob("*.log")):
            tail = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {path.name}\n" + "\n".join(tail))
        return "\n".join(parts)

    def kill_worker(self, index: int) -> None:
        """SIGKILL worker ``index`` and the executors it runs (its process group)."""
        worker = self.processes[1 + index]
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()

    def restart_worker(self, index: int, timeout: float = 120.0) -> None:
        """Start worker ``index`` again (after :meth:`kill_worker`) and wait until it registers.

        Its log goes to a new file; it runs executors in the same work folder.
        """
        if self.processes[1 + index].poll() is None:
            raise RuntimeError(f"worker {index} is still running")
        restarts = len(list(self.log_dir.glob(f"worker-{index}*.log")))
        log_path = self.log_dir / f"worker-{index}-restart-{restarts}.log"
        self.processes[1 + index] = _start(self.worker_arguments[index], log_path, self.env)
        expected = sum(worker.poll() is None for worker in self.processes[1:])
        deadline = time.monotonic() + timeout
        while self.alive_workers() != expected:
            if time.monotonic() > deadline or self.processes[1 + index].poll() is not None:
                raise RuntimeError(f"worker {index} did not come back:\n" + self.log_tails())
            time.sleep(0.5)

    def stop(self) -> None:
        """Stop workers first, then the master; kill what does not stop in 20 s."""
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for process in reversed(self.processes):
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _start(arguments: list[str], log_path: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [str(SPARK_CLASS), *arguments],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )


@contextmanager
def standalone_cluster(
    work_dir: Path,
    workers: int = 2,
    cores: int = 1,
    memory: str = "2g",
    timeout: float = 120.0,
) -> Iterator[StandaloneCluster]:
    """Run a standalone master and ``workers`` workers on 127.0.0.1 for the block.

    Parameters
    ----------
    work_dir : Path
        Logs go to ``work_dir/logs``, each worker's executors run in ``work_dir/worker-<i>``.
    workers, cores, memory
        Workers, and the cores and memory each offers.
    timeout : float
        Seconds to wait for every worker to register.

    Yields
    ------
    StandaloneCluster

    Raises
    ------
    RuntimeError
        When the workers have not registered in time; the message holds the logs.
    """
    log_dir = work_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    port, web_port = free_port(), free_port()
    env = cluster_env()
    cluster = StandaloneCluster(
        f"spark://{LOOPBACK}:{port}", f"http://{LOOPBACK}:{web_port}", log_dir, env=env
    )
    try:
        master_args = [MASTER_CLASS, "--host", LOOPBACK, "--port", str(port)]
        master_args += ["--webui-port", str(web_port)]
        cluster.processes.append(_start(master_args, log_dir / "master.log", env))
        for index in range(workers):
            worker_dir = work_dir / f"worker-{index}"
            worker_dir.mkdir(exist_ok=True)
            worker_args = [WORKER_CLASS, "--host", LOOPBACK, "--cores", str(cores)]
            worker_args += ["--memory", memory, "--work-dir", str(worker_dir)]
            worker_args += ["--webui-port", str(free_port()), cluster.master_url]
            cluster.worker_arguments.append(worker_args)
            cluster.processes.append(_start(worker_args, log_dir / f"worker-{index}.log", env))
        deadline = time.monotonic() + timeout
        while cluster.alive_workers() < workers:
            if time.monotonic() > deadline or any(p.poll() is not None for p in cluster.processes):
                raise RuntimeError(
                    f"standalone cluster did not come up with {workers} workers:\n"
                    + cluster.log_tails()
                )
            time.sleep(0.5)
        yield cluster
    finally:
        cluster.stop()


def bare_python(venv_dir: Path) -> Path:
    """An interpreter that imports numpy and pyspark but not kmeans_spark.

    A virtual environment without pip whose one ``.pth`` line appends this
    environment's site-packages to ``sys.path``. Python processes ``.pth`` files
    only in site directories, not in directories a ``.pth`` line adds, so the
    editable install of kmeans_spark (itself a ``.pth`` hook) stays invisible.

    Returns
    -------
    Path
        The interpreter, ``venv_dir/bin/python``.
    """
    python = venv_dir / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv_dir)], check=True)
        purelib = Path(sysconfig.get_paths()["purelib"])
        probe = [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
        bare_site = Path(
            subprocess.run(probe, check=True, capture_output=True, text=True).stdout.strip()
        )
        (bare_site / "project-packages.pth").write_text(f"{purelib}\n")
    return python
