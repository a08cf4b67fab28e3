# SPDX-License-Identifier: BSD-2-Clause
"""The native API: results, records, resolvers and blocking checks.

Lifetimes.  Every native handle is owned by exactly one Python object and
freed by its finalizer (cffi ``ffi.gc``); the library allows contexts,
checks and resolvers to be freed in any order (spf.h, "Contracts"), so
finalizers may run in any order too.  No native handle holds a strong
reference to a Python object: the ``void *`` user pointers passed to the
library are cffi handles of ``weakref.ref`` objects (or of state objects
that hold no handle themselves), so no reference cycle keeps an engine
object alive.

Threads.  Calls into the library release the GIL (cffi API mode).  A
resolver object is shared safely between threads for blocking checks: a
zone or a Python resolver is used under its own lock, the DNS resolver
keeps one native backend per thread.  Asynchronous checks run on the
event loop's thread (see _aio.py).
"""

from __future__ import annotations

import enum
import ipaddress
import os
import threading
import weakref
from dataclasses import dataclass
from typing import (Any, Callable, Dict, Iterable, List, Mapping, Optional,
                    Sequence, Tuple, Union)

from ._native import ffi, lib

__all__ = [
    "SPFResult", "DnsStatus", "MaildropSPFError", "SPFSyntaxError",
    "Result", "Term", "Record", "Resolver", "DnsResolver", "Zone", "Overlay",
    "PythonResolver", "Query", "LintDiagnostic", "LintNode", "LintReport",
    "check", "parse", "lint", "version",
]


def version() -> str:
    """The run-time version of libmaildrop-spf."""
    return ffi.string(lib.mdspf_version_str()).decode()


def _s(p: Any) -> Optional[str]:
    """C string -> str (None for NULL).  Outcome strings are ASCII."""
    if p == ffi.NULL:
        return None
    return ffi.string(p).decode("utf-8", "replace")


def _b(text: Union[str, bytes, None]) -> Any:
    if text is None:
        return ffi.NULL
    if isinstance(text, str):
        return text.encode("utf-8", "surrogateescape")
    return bytes(text)


class SPFResult(str, enum.Enum):
    """An SPF result (RFC 7208 2.6); the value is its name in lower case."""
    NEUTRAL = "neutral"
    PASS = "pass"
    FAIL = "fail"
    SOFTFAIL = "softfail"
    NONE = "none"
    TEMPERROR = "temperror"
    PERMERROR = "permerror"

    def __str__(self) -> str:
        return self.value


_RESULTS = {1: SPFResult.NEUTRAL, 2: SPFResult.PASS, 3: SPFResult.FAIL,
            4: SPFResult.SOFTFAIL, 5: SPFResult.NONE,
            6: SPFResult.TEMPERROR, 7: SPFResult.PERMERROR}


class DnsStatus(str, enum.Enum):
    """How a Python resolver answers a query that has no records."""
    OK = "ok"
    NODATA = "nodata"
    NXDOMAIN = "nxdomain"
    TEMPFAIL = "tempfail"
    ERROR = "error"


_DNS_STATUS = {
    DnsStatus.OK: lib.MDSPF_DNS_OK, DnsStatus.NODATA: lib.MDSPF_DNS_NODATA,
    DnsStatus.NXDOMAIN: lib.MDSPF_DNS_NXDOMAIN,
    DnsStatus.TEMPFAIL: lib.MDSPF_DNS_TEMPFAIL,
    DnsStatus.ERROR: lib.MDSPF_DNS_ERROR,
}

_RRTYPES = {1: "A", 5: "CNAME", 12: "PTR", 15: "MX", 16: "TXT", 28: "AAAA"}
_RRNUMS = {v: k for k, v in _RRTYPES.items()}


class MaildropSPFError(Exception):
    """A library call failed; ``status`` is the (negative) mdspf_status."""

    def __init__(self, status: int, what: str = "") -> None:
        self.status = status
        msg = _s(lib.mdspf_strerror(status)) or "error"
        super().__init__("%s: %s" % (what, msg) if what else msg)


def _ok(rc: int, what: str = "") -> None:
    if rc != 0:
        if rc == lib.MDSPF_E_NOMEM:
            raise MemoryError(what or "libmaildrop-spf: out of memory")
        raise MaildropSPFError(rc, what)


class SPFSyntaxError(SyntaxError):
    """A record (or local policy) that does not parse.

    ``code`` is the mdspf_syntax number, ``reason`` its message,
    ``offset`` and ``length`` the byte span of the offending text in
    ``text`` (offset is 0-based, unlike SyntaxError's usual 1-based
    column)."""

    def __init__(self, text: str, code: int, offset: int, length: int):
        self.code = code
        self.reason = _s(lib.mdspf_syntax_str(code)) or "syntax error"
        super().__init__("%s at offset %d: %r" % (
            self.reason, offset, text[offset:offset + max(length, 1)]))
        self.text = text
        self.offset = offset
        self.length = length


