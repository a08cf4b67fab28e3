# SPDX-License-Identifier: BSD-2-Clause
"""A drop-in for pyspf's ``spf`` module on libmaildrop-spf.

Programs written for pyspf (spf-engine, test drivers) use it unchanged by
making it importable as ``spf``::

    import sys
    from maildrop_spf.compat import spf
    sys.modules["spf"] = spf

What it keeps of pyspf's interface: check2(), check(), query(...) with
check() / best_guess() / get_header() / get_header_comment() and the
attributes programs read (mechanism, lookups, void_lookups, perm_error,
prob, cache for the checked domain's TXT record, the macro variables
i s l o d h c r); TempError, PermError, AmbiguityWarning; MAX_LOOKUP,
MAX_MX, MAX_PTR and MAX_VOID_LOOKUPS, read at every check; DNSLookup,
used for every DNS query of a check once it is replaced (test drivers
monkeypatch it); split_email() and domainmatch().  What differs is in
bindings/python/README.md.
"""

from __future__ import annotations

import ipaddress
import time
from typing import Any, Dict, List, Optional, Tuple

import maildrop_spf as _m

# the pyspf release whose interface this follows (spf-engine reads it)
__version__ = "2.0.14"
MODULE = "spf"

MAX_LOOKUP = 10
MAX_MX = 10
MAX_PTR = 10
MAX_VOID_LOOKUPS = 2
MAX_PER_LOOKUP_TIME = 20
MAX_CNAME = 10
DEFAULT_SPF = "v=spf1 a/24 mx/24 ptr"

EXPLANATIONS = {
    "pass": "sender SPF authorized",
    "fail": "SPF fail - not authorized",
    "permerror": "permanent error in processing",
    "temperror": "temporary DNS error in processing",
    "softfail": "domain owner discourages use of this host",
    "neutral": "access neither permitted nor denied",
    "none": "",
}

_CODES = {"pass": 250, "fail": 550, "softfail": 250, "neutral": 250,
          "none": 250, "permerror": 550, "temperror": 451}


class _SPFException(Exception):
    def __init__(self, msg: str, mech: Optional[str] = None,
                 ext: Any = None) -> None:
        Exception.__init__(self, msg, mech)
        self.msg = msg
        self.mech = mech
        self.ext = ext

    def __str__(self) -> str:
        return "%s: %s" % (self.msg, self.mech) if self.mech else self.msg


class TempError(_SPFException):
    """A temporary (DNS) error."""


class PermError(_SPFException):
    """A permanent error (a broken record, a limit exceeded)."""


class AmbiguityWarning(_SPFException):
    """pyspf's harsh mode (strict=2) warning; never raised here."""


def _dns_lookup_unavailable(name: str, qtype: str, strict: Any = True,
                            timeout: Any = 20) -> List[Any]:
    """pyspf's DNS lookup, answered with dnspython as pyspf does (checks do
    not use it unless it is replaced)."""
    try:
        import dns.resolver
        import dns.exception
    except ImportError as exc:
        raise TempError("DNSLookup needs dnspython: %s" % exc)
    out: List[Any] = []
    try:
        ans = dns.resolver.resolve(name, qtype, lifetime=float(timeout or 20),
                                   raise_on_no_answer=False,
                                   search=False)
        for rrset in ans.response.answer:
            for rr in rrset:
                t = dns.rdatatype.to_text(rr.rdtype)
                n = rrset.name.to_text(omit_final_dot=True)
                if t == "A":
                    v: Any = rr.address
                elif t == "AAAA":
                    v = ipaddress.ip_address(rr.address).packed
                elif t == "MX":
                    v = (rr.preference, rr.exchange.to_text(True))
                elif t in ("PTR", "CNAME"):
                    v = rr.target.to_text(True)
                elif t in ("TXT", "SPF"):
                    v = tuple(rr.strings)
                else:
                    continue
                out.append(((n, t), v))
    except dns.resolver.NXDOMAIN:
        return []
    except (dns.exception.DNSException, OSError) as exc:
        raise TempError("DNS %s" % exc)
    return out


