"""Peak memory of the whole local platform during the demo: the PSS sum of all its processes, sampled.

PSS (proportional set size, from ``/proc/<pid>/smaps_rollup``) splits each shared page between the
processes mapping it, so the sum over processes is the memory the platform really occupies. The RSS
sum, reported next to it as an upper bound, counts a shared page once per process: Airflow's forked
LocalExecutor workers and task runners share most of their pages with the scheduler, so RSS overstates
the platform by gigabytes. psutil's ``memory_full_info`` parses the full ``smaps`` (slow for JVMs);
the kernel's rollup file is one short read per process.

A process belongs to the platform when it carries the platform run's marker variable
(:data:`edp_local.runtime.supervisor.RUN_MARKER`, inherited by everything a component starts), or descends
from one that does (a child that replaced its environment), or is the demo process or one of its
children (``local_runtime up`` while it starts things). Each process's environment is read once.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import psutil

from edp_local.runtime.supervisor import RUN_MARKER, SERVICE_MARKER

MIB = 1024 * 1024
INTERVAL_S = 0.5
DEMO = "platform_demo"


def proportional_set_size(pid: int) -> int | None:
    """The process's PSS in bytes, or ``None`` where the kernel has no ``smaps_rollup`` (not Linux >= 4.14)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return None


@dataclasses.dataclass
class MemoryPeak:
    bytes: int = 0  # PSS sum (RSS where PSS is unavailable)
    stage: str = ""
    by_component: dict[str, int] = dataclasses.field(default_factory=dict)
    processes: int = 0
    samples: int = 0
    rss_bytes: int = 0  # the highest RSS sum seen (upper bound)
    idle_bytes: int | None = None  # PSS sum once the platform was up, before any event (baseline)

    def to_dict(self) -> dict[str, Any]:
        return {
            "measure": "pss",
            "peak_mib": round(self.bytes / MIB, 1),
            "peak_stage": self.stage,
            "peak_processes": self.processes,
            "peak_by_component_mib": {k: round(v / MIB, 1) for k, v in sorted(self.by_component.items())},
            "peak_rss_sum_mib": round(self.rss_bytes / MIB, 1),
            "idle_mib": None if self.idle_bytes is None else round(self.idle_bytes / MIB, 1),
            "samples": self.samples,
            "interval_s": INTERVAL_S,
        }


class PlatformMemorySampler:
    """Samples every :data:`INTERVAL_S` in a daemon thread between :meth:`start` and :meth:`stop`."""

    def __init__(self, run_id: Callable[[], str | None], stage: Callable[[], str]) -> None:
        self._run_id = run_id
        self._stage = stage
        self._me = os.getpid()
        self._owner: dict[
            tuple[int, float], str | None
        ] = {}  # (pid, create time) -> component, None: not ours
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="memory-sampler", daemon=True)
        self.peak = MemoryPeak()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> MemoryPeak:
        self._stop.set()
        self._thread.join(timeout=10)
        return self.peak

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(INTERVAL_S)

    def _component(self, proc: psutil.Process, run_id: str | None) -> str | None:
        """The component a marked process belongs to; ``None`` for a process of someone else."""
        if proc.pid == self._me:
            return DEMO
        key = (proc.pid, proc.info["create_time"])
        if key in self._owner:
            return self._owner[key]
        try:
            environ = proc.environ()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            environ = {}
        owner = (
            environ.get(SERVICE_MARKER, "platform") if run_id and environ.get(RUN_MARKER) == run_id else None
        )
        if run_id is not None:  # before the run exists, a verdict could still change
            self._owner[key] = owner
        return owner

    def record_idle(self) -> int:
        """Sample now and keep it as the idle baseline (call once the platform is up, before traffic)."""
        total = self.sample()
        self.peak.idle_bytes = total
        return total

    def sample(self) -> int:
        """One sample: the PSS sum now; updates :attr:`peak`."""
        run_id = self._run_id()
        procs = list(psutil.process_iter(["pid", "ppid", "create_time", "memory_info", "name"]))
        parent = {p.pid: p.info["ppid"] for p in procs}
        owner = {p.pid: self._component(p, run_id) for p in procs}
        usage: dict[str, int] = defaultdict(int)
        counted = rss_total = 0
        for proc in procs:
            component = _inherited(proc.pid, owner, parent)
            memory = proc.info["memory_info"]
            if component is None or memory is None:
                continue
            pss = proportional_set_size(proc.pid)
            # Spark JVMs (the streaming job, batch jobs of Airflow tasks) are most of the platform's memory.
            key = f"{component} (JVM)" if proc.info["name"] == "java" else component
            usage[key] += memory.rss if pss is None else pss
            rss_total += memory.rss
            counted += 1
        total = sum(usage.values())
        self.peak.samples += 1
        self.peak.rss_bytes = max(self.peak.rss_bytes, rss_total)
        if total > self.peak.bytes:
            self.peak = dataclasses.replace(
                self.peak, bytes=total, stage=self._stage(), by_component=dict(usage), processes=counted
            )
        return total


def _inherited(pid: int, owner: dict[int, str | None], parent: dict[int, int]) -> str | None:
    """The component of the process or of its nearest owned ancestor (children of the demo are the demo's)."""
    seen = 0
    while pid and seen < 64:
        if owner.get(pid) is not None:
            return owner[pid]
        pid = parent.get(pid, 0)
        seen += 1
    return None
