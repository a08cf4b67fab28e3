# SPDX-License-Identifier: BSD-2-Clause
"""check_async: many checks on one loop, answers later, cancellation, and
the c-ares backend on the loop against a small DNS server on loopback."""
import asyncio
import struct

import pytest

import maildrop_spf as m


def run(coro):
    return asyncio.run(coro)


def test_thousand_in_flight_python_resolver_later():
    """1,000 checks in flight; every answer comes from a later loop
    callback, so all of them are outstanding at once."""
    state = {"max": 0}

    def handler(q):
        loop = asyncio.get_running_loop()
        state["max"] = max(state["max"], len(res.pending))
        if q.type == "TXT":
            loop.call_later(0.01, q.answer,
                            ["v=spf1 ip4:192.0.2.0/24 a:h.%s -all" % q.name])
        else:
            loop.call_soon(q.answer, ["198.51.100.1"])
    res = m.PythonResolver(handler)

    async def main():
        return await asyncio.gather(*(
            m.check_async("192.0.2.%d" % (i % 250 + 1) if i % 2 else
                          "198.51.100.%d" % (i % 3),
                          "u@d%d.example" % i, "h", resolver=res)
            for i in range(1000)))
    results = run(main())
    assert len(results) == 1000
    for i, r in enumerate(results):
        want = "pass" if i % 2 or i % 3 == 1 else "fail"
        assert r.result == want, (i, r)
    assert state["max"] >= 999  # every check was waiting at once
    assert not res.pending


def test_awaitable_answers():
    async def handler_coro(q):
        await asyncio.sleep(0.001)
        return ["v=spf1 -all"] if q.type == "TXT" else []
    res = m.PythonResolver(lambda q: handler_coro(q))

    async def main():
        return await asyncio.gather(*(
            m.check_async("192.0.2.1", "a@x%d.example" % i, "h",
                          resolver=res) for i in range(50)))
    assert {r.result for r in run(main())} == {m.SPFResult.FAIL}


def test_cancellation():
    seen = []
    res = m.PythonResolver(lambda q: seen.append(q))  # never answers

    async def main():
        t = asyncio.ensure_future(
            m.check_async("192.0.2.1", "a@hang.example", "h", resolver=res))
        await asyncio.sleep(0.01)
        assert len(seen) == 1 and not seen[0].cancelled
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t
        assert seen[0].cancelled  # mdspf_check_cancel withdrew the query
        seen[0].answer(["v=spf1 +all"])  # too late: ignored
        # the timeout still works for others
        r = await m.check_async("192.0.2.1", "a@hang2.example", "h",
                                resolver=res, timeout=0.05)
        return r
    r = run(main())
    assert r.result == "temperror"
    assert not res.pending


def test_zone_async(zone):
    async def main():
        return await asyncio.gather(
            m.check_async("192.0.2.1", "a@example.com", "h", resolver=zone),
            m.check_async("203.0.113.1", "a@example.com", "h", resolver=zone,
                          receiver="mx.test"),
            m.check_async("203.0.113.1", "a@soft.example.com", "h",
                          resolver=zone, limits={"dns_terms": 5}))
    a, b, c = run(main())
    assert (a.result, b.result, c.result) == ("pass", "fail", "softfail")
    assert "receiver=mx.test" in b.received_spf()


# ---- a small authoritative server on the loop, for the c-ares backend ----

def _qname(msg, off):
    labels = []
    while msg[off]:
        n = msg[off]
        labels.append(msg[off + 1:off + 1 + n].decode())
        off += n + 1
    return ".".join(labels), off + 1


class _Server(asyncio.DatagramProtocol):
    def __init__(self, records, delay=0.0):
        self.records = records  # (name, type) -> [rdata bytes]
        self.delay = delay
        self.count = 0

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        self.count += 1
        qid = data[:2]
        name, off = _qname(data, 12)
        qtype = struct.unpack("!H", data[off:off + 2])[0]
        question = data[12:off + 4]
        rrs = self.records.get((name.lower(), qtype))
        exists = any(k[0] == name.lower() for k in self.records)
        rcode = 0 if exists else 3
        flags = 0x8400 | rcode
        ans = b""
        for rd in rrs or ():
            ans += b"\xc0\x0c" + struct.pack("!HHIH", qtype, 1, 60, len(rd)) + rd
        reply = qid + struct.pack("!HHHHH", flags, 1, len(rrs or ()), 0, 0) \
            + question + ans
        if self.delay:
            loop = asyncio.get_running_loop()
            loop.call_later(self.delay, self.transport.sendto, reply, addr)
        else:
            self.transport.sendto(reply, addr)


def _txt(s):
    b = s.encode()
    return bytes([len(b)]) + b


def test_cares_on_the_loop():
    records = {("udp.example", 16): [_txt("v=spf1 a:host.udp.example -all")],
               ("host.udp.example", 1): [bytes([192, 0, 2, 5])]}

    async def main():
        loop = asyncio.get_running_loop()
        server = _Server(records, delay=0.005)
        transport, _ = await loop.create_datagram_endpoint(
            lambda: server, local_addr=("127.0.0.1", 0))
        port = transport.get_extra_info("sockname")[1]
        try:
            dns = m.DnsResolver("127.0.0.1:%d" % port, timeout=1.0)
            results = await asyncio.gather(*(
                m.check_async("192.0.2.%d" % (5 + i % 2), "a@udp.example",
                              "h", resolver=dns) for i in range(200)))
            none = await m.check_async("192.0.2.5", "a@nx.example", "h",
                                       resolver=dns)
            # cancellation with c-ares queries outstanding
            t = asyncio.ensure_future(m.check_async(
                "192.0.2.5", "a@udp.example", "h", resolver=dns))
            await asyncio.sleep(0)
            t.cancel()
            with pytest.raises(asyncio.CancelledError):
                await t
            again = await m.check_async("192.0.2.5", "a@udp.example", "h",
                                        resolver=dns)
            return results, none, again, server.count
        finally:
            transport.close()
    results, none, again, count = run(main())
    assert [r.result.value for r in results] == ["pass", "fail"] * 100
    assert none.result == "none" and again.result == "pass"
    assert count >= 400


def test_cares_sync_against_thread_server():
    """The blocking path of the same backend (its own wait())."""
    import socket
    import threading
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    port = sock.getsockname()[1]
    records = {("sync.example", 16): [_txt("v=spf1 ip4:192.0.2.0/24 -all")]}
    proto = _Server(records)

    class T:
        def sendto(self, reply, addr):
            sock.sendto(reply, addr)
    proto.transport = T()
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                data, addr = sock.recvfrom(2048)
            except OSError:
                continue
            proto.datagram_received(data, addr)
    th = threading.Thread(target=serve, daemon=True)
    th.start()
    try:
        dns = m.DnsResolver(["127.0.0.1:%d" % port])
        assert m.check("192.0.2.9", "a@sync.example", "h",
                       resolver=dns).result == "pass"
        assert m.check("203.0.113.9", "a@sync.example", "h",
                       resolver=dns).result == "fail"
    finally:
        stop.set()
        sock.close()
        th.join(5)
