"""A blocking SPF check against an in-memory zone (use DnsResolver() or
no resolver at all for live DNS)."""
import maildrop_spf

zone = maildrop_spf.Zone("""
example.com.       TXT "v=spf1 ip4:192.0.2.0/24 include:_spf.example.net -all"
_spf.example.net.  TXT "v=spf1 ip6:2001:db8::/32 ~all"
""")

r = maildrop_spf.check("192.0.2.10", "alice@example.com", "mx.example.com",
                       resolver=zone, receiver="mx.example.org")
print(r.result, r.mechanism)
print(r.received_spf())

r = maildrop_spf.check("203.0.113.5", "alice@example.com", "mx.example.com",
                       resolver=zone)
print(r.result, r.explanation)