# ---------------------------------------------------------------------------
# Records
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Term:
    """One term of a parsed record."""
    kind: str                  # "all", "include", ..., "exp", "modifier"
    name: str                  # as written ("MX", "moo.cow")
    qualifier: Optional[str]   # "+", "-", "~", "?" for mechanisms, else None
    value: Optional[str]       # domain-spec, macro-string or network
    cidr4: Optional[int]
    cidr6: Optional[int]
    offset: int                # byte span in Record.text
    length: int
    has_macros: bool
    description: str           # what it matches, in words

    @property
    def is_mechanism(self) -> bool:
        return self.qualifier is not None


@dataclass(frozen=True)
class Record:
    """A parsed SPF record: its text, canonical form and terms."""
    text: str
    canonical: str
    terms: Tuple[Term, ...]


def _fmt(fn: Callable[..., int], *args: Any) -> str:
    needed = ffi.new("size_t *")
    buf = ffi.new("char[]", 256)
    rc = fn(*args, buf, 256, needed)
    if rc == lib.MDSPF_E_BUFFER:
        buf = ffi.new("char[]", needed[0] + 1)
        rc = fn(*args, buf, needed[0] + 1, needed)
    _ok(rc)
    return ffi.string(buf).decode("utf-8", "replace")


def parse(record: Union[str, bytes]) -> Record:
    """Parse and validate an SPF record (no DNS).  Raises SPFSyntaxError
    with the position of the first error."""
    raw = _b(record)
    text = raw.decode("utf-8", "replace")
    out = ffi.new("mdspf_record **")
    code = ffi.new("int *")
    off = ffi.new("size_t *")
    ln = ffi.new("size_t *")
    rc = lib.mdspf_record_parse(raw, len(raw), ffi.NULL, ffi.NULL, out, code,
                                off, ln)
    if rc == lib.MDSPF_E_SYNTAX:
        raise SPFSyntaxError(text, code[0], off[0], ln[0])
    _ok(rc, "parse")
    rec = ffi.gc(out[0], lib.mdspf_record_unref)
    terms = []
    for i in range(lib.mdspf_record_nterms(rec)):
        q = lib.mdspf_record_term_qualifier_char(rec, i)
        kind = _s(lib.mdspf_term_kind_str(
            lib.mdspf_record_term_kind(rec, i))) or "?"
        is_mech = lib.mdspf_record_term_qualifier(rec, i) != -1
        lib.mdspf_record_term_span(rec, i, off, ln)
        c4 = lib.mdspf_record_term_cidr(rec, i, 4)
        c6 = lib.mdspf_record_term_cidr(rec, i, 6)
        terms.append(Term(
            kind=kind, name=_s(lib.mdspf_record_term_name(rec, i)) or "",
            qualifier=(chr(q) if q else "+") if is_mech else None,
            value=_s(lib.mdspf_record_term_value(rec, i)),
            cidr4=c4 if c4 >= 0 else None, cidr6=c6 if c6 >= 0 else None,
            offset=off[0], length=ln[0],
            has_macros=bool(lib.mdspf_record_term_has_macros(rec, i)),
            description=_fmt(lib.mdspf_record_term_describe, rec, i)))
    return Record(text=text, canonical=_fmt(lib.mdspf_record_format, rec),
                  terms=tuple(terms))


# ---------------------------------------------------------------------------
# Resolvers
# ---------------------------------------------------------------------------

class _Bound:
    """A resolver made native for one use: the vtable, what must stay
    alive while it is in use, the lock that serialises blocking use, and
    what to free afterwards."""
    __slots__ = ("vtable", "keep", "lock", "release")

    def __init__(self, vtable: Any, keep: Any = None, lock: Any = None,
                 release: Optional[Callable[[], None]] = None) -> None:
        self.vtable = vtable
        self.keep = keep
        self.lock = lock
        self.release = release

    def close(self) -> None:
        if self.release is not None:
            rel, self.release = self.release, None
            rel()


class Resolver:
    """Base class of the resolvers a check can use."""

    def _bind(self, loop: Any = None) -> _Bound:  # pragma: no cover
        raise NotImplementedError


