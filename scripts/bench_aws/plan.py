"""What a run will do, how many invocations and configuration updates that is, and what it
should cost: printed before anything runs, and all a dry run does."""

from __future__ import annotations

from dataclasses import dataclass

from .prices import Prices, invocation_cost
from .stack import BURST, Stack


@dataclass(frozen=True)
class Settings:
    phases: tuple[str, ...]  # "burst", "sweep"
    invocations: int  # per variant, in the burst
    concurrency: int
    memory_sizes: tuple[int, ...]
    cold: int  # cold starts per size: invocations sent at once to new environments
    warm: int  # warm invocations per size, one after another
    sweep: tuple[str, ...]  # output keys of the functions the sweep measures
    assumed_ms: float  # for the estimate only


@dataclass(frozen=True)
class Step:
    text: str
    invocations: int
    updates: int
    expected: float  # dollars at the assumed duration
    worst: float  # dollars if every invocation ran until its timeout


def steps(stack: Stack, s: Settings, prices: Prices) -> list[Step]:
    plan: list[Step] = []
    changed: set[str] = set()
    if "burst" in s.phases:
        functions = [stack.functions[o] for o in BURST]
        expected = worst = 0.0
        for f in functions:
            if f.managed_instances:
                # Billed per request and per instance-hour (the instances run anyway), not
                # per GB-second: the requests are what the burst adds.
                requests = s.invocations * prices.per_million_requests / 1e6
                expected, worst = expected + requests, worst + requests
                continue
            expected += s.invocations * invocation_cost(prices, f.architecture, f.memory_mb, s.assumed_ms)
            worst += s.invocations * invocation_cost(prices, f.architecture, f.memory_mb, f.timeout_s * 1000)
        names = " and ".join(f"{f.key} ({f.name}, {f.memory_mb} MB)" for f in functions)
        forced = [f for f in functions if not f.managed_instances]
        how = ("one configuration update each" if len(forced) == len(functions) else
               "one configuration update each, none on Managed Instances")
        plan.append(Step(
            f"burst: new environments for {names} ({how}), then {s.invocations} invocations "
            f"of each at concurrency {s.concurrency}, naive first",
            2 * s.invocations, len(forced), expected, worst))
        changed.update(f.name for f in forced)
    if "sweep" in s.phases:
        for output in s.sweep:
            f = stack.functions[output]
            if f.managed_instances:
                plan.append(Step(f"memory sweep: {f.key} skipped: on Managed Instances a new "
                                 "memory size runs only once a version is published", 0, 0,
                                 0.0, 0.0))
                continue
            per_size = s.cold + s.warm
            expected = sum(per_size * invocation_cost(prices, f.architecture, size, s.assumed_ms)
                           for size in s.memory_sizes)
            worst = sum(per_size * invocation_cost(prices, f.architecture, size, f.timeout_s * 1000)
                        for size in s.memory_sizes)
            sizes = ", ".join(str(size) for size in s.memory_sizes)
            plan.append(Step(
                f"memory sweep of {f.key} ({f.name}): at {sizes} MB, set the size (one update "
                f"each), {s.cold} invocations at once (cold), then {s.warm} one after another "
                "(warm)", per_size * len(s.memory_sizes), len(s.memory_sizes), expected, worst))
            changed.add(f.name)
    if changed:
        plan.append(Step(
            f"restore: MemorySize and environment variables of {', '.join(sorted(changed))} as "
            "they are now (also after a failure, Ctrl-C or SIGTERM)", 0, len(changed), 0.0, 0.0))
    return plan


def describe(stack: Stack, s: Settings, prices: Prices) -> str:
    plan = steps(stack, s, prices)
    lines = [f"stack {stack.name} in {stack.region}; parameters: "
             + ", ".join(f"{k}={v}" for k, v in stack.shown_parameters.items())]
    lines.append(f"proxy: {stack.proxy_name}" if stack.proxy_name else
                 "proxy: none in this stack (no DatabaseProxyName output)")
    lines.append("plan:")
    for i, step in enumerate(plan, 1):
        lines.append(f"  {i}. {step.text}: {step.invocations} invocations, {step.updates} updates")
    invocations = sum(step.invocations for step in plan)
    updates = sum(step.updates for step in plan)
    expected = sum(step.expected for step in plan)
    worst = sum(step.worst for step in plan)
    lines.append(f"invocations: {invocations}; configuration updates: {updates}")
    lines.append(
        f"estimated Lambda cost: ${expected:.4f} at {s.assumed_ms:g} ms per invocation, at most "
        f"${worst:.4f} if every invocation ran until its timeout (prices of {prices.date}: "
        f"${prices.x86_64_per_gb_second:.10f}/GB-s x86_64, ${prices.arm64_per_gb_second:.10f}/GB-s "
        f"arm64, ${prices.per_million_requests:.2f} per million requests; no free tier; on Managed "
        "Instances the requests only). Not included: CloudWatch Logs ingestion and "
        "FilterLogEvents, GetMetricStatistics, the database, the proxy and Managed Instances' "
        "instances, which bill by the hour whether this runs or not.")
    return "\n".join(lines)


def invocation_count(stack: Stack, s: Settings, prices: Prices) -> int:
    return sum(step.invocations for step in steps(stack, s, prices))
