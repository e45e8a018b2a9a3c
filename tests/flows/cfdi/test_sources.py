"""The read-ahead child: order kept, failures raised here, an early stop ends it."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from flows.cfdi.sources import read_in_child


def _numbers(count: int) -> Iterator[tuple[int, int]]:
    for number in range(count):
        yield number, os.getpid()


def test_items_arrive_in_order_from_another_process() -> None:
    got = list(read_in_child(lambda: _numbers(1000), chunk=7, depth=2))

    assert [number for number, _ in got] == list(range(1000))
    assert {pid for _, pid in got} != {os.getpid()}


def test_nothing_to_read() -> None:
    assert list(read_in_child(lambda: _numbers(0))) == []


def _fails_after(count: int) -> Iterator[int]:
    yield from range(count)
    raise ValueError("disco ilegible")


def test_a_failure_in_the_child_is_raised_with_its_reason() -> None:
    seen: list[int] = []
    with pytest.raises(RuntimeError, match="ValueError: disco ilegible"):
        for number in read_in_child(lambda: _fails_after(300), chunk=100):
            seen.append(number)

    assert seen == list(range(300))


def test_closing_early_ends_the_child() -> None:
    stream = read_in_child(lambda: _numbers(10**9), chunk=10, depth=2)
    first = [next(stream) for _ in range(25)]
    stream.close()

    assert [number for number, _ in first] == list(range(25))
    (pid,) = {pid for _, pid in first}
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