class Zone(Resolver):
    """An in-memory zone: records from master-file text, a file, or added
    one by one.  Answers are given inline.  Thread-safe for blocking
    checks (a lock); asynchronous checks use it on the loop's thread."""

    def __init__(self, text: Union[str, bytes, None] = None, *,
                 file: Optional[Union[str, os.PathLike]] = None,
                 origin: Optional[str] = None) -> None:
        out = ffi.new("mdspf_zone **")
        _ok(lib.mdspf_zone_new(ffi.NULL, ffi.NULL, out), "zone")
        self._z = ffi.gc(out[0], lib.mdspf_zone_free)
        self._lock = threading.RLock()
        if text is not None:
            self.load(text, origin=origin)
        if file is not None:
            self.load_file(file, origin=origin)

    def load(self, text: Union[str, bytes], *, origin: Optional[str] = None,
             filename: str = "<zone>") -> None:
        """Add the records of RFC 1035 master-file text.  ValueError with
        "file:line: message" on a syntax error."""
        raw = _b(text)
        err = ffi.new("char[]", 512)
        with self._lock:
            rc = lib.mdspf_zone_load(self._z, raw, len(raw), _b(origin),
                                     _b(filename), err, 512)
        if rc != 0:
            raise ValueError(ffi.string(err).decode("utf-8", "replace"))

    def load_file(self, path: Union[str, os.PathLike], *,
                  origin: Optional[str] = None) -> None:
        """Add the records of a master file ($INCLUDE allowed).  OSError
        when it cannot be read, ValueError on a syntax error."""
        err = ffi.new("char[]", 512)
        with self._lock:
            rc = lib.mdspf_zone_load_file(self._z, _b(os.fspath(path)),
                                          _b(origin), err, 512)
        msg = ffi.string(err).decode("utf-8", "replace")
        if rc == lib.MDSPF_E_IO:
            raise OSError(msg)
        if rc != 0:
            raise ValueError(msg)

    def add(self, name: str, rrtype: str, rdata: str) -> None:
        """Add one record, rdata in master-file syntax (TXT quoted)."""
        num = _RRNUMS.get(rrtype.upper())
        if num is None:
            raise ValueError("unsupported type %r" % rrtype)
        with self._lock:
            rc = lib.mdspf_zone_add(self._z, _b(name), num, _b(rdata))
        if rc != 0:
            raise ValueError("bad %s record for %s: %s" % (
                rrtype, name, _s(lib.mdspf_strerror(rc))))

    @property
    def queries(self) -> int:
        """Queries the zone has answered so far."""
        return int(lib.mdspf_zone_queries(self._z))

    def _bind(self, loop: Any = None) -> _Bound:
        return _Bound(lib.mdspf_zone_resolver(self._z), None, self._lock)


class DnsResolver(Resolver):
    """Live DNS through the c-ares backend: the system configuration
    (/etc/resolv.conf) or the given servers ("192.0.2.53",
    "127.0.0.1:5353", "[::1]:53", ...).  One native backend per thread
    for blocking checks and one per event loop for asynchronous ones."""

    def __init__(self, servers: Union[str, Sequence[str], None] = None, *,
                 timeout: float = 2.0, tries: int = 2) -> None:
        if servers is not None and not isinstance(servers, str):
            servers = ",".join(servers)
        self.servers = servers
        self.timeout = timeout
        self.tries = tries
        self._local = threading.local()
        # one backend per event loop, made and freed by _aio
        self._loops: "weakref.WeakKeyDictionary[Any, Any]" = \
            weakref.WeakKeyDictionary()
        # fail early on a malformed server list
        self._new_cares(None)

    def _new_cares(self, hooks: Any) -> Any:
        opt = ffi.new("mdspf_cares_options *")
        lib.mdspf_cares_options_init(opt)
        # copied by mdspf_cares_new
        servers = ffi.new("char[]", _b(self.servers)) if self.servers \
            else ffi.NULL
        opt.servers = servers
        opt.timeout_ms = max(10, min(60000, int(self.timeout * 1000)))
        opt.tries = self.tries
        if hooks is not None:
            opt.watch, opt.timer, opt.loop_ud = hooks
        out = ffi.new("mdspf_cares **")
        rc = lib.mdspf_cares_new(opt, out)
        if rc == lib.MDSPF_E_INVAL:
            raise ValueError("bad DNS server list or option: %r"
                             % (self.servers,))
        _ok(rc, "DNS resolver")
        return ffi.gc(out[0], lib.mdspf_cares_free)

    def _bind(self, loop: Any = None) -> _Bound:
        if loop is not None:
            from ._aio import _loop_cares
            c = _loop_cares(self, loop)
            return _Bound(lib.mdspf_cares_resolver(c), c)
        c = getattr(self._local, "cares", None)
        if c is None:
            c = self._local.cares = self._new_cares(None)
        return _Bound(lib.mdspf_cares_resolver(c), c)


