"""Where CFDIs come from: files, folders (recursively) and zip packages, streamed.

Each document is read when its turn comes and handed on as `(name, bytes)`, so
memory stays flat however many files a folder or a SAT package holds. `read_in_child`
runs such a stream in a forked process, a few chunks ahead of its reader.
"""

from __future__ import annotations

import contextlib
import io
import logging
import mmap
import multiprocessing
import os
import struct
import threading
import zipfile
import zlib
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from queue import Empty
from typing import TypeVar

log = logging.getLogger(__name__)

# A CFDI is a few kilobytes; even one with thousands of concepts is well under this.
MAX_DOCUMENT_BYTES = 20 * 1024 * 1024
ZIP_MAGIC = b"PK\x03\x04"
READ_CHUNK = 64 * 1024

# A zip member's local header: signature, then (after 22 bytes we do not need) the
# lengths of its name and extra field.
_LOCAL_HEADER = struct.Struct("<4s22xHH")
_ENCRYPTED = 0x1
_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)

Source = Path | tuple[str, bytes]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Document:
    """One file to import, or the reason it could not be read (`error`)."""

    name: str
    data: bytes
    error: str | None = None


def iter_documents(sources: Iterable[Source]) -> Iterator[Document]:
    """Every XML in the sources, in a stable order; unreadable ones carry an error."""
    for source in sources:
        if isinstance(source, tuple):
            name, data = source
            if _is_zip(name, data):
                yield from _zip_documents(name, io.BytesIO(data))
            else:
                yield Document(name, data)
        elif source.is_dir():
            yield from _folder_documents(source)
        elif source.suffix.lower() == ".zip":
            yield from _zip_documents(str(source), source)
        else:
            yield _read_file(str(source))


def _folder_documents(folder: Path) -> Iterator[Document]:
    """XMLs and zips under a folder, by name; os.walk keeps a big tree cheap."""
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            lowered = name.lower()
            if lowered.endswith(".xml"):
                yield _read_file(os.path.join(root, name))
            elif lowered.endswith(".zip"):
                path = os.path.join(root, name)
                yield from _zip_documents(path, Path(path))


def count_documents(sources: Iterable[Source]) -> int:
    """How many documents the sources hold (a zip inside a zip counts as one)."""
    count = 0
    for source in sources:
        if isinstance(source, tuple):
            name, data = source
            count += _zip_count(io.BytesIO(data)) if _is_zip(name, data) else 1
        elif source.is_dir():
            for path in source.rglob("*"):
                suffix = path.suffix.lower()
                if suffix == ".xml":
                    count += 1
                elif suffix == ".zip" and path.is_file():
                    count += _zip_count(path)
        elif source.suffix.lower() == ".zip":
            count += _zip_count(source)
        else:
            count += 1
    return count


def _is_zip(name: str, data: bytes) -> bool:
    return name.lower().endswith(".zip") or data[:4] == ZIP_MAGIC


def _read_file(path: str) -> Document:
    try:
        data = _read_at_most(path, MAX_DOCUMENT_BYTES + 1)
    except OSError as exc:
        return Document(path, b"", f"no se pudo leer: {exc.strerror or exc}")
    if len(data) > MAX_DOCUMENT_BYTES:
        return Document(path, b"", "el archivo es demasiado grande para un CFDI")
    return Document(path, data)


