"""Shared-memory pool: big numpy arrays cross processes by handle, not by copy.

Each process that sends big arrays owns one :class:`ShmPool`: a single POSIX shared-memory
segment (``/dev/shm/nautilus_<pid>_<token>_<n>``, the token random per process so that two processes with
the same pid — PID 1 in two containers — never share a name) carved into 64-byte aligned blocks by a
first-fit allocator. Blocks are reference counted: an array made with :meth:`ShmPool.empty` holds one
reference until it is garbage collected, and every lease handed to another process holds one
until that process releases it. A receiver maps the owner's segment once (:func:`attach`) and
builds ndarray views on it, so a handoff costs O(1) regardless of the array's size.

Handles are only worth anything where both processes see the same ``/dev/shm``: a peer in another
container or on another host would map nothing, or worse, a segment of its own with the same name. So a
connection uses handles only after the peers proved it to each other (:class:`Probe`: each process keeps a
tiny segment holding a random nonce; each side reads the other's back); otherwise arrays travel inline.
"""

from __future__ import annotations

import atexit
import itertools
import mmap
import os
import re
import secrets
import threading
import weakref
from dataclasses import dataclass
from multiprocessing import resource_tracker, shared_memory
from typing import TYPE_CHECKING

import msgspec
import numpy as np

if TYPE_CHECKING:
    from nautilus.config import Settings

ALIGN = 64
SEGMENT_PREFIX = "nautilus_"
NONCE_BYTES = 16
# A pool segment's name as handles carry it (nothing else may be mapped on a peer's word)
_SEGMENT_NAME = re.compile(r"nautilus_[0-9]{1,10}_[0-9a-f]{8}_[0-9]{1,6}")
_PROBE_NAME = re.compile(r"nautilus_[0-9]{1,10}_[0-9a-f]{8}_probe")

try:  # CPython's own binding of shm_open/shm_unlink (what multiprocessing.shared_memory uses)
    import _posixshmem
except ImportError:  # pragma: no cover - not POSIX: no shared memory, arrays go inline
    _posixshmem = None


def _new_token() -> str:
    return secrets.token_hex(4)


_token = _new_token()


def _refresh_token() -> None:
    global _token
    _token = _new_token()


os.register_at_fork(after_in_child=_refresh_token)


def process_prefix() -> str:
    """The prefix of every segment this process makes: ``nautilus_<pid>_<token>_``."""
    return f"{SEGMENT_PREFIX}{os.getpid()}_{_token}_"


class ShmHandle(msgspec.Struct, array_like=True, frozen=True):
    """Where an array lives: owner segment, offset, layout, and the block id to release."""

    segment: str
    offset: int
    dtype: str
    shape: tuple[int, ...]
    block: int


@dataclass
class _Block:
    offset: int
    size: int
    refs: int


class PoolFull(Exception):
    """No free block is large enough; callers fall back to sending bytes inline."""