DNSLookup = _dns_lookup_unavailable
_NATIVE_DNSLOOKUP = DNSLookup


def _module_limits() -> Dict[str, int]:
    def clamp(v: Any, lo: int) -> int:
        return max(lo, min(100, int(v)))
    return {"dns_terms": clamp(MAX_LOOKUP, 1), "mx_names": clamp(MAX_MX, 1),
            "ptr_names": clamp(MAX_PTR, 1),
            "void_lookups": clamp(MAX_VOID_LOOKUPS, 0)}


def _lookup_resolver(strict: Any, timeout: Any) -> _m.PythonResolver:
    """Every query of the check through the module's (replaced) DNSLookup,
    called as pyspf calls it: DNSLookup(name, qtype, strict, timeout)."""
    lookup = DNSLookup

    def handler(q: _m.Query) -> Any:
        name = q.name
        seen = set()
        # answers are given for the asked type; a chain of CNAMEs whose
        # end the lookup did not include is followed as pyspf does
        # (at most MAX_CNAME names)
        for _ in range(MAX_CNAME + 1):
            try:
                answers = lookup(name, q.type, strict, timeout)
            except TempError:
                return _m.DnsStatus.TEMPFAIL
            out = []
            cnames = {}
            for (owner, rtype), value in answers or ():
                if rtype == "CNAME":
                    cnames[str(owner).lower().rstrip(".")] = \
                        str(value).rstrip(".")
                if rtype != q.type:
                    continue
                if rtype == "TXT" and isinstance(value, (tuple, list)):
                    value = b"".join(v.encode() if isinstance(v, str) else v
                                     for v in value)
                out.append(value)
            if out or not cnames:
                return out
            target = name.lower().rstrip(".")
            while target in cnames and target not in seen:
                seen.add(target)
                target = cnames[target].lower()
            if target in seen:
                return _m.DnsStatus.ERROR  # a CNAME loop
            name = target
        return _m.DnsStatus.ERROR
    return _m.PythonResolver(handler)


_SYSTEM: List[_m.DnsResolver] = []


def _resolver(strict: Any, timeout: Any) -> _m.Resolver:
    if DNSLookup is not _NATIVE_DNSLOOKUP:
        return _lookup_resolver(strict, timeout)
    if not _SYSTEM:
        _SYSTEM.append(_m.DnsResolver())
    return _SYSTEM[0]


def split_email(s: str, h: str) -> Tuple[str, str]:
    """(local-part, domain) of sender s; postmaster@h when s has none."""
    if not s:
        return "postmaster", h
    local, at, dom = s.rpartition("@")
    if not at:
        return "postmaster", s
    return (local or "postmaster"), dom


def domainmatch(ptrs: List[str], domainsuffix: str) -> bool:
    """True when one of the names is domainsuffix or under it."""
    suffix = domainsuffix.lower().rstrip(".")
    for p in ptrs:
        p = p.lower().rstrip(".")
        if p == suffix or p.endswith("." + suffix):
            return True
    return False


def quote_value(s: Optional[str]) -> Optional[str]:
    """A header parameter value: a dot-atom as it is, else quoted."""
    if s is None:
        return None
    atext = ("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
             "0123456789!#$%&'*+-/=?^_`{|}~")
    parts = s.split(".")
    if s and all(p and all(c in atext for c in p) for p in parts):
        return s
    return '"%s"' % s.replace("\\", "\\\\").replace('"', '\\"')