class Overlay(Resolver):
    """What-if checks: the names and types that ``top`` holds are answered
    from it, everything else by ``below``."""

    def __init__(self, top: Zone, below: Resolver) -> None:
        self.top = top
        self.below = below

    def _bind(self, loop: Any = None) -> _Bound:
        below = self.below._bind(loop)
        out = ffi.new("mdspf_overlay **")
        rc = lib.mdspf_overlay_new(ffi.NULL, ffi.NULL, self.top._z,
                                   below.vtable, out)
        if rc != 0:
            below.close()
            _ok(rc, "overlay")
        ov = out[0]

        def release() -> None:
            lib.mdspf_overlay_free(ov)
            below.close()
        lock = _MultiLock(self.top._lock, below.lock)
        return _Bound(lib.mdspf_overlay_resolver(ov), below, lock, release)


class _MultiLock:
    __slots__ = ("locks",)

    def __init__(self, *locks: Any) -> None:
        self.locks = [lk for lk in locks if lk is not None]

    def __enter__(self) -> None:
        for lk in self.locks:
            lk.acquire()

    def __exit__(self, *exc: Any) -> None:
        for lk in reversed(self.locks):
            lk.release()


# ---- resolvers written in Python ------------------------------------------

Answer = Union[None, DnsStatus, Iterable[Any]]


class Query:
    """A DNS query put to a PythonResolver.  Answer it exactly once, inline
    (inside the handler) or later (on the thread that runs the check):
    ``answer(records)`` or ``fail(status)``.  Records: TXT -- str or
    bytes (one whole record), or a sequence of strings (its
    character-strings, joined); A/AAAA -- an address as text, bytes or an
    ipaddress object; MX -- (preference, name) or "10 name"; PTR -- a
    name.  After the check no longer wants the answer (it was cancelled
    or ended) ``cancelled`` is true and answering does nothing."""

    __slots__ = ("name", "type", "_q", "_state", "_id", "__weakref__")

    def __init__(self, state: "_PyResolverState", q: Any, name: str,
                 rrtype: int, qid: int) -> None:
        self.name = name
        self.type = _RRTYPES.get(rrtype, str(rrtype))
        self._q = q
        self._state = state
        self._id = qid

    @property
    def cancelled(self) -> bool:
        return self._q is None

    def __repr__(self) -> str:
        return "<Query %s %s%s>" % (self.name, self.type,
                                    " done" if self._q is None else "")

    def _take(self) -> Any:
        q, self._q = self._q, None
        if q is not None:
            self._state.pending.pop(self._id, None)
        return q

    def answer(self, records: Iterable[Any] = (), *,
               ttl: Optional[int] = None) -> None:
        """Complete with these records (none: NODATA)."""
        q = self._q
        if q is None:
            return
        try:
            n = _add_records(q, self.type, records)
        except Exception:
            self._take()
            lib.mdspf_dns_done(q, lib.MDSPF_DNS_ERROR, -1)
            raise
        if ttl is not None:
            lib.mdspf_dns_set_ttl(q, max(0, int(ttl)))
        self._take()
        lib.mdspf_dns_done(q, lib.MDSPF_DNS_OK if n else lib.MDSPF_DNS_NODATA,
                           0)

    def fail(self, status: Union[DnsStatus, str] = DnsStatus.TEMPFAIL) -> None:
        """Complete without records: "nxdomain", "nodata", "tempfail" or
        "error"."""
        st = _DNS_STATUS[DnsStatus(status)]
        q = self._take()
        if q is not None:
            rcode = {lib.MDSPF_DNS_NXDOMAIN: 3, lib.MDSPF_DNS_TEMPFAIL: 2,
                     lib.MDSPF_DNS_NODATA: 0}.get(st, -1)
            lib.mdspf_dns_done(q, st, rcode)


def _add_records(q: Any, rtype: str, records: Iterable[Any]) -> int:
    n = 0
    for r in records:
        if rtype == "TXT":
            if isinstance(r, (list, tuple)):
                r = b"".join(_b(x) for x in r)
            raw = _b(r)
            lib.mdspf_dns_add_txt(q, raw, len(raw))
        elif rtype in ("A", "AAAA"):
            if isinstance(r, bytes) and len(r) in (4, 16):
                packed = r
            else:
                packed = ipaddress.ip_address(
                    r if not isinstance(r, bytes) else r.decode()).packed
            lib.mdspf_dns_add_addr(q, 4 if len(packed) == 4 else 6, packed)
        elif rtype == "MX":
            if isinstance(r, (str, bytes)):
                pref, name = _b(r).split(None, 1)
                r = (int(pref), name)
            lib.mdspf_dns_add_name(q, _b(r[1]), int(r[0]))
        else:
            lib.mdspf_dns_add_name(q, _b(r), 0)
        n += 1
    return n


