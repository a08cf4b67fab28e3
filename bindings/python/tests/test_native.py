# SPDX-License-Identifier: BSD-2-Clause
"""The native API over zones and Python resolvers."""
import threading

import pytest

import maildrop_spf as m
from maildrop_spf import SPFResult


def test_results_over_zone(zone):
    r = m.check("192.0.2.1", "a@example.com", "h.example.com", resolver=zone)
    assert r.result is SPFResult.PASS and r.result == "pass"
    assert r.mechanism == "ip4:192.0.2.0/24"
    assert r.domain == "example.com"
    assert r.identity == "mailfrom" and r.client_ip == "192.0.2.1"
    assert m.check("198.51.100.7", "a@example.com", "h", resolver=zone).result \
        == "pass"
    mx = m.check("198.51.100.25", "a@example.com", "h", resolver=zone)
    assert (mx.result, mx.mechanism) == ("pass", "mx")
    assert mx.dns_terms == 2  # a, mx
    inc = m.check("2001:db8::1", "a@example.com", "h", resolver=zone)
    assert (inc.result, inc.mechanism) == ("pass", "include:inc.example.net")
    f = m.check("203.0.113.9", "a@example.com", "h", resolver=zone)
    assert f.result == "fail" and f.explanation
    assert "203.0.113.9" in f.explanation
    assert m.check("203.0.113.9", "a@soft.example.com", "h",
                   resolver=zone).result == "softfail"
    assert m.check("203.0.113.9", "a@none.example.com", "h",
                   resolver=zone).result == "none"
    p = m.check("203.0.113.9", "a@broken.example.com", "h", resolver=zone)
    assert p.result == "permerror" and p.problem
    code, off, ln = p.syntax_error
    assert p.record[off:off + ln] == "frob"
    assert m.check("203.0.113.9", "a@two.example.com", "h",
                   resolver=zone).result == "permerror"
    e = m.check("203.0.113.9", "a@exp.example.com", "h", resolver=zone)
    assert e.explanation == "203.0.113.9 may not send for exp.example.com"


def test_helo_identity_and_null_sender(zone):
    r = m.check("203.0.113.9", "", "soft.example.com", resolver=zone)
    assert r.result == "softfail" and r.identity == "helo"
    r = m.check("192.0.2.1", "x@none.example.com", "example.com",
                resolver=zone, identity="helo")
    assert r.result == "pass" and r.identity_domain == "example.com"


def test_headers(zone):
    r = m.check("192.0.2.1", "a@example.com", "h.example.com", resolver=zone,
                receiver="mx.test")
    h = r.received_spf()
    assert h.startswith("Received-SPF: pass (mx.test: ")
    assert 'mechanism="ip4:192.0.2.0/24"' in h and "receiver=mx.test" in h
    assert r.received_spf("other.test").count("receiver=other.test") == 1
    ar = r.authentication_results("mx.test")
    assert ar.startswith("Authentication-Results: mx.test; spf=pass")
    assert "smtp.mailfrom=a@example.com" in ar


def test_bad_input(zone):
    with pytest.raises(ValueError):
        m.check("not-an-ip", "a@example.com", "h", resolver=zone)
    with pytest.raises(ValueError):
        m.check("192.0.2.1", "a@example.com", "h", resolver=zone,
                limits={"nonsense": 1})
    with pytest.raises(ValueError):
        m.check("192.0.2.1", "a@example.com", "h", resolver=zone,
                limits={"dns_terms": 0})
    with pytest.raises(ValueError):
        m.Zone("example.com. TXT\n")
    with pytest.raises(OSError):
        m.Zone(file="/nonexistent/zone/file")
    with pytest.raises(ValueError):
        m.DnsResolver("not a server")


def test_limits_and_timeout(zone):
    r = m.check("198.51.100.25", "a@example.com", "h", resolver=zone,
                limits={"dns_terms": 1})
    assert r.result == "permerror"
    hang = m.PythonResolver(lambda q: None, wait=lambda s: None)
    r = m.check("192.0.2.1", "a@example.com", "h", resolver=hang,
                timeout=0.05)
    assert r.result == "temperror"
    assert not hang.pending  # the timeout cancelled the query


def test_zone_file_and_overlay(tmp_path, zone):
    p = tmp_path / "z.zone"
    p.write_text('whatif.example. TXT "v=spf1 ip4:203.0.113.0/24 -all"\n')
    z = m.Zone(file=p)
    assert m.check("203.0.113.1", "a@whatif.example", "h",
                   resolver=z).result == "pass"
    top = m.Zone('example.com. TXT "v=spf1 ip4:203.0.113.0/24 -all"\n')
    ov = m.Overlay(top, zone)
    assert m.check("203.0.113.1", "a@example.com", "h",
                   resolver=ov).result == "pass"
    assert m.check("203.0.113.1", "a@soft.example.com", "h",
                   resolver=ov).result == "softfail"  # from below
    assert m.check("203.0.113.1", "a@example.com", "h",
                   resolver=zone).result == "fail"  # unchanged


