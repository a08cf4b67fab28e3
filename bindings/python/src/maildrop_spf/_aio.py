# SPDX-License-Identifier: BSD-2-Clause
"""Asynchronous checks on a running asyncio loop, with no threads.

Per (resolver, loop) the binding keeps:

- for a DnsResolver, a c-ares backend whose sockets are watched with
  loop.add_reader / add_writer (mdspf_cares_process_fd) and whose timer
  is a loop.call_later (mdspf_cares_process_timeout);
- per check configuration (timeout, receiver, limits, ...), a context
  whose time budgets are a loop.call_later (mdspf_ctx_process_timeouts).

They are kept in weak dictionaries keyed by the loop and live as long as
the loop and the resolver; the library's callbacks reach them through
cffi handles of weak references, so no cycle keeps them alive.  All of
it is used on the loop's thread only.
"""

from __future__ import annotations

import asyncio
import itertools
import weakref
from typing import Any, Dict, Mapping, Optional

from ._core import (Resolver, Result, _configure, _default_resolver,
                    _new_check, _new_ctx, _ok, _result)
from ._native import ffi, lib

__all__ = ["check_async"]


class _LoopTimer:
    """One timer of the engine on an asyncio loop: timer(ms) (re)arms it,
    -1 disarms it; when it fires, _expired() runs.  Needs self._loop (a
    weak reference to the loop) and self._timer."""

    _loop: Any
    _timer: Optional[asyncio.TimerHandle]

    def timer(self, ms: int) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        loop = self._loop()
        if ms >= 0 and loop is not None and not loop.is_closed():
            self._timer = loop.call_later(ms / 1000.0, self._fire)

    def _fire(self) -> None:
        self._timer = None
        self._expired()

    def _expired(self) -> None:
        raise NotImplementedError


class _LoopCares(_LoopTimer):
    """A c-ares backend driven by an asyncio loop."""

    def __init__(self, resolver: Any, loop: asyncio.AbstractEventLoop):
        self._loop = weakref.ref(loop)
        self._ud = ffi.new_handle(weakref.ref(self))
        self._fds: Dict[int, int] = {}   # fd -> 1 read | 2 write
        self._timer: Optional[asyncio.TimerHandle] = None
        self.cares = resolver._new_cares(
            (lib._mdspf_py_watch, lib._mdspf_py_cares_timer, self._ud))

    def watch(self, fd: int, rd: int, wr: int) -> None:
        loop = self._loop()
        if loop is None or loop.is_closed():
            return
        old = self._fds.get(fd, 0)
        new = (1 if rd else 0) | (2 if wr else 0)
        if (old & 1) and not (new & 1):
            loop.remove_reader(fd)
        if (old & 2) and not (new & 2):
            loop.remove_writer(fd)
        if (new & 1) and not (old & 1):
            loop.add_reader(fd, self._ready, fd, 1, 0)
        if (new & 2) and not (old & 2):
            loop.add_writer(fd, self._ready, fd, 0, 1)
        if new:
            self._fds[fd] = new
        else:
            self._fds.pop(fd, None)

    def _ready(self, fd: int, rd: int, wr: int) -> None:
        lib.mdspf_cares_process_fd(self.cares, fd, rd, wr)

    def _expired(self) -> None:
        lib.mdspf_cares_process_timeout(self.cares)

    def __del__(self) -> None:
        # free the backend while self._ud is still valid: the free tells
        # the watch and timer hooks to stop
        cares = self.__dict__.pop("cares", None)
        if cares is not None:
            ffi.gc(cares, None)
            lib.mdspf_cares_free(cares)
        loop = self._loop()
        if loop is not None and not loop.is_closed():
            for fd, ev in self._fds.items():
                if ev & 1:
                    loop.remove_reader(fd)
                if ev & 2:
                    loop.remove_writer(fd)
        if self._timer is not None:
            self._timer.cancel()


@ffi.def_extern()
def _mdspf_py_watch(ud: Any, fd: int, rd: int, wr: int) -> None:
    lc = ffi.from_handle(ud)()
    if lc is not None:
        lc.watch(fd, rd, wr)


@ffi.def_extern()
def _mdspf_py_cares_timer(ud: Any, ms: int) -> None:
    lc = ffi.from_handle(ud)()
    if lc is not None:
        lc.timer(ms)