class _PyResolverState:
    """What the native vtable's impl pointer leads to.  Holds no handle,
    so it is in no cycle; it is kept alive by its PythonResolver and,
    while the library holds references to the vtable (V2 ref/unref), by
    _ALIVE."""

    def __init__(self, handler: Callable[[Query], Answer],
                 wait: Optional[Callable[[float], Any]]) -> None:
        self.handler = handler
        self.wait = wait
        self.pending: Dict[int, Query] = {}
        self.next_id = 1
        self.refs = 0
        self.errors: List[BaseException] = []
        self.loop: Any = None
        self.handle_ref: Any = None  # weakref to the cffi handle of self


# handles of resolver states the library still references (ref/unref)
_ALIVE: Dict[int, Any] = {}


def _deliver(query: Query, ans: Any) -> None:
    if query._q is None:
        return
    if isinstance(ans, (DnsStatus,)) or (isinstance(ans, str)
                                          and ans in DnsStatus._value2member_map_):
        query.fail(ans)
    else:
        query.answer(ans)


@ffi.def_extern(error=1)
def _mdspf_py_query(impl: Any, q: Any, name: Any, rrtype: int,
                    token: Any) -> int:
    st: _PyResolverState = ffi.from_handle(impl)
    qid = st.next_id
    st.next_id += 1
    query = Query(st, q, ffi.string(name).decode("utf-8", "surrogateescape"),
                  rrtype, qid)
    st.pending[qid] = query
    token[0] = ffi.cast("void *", qid)
    try:
        ans = st.handler(query)
    except Exception as exc:  # the handler failed: a temporary error
        st.errors.append(exc)
        del st.errors[:-16]
        query.fail(DnsStatus.TEMPFAIL)
        return 0
    if ans is None:
        return 0
    if hasattr(ans, "__await__"):
        import asyncio
        loop = st.loop or asyncio.get_event_loop()

        async def run() -> None:
            try:
                res = await ans
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                st.errors.append(exc)
                del st.errors[:-16]
                query.fail(DnsStatus.TEMPFAIL)
                return
            _deliver(query, res)
        query_task = loop.create_task(run())
        st.pending[qid] = query
        _TASKS[qid] = query_task
        query_task.add_done_callback(lambda t, k=qid: _TASKS.pop(k, None))
        return 0
    try:
        _deliver(query, ans)
    except Exception as exc:
        st.errors.append(exc)
        del st.errors[:-16]
        query.fail(DnsStatus.ERROR)
    return 0


# tasks answering queries later (strong references, as asyncio wants)
_TASKS: Dict[int, Any] = {}


@ffi.def_extern()
def _mdspf_py_cancel(impl: Any, token: Any) -> None:
    st: _PyResolverState = ffi.from_handle(impl)
    qid = int(ffi.cast("uintptr_t", token))
    query = st.pending.pop(qid, None)
    if query is not None:
        query._q = None
    task = _TASKS.pop(qid, None)
    if task is not None:
        task.cancel()


@ffi.def_extern(error=-1)
def _mdspf_py_wait(impl: Any, timeout_ms: int) -> int:
    st: _PyResolverState = ffi.from_handle(impl)
    if st.wait is None:
        return -1
    st.wait(timeout_ms / 1000.0)
    return 0


@ffi.def_extern()
def _mdspf_py_ref(impl: Any) -> None:
    st: _PyResolverState = ffi.from_handle(impl)
    st.refs += 1
    if st.refs == 1:
        # the handle (not the raw pointer) keeps st alive
        _ALIVE[id(st)] = st.handle_ref()


@ffi.def_extern()
def _mdspf_py_unref(impl: Any) -> None:
    st: _PyResolverState = ffi.from_handle(impl)
    st.refs -= 1
    if st.refs == 0:
        _ALIVE.pop(id(st), None)


class PythonResolver(Resolver):
    """A resolver written in Python: ``handler(query)`` is called for every
    DNS query the check makes.  It answers

    - inline: by returning the records (a list; empty = NODATA), a
      DnsStatus ("nxdomain", "tempfail", ...), or by calling
      ``query.answer(...)`` / ``query.fail(...)`` itself;
    - later: by returning None and answering the Query afterwards on the
      thread running the check (with asynchronous checks, from a loop
      callback), or by returning an awaitable (asynchronous checks
      only) whose result is the answer.

    A handler that raises answers TEMPFAIL (the exception is kept in
    ``errors``).  Blocking checks with answers given later need ``wait``:
    ``wait(seconds)`` is called to let answers arrive.
    """

    def __init__(self, handler: Callable[[Query], Answer], *,
                 wait: Optional[Callable[[float], Any]] = None) -> None:
        self._state = _PyResolverState(handler, wait)
        self._handle = ffi.new_handle(self._state)
        self._state.handle_ref = weakref.ref(self._handle)
        vt = ffi.new("mdspf_resolver *")
        vt.version = lib.MDSPF_RESOLVER_V2
        vt.impl = self._handle
        vt.query = lib._mdspf_py_query
        vt.cancel = lib._mdspf_py_cancel
        vt.wait = lib._mdspf_py_wait if wait is not None else ffi.NULL
        vt.ref = lib._mdspf_py_ref
        vt.unref = lib._mdspf_py_unref
        self._vt = vt
        self._lock = threading.RLock()

    @property
    def errors(self) -> List[BaseException]:
        """The last exceptions the handler raised."""
        return self._state.errors

    @property
    def pending(self) -> List[Query]:
        """Queries not answered yet."""
        return list(self._state.pending.values())

    def close(self) -> None:
        """The teardown rule: complete every pending query with TEMPFAIL."""
        for query in list(self._state.pending.values()):
            query.fail(DnsStatus.TEMPFAIL)

    def _bind(self, loop: Any = None) -> _Bound:
        if loop is not None:
            self._state.loop = loop
        return _Bound(self._vt, None,
                      None if loop is not None else self._lock)


