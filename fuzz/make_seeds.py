#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""make_seeds.py -- (re)generate the hand-made seed inputs of fuzz/corpus/.

    python3 fuzz/make_seeds.py [--suite PATH/rfc7208-tests.yml]
                               [--suite-checks]

Writes files named seed-* into fuzz/corpus/<target>/ (other files there,
the fuzzers' own findings merged in later, are left alone):

  fuzz_record      every SPF record of the openspf RFC 7208 suite (when
                   the YAML file and PyYAML are available) plus real-world
                   shaped records
  fuzz_macro       RFC 7208 section 7 examples and broken macros, in the
                   fuzz_macro.c input layout
  fuzz_zone        the repository's zone files behind the 3-byte header
  fuzz_check       hand-made scenarios in the fuzz_check.c layout (with
                   --suite-checks also one per test of the suite: not kept
                   in the repository, the suite runner already replays
                   every test in every delivery mode)
  fuzz_dns_answer  DNS replies of each type built by hand, and truncated
                   and garbled variants
  fuzz_udp         scripted exchanges with the UDP transport's servers in
                   the fuzz_udp.c layout: acceptance, the EDNS FORMERR
                   retry, SERVFAIL/REFUSED failover, time-outs, bad and
                   .onion names, callbacks that start and cancel, a dead
                   and an unconnectable server, forged and big replies

The suite itself is never copied: only the records and scenarios it
describes are turned into individual seed files.  Files named crash-*
(minimised crashers, kept as regression inputs) are never touched.
"""
import argparse
import hashlib
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CORPUS = os.path.join(HERE, "corpus")


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("latin-1")
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def clear(target):
    d = os.path.join(CORPUS, target)
    if os.path.isdir(d):
        for f in os.listdir(d):
            if f.startswith("seed-"):
                os.unlink(os.path.join(d, f))


def short_hash(data):
    if isinstance(data, str):
        data = data.encode("latin-1")
    return hashlib.sha1(data).hexdigest()[:10]


# ---- the openspf suite ---------------------------------------------------

def load_suite(path):
    if not path or not os.path.exists(path):
        return None
    try:
        import yaml
    except ImportError:
        print("PyYAML missing: suite-derived seeds skipped", file=sys.stderr)
        return None
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d]


def txt_strings(v):
    if isinstance(v, list):
        return [str(x) for x in v]
    return [str(v)]


# ---- fuzz_record ---------------------------------------------------------

REAL_WORLD = [
    "v=spf1 include:_spf.google.com ~all",
    "v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.0/24 ip6:2001:db8::/32 "
    "include:spf.protection.outlook.com include:_spf.salesforce.com "
    "include:mail.zendesk.com include:servers.mcsv.net -all",
    "v=spf1 a mx ptr ip4:203.0.113.5 a:relay.example.net/28 "
    "mx:mail.example.org//64 -all",
    "v=spf1 ip6:2001:db8:1234:5678::/64 ip6:2001:db8::1 ip6:::ffff:192.0.2.1 "
    "ip6:fe80::/10 ip6:2001:db8:0:0:0:0:0:1/128 ?all",
    "v=spf1 exists:%{ir}.%{l1r-}.%{d}.spf.example.net "
    "exists:%{i}._spf.%{d2} -all exp=explain._spf.%{d}",
    "v=spf1 redirect=_spf.example.com",
    "v=spf1 -all exp=%{d2}.exp.example",
    "v=spf1 a/24//64 mx/28 include:%{l}.%{o}.example.com ~all "
    "moo.cow-far_out=man:dog/cat ",
    "V=SPF1 +A:EXAMPLE.COM/32 -MX ~PTR:%{D} ?EXISTS:%{I}.X.Y +ALL",
    "v=spf1 ip4:0.0.0.0/0 ip4:255.255.255.255/32 ip6:::/0 ip6:ffff::/128",
    "v=spf1   a    mx     -all   ",
    "v=spf1 include:a.example include:b.example include:c.example "
    "include:d.example include:e.example include:f.example "
    "include:g.example include:h.example include:i.example "
    "include:j.example include:k.example -all",
    "v=spf1 ptr:%{d2r}.example ?ptr a:%{h}.%{v}.%{p}.x.example -all",
    "v=spf1 exp=%{S}%{L}%{O}%{D}%{I}%{P}%{V}%{H}.x.example -all",
    "v=spf1 a:%%.%_.%-.x.example -all",
    "v=spf1 foo=%{c}",
    "v=spf1 ip4:192.0.2.1/33",
    "v=spf1 ip6:2001:db8::1//64",
    "v=spf1 a:example.com/024",
    "v=spf1 include: -all",
    "v=spf1 redirect=a.example redirect=b.example",
    "v=spf1 mx:example.com.//0 a//128 a/0",
    "v=spf1 ip4:1.2.3.4 ip4:01.2.3.4",
    "v=spf1 exists:%{d0}.x.example",
    "v=spf1 " + " ".join("ip4:10.0.%d.%d" % (i // 256, i % 256)
                         for i in range(200)) + " -all",
    "v=spf1 " + "a " * 300 + "-all",
    # the parser's fast path and its near misses, each next to a term the
    # fast path reads, and the number of terms the parser keeps on its
    # stack, one more, and one more than allowed
    "v=spf1 a:x.e:x ip4:192.0.2.1 a:x.ex:y include:x.ex/24 ip4:192.0.2.1x "
    "ip4:192.0.2.1/024 ip6:2001:db8::1%x mx-y=z redirect=x.ex -exp=a.ex "
    "exp=e.ex a:x.e-x ptr:x.ex/24 moo=%{p} all",
    "v=spf1 " + " ".join("mx/%d" % (i % 33) for i in range(64)),
    "v=spf1 " + " ".join("ip4:192.0.2.%d" % (i % 250) for i in range(65)),
    "v=spf1 " + "a " * 4097,
    "v=spf10 -all",
    "v=spf1",
    "v=spf1 -all\x00",
    "v=spf1 a:exa\xe9mple.com",
]


def seeds_record(suite):
    clear("fuzz_record")
    seen = set()
    n = 0
    if suite:
        for doc in suite:
            for name, rrs in (doc.get("zonedata") or {}).items():
                for rr in rrs or []:
                    if not isinstance(rr, dict):
                        continue
                    for k, v in rr.items():
                        if k not in ("TXT", "SPF") or v in (None, "NONE",
                                                             "TIMEOUT"):
                            continue
                        txt = "".join(txt_strings(v))
                        if not txt.lower().startswith("v=spf"):
                            continue
                        if txt in seen:
                            continue
                        seen.add(txt)
                        write("fuzz_record", "suite-" + short_hash(txt), txt)
                        n += 1
    for r in REAL_WORLD:
        if r in seen:
            continue
        seen.add(r)
        write("fuzz_record", "real-" + short_hash(r), r)
        n += 1
    return n


# ---- fuzz_macro ------------------------------------------------------------

def macro_input(macro, explain=False, v6=False, small=1, ip=None,
                l="strong-bad", o="email.example.com", d="email.example.com",
                h="mx.example.org", p="mx.example.org", r="mx.example.net"):
    flags = (1 if explain else 0) | (2 if v6 else 0) | ((small & 7) << 2)
    if ip is None:
        ip = bytes([192, 0, 2, 3]) if not v6 else bytes.fromhex(
            "20010db8000000000000000000cb01")
    ip = (ip + bytes(16))[:16]
    fields = [l, o, d, h, p, r]
    return (bytes([flags]) + ip +
            b"\x00".join(x.encode("latin-1") for x in fields) + b"\x00" +
            macro.encode("latin-1"))


MACROS_DOMAIN = [
    "%{s}", "%{o}", "%{d}", "%{d4}", "%{d3}", "%{d2}", "%{d1}", "%{dr}",
    "%{d2r}", "%{l}", "%{l-}", "%{lr}", "%{lr-}", "%{l1r-}",
    "%{ir}.%{v}._spf.%{d2}", "%{lr-}.lp._spf.%{d2}",
    "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}",
    "%{d2}.trusted-domains.example.net", "%{p}.valid.example",
    "%{h}.helo.example", "%{S}.%{L}.%{O}.%{D}.%{I}.%{P}.%{V}.%{H}",
    "%{l.-+,/_=}.%{d1r.-+,/_=}", "%{d999999999}.x", "%{dr2}", "%%.%_.%-",
    "%{i}.%{i}.%{i}.%{i}.%{i}.%{i}.%{i}.%{i}.%{i}.%{i}.example.com",
    "x." * 130 + "example.com.", "%{d}.",
]
# broken ones, with a buffer large enough to reach the error (see the
# crash-macro-overflow-validation input)
MACROS_DOMAIN_BAD = [
    "%", "%{", "%{d", "%{x}", "%{d0}", "%a", "%{c}", "%{r}", "%{t}",
    "%{dr-x}", "a b", "%{d}\x01",
]
MACROS_EXPLAIN = [
    "%{i} is not one of %{d}'s designated mail servers.",
    "See http://%{d}/why.html?s=%{S}&i=%{I}",
    "Please see http://www.open-spf.org/Why?id=%{S}&ip=%{C}&receiver=%{R}",
    "%{c} %{r} %{t} %{C} %{R} %{T} %{v} %{V}", "%%%_%-", "%{L}%{S}%{H}",
    "plain text with spaces", "%{ir}%{dr}%{lr}" * 20, "%{t5r}",
]
MACROS_EXPLAIN_BAD = ["ends with %", "%{x} bad", "%{d}\x7f"]


def seeds_macro():
    clear("fuzz_macro")
    n = 0
    for i, m in enumerate(MACROS_DOMAIN):
        write("fuzz_macro", "domain-%02d" % i, macro_input(m, small=i % 8))
        n += 1
    for i, m in enumerate(MACROS_EXPLAIN):
        write("fuzz_macro", "explain-%02d" % i,
              macro_input(m, explain=True, small=i % 8))
        n += 1
    for i, m in enumerate(MACROS_DOMAIN_BAD):
        write("fuzz_macro", "domain-bad-%02d" % i, macro_input(m, small=7))
        n += 1
    for i, m in enumerate(MACROS_EXPLAIN_BAD):
        write("fuzz_macro", "explain-bad-%02d" % i,
              macro_input(m, explain=True, small=7))
        n += 1
    # IPv6, long values, odd values
    write("fuzz_macro", "v6-ir", macro_input("%{ir}.%{v}._spf.%{d2}", v6=True))
    write("fuzz_macro", "v6-explain",
          macro_input("%{i} %{c} %{I}", explain=True, v6=True, small=2))
    write("fuzz_macro", "long-l",
          macro_input("%{l}.%{d}", l="a." * 700, small=3))
    write("fuzz_macro", "long-label",
          macro_input("%{l}.example.com", l="x" * 400))
    write("fuzz_macro", "url-escape",
          macro_input("%{L}.%{S}", l="a+b/c=d e%f~g", explain=False))
    write("fuzz_macro", "empty-values",
          macro_input("%{l}%{o}%{d}%{h}%{p}", l="", o="", d="", h="", p=""))
    return n + 6


# ---- fuzz_zone ------------------------------------------------------------

ZONE_FILES = [
    ("tests/data/example.zone", 1),
    ("examples/zones/demo.zone", 0),
    ("tests/integration/zones/spf.test.zone", 4),
    ("tests/integration/zones/other.test.zone", 0),
    ("tests/integration/zones/limits.test.zone", 0),
    ("tests/integration/zones/2.0.192.in-addr.arpa.zone", 0),
    ("tests/integration/zones/8.b.d.0.1.0.0.2.ip6.arpa.zone", 0),
]

SMALL_ZONES = [
    "$ORIGIN example.com.\n$TTL 300\n@ IN TXT \"v=spf1 mx -all\"\n"
    "@ MX 10 mail\nmail A 192.0.2.1\n AAAA 2001:db8::1\n"
    "www CNAME @\nloop CNAME loop2\nloop2 CNAME loop\n"
    "1.2.0.192.in-addr.arpa. PTR mail.example.com.\n",
    "a 3600 IN A 192.0.2.1\nb IN 60 TXT ( \"one\" \"two\"\n \"three\" ) ; c\n"
    "c TXT \"\\065\\066\\\"\\\\x\" unquoted\nd SPF \"v=spf1\"\n"
    "e NS ns.example.\nf SOA a b 1 2 3 4 5\n",
    "$INCLUDE other.zone\n",
    "bad TYPE0 data\n",  # a meta-type: refused (TYPE99, SPF, is skipped)
    "x TYPE65534 \\# 3 abcdef\nx CAA 0 issue \"ca.example\"\n",
    "$GENERATE 1-4 host$ A 192.0.2.$\n",
    "x TXT \"" + "y" * 300 + "\"\n",
    "x MX 70000 mail.\n",
    "x A 192.0.2.256\n",
    "x AAAA 2001:db8::1::2\n",
    "x TXT \"unterminated\n",
    "x ( A\n192.0.2.1 )\n)\n",
]


def seeds_zone():
    clear("fuzz_zone")
    n = 0
    for path, origin in ZONE_FILES:
        with open(os.path.join(ROOT, path), "rb") as f:
            text = f.read()
        base = os.path.basename(path).replace(".zone", "")
        write("fuzz_zone", "file-" + base, bytes([0, 255, origin]) + text)
        n += 1
    # the small fixture under allocation failures and small error buffers
    with open(os.path.join(ROOT, "tests/data/example.zone"), "rb") as f:
        ex = f.read()
    for oom in (3, 17, 40, 130, 160):
        write("fuzz_zone", "oom-%d" % oom, bytes([oom, 40, 1]) + ex)
        n += 1
    for i, z in enumerate(SMALL_ZONES):
        write("fuzz_zone", "small-%02d" % i,
              bytes([0, 8 + 16 * i, 1 + (i % 3)]) + z.encode("latin-1"))
        n += 1
    return n


# ---- fuzz_check -----------------------------------------------------------

def check_input(zone, ip="192.0.2.1", sender="user@example.com",
                helo="mail.example.net", local="", guess="", receiver="",
                defexp="", flags=0x03, limits=(0, 255, 0, 0), fail_at=5):
    head = bytes([flags & 0xff] + list(limits) + [fail_at & 0xff])
    lines = [ip, sender, helo, local, guess, receiver, defexp]
    return head + ("\n".join(lines) + "\n" + zone).encode("latin-1")


def qstr(s):
    out = []
    for ch in s.encode("latin-1", "replace"):
        if ch in (0x22, 0x5c):
            out.append("\\" + chr(ch))
        elif 0x20 <= ch < 0x7f:
            out.append(chr(ch))
        else:
            out.append("\\%03d" % ch)
    return '"' + "".join(out) + '"'


def zname(name):
    out = []
    for ch in name.encode("latin-1", "replace"):
        c = chr(ch)
        if c.isalnum() or c in "-_.*":
            out.append(c)
        else:
            out.append("\\%03d" % ch)
    s = "".join(out)
    return s if s.endswith(".") else s + "."


HAND_ZONES = {
    "include-chain": (
        "@ TXT \"v=spf1 include:i1.example.com -all\"\n"
        "i1 TXT \"v=spf1 include:i2.example.com ?all\"\n"
        "i2 TXT \"v=spf1 include:i3.example.com ~all\"\n"
        "i3 TXT \"v=spf1 ip4:192.0.2.0/24 -all\"\n"),
    "redirect-loop": (
        "@ TXT \"v=spf1 redirect=r1.example.com\"\n"
        "r1 TXT \"v=spf1 redirect=r2.example.com\"\n"
        "r2 TXT \"v=spf1 redirect=example.com\"\n"),
    "mx-many": (
        "@ TXT \"v=spf1 mx/24 -all\"\n" +
        "".join("@ MX %d mx%d\nmx%d A 198.51.100.%d\n AAAA 2001:db8::%d\n"
                % (i, i, i, i, i) for i in range(1, 12))),
    "ptr": (
        "@ TXT \"v=spf1 ptr -all\"\n"
        "1.2.0.192.in-addr.arpa. PTR host.example.com.\n"
        " PTR liar.example.com.\n PTR other.example.org.\n"
        "host A 192.0.2.1\nliar A 198.51.100.1\n"),
    "exists-macros": (
        "@ TXT \"v=spf1 exists:%{ir}.%{v}._spf.%{d2} "
        "exists:%{l1r-}.lp.%{d} -all\"\n"
        "1.2.0.192.in-addr._spf A 127.0.0.2\n"),
    "exp": (
        "@ TXT \"v=spf1 -all exp=why.%{d}\"\n"
        "why TXT \"%{i} is not one of %{d}'s designated mail servers "
        "(%{s} %{l} %{o} %{h} %{c} %{r} %{v} %{p})\"\n"),
    "limits": (
        "@ TXT \"v=spf1 a:a1.example.com a:a2.example.com a:a3.example.com "
        "a:a4.example.com a:a5.example.com a:a6.example.com mx:m.example.com "
        "exists:e.example.com include:i.example.com ptr -all\"\n"
        "i TXT \"v=spf1 a:b1.example.com a:b2.example.com ?all\"\n"
        "m MX 1 n1\n MX 2 n2\n MX 3 n3\n"),
    "void": (
        "@ TXT \"v=spf1 a:nx1.example.com mx:nx2.example.com "
        "exists:nx3.example.com a:nodata.example.com ip4:192.0.2.1 -all\"\n"
        "nodata TXT \"hello\"\n"),
    "faults": (
        "@ TXT \"v=spf1 a:t.example.com mx:s.example.com "
        "include:inc.example.com -all\"\n"
        "t A 192.0.2.9\ns MX 10 t\ninc TXT \"v=spf1 +all\"\n"
        "!timeout t.example.com A\n!servfail inc.example.com\n"),
    "hang": (
        "@ TXT \"v=spf1 mx -all\"\n@ MX 10 m1\n@ MX 20 m2\n"
        "m1 A 198.51.100.1\nm2 A 192.0.2.1\n!hang m1.example.com A\n"),
    "multi-record": (
        "@ TXT \"v=spf1 -all\"\n@ TXT \"v=spf1 +all\"\n"),
    "syntax": (
        "@ TXT \"v=spf1 include:inc.example.com -all\"\n"
        "inc TXT \"v=spf1 ip4:192.0.2.300 -all\"\n"),
    "cname": (
        "@ TXT \"v=spf1 a:alias.example.com include:ci.example.com -all\"\n"
        "alias CNAME real\nreal A 192.0.2.1\nci CNAME real2\n"
        "real2 TXT \"v=spf1 ?all\"\n"),
    "ipv6": (
        "@ TXT \"v=spf1 ip6:2001:db8::/48 a//64 mx//128 -all\"\n"
        "@ AAAA 2001:db8:1::1\n@ MX 0 .\n"),
    "override": (
        "@ TXT \"v=spf1 -all\"\n"
        "!override example.com v=spf1 include:o.example.com -all\n"
        "!fallback o.example.com v=spf1 ip4:192.0.2.0/24\n"),
    "huge-record": (
        "@ TXT ( " + " ".join(qstr(("v=spf1 " if i == 0 else "") +
                                   " ".join("ip4:10.%d.%d.0/24" % (i, j)
                                            for j in range(15)))
                              for i in range(8)) + " \" -all\" )\n"),
}


def seeds_check(suite, with_suite):
    clear("fuzz_check")
    n = 0
    for name, z in HAND_ZONES.items():
        write("fuzz_check", "hand-" + name, check_input(z, fail_at=n * 7 + 3,
                                                        flags=0x33))
        n += 1
    # requests of other shapes over the same small zones
    write("fuzz_check", "hand-helo", check_input(
        HAND_ZONES["include-chain"], sender="", helo="example.com",
        flags=0x07))
    write("fuzz_check", "hand-v6", check_input(
        HAND_ZONES["ipv6"], ip="2001:db8::5", flags=0x23))
    write("fuzz_check", "hand-mapped", check_input(
        HAND_ZONES["include-chain"], ip="::ffff:192.0.2.7", flags=0x01))
    write("fuzz_check", "hand-local-guess", check_input(
        "nospf TXT \"hello\"\n", sender="a@nospf.example.com",
        local="a:relay.example.com ip4:203.0.113.0/24",
        guess="v=spf1 a/24 mx/24 ptr", receiver="rx.example.net",
        defexp="denied %{i} for %{s} by %{r} at %{t}", flags=0x3b))
    write("fuzz_check", "hand-limits", check_input(
        HAND_ZONES["limits"], limits=(3, 0, 2, 1), flags=0xf3, fail_at=40))
    n += 5
    if suite and with_suite:
        for di, doc in enumerate(suite):
            zd = doc.get("zonedata") or {}
            zone = []
            for name, rrs in zd.items():
                rrs = rrs or []
                has_txt = any(isinstance(r, dict) and "TXT" in r for r in rrs)
                for rr in rrs:
                    if not isinstance(rr, dict):
                        zone.append("!timeout " + name)
                        continue
                    for k, v in rr.items():
                        if v == "NONE":
                            continue
                        if v == "TIMEOUT":
                            zone.append("!timeout %s %s" % (name, k))
                            continue
                        if k == "SPF":
                            if has_txt:
                                continue
                            k = "TXT"
                        if k == "TXT":
                            data = " ".join(qstr(s) for s in txt_strings(v))
                            if not txt_strings(v):
                                data = '""'
                        elif k == "MX":
                            data = "%d %s" % (int(v[0]), zname(str(v[1])))
                        elif k in ("PTR", "CNAME"):
                            data = zname(str(v))
                        else:
                            data = str(v)
                        zone.append("%s %s %s" % (zname(name), k, data))
            ztext = "\n".join(zone) + "\n"
            for tname, t in (doc.get("tests") or {}).items():
                sender = str(t.get("mailfrom") or "")
                inp = check_input(ztext, ip=str(t.get("host", "")),
                                  sender=sender, helo=str(t.get("helo", "")),
                                  flags=0x0b, fail_at=len(tname) * 3)
                write("fuzz_check", "suite-%02d-%s" % (di, tname[:40]), inp)
                n += 1
    return n


# ---- fuzz_dns_answer -------------------------------------------------------

def wname(name):
    out = b""
    for label in name.strip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\x00"


def reply(qname, qtype, answers, rcode=0, flags=0x8180, extra=b"",
          nadd=0):
    h = struct.pack(">HHHHHH", 0x1234, flags | rcode, 1, len(answers), 0,
                    nadd)
    q = wname(qname) + struct.pack(">HH", qtype, 1)
    body = b""
    for typ, rdata in answers:
        body += b"\xc0\x0c" + struct.pack(">HHIH", typ, 1, 300, len(rdata))
        body += rdata
    return h + q + body + extra


def txt_rdata(*strings):
    out = b""
    for s in strings:
        s = s.encode() if isinstance(s, str) else s
        out += bytes([len(s)]) + s
    return out


def seeds_dns():
    clear("fuzz_dns_answer")
    seeds = {
        "a": reply("x.example", 1, [(1, bytes([192, 0, 2, 1])),
                                    (1, bytes([198, 51, 100, 7]))]),
        "aaaa": reply("x.example", 28, [(28, bytes.fromhex(
            "20010db8000000000000000000000001"))]),
        "mx": reply("example.com", 15, [
            (15, b"\x00\x0a" + wname("mx1.example.com")),
            (15, b"\x00\x14\x03mx2\xc0\x0c"), (15, b"\x00\x00\x00")]),
        "txt": reply("example.com", 16, [
            (16, txt_rdata("v=spf1 ", "ip4:192.0.2.1", " -all")),
            (16, txt_rdata("hello")), (16, b"\x00")]),
        "txt-long": reply("example.com", 16, [
            (16, txt_rdata("a" * 255, "b" * 255, "c" * 100))]),
        "ptr": reply("1.2.0.192.in-addr.arpa", 12, [
            (12, wname("ok.example")), (12, wname("two.example"))]),
        "ptr-escape": reply("1.2.0.192.in-addr.arpa", 12, [
            (12, b"\x05a.b\\c\x07example\x00"), (12, b"\x03a\x00b\x00")]),
        "cname-a": reply("alias.example", 1, [
            (5, wname("real.example")), (1, bytes([192, 0, 2, 9]))]),
        "cname-only": reply("alias.example", 16, [(5, wname("foo.example"))]),
        "nxdomain": reply("nx.example", 16, [], rcode=3),
        "servfail": reply("x.example", 16, [], rcode=2),
        "nodata": reply("x.example", 16, []),
        "edns": reply("x.example", 1, [(1, bytes([192, 0, 2, 1]))],
                      extra=b"\x00\x00\x29\x10\x00\x00\x00\x00\x00\x00\x00",
                      nadd=1),
        "ptr-loop": reply("x.example", 12, [(12, b"\xc0\x29")]),
        "mx-fwdptr": reply("x.example", 15, [(15, b"\x00\x01\xc0\xff")]),
        "label64": reply("x.example", 15, [
            (15, b"\x00\x01\x40" + b"a" * 64 + b"\x00")]),
        "mixed": reply("x.example", 1, [(28, bytes(16)),
                                        (1, bytes([10, 0, 0, 1])),
                                        (16, txt_rdata("x"))]),
    }
    n = 0
    for name, data in seeds.items():
        write("fuzz_dns_answer", name, data)
        n += 1
    # truncated and garbled variants of a few
    for name in ("mx", "txt", "ptr", "a"):
        data = seeds[name]
        for cut in (5, 12, 20, len(data) - 3):
            write("fuzz_dns_answer", "%s-cut%d" % (name, cut), data[:cut])
            n += 1
        bad = bytearray(data)
        bad[7] = 9  # ancount larger than the records present
        write("fuzz_dns_answer", name + "-ancount", bytes(bad))
        bad = bytearray(data)
        bad[-1] ^= 0xff
        write("fuzz_dns_answer", name + "-flip", bytes(bad))
        n += 2
    return n


# ---- fuzz_udp ------------------------------------------------------------

# action opcodes and reply flags of fuzz_udp.c
U_REPLY, U_DROP, U_TIME, U_CANCEL, U_START, U_BIG, U_FOREIGN = (
    0, 4, 5, 6, 7, 8, 9)
U_ID, U_QR, U_QUEST, U_PEEK, U_FLIP = 1, 2, 4, 8, 16
U_PATCH = U_ID | U_QR | U_QUEST
U_RC = {"as-is": 0, "noerror": 1, "formerr": 2, "servfail": 3,
        "nxdomain": 4, "notimp": 5, "refused": 6, "notauth": 7}
U_TYPES = {"A": 0, "AAAA": 1, "MX": 2, "TXT": 3, "PTR": 4, "NS": 5,
           "CNAME": 6}


def udp_input(queries, actions, nsrv=1, tries=2, edns=False, no_rotate=True,
              last="live", nstart=None, timeout1s=True, small_rcvbuf=False,
              narrow_ids=False, seed=7, rotate_sockets=False):
    """queries: (type, flags, name) or (type, flags, name, callout) for
    every defined query, the first nstart (default: all, at most 4)
    started at once."""
    if nstart is None:
        nstart = min(len(queries), 4)
    assert 1 <= nstart <= 4 and 0 <= len(queries) - nstart <= 3
    # rotate_sockets: one try, and a socket retires after 2 sends
    assert not rotate_sockets or tries == 1
    b0 = ((nsrv - 1) | (3 if rotate_sockets else tries - 1) << 2 |
          (0x10 if edns else 0) |
          (0x20 if no_rotate else 0) |
          {"live": 0, "live-start-on-open": 1, "dead": 2,
           "unconnectable": 3}[last] << 6)
    b1 = ((nstart - 1) | (len(queries) - nstart) << 2 |
          (0x10 if timeout1s else 0) | (0x20 if small_rcvbuf else 0) |
          (0xc0 if narrow_ids else 0))
    out = bytes([b0, b1, seed])
    for q in queries:
        typ, flags, name = q[:3]
        callout = q[3] if len(q) > 3 else 0
        t = U_TYPES[typ] if isinstance(typ, str) else typ
        out += (bytes([t, flags, callout]) + name.encode("latin-1") +
                b"\x00")
    return out + b"".join(actions)


def u_reply(server, flags, payload, rcode="as-is", big=None):
    payload = payload[:255]
    a = bytes([U_BIG if big is not None else U_REPLY, server,
               flags | U_RC[rcode] << 5, len(payload)]) + payload
    return a + (bytes([big]) if big is not None else b"")


def u_hdr(ancount=0, flags=0x8180, nscount=0, arcount=0):
    return struct.pack(">HHHHHH", 0, flags, 0, ancount, nscount, arcount)


def u_rr(typ, rdata):
    return b"\xc0\x0c" + struct.pack(">HHIH", typ, 1, 300, len(rdata)) + rdata


def u_time(d):
    return bytes([U_TIME, d])


def seeds_udp():
    clear("fuzz_udp")
    a_ans = u_hdr(1) + u_rr(1, bytes([192, 0, 2, 1]))
    txt_ans = u_hdr(1) + u_rr(16, txt_rdata("v=spf1 -all"))
    t = u_time
    seeds = {
        # a plain exchange: the answer is accepted
        "accept-a": udp_input([("A", 0, "example.com")],
                              [u_reply(0, U_PATCH, a_ans, "noerror")]),
        "accept-txt-flipcase": udp_input(
            [("TXT", 0, "Example.COM.")],
            [u_reply(0, U_PATCH | U_FLIP, txt_ans, "noerror")]),
        "nodata-nxdomain": udp_input(
            [("MX", 0, "a.example"), ("AAAA", 0, "b.relay")],
            [u_reply(0, U_PATCH, u_hdr(0), "noerror"),
             u_reply(0, U_PATCH, u_hdr(0), "nxdomain")]),
        # FORMERR to the EDNS query: asked again without EDNS
        "edns-formerr": udp_input(
            [("TXT", 0, "example.org")],
            [u_reply(0, U_PATCH, u_hdr(0), "formerr"),
             u_reply(0, U_PATCH, txt_ans, "noerror")], edns=True),
        "edns-formerr-twice": udp_input(
            [("A", 0, "example.org")],
            [u_reply(0, U_PATCH, u_hdr(0), "formerr"),
             u_reply(0, U_PATCH, u_hdr(0), "formerr")], edns=True),
        # SERVFAIL from the first server, the second answers
        "servfail-failover": udp_input(
            [("A", 0, "example.net")],
            [u_reply(0, U_PATCH, u_hdr(0), "servfail"),
             u_reply(1, U_PATCH, a_ans, "noerror")], nsrv=2),
        "refused-notimp-all": udp_input(
            [("PTR", 0, "1.2.0.192.in-addr.arpa")],
            [u_reply(0, U_PATCH, u_hdr(0), "refused"),
             u_reply(1, U_PATCH, u_hdr(0), "notimp"),
             u_reply(2, U_PATCH, u_hdr(0), "servfail")], nsrv=3, tries=3),
        # nobody answers: retries over the rounds, then the time-out
        "timeouts": udp_input(
            [("A", 0, "slow.example"), ("TXT", 0, "slow.example")],
            [t(10), bytes([U_DROP, 0]), t(20), t(40),
             t(0xff)], nsrv=2, tries=3, no_rotate=False),
        # sockets retire after two sends: four queries, a late answer
        # through a retired socket, time-outs, and the retired one closed
        "rotation": udp_input(
            [("A", 0, "r1.example"), ("A", 0, "r2.example"),
             ("TXT", 0, "r3.example"), ("MX", 0, "r4.example")],
            [u_reply(0, U_PATCH, a_ans, "noerror"), t(5),
             u_reply(0, U_PATCH, a_ans, "noerror"), t(0xff),
             bytes([U_DROP, 0]), t(0xff)], nsrv=2, tries=1,
            rotate_sockets=True),
        "late-answer": udp_input(
            [("A", 0, "late.example")],
            [u_reply(0, U_PEEK, b""), t(30),
             u_reply(0, U_PATCH, a_ans, "noerror"),
             u_reply(1, U_PATCH, a_ans, "noerror")], nsrv=2, tries=2),
        # names that are never sent (a NULL name too), and the root
        "bad-names": udp_input(
            [("A", 0, "a..b"), ("TXT", 0, "x" * 64 + ".example"),
             ("MX", 1, "null.example"), ("A", 0, "hidden.Onion."),
             ("A", 0, ".".join(["abcdefghi"] * 26)), ("NS", 0, ".")],
            [bytes([U_START]), bytes([U_START]),
             u_reply(0, U_PATCH, u_hdr(1) + u_rr(2, wname("a.root")),
                     "noerror")]),
        # callbacks: the first done starts the next and cancels another
        "callbacks": udp_input(
            [("A", 0x04 | 0x08 | 2 << 4 | 0x80, "one.example"),
             ("A", 0x04, "two.example"), ("TXT", 0, "three.example"),
             ("MX", 0x02, "four.example")],
            [u_reply(0, U_PATCH, a_ans, "noerror"), bytes([U_START]),
             bytes([U_CANCEL, 1]), u_reply(0, U_PATCH, u_hdr(0),
                                           "nxdomain")], nstart=2),
        # the sock callback starts queries as sockets open
        "start-on-open": udp_input(
            [("A", 0, "one.example"), ("TXT", 0, "two.example"),
             ("MX", 0, "three.example"), ("A", 0, "x..y")],
            [u_reply(0, U_PATCH, a_ans, "noerror"), t(35),
             u_reply(1, U_PATCH, u_hdr(0), "servfail"), t(0xff)],
            nsrv=2, tries=2, last="live-start-on-open", nstart=1),
        # the name callback starts queries (its 2nd call: the first try
        # is built; its 3rd: the answer's question is compared)
        "callout-start": udp_input(
            [("A", 0, "one.example", 0xf2), ("TXT", 0, "two.example", 0xf3),
             ("MX", 0, "three.example"), ("A", 0, "four.example")],
            [u_reply(0, U_PATCH, u_hdr(0), "formerr"),
             u_reply(0, U_PATCH, a_ans, "noerror"), t(0xff)],
            edns=True, nstart=2),
        # the second server's port is closed: ICMP, the socket error
        "dead-server": udp_input(
            [("A", 0, "example.com"), ("TXT", 0, "example.com")],
            [t(0), u_reply(0, U_PATCH, a_ans, "noerror"), t(0xff)],
            nsrv=2, last="dead", no_rotate=False, seed=3),
        "dead-only": udp_input(
            [("A", 0, "example.com"), ("MX", 0, "example.com")], [t(0xff)],
            nsrv=1, tries=3, last="dead"),
        # a retry's doubled deadline is later than a new query's
        "deadline-order": udp_input(
            [("A", 0, "first.example"), ("A", 0, "second.example")],
            [t(10), bytes([U_START]), t(0xff)], nsrv=1, tries=2, nstart=1),
        "unconnectable": udp_input(
            [("A", 0, "example.com")], [t(0xff)], nsrv=1,
            last="unconnectable"),
        "unconnectable-failover": udp_input(
            [("A", 0, "a.example"), ("MX", 0, "b.example"),
             ("TXT", 0, "c.example")],
            [t(35), u_reply(0, U_PATCH, a_ans, "noerror"),
             u_reply(1, U_PATCH, u_hdr(0), "nxdomain"), t(0xff)],
            nsrv=3, tries=3, last="unconnectable", no_rotate=False,
            seed=1),
        # replies that must be ignored: foreign IDs, wrong question, not
        # a response, garbage, a truncated question
        "forged": udp_input(
            [("A", 0, "victim.example")],
            [u_reply(0, U_PEEK | U_QR | U_QUEST, a_ans, "noerror"),
             u_reply(0, U_PEEK | U_ID | U_QUEST,
                     u_hdr(1, flags=0x0100) + a_ans[12:]),
             u_reply(0, U_PEEK | U_ID | U_QUEST,
                     u_hdr(1, flags=0x8900) + a_ans[12:]),
             u_reply(0, U_PEEK | U_ID | U_QR, a_ans, "noerror"),
             u_reply(0, U_PEEK | U_ID | U_QR,
                     struct.pack(">HHHHHH", 0, 0x8180, 1, 1, 0, 0) +
                     wname("other.example") + b"\x00\x01\x00\x01" +
                     a_ans[12:], "noerror"),
             u_reply(0, U_PEEK | U_ID | U_QR,
                     struct.pack(">HHHHHH", 0, 0x8180, 1, 1, 0, 0) +
                     b"\x06victim\xc0\x00" + a_ans[12:], "noerror"),
             u_reply(0, U_PEEK | U_ID | U_QR,
                     struct.pack(">HHHHHH", 0, 0x8180, 1, 0, 0, 0) +
                     wname("victim.example") + b"\x00\x1c", "noerror"),
             u_reply(0, U_PEEK, b"\x00\x01garbage"),
             bytes([U_FOREIGN]),
             u_reply(0, U_PATCH, a_ans, "notauth")]),
        # a reply larger than the transport reads
        "big-reply": udp_input(
            [("TXT", 0, "big.example")],
            [u_reply(0, U_PATCH, txt_ans, "noerror", big=255)],
            small_rcvbuf=True),
        # IDs from a set of four: collisions and shared hash buckets
        "narrow-ids": udp_input(
            [("A", 0, "a.example"), ("A", 0, "b.example"),
             ("A", 0, "c.example"), ("A", 0, "d.example"),
             ("A", 0x04, "e.example")],
            [u_reply(0, U_PATCH, a_ans, "noerror"),
             u_reply(1, U_PATCH, a_ans, "noerror"),
             u_reply(0, U_PATCH, a_ans, "noerror"),
             bytes([U_CANCEL, 3]), t(0xff)], nsrv=2, narrow_ids=True,
            no_rotate=False, seed=5),
        # ... so many collisions that the 64 octets given run out
        "narrow-ids-refill": udp_input(
            [("A", 0, "a.example"), ("A", 0, "b.example"),
             ("A", 0, "c.example"), ("A", 0, "d.example")],
            [t(0xff)], nsrv=2, narrow_ids=True, no_rotate=False,
            seed=0x6a),
    }
    for name, data in seeds.items():
        write("fuzz_udp", name, data)
    return len(seeds)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--suite", default=os.path.join(
        ROOT, "..", "shared", "testsuite", "rfc7208-tests.yml"))
    ap.add_argument("--suite-checks", action="store_true",
                    help="also turn every suite test into a fuzz_check seed")
    args = ap.parse_args()
    suite = load_suite(args.suite)
    counts = {
        "fuzz_record": seeds_record(suite),
        "fuzz_macro": seeds_macro(),
        "fuzz_zone": seeds_zone(),
        "fuzz_check": seeds_check(suite, args.suite_checks),
        "fuzz_dns_answer": seeds_dns(),
        "fuzz_udp": seeds_udp(),
    }
    for t, c in counts.items():
        print("%-16s %d seeds" % (t, c))


if __name__ == "__main__":
    main()
