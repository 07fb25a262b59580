"""The configuration a run changes, and putting it back.

A run changes two things of a function, through UpdateFunctionConfiguration: its memory
size (the sweep), and one environment variable it adds, BENCH_AWS_ENVIRONMENTS, whose new
value at each step makes Lambda start new environments (any configuration change does), so
that the cold starts measured are the run's own. Before the first change of a function
its memory size is written to a state file; putting it back means that size and the
variables without BENCH_AWS_ENVIRONMENTS (the others are left as they are then, and no
variable's value is ever written to disk). That happens at the end of the run, after a
failure, on Ctrl-C or SIGTERM (a second one does not interrupt it), and, if the process was
killed outright, from the state file with --restore: a run refuses to start while one
is left.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

MARKER = "BENCH_AWS_ENVIRONMENTS"
# Lambda applies an update in seconds; the waiter polls GetFunction every second.
WAITER = {"Delay": 1, "MaxAttempts": 300}


class Interrupted(BaseException):
    """Ctrl-C or SIGTERM, raised in the main thread (a BaseException, like
    KeyboardInterrupt, so that no `except Exception` swallows it)."""


def interrupt_once() -> None:
    """The first SIGINT or SIGTERM raises Interrupted; any later one is only noted, so
    that nothing can interrupt the restore that follows the first."""
    received: list[str] = []

    def handler(signum: int, frame: object) -> None:
        name = signal.Signals(signum).name
        if received:
            print(f"bench-aws: {name}: already stopping; the configuration is put back first",
                  file=sys.stderr, flush=True)
            return
        received.append(name)
        raise Interrupted(name)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, handler)


@contextmanager
def shielded() -> Iterator[None]:
    """Ctrl-C and SIGTERM are noted, not raised, while the configuration is put back."""
    def note(signum: int, frame: object) -> None:
        print(f"bench-aws: {signal.Signals(signum).name} while restoring: finishing the "
              "restore first", file=sys.stderr, flush=True)

    previous = {sig: signal.signal(sig, note) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def wait_updated(lam: Any, name: str) -> None:
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=WAITER)


class Guard:
    """Changes functions' configuration and puts it back."""

    def __init__(self, lam: Any, state_path: Path, stack: str):
        self.lam = lam
        self.path = state_path
        self.stack = stack
        self.saved: dict[str, dict[str, Any]] = {}
        if state_path.exists():
            self.saved = json.loads(state_path.read_text())["functions"]

    @property
    def pending(self) -> bool:
        return bool(self.saved)

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps({"stack": self.stack, "saved_at": time.time(),
                                         "functions": self.saved}, indent=2))
        os.replace(temporary, self.path)

    def change(self, name: str, original_memory_mb: int, step: str,
               memory_mb: int | None = None) -> None:
        """Sets BENCH_AWS_ENVIRONMENTS to `step` (and the memory size), then waits until
        Lambda has applied it: every invocation from then on runs in a new environment."""
        if name not in self.saved:
            self.saved[name] = {"MemorySize": original_memory_mb}
            self._save()
        wait_updated(self.lam, name)
        config = self.lam.get_function_configuration(FunctionName=name)
        variables = dict((config.get("Environment") or {}).get("Variables") or {})
        variables[MARKER] = step
        update: dict[str, Any] = {"FunctionName": name, "Environment": {"Variables": variables}}
        if memory_mb is not None:
            update["MemorySize"] = memory_mb
        self.lam.update_function_configuration(**update)
        wait_updated(self.lam, name)

    def restore(self) -> list[str]:
        """Puts every changed function back and checks it; the state file goes once all
        are. A function that cannot be put back does not keep the others from it."""
        done, failed = [], []
        with shielded():
            for name, saved in list(self.saved.items()):
                try:
                    self._restore(name, saved["MemorySize"])
                except Exception as error:  # reported below, the others restored first
                    failed.append(f"{name}: {error}")
                    continue
                del self.saved[name]
                done.append(f"{name}: MemorySize {saved['MemorySize']} MB, {MARKER} removed")
            if self.saved:
                self._save()
                raise RuntimeError("; ".join(failed))
            self.path.unlink(missing_ok=True)
        return done

    def _restore(self, name: str, memory_mb: int) -> None:
        wait_updated(self.lam, name)
        config = self.lam.get_function_configuration(FunctionName=name)
        variables = dict((config.get("Environment") or {}).get("Variables") or {})
        if MARKER in variables or config["MemorySize"] != memory_mb:
            variables.pop(MARKER, None)
            self.lam.update_function_configuration(
                FunctionName=name, MemorySize=memory_mb, Environment={"Variables": variables})
            wait_updated(self.lam, name)
        check = self.lam.get_function_configuration(FunctionName=name)
        left = (check.get("Environment") or {}).get("Variables") or {}
        if check["MemorySize"] != memory_mb or MARKER in left:
            raise RuntimeError(f"not restored: MemorySize {check['MemorySize']}, "
                               f"{MARKER} still set: {MARKER in left}")
