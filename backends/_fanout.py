"""Ask several regions, projects or queries at once, on daemon threads.

Not a ThreadPoolExecutor: Python joins every executor's worker threads at interpreter exit, so
one SDK call that hangs (an endpoint that accepts and never answers) kept the whole process alive
for the SDK's own retries and timeouts (40 s for EC2) long after the hub had given up on it at the
source's timeout. Daemon threads end with the process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def fan_out(fn: Callable[[T], R], items: Iterable[T], *, workers: int, name: str) -> list[R]:
    """`[fn(x) for x in items]`, at most `workers` at a time, in order; the first error is raised."""
    todo = list(enumerate(items))
    results: dict[int, R] = {}
    errors: dict[int, BaseException] = {}
    lock = threading.Lock()

    def work() -> None:
        while True:
            with lock:
                if not todo:
                    return
                i, item = todo.pop(0)
            try:
                results[i] = fn(item)
            except BaseException as e:  # handed to the caller below
                errors[i] = e

    count = len(todo)
    threads = [threading.Thread(target=work, name=f"{name}-{k}", daemon=True) for k in range(min(workers, count))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[min(errors)]
    return [results[i] for i in range(count)]
