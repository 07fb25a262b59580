"""The memory setting: for each function and memory size, set the size, then cold starts
(invocations sent at once to the new environments the update forces) and warm invocations
(one after another, on the environments those left). Whether each invocation was cold is
read from Lambda's report (Init Duration), not assumed."""

from __future__ import annotations

import threading
from typing import Any, Callable

from .changes import Guard
from .invoke import run_concurrently
from .plan import Settings
from .stack import Stack


def run(lam: Any, stack: Stack, guard: Guard, s: Settings, run_id: str, stop: threading.Event,
        payload: Callable[[str, int], dict[str, Any]], say: Callable[[str], None],
        result: dict[str, Any]) -> None:
    """Fills `result` as it goes: what was measured before an interruption is kept."""
    result.update(memory_sizes=list(s.memory_sizes), cold=s.cold, warm=s.warm, functions=[])
    for output in s.sweep:
        f = stack.functions[output]
        entry: dict[str, Any] = {"key": f.key, "function": f.name, "architecture": f.architecture,
                                 "original_memory_mb": f.memory_mb, "sizes": []}
        result["functions"].append(entry)
        if f.managed_instances:
            entry["skipped"] = ("Lambda Managed Instances: a new memory size runs only once a "
                                "version is published, which this harness does not do")
            continue
        for size in s.memory_sizes:
            if stop.is_set():
                return
            say(f"sweep: {f.key} at {size} MB")
            guard.change(f.name, f.memory_mb, f"{run_id}-{size}", memory_mb=size)
            cold = run_concurrently(lam, f.name, lambda i: payload(output, i), s.cold, s.cold, stop)
            warm = run_concurrently(lam, f.name, lambda i: payload(output, s.cold + i), s.warm, 1,
                                    stop)
            entry["sizes"].append({"memory_mb": size,
                                   "cold": [r.to_json() for r in cold],
                                   "warm": [r.to_json() for r in warm]})
