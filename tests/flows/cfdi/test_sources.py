"""Where documents come from: zip members read straight from the archive, and the
read-ahead child (order kept, failures raised here, an early stop ends it)."""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from flows.cfdi.sources import (
    Source,
    count_documents,
    iter_documents,
    read_in_child,
)


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


def _package(members: dict[str, tuple[bytes, int]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        for name, (data, method) in members.items():
            package.writestr(name, data, compress_type=method)
    return buffer.getvalue()


def test_zip_members_stored_deflated_and_nested(tmp_path: Path) -> None:
    inner = _package({"c.xml": (b"<c/>" * 50, zipfile.ZIP_DEFLATED)})
    data = _package(
        {
            "a.xml": (b"<a/>" * 1000, zipfile.ZIP_DEFLATED),
            "b.xml": (b"<b/>", zipfile.ZIP_STORED),
            "inner.zip": (inner, zipfile.ZIP_STORED),
            "nota.txt": (b"no", zipfile.ZIP_STORED),
        }
    )
    path = tmp_path / "sat.zip"
    path.write_bytes(data)

    for source in (path, ("sat.zip", data)):
        got = [(Path(d.name).name, d.data, d.error) for d in iter_documents([source])]
        assert got == [
            ("sat.zip:a.xml", b"<a/>" * 1000, None),
            ("sat.zip:b.xml", b"<b/>", None),
            ("sat.zip:inner.zip:c.xml", b"<c/>" * 50, None),
        ]


def test_a_damaged_member_is_named_and_the_rest_read() -> None:
    data = bytearray(
        _package(
            {
                "a.xml": (b"<a>" + b"x" * 500 + b"</a>", zipfile.ZIP_STORED),
                "b.xml": (b"<b/>", zipfile.ZIP_STORED),
            }
        )
    )
    data[data.index(b"xxxx")] = ord("y")  # the bytes no longer match their CRC

    got = [(d.name, d.error) for d in iter_documents([("sat.zip", bytes(data))])]

    assert got == [
        ("sat.zip:a.xml", "no se pudo descomprimir"),
        ("sat.zip:b.xml", None),
    ]


def test_a_zip_given_as_bytes_counts_its_documents(tmp_path: Path) -> None:
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        for name in ("a.xml", "b.xml", "leeme.txt"):
            archive.writestr(name, b"<x/>")
    folder = tmp_path / "sat"
    folder.mkdir()
    (folder / "c.xml").write_bytes(b"<x/>")

    sources: list[Source] = [
        ("sat", package.getvalue()),
        ("suelto.xml", b"<x/>"),
        folder,
    ]

    assert count_documents(sources) == 2 + 1 + 1
