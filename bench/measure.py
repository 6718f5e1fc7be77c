"""Repeated timings: median and 95th percentile (nearest rank)."""

import math
import time
from collections.abc import Callable


def sample(fn: Callable[[], object], *, repeat: int, budget: float, warmup: int = 1) -> list:
    """Time ``fn`` up to ``repeat`` times. Stops early once ``budget`` seconds are spent (after
    three samples at least), or after one sample that alone took half the budget."""
    for _ in range(warmup):
        fn()
    times: list[float] = []
    started = time.perf_counter()
    while len(times) < repeat:
        t0 = time.perf_counter()
        fn()
        took = time.perf_counter() - t0
        times.append(took)
        if took > budget / 2:
            break
        if time.perf_counter() - started > budget and len(times) >= min(3, repeat):
            break
    return times


def interleaved(
    fns: dict[str, Callable[[], object]], *, repeat: int, budget: float, warmup: int = 1
) -> dict[str, list]:
    """Time each of ``fns`` up to ``repeat`` times, in rounds: every round runs each once,
    the order turned by one each round. A machine that slows down for a while (another
    virtual machine on the same host) then slows every variant alike, instead of whichever
    happened to run at that moment; their ratios stay fair. Stops after ``budget`` seconds
    per function (three rounds at least)."""
    names = list(fns)
    for _ in range(warmup):
        for name in names:
            fns[name]()
    times: dict[str, list] = {name: [] for name in names}
    started = time.perf_counter()
    for round_ in range(repeat):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            t0 = time.perf_counter()
            fns[name]()
            times[name].append(time.perf_counter() - t0)
        spent = time.perf_counter() - started
        if spent > budget * len(names) and round_ + 1 >= min(3, repeat):
            break
    return times


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def timing(times: list[float], **extra) -> dict:
    """Milliseconds per operation."""
    return {
        "median_ms": round(percentile(times, 50) * 1000, 3),
        "p95_ms": round(percentile(times, 95) * 1000, 3),
        "n": len(times),
        **extra,
    }


def throughput(times: list[float], items: int, **extra) -> dict:
    """Items per second: median over the runs, and the 95th-percentile run (the slow one)."""
    return {
        "median_per_s": round(items / percentile(times, 50), 1),
        "p95_per_s": round(items / percentile(times, 95), 1),
        "items": items,
        "median_s": round(percentile(times, 50), 3),
        "n": len(times),
        **extra,
    }