def _loop_cares(resolver: Any, loop: asyncio.AbstractEventLoop) -> Any:
    lc = resolver._loops.get(loop)
    if lc is None:
        lc = resolver._loops[loop] = _LoopCares(resolver, loop)
    return lc.cares


class _Engine(_LoopTimer):
    """A context with one configuration, bound to a loop."""

    def __init__(self, resolver: Resolver, loop: asyncio.AbstractEventLoop,
                 cfg: tuple) -> None:
        self._loop = weakref.ref(loop)
        self._ud = ffi.new_handle(weakref.ref(self))
        self._timer: Optional[asyncio.TimerHandle] = None
        self.bound = resolver._bind(loop)
        self.ctx = _new_ctx(self.bound)
        timeout, receiver, limits, expl, local, guess, overrides = cfg
        _configure(self.ctx, timeout, receiver, dict(limits), expl, local,
                   guess, dict(overrides))
        _ok(lib.mdspf_ctx_set_timer(self.ctx, lib._mdspf_py_ctx_timer,
                                    self._ud), "timer")

    def _expired(self) -> None:
        lib.mdspf_ctx_process_timeouts(self.ctx)

    def __del__(self) -> None:
        # free the context while self._ud is still valid (it disarms its
        # timer through the hook)
        ctx = self.__dict__.pop("ctx", None)
        if ctx is not None:
            ffi.gc(ctx, None)
            lib.mdspf_ctx_free(ctx)
        if self._timer is not None:
            self._timer.cancel()
        bound = getattr(self, "bound", None)
        if bound is not None:
            bound.close()  # contexts and resolvers go in any order


@ffi.def_extern()
def _mdspf_py_ctx_timer(ud: Any, ms: int) -> None:
    eng = ffi.from_handle(ud)()
    if eng is not None:
        eng.timer(ms)


_MAX_ENGINES = 64


def _engine(resolver: Resolver, loop: asyncio.AbstractEventLoop,
            cfg: tuple) -> _Engine:
    per_loop = resolver.__dict__.get("_engines")
    if per_loop is None:
        per_loop = resolver.__dict__["_engines"] = weakref.WeakKeyDictionary()
    engines = per_loop.get(loop)
    if engines is None:
        engines = per_loop[loop] = {}
    eng = engines.get(cfg)
    if eng is None:
        if len(engines) >= _MAX_ENGINES:
            # running checks hold their own references to the context
            engines.pop(next(iter(engines)))
        eng = engines[cfg] = _Engine(resolver, loop, cfg)
    return eng


# futures of checks in flight, by the key passed as the user pointer
_WAITING: Dict[int, "asyncio.Future[None]"] = {}
_KEYS = itertools.count(1)


@ffi.def_extern()
def _mdspf_py_check_done(chk: Any, user: Any) -> None:
    fut = _WAITING.pop(int(ffi.cast("uintptr_t", user)), None)
    if fut is not None and not fut.done():
        fut.set_result(None)


async def check_async(ip: str, sender: Optional[str], helo: Optional[str], *,
                      resolver: Optional[Resolver] = None,
                      timeout: float = 20.0, receiver: Optional[str] = None,
                      limits: Optional[Mapping[str, int]] = None,
                      identity: str = "mailfrom",
                      explanation: Optional[str] = None,
                      local: Optional[str] = None,
                      best_guess: Optional[str] = None,
                      overrides: Optional[Mapping[str, str]] = None) -> Result:
    """check() on the running asyncio loop: the DNS backend's sockets and
    timers are the loop's, so any number of checks may be in flight at
    once without threads.  Cancelling the awaiting task cancels the check
    (its outstanding queries are withdrawn).  Arguments as check()."""
    loop = asyncio.get_running_loop()
    cfg = (float(timeout), receiver,
           tuple(sorted((limits or {}).items())), explanation, local,
           best_guess, tuple(sorted((overrides or {}).items())))
    eng = _engine(resolver or _default_resolver(), loop, cfg)
    chk = _new_check(eng.ctx, ip, sender, helo, identity)
    fut = loop.create_future()
    key = next(_KEYS)
    _WAITING[key] = fut
    rc = lib.mdspf_check_start(chk, lib._mdspf_py_check_done,
                               ffi.cast("void *", key))
    if rc != 0:
        _WAITING.pop(key, None)
        _ok(rc, "check")
    try:
        await fut
    except asyncio.CancelledError:
        _WAITING.pop(key, None)
        lib.mdspf_check_cancel(chk)
        raise
    return _result(chk)
