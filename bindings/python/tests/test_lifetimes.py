# SPDX-License-Identifier: BSD-2-Clause
"""Leaks and lifetimes: RSS flat over 100,000 checks, and no reference
cycle keeps an engine object alive (freed without the cycle collector)."""
import asyncio
import gc
import os
import weakref

import maildrop_spf as m


def _rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def test_rss_flat_over_100000_checks(zone):
    res = m.PythonResolver(lambda q: ["v=spf1 ip4:192.0.2.0/24 -all"]
                           if q.type == "TXT" else [])
    n = int(os.environ.get("MDSPF_PY_LEAK_CHECKS", "100000"))
    warm = n // 5
    for i in range(warm):
        m.check("192.0.2.1", "a@example.com", "h", resolver=zone)
    gc.collect()
    before = _rss_kib()
    for i in range(n - warm):
        r = m.check("192.0.2.%d" % (i % 250 + 1), "a@example.com", "h",
                    resolver=zone if i % 2 else res)
        assert r.result == "pass"
        if i % 1000 == 0:
            r.received_spf()
    gc.collect()
    grown = _rss_kib() - before
    assert grown < 4096, "RSS grew by %d KiB over %d checks" % (grown, n)


def _no_cycles(make):
    """make() returns objects to watch; they must die on del alone."""
    gc.collect()
    gc.disable()
    try:
        refs = [weakref.ref(o) for o in make()]
        alive = [r() for r in refs if r() is not None]
        assert not alive, alive
    finally:
        gc.enable()


def test_no_cycles_sync():
    def make():
        z = m.Zone('a.example. TXT "v=spf1 -all"\n')
        pr = m.PythonResolver(lambda q: [])
        ov = m.Overlay(m.Zone('b.example. TXT "v=spf1 +all"\n'), z)
        r1 = m.check("192.0.2.1", "x@a.example", "h", resolver=z)
        r2 = m.check("192.0.2.1", "x@b.example", "h", resolver=ov)
        r3 = m.check("192.0.2.1", "x@c.example", "h", resolver=pr)
        assert (r1.result, r2.result, r3.result) == ("fail", "pass", "none")
        return [z, pr, ov, r1, r2, r3, pr._state]
    _no_cycles(make)


def test_no_cycles_async():
    def make():
        z = m.Zone('a.example. TXT "v=spf1 -all"\n')
        pr = m.PythonResolver(lambda q: asyncio.sleep(0, []))
        dns = m.DnsResolver("127.0.0.1:9")  # never asked: zone and Python

        async def main():
            return await asyncio.gather(
                m.check_async("192.0.2.1", "x@a.example", "h", resolver=z),
                m.check_async("192.0.2.1", "x@c.example", "h", resolver=pr))
        loop = asyncio.new_event_loop()
        r1, r2 = loop.run_until_complete(main())
        assert (r1.result, r2.result) == ("fail", "none")
        engines = [e for d in (z._engines, pr._engines)
                   for per in d.values() for e in per.values()]
        assert len(engines) == 2
        loop.close()
        return [z, pr, dns, loop, r1, r2] + engines
    _no_cycles(make)


def test_finalizers_in_any_order():
    """Drop the resolver while a check still holds it, then the check."""
    seen = []
    pr = m.PythonResolver(lambda q: seen.append(q))

    async def main():
        t = asyncio.ensure_future(
            m.check_async("192.0.2.1", "x@a.example", "h", resolver=pr,
                          timeout=0.05))
        await asyncio.sleep(0.01)
        return await t
    r = asyncio.run(main())
    assert r.result == "temperror" and seen[0].cancelled
    st = weakref.ref(pr._state)
    del pr, seen
    r = None
    gc.collect()
    assert st() is None
