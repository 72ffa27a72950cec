"""A small sampling profiler for every thread of this process (cProfile sees only one thread).

Every ``interval`` seconds it reads each thread's CPU clock and charges the CPU the thread used
since the last sample to the thread's role (by its name) and to its innermost non-stdlib Python
frame, by package and by function. C code (ssl, lxml, sqlite) is charged to its Python caller.
Sampling, so approximate; good enough to show which layer the controller's CPU goes to.
"""

from __future__ import annotations

import gc
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import PurePath
from types import FrameType
from typing import Any


def package_of(filename: str) -> str:
    """A readable owner for a source file: the top package under site-packages, or stdlib."""
    parts = PurePath(filename).parts
    if "site-packages" in parts:
        rest = parts[parts.index("site-packages") + 1 :]
        return rest[0].removesuffix(".py") if rest else "site-packages"
    if "qkd_macsec" in parts:
        rest = parts[parts.index("qkd_macsec") + 1 :]
        return "qkd_macsec." + (rest[0].removesuffix(".py") if rest else "")
    return "stdlib:" + PurePath(filename).stem


def thread_role(name: str) -> str:
    """What a thread does, from its name: the event loop, a device session, an SSH transport."""
    if name == "MainThread":
        return "event loop (KME client, journal, planning)"
    if name.startswith("device"):
        return "device sessions (PyEZ, ncclient, XML)"
    return "other threads (paramiko SSH transports)"


@dataclass
class Sampler:
    interval: float = 0.01
    samples: int = 0
    busy: Counter[str] = field(default_factory=Counter)  # CPU seconds by package
    functions: Counter[str] = field(default_factory=Counter)  # CPU seconds by function
    roles: Counter[str] = field(default_factory=Counter)  # CPU seconds by thread role
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _cpu: dict[int, float] = field(default_factory=dict)

    def _thread_cpu(self, ident: int) -> float | None:
        try:
            return time.clock_gettime(time.pthread_getcpuclockid(ident))
        except (OSError, OverflowError):
            return None  # the thread has just ended

    def _sample(self, ident: int, role: str, frame: FrameType) -> None:
        cpu = self._thread_cpu(ident)
        if cpu is None:
            return
        spent = cpu - self._cpu.get(ident, cpu)
        self._cpu[ident] = cpu
        if spent <= 0:
            return
        self.roles[role] += spent
        inner: FrameType | None = frame
        while inner is not None and package_of(inner.f_code.co_filename).startswith("stdlib:"):
            inner = inner.f_back
        code = (inner or frame).f_code
        package = package_of(code.co_filename)
        self.busy[package] += spent
        self.functions[f"{package}:{code.co_name}"] += spent

    def _loop(self) -> None:
        me = threading.get_ident()
        while not self._stop.wait(self.interval):
            self.samples += 1
            names = {t.ident: t.name for t in threading.enumerate()}
            # sys._current_frames() holds the interpreter's thread-list lock; a garbage
            # collection inside it runs Python callbacks that wait for the GIL while a thread
            # that is exiting holds the GIL and waits for that lock: a deadlock (seen at 600
            # threads). No collection may start during the call.
            gc.disable()
            try:
                frames = sys._current_frames()
            finally:
                gc.enable()
            for ident, frame in frames.items():
                if ident != me:
                    self._sample(ident, thread_role(names.get(ident, "?")), frame)

    def __enter__(self) -> Sampler:
        self._thread = threading.Thread(target=self._loop, name="sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def summary(self, top: int = 12) -> dict[str, Any]:
        total = sum(self.busy.values()) or 1.0
        return {
            "samples": self.samples,
            "interval_s": self.interval,
            "cpu_s_sampled": round(total, 3),
            "cpu_by_thread_role": [
                [name, round(100 * seconds / total, 1)]
                for name, seconds in self.roles.most_common()
            ],
            "busy_by_package": [
                [name, round(100 * count / total, 1)] for name, count in self.busy.most_common(top)
            ],
            "busy_by_function": [
                [name, round(100 * count / total, 1)]
                for name, count in self.functions.most_common(top)
            ],
        }