# ---------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Result:
    """The outcome of a check (check_host(), RFC 7208)."""
    result: SPFResult
    explanation: Optional[str]   # for fail: exp= text or the default
    mechanism: Optional[str]     # the matched term as written
    domain: Optional[str]        # domain whose record decided
    problem: Optional[str]       # why (errors, notable conditions)
    reason: int                  # the mdspf_status behind the result
    record: Optional[str]        # that domain's record text
    identity: str                # "mailfrom" or "helo"
    identity_domain: Optional[str]
    client_ip: Optional[str]
    dns_terms: int               # DNS-querying terms evaluated (limit 10)
    void_lookups: int            # void lookups (limit 2)
    queries: int                 # DNS queries asked
    syntax_error: Optional[Tuple[int, int, int]]  # (code, offset, length)
    _chk: Any = None

    def __str__(self) -> str:
        return self.result.value

    def received_spf(self, receiver: Optional[str] = None) -> str:
        """The Received-SPF header field ("Received-SPF: pass (...) ...")."""
        return _fmt(lib.mdspf_check_received_spf, self._chk, _b(receiver))

    def authentication_results(self, authserv_id: Optional[str] = None) -> str:
        """The Authentication-Results header field (RFC 8601)."""
        return _fmt(lib.mdspf_check_auth_results, self._chk, _b(authserv_id))


def _result(chk: Any) -> Result:
    code = ffi.new("int *")
    off = ffi.new("size_t *")
    ln = ffi.new("size_t *")
    syn = None
    if lib.mdspf_check_syntax_error(chk, code, off, ln) == 0:
        syn = (code[0], off[0], ln[0])
    return Result(
        result=_RESULTS.get(lib.mdspf_check_result(chk), SPFResult.TEMPERROR),
        explanation=_s(lib.mdspf_check_explanation(chk)),
        mechanism=_s(lib.mdspf_check_mechanism(chk)),
        domain=_s(lib.mdspf_check_domain(chk)),
        problem=_s(lib.mdspf_check_problem(chk)),
        reason=lib.mdspf_check_reason(chk),
        record=_s(lib.mdspf_check_record(chk, ffi.NULL)),
        identity="helo" if lib.mdspf_check_identity(chk) == lib.MDSPF_ID_HELO
        else "mailfrom",
        identity_domain=_s(lib.mdspf_check_identity_domain(chk)),
        client_ip=_s(lib.mdspf_check_client_ip(chk)),
        dns_terms=lib.mdspf_check_dns_terms(chk),
        void_lookups=lib.mdspf_check_void_lookups(chk),
        queries=lib.mdspf_check_queries(chk),
        syntax_error=syn, _chk=chk)


_LIMITS = {
    "dns_terms": lib.MDSPF_LIMIT_DNS_TERMS,
    "void_lookups": lib.MDSPF_LIMIT_VOID_LOOKUPS,
    "mx_names": lib.MDSPF_LIMIT_MX_NAMES,
    "ptr_names": lib.MDSPF_LIMIT_PTR_NAMES,
    "check_memory": lib.MDSPF_LIMIT_CHECK_MEMORY,
    "lookahead": lib.MDSPF_LIMIT_LOOKAHEAD,
}

_DEFAULT_RESOLVER: List[DnsResolver] = []
_DEFAULT_LOCK = threading.Lock()


def _default_resolver() -> DnsResolver:
    with _DEFAULT_LOCK:
        if not _DEFAULT_RESOLVER:
            _DEFAULT_RESOLVER.append(DnsResolver())
        return _DEFAULT_RESOLVER[0]


