"""What invocations cost on classic Lambda: requests plus GB-seconds of billed duration.

The defaults are AWS's public on-demand prices for US East (N. Virginia), first tier
(https://aws.amazon.com/lambda/pricing/: $0.0000166667 per GB-second on x86_64,
$0.0000133334 on arm64, $0.20 per million requests), unchanged since arm64 functions came
out in 2021, written down on PRICES_DATE without reading that page (no web access where
this was written); they are parameters (--price-*) because regions and dates differ. No
free tier is subtracted. Billed duration is what Lambda's report says, init included where
Lambda bills it (custom runtimes such as provided.al2023 always have been; every runtime
since 2025-08-01). Lambda Managed Instances are billed per instance, not per GB-second:
not estimated here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

PRICES_DATE = "2026-12-01"


@dataclass(frozen=True)
class Prices:
    x86_64_per_gb_second: float = 0.0000166667
    arm64_per_gb_second: float = 0.0000133334
    per_million_requests: float = 0.20
    date: str = PRICES_DATE

    def per_gb_second(self, architecture: str) -> float:
        if architecture == "arm64":
            return self.arm64_per_gb_second
        if architecture == "x86_64":
            return self.x86_64_per_gb_second
        raise ValueError(f"unknown architecture {architecture!r}")


def billed_ms(duration_ms: float) -> int:
    """Lambda bills duration rounded up to the millisecond."""
    return max(1, math.ceil(duration_ms))


def invocation_cost(prices: Prices, architecture: str, memory_mb: int, billed: float) -> float:
    """Dollars for one invocation billed `billed` ms at `memory_mb`."""
    gb_seconds = memory_mb / 1024 * billed / 1000
    return gb_seconds * prices.per_gb_second(architecture) + prices.per_million_requests / 1e6


def per_million(prices: Prices, architecture: str, memory_mb: int, mean_billed: float) -> float:
    """Dollars per million invocations billed `mean_billed` ms on average."""
    return invocation_cost(prices, architecture, memory_mb, mean_billed) * 1e6
