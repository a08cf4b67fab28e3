"""Many SPF checks in flight on one asyncio loop, no threads (use
DnsResolver() or no resolver at all for live DNS)."""
import asyncio

import maildrop_spf

zone = maildrop_spf.Zone("""
example.com.  TXT "v=spf1 ip4:192.0.2.0/24 -all"
""")


async def main() -> None:
    clients = ["192.0.2.%d" % i for i in range(1, 101)] + ["198.51.100.1"]
    results = await asyncio.gather(*(
        maildrop_spf.check_async(ip, "bob@example.com", "mx.example.com",
                                 resolver=zone, timeout=5)
        for ip in clients))
    tally = {}
    for r in results:
        tally[r.result.value] = tally.get(r.result.value, 0) + 1
    print(sorted(tally.items()))

asyncio.run(main())