def _configure(ctx: Any, timeout: float, receiver: Optional[str],
               limits: Optional[Mapping[str, int]],
               explanation: Optional[str], local: Optional[str],
               best_guess: Optional[str],
               overrides: Optional[Mapping[str, str]]) -> None:
    ms = max(1, min(3600000, int(timeout * 1000)))
    _ok(lib.mdspf_ctx_set_limit(ctx, lib.MDSPF_LIMIT_TIMEOUT_MS, ms),
        "timeout")
    if receiver is not None:
        rc = lib.mdspf_ctx_set_receiver(ctx, _b(receiver))
        if rc == lib.MDSPF_E_INVAL:
            raise ValueError("bad receiver name %r" % receiver)
        _ok(rc)
    for key, val in (limits or {}).items():
        which = _LIMITS.get(key)
        if which is None:
            raise ValueError("unknown limit %r (known: %s)"
                             % (key, ", ".join(sorted(_LIMITS))))
        if lib.mdspf_ctx_set_limit(ctx, which, int(val)) != 0:
            raise ValueError("limit %s=%r out of range" % (key, val))
    if explanation is not None:
        if lib.mdspf_ctx_set_default_explanation(ctx, _b(explanation)) != 0:
            raise ValueError("bad explanation %r" % explanation)
    if local:
        off = ffi.new("size_t *")
        if lib.mdspf_ctx_set_local_policy(ctx, _b(local), off) != 0:
            raise SPFSyntaxError(local, 0, off[0], 1)
    if best_guess:
        if lib.mdspf_ctx_set_best_guess(ctx, _b(best_guess)) != 0:
            parse(best_guess if best_guess.lower().startswith("v=spf1")
                  else "v=spf1 " + best_guess)
            raise ValueError("bad best-guess record %r" % best_guess)
    for dom, rec in (overrides or {}).items():
        rc = lib.mdspf_ctx_add_override(ctx, _b(dom), _b(rec))
        if rc == lib.MDSPF_E_SYNTAX:
            parse(rec)
        if rc != 0:
            raise ValueError("bad override for %r" % dom)


def _new_ctx(bound: _Bound) -> Any:
    out = ffi.new("mdspf_ctx **")
    _ok(lib.mdspf_ctx_new(ffi.NULL, ffi.NULL, out), "context")
    ctx = ffi.gc(out[0], lib.mdspf_ctx_free)
    _ok(lib.mdspf_ctx_set_resolver(ctx, bound.vtable), "resolver")
    return ctx


def _new_check(ctx: Any, ip: str, sender: Optional[str], helo: Optional[str],
               identity: str) -> Any:
    out = ffi.new("mdspf_check **")
    _ok(lib.mdspf_check_new(ctx, out), "check")
    chk = ffi.gc(out[0], lib.mdspf_check_free)
    if lib.mdspf_check_set_ip(chk, _b(ip)) != 0:
        raise ValueError("bad client IP address %r" % (ip,))
    if lib.mdspf_check_set_sender(chk, _b(sender or "")) != 0:
        raise ValueError("bad sender %r" % (sender,))
    if helo is not None and lib.mdspf_check_set_helo(chk, _b(helo)) != 0:
        raise ValueError("bad HELO name %r" % (helo,))
    if identity not in ("mailfrom", "helo"):
        raise ValueError("identity must be 'mailfrom' or 'helo'")
    if identity == "helo":
        lib.mdspf_check_set_identity(chk, lib.MDSPF_ID_HELO)
    if not sender and not helo:
        raise ValueError("a sender or a HELO name is needed")
    return chk


def check(ip: str, sender: Optional[str], helo: Optional[str], *,
          resolver: Optional[Resolver] = None, timeout: float = 20.0,
          receiver: Optional[str] = None,
          limits: Optional[Mapping[str, int]] = None,
          identity: str = "mailfrom", explanation: Optional[str] = None,
          local: Optional[str] = None, best_guess: Optional[str] = None,
          overrides: Optional[Mapping[str, str]] = None) -> Result:
    """Check whether ``ip`` may send mail for ``sender`` (MAIL FROM; empty
    or None: the HELO identity) and return the Result.

    resolver: where DNS answers come from (default: the system's DNS
    servers).  timeout: the check's time budget in seconds (temperror
    when it runs out).  receiver: this host's name (%{r}, headers).
    limits: RFC 7208 4.6.4 limits by name ("dns_terms", "void_lookups",
    "mx_names", "ptr_names", "lookahead", "check_memory").  identity:
    "helo" checks the HELO name.  explanation: the default explanation
    for fail.  local: local-policy mechanisms; best_guess: a record used
    when the domain publishes none; overrides: {domain: record} used
    instead of DNS.

    Blocks the calling thread (not the interpreter: the GIL is released
    while the library waits); safe to call from several threads."""
    bound = (resolver or _default_resolver())._bind()
    try:
        ctx = _new_ctx(bound)
        _configure(ctx, timeout, receiver, limits, explanation, local,
                   best_guess, overrides)
        chk = _new_check(ctx, ip, sender, helo, identity)
        if bound.lock is not None:
            with bound.lock:
                rc = lib.mdspf_check_run(chk, 0)
        else:
            rc = lib.mdspf_check_run(chk, 0)
        if rc == lib.MDSPF_E_RECURSIVE:
            raise RuntimeError("check() called from inside a resolver "
                               "callback; use check_async or answer later")
        if rc != 0 and rc != lib.MDSPF_E_CANCELLED and \
                not lib.mdspf_check_done(chk):
            _ok(rc, "check")
        return _result(chk)
    finally:
        bound.close()