class query(object):
    """One SPF query, as pyspf's: query(i, s, h, local=None, receiver=None,
    strict=True, timeout=20, verbose=False, querytime=0).check() returns
    (result, SMTP code, explanation)."""

    def __init__(self, i: str, s: str, h: str, local: Optional[str] = None,
                 receiver: Optional[str] = None, strict: Any = True,
                 timeout: float = MAX_PER_LOOKUP_TIME, verbose: bool = False,
                 querytime: float = 0) -> None:
        self.s, self.h = s, h
        if not s and h:
            self.s = "postmaster@" + h
            self.ident = "helo"
        else:
            self.ident = "mailfrom"
        self.l, self.o = split_email(s, h)
        self.d = self.o
        self.t = str(int(time.time()))
        self.r = receiver or "unknown"
        self.libspf_local = local
        self.strict = strict
        self.timeout = timeout
        self.querytime = querytime
        self.verbose = verbose
        self.lookups = 0
        self.void_lookups = 0
        self.mechanism: Optional[str] = None
        self.perm_error: Optional[PermError] = None
        self.prob: Optional[str] = None
        self.mech: List[str] = []
        self.cache: Dict[Tuple[str, str], List[Any]] = {}
        self.exps = dict(EXPLANATIONS)
        self.defexps = dict(EXPLANATIONS)
        self.result: Optional[_m.Result] = None
        self.ipaddr: Any = None
        self.c = self.i = i
        if i:
            self.set_ip(i)

    def set_ip(self, i: str) -> None:
        try:
            addr = ipaddress.ip_address(i)
        except ValueError as exc:
            raise PermError(str(exc))
        if addr.version == 6 and addr.ipv4_mapped:
            addr = addr.ipv4_mapped
        self.ipaddr = addr
        self.c = str(addr)
        if addr.version == 6:
            self.v = "ip6"
            self.i = ".".join(addr.exploded.replace(":", "").upper())
        else:
            self.v = "in-addr"
            self.i = addr.exploded

    def set_default_explanation(self, exp: str) -> None:
        for k in ("softfail", "fail", "permerror"):
            self.exps[k] = exp
            self.defexps[k] = exp

    def set_explanation(self, exp: str) -> None:
        for k in ("softfail", "fail", "permerror"):
            self.exps[k] = exp

    def _run(self, spf: Optional[str]) -> _m.Result:
        budget = self.querytime if self.querytime and self.querytime > 0 \
            else (self.timeout or MAX_PER_LOOKUP_TIME)
        overrides = {self.d: spf} if spf else None
        sender = self.s if self.ident == "mailfrom" else ""
        return _m.check(
            self.c, sender, self.h,
            resolver=_resolver(self.strict, self.timeout),
            timeout=float(budget), receiver=self.r,
            limits=_module_limits(),
            identity="helo" if self.ident == "helo" else "mailfrom",
            explanation=self.exps["fail"].replace("%", "%%"),
            local=self.libspf_local or None, overrides=overrides)

    def check(self, spf: Optional[str] = None) -> Tuple[str, int, str]:
        """(result, code, explanation); result is one of pass, fail,
        softfail, neutral, none, permerror, temperror."""
        self.perm_error = None
        self.mech = []
        self.prob = None
        self.mechanism = None
        if spf is not None and not spf.lower().startswith("v=spf1"):
            # pyspf: a text that is no SPF record is no record
            spf = None if spf.strip() == "" else spf
        try:
            r = self._run(spf)
        except PermError:
            raise
        except ValueError as exc:
            self.prob = str(exc)
            return ("permerror", 550, "SPF Permanent Error: %s" % exc)
        self.result = r
        res = r.result.value
        self.lookups = r.dns_terms
        self.void_lookups = r.void_lookups
        self.mechanism = r.mechanism
        if r.record is not None and r.domain and \
                r.domain.lower() == (self.d or "").lower():
            self.cache[(self.d, "TXT")] = [(r.record.encode(),)]
        if res == "permerror":
            self.prob = r.problem or "permanent error"
            self.perm_error = PermError(self.prob)
            if r.mechanism:
                self.mech.append(r.mechanism)
            return (res, 550, "SPF Permanent Error: %s" % self.prob)
        if res == "temperror":
            self.prob = r.problem or "temporary error"
            return (res, 451, "SPF Temporary Error: %s" % self.prob)
        if res == "fail":
            return (res, 550, r.explanation or self.exps["fail"])
        return (res, _CODES[res], self.exps.get(res, ""))

    def best_guess(self, spf: str = DEFAULT_SPF) -> Tuple[str, int, str]:
        """Evaluate spf (default: DEFAULT_SPF) as the domain's record;
        permerror becomes neutral."""
        res = self.check(spf)
        if res[0] == "permerror":
            return ("neutral", 250, self.exps["neutral"])
        return res

    def get_header_comment(self, res: str) -> str:
        sender = self.o
        if res == "pass":
            return "domain of %s designates %s as permitted sender" % (
                sender, self.c)
        if res == "softfail":
            return ("transitioning domain of %s does not designate %s as "
                    "permitted sender" % (sender, self.c))
        if res in ("neutral", "none"):
            return "%s is neither permitted nor denied by domain of %s" % (
                self.c, sender)
        if res == "permerror":
            return "permanent error in processing domain of %s: %s" % (
                sender, self.prob)
        if res == "temperror":
            return ("temporary error in processing during lookup of %s"
                    % sender)
        if res == "fail":
            return ("domain of %s does not designate %s as permitted sender"
                    % (sender, self.c))
        raise ValueError("invalid SPF result for header comment: " + res)

    def get_header(self, res: str, receiver: Optional[str] = None,
                   header_type: str = "spf", aid: Optional[str] = None,
                   **kv: Any) -> str:
        """The Received-SPF value (header_type "spf", without the field
        name, as pyspf gives it) or the whole Authentication-Results
        field (header_type "authres", authserv-id aid)."""
        if header_type == "authres":
            if not aid:
                raise SyntaxError("authserv-id missing for Authentication "
                                  "Results header type, see RFC5451 2.3")
            if self.result is None:
                raise ValueError("no check has run")
            return self.result.authentication_results(aid)
        if header_type != "spf":
            raise SyntaxError("Unknown results header type: %s"
                              % header_type)
        receiver = receiver or self.r
        tags = {"pass": "Pass", "neutral": "Neutral", "fail": "Fail",
                "softfail": "SoftFail", "none": "None",
                "temperror": "TempError", "permerror": "PermError"}
        parts = ["%s (%s: %s)" % (tags[res], receiver,
                                  self.get_header_comment(res))]
        fields = [("client-ip", self.c),
                  ("envelope-from", None if self.ident == "helo"
                   else quote_value(self.s)),
                  ("helo", quote_value(self.h)), ("receiver", receiver),
                  ("problem", quote_value(" ".join(self.mech))
                   if res == "permerror" and self.mech else None),
                  ("mechanism", quote_value(self.mechanism))]
        for k, v in fields:
            if v:
                parts.append("%s=%s;" % (k, v))
        for k, v in sorted(kv.items()):
            if v:
                parts.append("x-%s=%s;" % (k.replace("_", "-"),
                                           quote_value(v)))
        parts.append("identity=%s" % self.ident)
        return " ".join(parts)


def check2(i: str, s: str, h: str, local: Optional[str] = None,
           receiver: Optional[str] = None,
           timeout: float = MAX_PER_LOOKUP_TIME, verbose: bool = False,
           querytime: float = 20) -> Tuple[str, str]:
    """(result, explanation) of the check of MAIL FROM s (HELO h) from
    client address i, within querytime seconds."""
    res, _code, exp = query(i=i, s=s, h=h, local=local, receiver=receiver,
                            timeout=timeout, verbose=verbose,
                            querytime=querytime).check()
    return res, exp


def check(i: str, s: str, h: str, local: Optional[str] = None,
          receiver: Optional[str] = None,
          verbose: bool = False) -> Tuple[str, int, str]:
    """The pre-RFC 4408 interface: (result, code, explanation) with
    permerror reported as "unknown" and temperror as "error"."""
    res, code, exp = query(i=i, s=s, h=h, local=local, receiver=receiver,
                           verbose=verbose).check()
    if res == "permerror":
        res = "unknown"
    elif res == "temperror":
        res = "error"
    return res, code, exp