class ShmPool:
    """A fixed-size shared-memory segment with a reference-counted block allocator."""

    _counter = itertools.count()

    def __init__(self, size_bytes: int) -> None:
        self.size = int(size_bytes)
        self.name = f"{process_prefix()}{next(self._counter)}"
        # The segment is created by the first allocation: a process that never moves a large array makes
        # none (nor the resource-tracker process Python starts with the first one, ~12 MB).
        self._shm: shared_memory.SharedMemory | None = None
        self._address = -1
        self._lock = threading.Lock()
        self._free: list[tuple[int, int]] = [(0, self.size)]  # (offset, size), sorted by offset
        self._blocks: dict[int, _Block] = {}
        self._by_offset: dict[int, int] = {}
        self._ids = itertools.count((os.getpid() << 32) + 1)
        self.used = 0
        self._closed = False

    # Allocation ----------------------------------------------------------------------------------
    def _segment(self) -> shared_memory.SharedMemory:
        """The mapped segment, created on first use (call with the lock held)."""
        if self._shm is None:
            if self._closed:
                raise PoolFull(f"shared-memory pool {self.name} is closed")
            self._shm = shared_memory.SharedMemory(name=self.name, create=True, size=self.size)
            self._address = np.frombuffer(self._shm.buf, dtype=np.uint8).__array_interface__["data"][0]
        return self._shm

    def _allocate(self, nbytes: int) -> tuple[int, int]:
        size = max(ALIGN, -(-nbytes // ALIGN) * ALIGN)
        with self._lock:
            self._segment()
            for i, (offset, free_size) in enumerate(self._free):
                if free_size >= size:
                    if free_size == size:
                        del self._free[i]
                    else:
                        self._free[i] = (offset + size, free_size - size)
                    block_id = next(self._ids)
                    self._blocks[block_id] = _Block(offset, size, 0)
                    self._by_offset[offset] = block_id
                    self.used += size
                    return block_id, offset
        raise PoolFull(f"shared-memory pool {self.name} has no free block of {size} bytes")

    def _release_block(self, block_id: int) -> None:
        block = self._blocks.pop(block_id)
        del self._by_offset[block.offset]
        self.used -= block.size
        start, end = block.offset, block.offset + block.size
        free = self._free
        lo, hi = 0, len(free)
        while lo < hi:
            mid = (lo + hi) // 2
            if free[mid][0] < start:
                lo = mid + 1
            else:
                hi = mid
        if lo < len(free) and free[lo][0] == end:  # merge with the next free run
            end = free[lo][0] + free[lo][1]
            del free[lo]
        if lo > 0 and free[lo - 1][0] + free[lo - 1][1] == start:  # merge with the previous run
            start = free[lo - 1][0]
            del free[lo - 1]
            lo -= 1
        free.insert(lo, (start, end - start))

    def incref(self, block_id: int) -> None:
        with self._lock:
            self._blocks[block_id].refs += 1

    def decref(self, block_id: int) -> bool:
        """Drop one reference; returns False for an unknown (already freed or foreign) block."""
        with self._lock:
            block = self._blocks.get(block_id)
            if block is None:
                return False
            block.refs -= 1
            if block.refs <= 0:
                self._release_block(block_id)
            return True

    def empty(self, shape: int | tuple[int, ...], dtype: np.typing.DTypeLike = np.float64) -> np.ndarray:
        """An uninitialised array living in the pool; freed when the array is garbage collected."""
        dt = np.dtype(dtype)
        shape_t = (shape,) if isinstance(shape, int) else tuple(shape)
        nbytes = int(np.prod(shape_t, dtype=np.int64)) * dt.itemsize
        block_id, offset = self._allocate(nbytes)
        self.incref(block_id)
        array = np.ndarray(shape_t, dtype=dt, buffer=self._segment().buf, offset=offset)
        weakref.finalize(array, self.decref, block_id)
        return array

    # Export ---------------------------------------------------------------------------------------
    def block_of(self, array: np.ndarray) -> tuple[int, int] | None:
        """(block id, offset) if ``array`` is a C-contiguous array starting at a block in this pool."""
        if not array.flags.c_contiguous:
            return None
        if self._shm is None:
            return None
        address = array.__array_interface__["data"][0]
        offset = address - self._address
        if offset < 0 or offset >= self.size:
            return None
        block_id = self._by_offset.get(offset)
        return None if block_id is None else (block_id, offset)

    def lease(self, array: np.ndarray) -> ShmHandle:
        """A handle for another process; holds a reference until :meth:`decref` of its block.

        Arrays already in the pool are shared without a copy; others are copied in once.
        """
        array = np.asarray(array)
        found = self.block_of(array)
        if found is None:
            contiguous = np.ascontiguousarray(array)
            block_id, offset = self._allocate(contiguous.nbytes)
            target = np.ndarray(contiguous.shape, dtype=contiguous.dtype, buffer=self._segment().buf, offset=offset)
            target[...] = contiguous
        else:
            block_id, offset = found
        self.incref(block_id)
        return ShmHandle(self.name, offset, array.dtype.str, tuple(array.shape), block_id)

    @property
    def blocks(self) -> int:
        return len(self._blocks)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._shm is None:
            return
        try:
            self._shm.close()
        except BufferError:
            pass  # views still exported in this process; the mapping dies with it
        try:
            self._shm.unlink()
        except FileNotFoundError:
            pass


_attached: dict[str, shared_memory.SharedMemory] = {}
_attach_lock = threading.Lock()


class BadHandle(ValueError):
    """A handle that names no pool segment, or a block outside it."""


def attach(handle: ShmHandle) -> np.ndarray:
    """A view of a block in another process's pool (the segment is mapped once per process)."""
    if not _SEGMENT_NAME.fullmatch(handle.segment):
        raise BadHandle(f"{handle.segment!r} is not a shared-memory pool segment")
    shm = _attached.get(handle.segment)
    if shm is None:
        with _attach_lock:
            shm = _attached.get(handle.segment)
            if shm is None:
                try:
                    shm = shared_memory.SharedMemory(name=handle.segment, create=False)
                except OSError as exc:
                    raise BadHandle(f"segment {handle.segment!r} cannot be mapped: {exc}") from None
                if not handle.segment.startswith(process_prefix()):
                    # Python 3.11 registers attached segments for unlinking at exit; the owner unlinks.
                    resource_tracker.unregister(shm._name, "shared_memory")  # type: ignore[attr-defined]
                _attached[handle.segment] = shm
    try:
        dtype = np.dtype(handle.dtype)
        if dtype.hasobject or handle.offset < 0:
            raise ValueError("object dtype or negative offset")
        return np.ndarray(handle.shape, dtype=dtype, buffer=shm.buf, offset=handle.offset)
    except (TypeError, ValueError) as exc:
        raise BadHandle(f"handle outside segment {handle.segment!r} ({exc})") from None


class Probe:
    """This process's proof of which ``/dev/shm`` it sees: a 16-byte segment holding a random nonce.

    A peer that reads the same nonce back under the same name shares the segment namespace with us (same
    host, same mount of ``/dev/shm``, permission to map our segments); one in another container or on
    another host finds no such segment, or one with other bytes. Made on first use, unlinked at exit.
    """

    def __init__(self) -> None:
        self.name = f"{process_prefix()}probe"
        self.nonce = secrets.token_bytes(NONCE_BYTES)
        fd = _posixshmem.shm_open("/" + self.name, os.O_CREAT | os.O_EXCL | os.O_RDWR, mode=0o600)
        try:
            os.ftruncate(fd, NONCE_BYTES)
            with mmap.mmap(fd, NONCE_BYTES) as mem:
                mem[:] = self.nonce
        finally:
            os.close(fd)
        self.pid = os.getpid()

    def close(self) -> None:
        if os.getpid() != self.pid:  # a forked child inherited the object, not the segment's ownership
            return
        try:
            _posixshmem.shm_unlink("/" + self.name)
        except OSError:
            pass


_probe: Probe | None = None
_probe_lock = threading.Lock()


def local_probe() -> Probe | None:
    """This process's probe (made on first call); None where POSIX shared memory is unavailable."""
    global _probe
    if _posixshmem is None:
        return None
    with _probe_lock:
        if _probe is None or _probe.pid != os.getpid():
            try:
                _probe = Probe()
            except OSError:
                return None
            atexit.register(_probe.close)
        return _probe


def peer_visible(name: str, nonce: bytes) -> bool:
    """True when the peer's probe segment ``name`` is visible here and holds ``nonce``: then the peer's pool
    segments are too, and shared-memory handles may cross the connection."""
    if _posixshmem is None or not _PROBE_NAME.fullmatch(name) or len(nonce) != NONCE_BYTES:
        return False
    try:
        fd = _posixshmem.shm_open("/" + name, os.O_RDONLY, mode=0)
    except OSError:
        return False
    try:
        if os.fstat(fd).st_size < NONCE_BYTES:
            return False
        with mmap.mmap(fd, NONCE_BYTES, prot=mmap.PROT_READ) as mem:
            return secrets.compare_digest(mem[:NONCE_BYTES], nonce)
    except (OSError, ValueError):
        return False
    finally:
        os.close(fd)


def detach_all() -> None:
    """Forget mapped segments (their memory stays valid while views exist)."""
    with _attach_lock:
        _attached.clear()


def remove_segments_of(pid: int) -> int:
    """Unlink leftover segments of a dead process (after kill -9); returns how many."""
    removed = 0
    prefix = f"{SEGMENT_PREFIX}{pid}_"
    try:
        names = os.listdir("/dev/shm")
    except FileNotFoundError:
        return 0
    for name in names:
        if name.startswith(prefix):
            try:
                os.unlink(os.path.join("/dev/shm", name))
                removed += 1
            except OSError:
                pass
    return removed


# The pool this process sends arrays from: one per process, made on first use. ------------------------
_process_pool: ShmPool | None = None
_pool_lock = threading.Lock()


def process_pool(settings: Settings) -> ShmPool:
    """This process's pool (``shm_pool_mb``), made on first use and unlinked at exit."""
    global _process_pool
    with _pool_lock:
        if _process_pool is None:
            _process_pool = ShmPool(settings.shm_pool_mb * 1024 * 1024)
            atexit.register(_process_pool.close)
        return _process_pool


def current_process_pool() -> ShmPool | None:
    """This process's pool if one was made (without making one)."""
    return _process_pool


def close_process_pool() -> None:
    """Unlink this process's pool now (the next big array makes a fresh one)."""
    global _process_pool
    with _pool_lock:
        pool, _process_pool = _process_pool, None
    if pool is not None:
        pool.close()