def test_python_resolver_inline():
    seen = []

    def handler(q):
        seen.append((q.name, q.type))
        if q.type == "TXT" and q.name == "py.example":
            return ["v=spf1 a:host.py.example mx -all"]
        if q.name == "host.py.example" and q.type == "A":
            return ["192.0.2.77"]
        if q.type == "MX":
            q.answer([(10, "mx.py.example")])
            return None
        if q.name == "mx.py.example" and q.type == "A":
            return [b"\xc0\x00\x02\x58"]  # 192.0.2.88 packed
        return m.DnsStatus.NXDOMAIN

    res = m.PythonResolver(handler)
    assert m.check("192.0.2.77", "u@py.example", "h",
                   resolver=res).result == "pass"
    assert m.check("192.0.2.88", "u@py.example", "h",
                   resolver=res).result == "pass"
    assert m.check("192.0.2.99", "u@py.example", "h",
                   resolver=res).result == "fail"
    assert ("py.example", "TXT") in seen and ("py.example", "MX") in seen


def test_python_resolver_errors():
    def boom(q):
        raise RuntimeError("resolver bug")
    res = m.PythonResolver(boom)
    r = m.check("192.0.2.1", "u@py.example", "h", resolver=res)
    assert r.result == "temperror"
    assert isinstance(res.errors[-1], RuntimeError)
    tf = m.PythonResolver(lambda q: "tempfail")
    assert m.check("192.0.2.1", "u@py.example", "h",
                   resolver=tf).result == "temperror"
    bad = m.PythonResolver(lambda q: ["not an address"]
                           if q.type == "A" else ["v=spf1 a -all"])
    assert m.check("192.0.2.1", "u@py.example", "h",
                   resolver=bad).result == "temperror"


def test_python_resolver_later_sync():
    """Answers given later, from the resolver's wait()."""
    queue = []

    def wait(seconds):
        while queue:
            q = queue.pop(0)
            q.answer(["v=spf1 ip4:192.0.2.0/24 -all"] if q.type == "TXT"
                     else [])
    res = m.PythonResolver(lambda q: queue.append(q), wait=wait)
    assert m.check("192.0.2.1", "u@later.example", "h",
                   resolver=res).result == "pass"
    assert m.check("192.0.3.1", "u@later.example", "h",
                   resolver=res).result == "fail"
    # without wait(), an answer that is not given inline cannot come
    nowait = m.PythonResolver(lambda q: None)
    with pytest.raises(m.MaildropSPFError):
        m.check("192.0.2.1", "u@later.example", "h", resolver=nowait)


def test_threads_share_a_zone(zone):
    errors = []

    def work():
        try:
            for i in range(300):
                r = m.check("192.0.2.%d" % (i % 250 + 1), "a@example.com",
                            "h", resolver=zone)
                assert r.result == "pass"
        except BaseException as exc:  # noqa
            errors.append(exc)
    ts = [threading.Thread(target=work) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors


def test_parse():
    rec = m.parse("v=spf1 -ip4:192.0.2.0/24 a:%{d}/24//64 ~all moo=bar")
    kinds = [t.kind for t in rec.terms]
    assert kinds == ["ip4", "a", "all", "modifier"]
    assert rec.terms[0].qualifier == "-" and rec.terms[0].cidr4 == 24
    assert rec.terms[1].cidr4 == 24 and rec.terms[1].cidr6 == 64
    assert rec.terms[1].has_macros and rec.terms[3].qualifier is None
    t = rec.terms[1]
    assert rec.text[t.offset:t.offset + t.length] == "a:%{d}/24//64"
    assert rec.canonical.startswith("v=spf1 -ip4:192.0.2.0/24")
    with pytest.raises(m.SPFSyntaxError) as ei:
        m.parse("v=spf1 ip4:192.0.2.0/24 frob -all")
    e = ei.value
    assert isinstance(e, SyntaxError)
    assert (e.offset, e.length) == (24, 4) and e.code > 0
    with pytest.raises(m.SPFSyntaxError) as ei:
        m.parse("v=spf1 ip4:300.1.1.1")
    assert ei.value.offset == 11  # the address itself
    with pytest.raises(m.SPFSyntaxError):
        m.parse("spf2.0/pra -all")


def test_lint(zone):
    rep = m.lint("v=spf1 +all")
    assert rep.worst == "error"
    assert any(d.code == "pass-all" for d in rep.diagnostics), rep
    rep = m.lint("example.com", resolver=zone)
    assert rep.lookups == 3  # a, mx, include
    assert [n.domain for n in rep.nodes] == ["example.com", "inc.example.net"]
    assert rep.nodes[1].via == "include" and rep.nodes[1].parent == 0
    rep = m.lint("broken.example.com", resolver=zone)
    d = [d for d in rep.diagnostics if d.code == "syntax"][0]
    text = rep.nodes[d.node].text
    assert text[d.offset:d.offset + d.length] == "frob"
    with pytest.raises(ValueError):
        m.lint("bad..domain", resolver=zone)


def test_version():
    assert m.version() == m.__version__