# ---------------------------------------------------------------------------
# Lint
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class LintDiagnostic:
    severity: str       # "info", "warning", "error"
    code: str           # "too-many-lookups", ...
    message: str
    node: int           # index into LintReport.nodes
    offset: int         # byte span in that node's record text (0, 0: all)
    length: int


@dataclass(frozen=True)
class LintNode:
    domain: Optional[str]
    parent: int         # node 0 is its own parent
    via: Optional[str]  # None (root), "include" or "redirect"
    text: Optional[str]
    lookups: int        # DNS-querying terms of the subtree


@dataclass(frozen=True)
class LintReport:
    diagnostics: Tuple[LintDiagnostic, ...]
    nodes: Tuple[LintNode, ...]
    lookups: int
    void_lookups: int
    worst: Optional[str]   # highest severity, None if clean


_SEV = {0: "info", 1: "warning", 2: "error"}


def lint(domain_or_record: str, *, domain: Optional[str] = None,
         resolver: Optional[Resolver] = None, client_ip: Optional[str] = None,
         timeout: float = 20.0) -> LintReport:
    """Lint a published domain, or a record text (starting with "v=spf1")
    as if published for ``domain`` (None: a static look with no DNS).
    Follows include and redirect targets, counts lookups, finds void
    targets and loops; returns the diagnostics and the include tree."""
    is_record = domain_or_record.lower().startswith("v=spf1")
    if resolver is None and (not is_record or domain is not None):
        resolver = _default_resolver()
    if resolver is None:
        resolver = Zone()
    bound = resolver._bind()
    try:
        ctx = _new_ctx(bound)
        out = ffi.new("mdspf_lint **")
        _ok(lib.mdspf_lint_new(ctx, out), "lint")
        lt = ffi.gc(out[0], lib.mdspf_lint_free)
        if client_ip is not None and \
                lib.mdspf_lint_set_client(lt, _b(client_ip)) != 0:
            raise ValueError("bad client IP address %r" % client_ip)
        ms = max(1, int(timeout * 1000))
        lock = bound.lock if bound.lock is not None else _MultiLock()
        with lock:
            if is_record:
                raw = _b(domain_or_record)
                rc = lib.mdspf_lint_record(lt, _b(domain), raw, len(raw), ms)
            else:
                rc = lib.mdspf_lint_domain(lt, _b(domain_or_record), ms)
        if rc == lib.MDSPF_E_INVAL:
            raise ValueError("bad domain %r" % (domain or domain_or_record))
        _ok(rc, "lint")
        diags = []
        for i in range(lib.mdspf_lint_ndiags(lt)):
            off = ffi.new("size_t *")
            ln = ffi.new("size_t *")
            lib.mdspf_lint_diag_span(lt, i, off, ln)
            diags.append(LintDiagnostic(
                severity=_SEV.get(lib.mdspf_lint_diag_severity(lt, i), "?"),
                code=_s(lib.mdspf_lint_code_str(
                    lib.mdspf_lint_diag_code(lt, i))) or "?",
                message=_s(lib.mdspf_lint_diag_message(lt, i)) or "",
                node=lib.mdspf_lint_diag_node(lt, i),
                offset=off[0], length=ln[0]))
        nodes = []
        for n in range(lib.mdspf_lint_nnodes(lt)):
            via = lib.mdspf_lint_node_via(lt, n)
            nodes.append(LintNode(
                domain=_s(lib.mdspf_lint_node_domain(lt, n)),
                parent=lib.mdspf_lint_node_parent(lt, n),
                via=None if via == 0 else _s(lib.mdspf_term_kind_str(via)),
                text=_s(lib.mdspf_lint_node_text(lt, n)),
                lookups=lib.mdspf_lint_node_lookups(lt, n)))
        worst = lib.mdspf_lint_worst(lt)
        return LintReport(diagnostics=tuple(diags), nodes=tuple(nodes),
                          lookups=lib.mdspf_lint_lookups(lt),
                          void_lookups=lib.mdspf_lint_void_lookups(lt),
                          worst=_SEV.get(worst))
    finally:
        bound.close()