def _read_at_most(path: str, limit: int) -> bytes:
    """The file's first `limit` bytes with a few system calls and no buffer object.

    Asking for the limit up front would allocate it on every call (20 MiB here);
    the file's size is asked instead, and a file that grows meanwhile is read on
    in chunks.
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        wanted = min(size, limit - 1) + 1
        data = os.read(fd, wanted)
        if len(data) < wanted:
            return data  # a short read of a regular file: its end
        while len(data) < limit:
            more = os.read(fd, min(READ_CHUNK, limit - len(data)))
            if not more:
                break
            data += more
        return data
    finally:
        os.close(fd)


def _zip_count(file: Path | io.BytesIO) -> int:
    try:
        with zipfile.ZipFile(file) as package:
            return sum(
                1
                for info in package.infolist()
                if info.filename.lower().endswith((".xml", ".zip"))
            )
    except (OSError, zipfile.BadZipFile):
        return 1


def _zip_documents(name: str, file: Path | io.BytesIO) -> Iterator[Document]:
    """The XMLs of a zip, folders and zips inside it included, one at a time."""
    try:
        package = zipfile.ZipFile(file)
    except (OSError, zipfile.BadZipFile):
        yield Document(name, b"", "no es un zip válido")
        return
    with package, _archive_bytes(file) as archive:
        for info in sorted(package.infolist(), key=lambda i: i.filename):
            member = f"{name}:{info.filename}"
            lowered = info.filename.lower()
            if info.is_dir() or not lowered.endswith((".xml", ".zip")):
                continue
            if info.file_size > MAX_DOCUMENT_BYTES:
                yield Document(
                    member, b"", "el archivo es demasiado grande para un CFDI"
                )
                continue
            try:
                data = _member(package, archive, info)
            except (OSError, zipfile.BadZipFile, RuntimeError, zlib.error) as exc:
                log.warning(
                    "zip member unreadable", extra={"error": type(exc).__name__}
                )
                yield Document(member, b"", "no se pudo descomprimir")
                continue
            if lowered.endswith(".zip"):
                # Limitation: a zip inside a zip is held in memory while it is read
                # (up to MAX_DOCUMENT_BYTES); the SAT's packages do not nest, so
                # spilling it to a temporary file was not worth the complexity.
                yield from _zip_documents(member, io.BytesIO(data))
            else:
                yield Document(member, data)


@contextlib.contextmanager
def _archive_bytes(file: Path | io.BytesIO) -> Iterator[memoryview]:
    """The archive's bytes without reading them into memory: mapped from its file,
    or the buffer an in-memory zip already is."""
    if isinstance(file, io.BytesIO):
        with file.getbuffer() as view:
            yield view
        return
    with open(file, "rb") as handle:
        if os.fstat(handle.fileno()).st_size == 0:
            yield memoryview(b"")
            return
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        with mapped, memoryview(mapped) as view:
            yield view


def _member(
    package: zipfile.ZipFile, archive: memoryview, info: zipfile.ZipInfo
) -> bytes:
    """One member's bytes, inflated straight from the archive and checked against
    its CRC: zipfile's reader costs several times the inflating for members of a
    few kilobytes. Encrypted members and other methods go through zipfile."""
    if info.flag_bits & _ENCRYPTED or info.compress_type not in _METHODS:
        return package.read(info)
    offset = info.header_offset
    header = archive[offset : offset + _LOCAL_HEADER.size]
    if len(header) < _LOCAL_HEADER.size:
        raise zipfile.BadZipFile("truncated local header")
    magic, name_length, extra_length = _LOCAL_HEADER.unpack(header)
    if magic != ZIP_MAGIC:
        raise zipfile.BadZipFile("bad local header")
    start = offset + _LOCAL_HEADER.size + name_length + extra_length
    stored = archive[start : start + info.compress_size]
    if info.compress_type == zipfile.ZIP_STORED:
        data = bytes(stored)
    else:
        # Never more than the central directory promises (and checked above).
        data = zlib.decompressobj(-zlib.MAX_WBITS).decompress(stored, info.file_size)
    if len(data) != info.file_size or zlib.crc32(data) != info.CRC:
        raise zipfile.BadZipFile(f"bad CRC or size for {info.filename}")
    return data


class _End:
    """What the reader process queues after its last chunk."""


@dataclass(frozen=True, slots=True)
class _Failed:
    """What the reader process queues when producing raised; why, as text."""

    error: str


def can_read_in_child() -> bool:
    """Whether `read_in_child` may fork: POSIX, and no other thread in this process
    (a thread holding a lock at the fork would leave the child stuck on it)."""
    return (
        "fork" in multiprocessing.get_all_start_methods()
        and threading.active_count() == 1
    )


def read_in_child(
    produce: Callable[[], Iterable[T]], *, chunk: int = 128, depth: int = 8
) -> Generator[T]:
    """The items `produce()` yields, in order, produced by a forked child process
    while the caller works on the ones before: reading files and parsing XML on
    one core, storing on the other.

    The child runs at most `depth` chunks of `chunk` items ahead, so memory stays
    flat. Call only when `can_read_in_child()`. An exception in the child is raised
    here as a RuntimeError; closing this iterator early ends the child.
    """
    context = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue[list[T] | _End | _Failed] = context.Queue(depth)
    child = context.Process(
        target=_produce_in_child,
        args=(produce, queue, chunk),
        name="cfdi-reader",
        daemon=True,
    )
    child.start()
    try:
        while True:
            try:
                got = queue.get(timeout=1)
            except Empty:
                if not child.is_alive() and queue.empty():
                    raise RuntimeError(
                        "the document reader ended unexpectedly"
                    ) from None
                continue
            if isinstance(got, _End):
                return
            if isinstance(got, _Failed):
                raise RuntimeError(f"the document reader failed: {got.error}")
            yield from got
    finally:
        if child.is_alive():
            child.terminate()
        child.join()
        queue.close()


def _produce_in_child(
    produce: Callable[[], Iterable[T]],
    queue: multiprocessing.Queue[list[T] | _End | _Failed],
    chunk: int,
) -> None:
    try:
        pending: list[T] = []
        for item in produce():
            pending.append(item)
            if len(pending) >= chunk:
                queue.put(pending)
                pending = []
        if pending:
            queue.put(pending)
        queue.put(_End())
    except BaseException as exc:  # the parent raises it
        queue.put(_Failed(f"{type(exc).__name__}: {exc}"))
    finally:
        queue.close()
        queue.join_thread()
