#!/usr/bin/env python3
# python_bench.py -- the Python section of ./build.sh bench: checks/s of
# the binding (maildrop_spf.check one at a time, maildrop_spf.check_async
# with 256 in flight on one asyncio loop) next to pyspf's spf.check2 one
# at a time, on the workload of spf-bench, in one run.
# SPDX-License-Identifier: BSD-2-Clause
#
#   usage: python_bench.py --workload FILE --resolv-conf FILE
#                          --nsd IP --proxy IP [--seconds S]
#
# tests/bench/run.sh runs it inside the benchmark's private network
# namespace, behind the delay proxy ("spf-bench --exec"): NSD on
# NSD:53, the proxy on PROXY:53 holding every query 5 ms, and FILE (the
# --resolv-conf) bind-mounted over /etc/resolv.conf.  pyspf (dnspython)
# and the binding's default DnsResolver (c-ares) both read the server
# from there; this script rewrites it before each measurement, so both
# sides ask the same server the same way.  Two set-ups: straight to NSD
# (no delay: CPU-bound), then through the proxy (5 ms per query, as a
# resolver a few milliseconds away).
#
# The workload is spf-bench's (--workload: "spf-bench --print-workload",
# tests/bench/workload.c): checks round-robin, each with the result it
# must give.  Each measurement runs in a fresh interpreter (--job) for S
# seconds (pyspf: twice as long, its rates are low), after one untimed
# pass over the workload; every result is compared with the expected one,
# and only when all of them, in every measurement, are right and every
# measurement went once through the whole workload are figures printed.
# Exit status: 0 figures printed, 1 wrong results or a failed job.

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time

IN_FLIGHT = 256


def load_workload(path):
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if len(parts) == 4:
                out.append(tuple(parts))
    if not out:
        sys.exit("python_bench: no checks in %s" % path)
    return out


# ---------------------------------------------------------------------------
# One measurement (a fresh interpreter)
# ---------------------------------------------------------------------------

def job(kind, workload, seconds):
    wrong = []

    def verify(k, got):
        ip, sender, helo, want = workload[k % len(workload)]
        if got != want and len(wrong) < 10:
            wrong.append("%s %s: %s, expected %s" % (ip, sender, got, want))

    if kind == "pyspf":
        import spf

        def one(k):
            ip, sender, helo, _ = workload[k % len(workload)]
            return spf.check2(ip, sender, helo)[0]
    else:
        import maildrop_spf
        resolver = maildrop_spf.DnsResolver()  # the system configuration

        def one(k):
            ip, sender, helo, _ = workload[k % len(workload)]
            return maildrop_spf.check(ip, sender, helo, resolver=resolver,
                                      timeout=10).result.value

    if kind in ("pyspf", "sync"):
        for k in range(len(workload)):  # warm-up, verified too
            verify(k, one(k))
        n = 0
        c0 = time.process_time()
        t0 = time.monotonic()
        end = t0 + seconds
        while time.monotonic() < end:
            verify(n, one(n))
            n += 1
        t = time.monotonic() - t0
        cpu = time.process_time() - c0
        return {"checks": n, "seconds": t, "cpu": cpu, "wrong": wrong}

    # asyncio: IN_FLIGHT workers, each starting its next check as soon as
    # one ends, until the time is up; the ones running then are waited for
    async def run():
        counter = [0]

        async def one_async(k):
            ip, sender, helo, _ = workload[k % len(workload)]
            r = await maildrop_spf.check_async(ip, sender, helo,
                                               resolver=resolver, timeout=10)
            return r.result.value

        await asyncio.gather(*(one_async(k) for k in range(len(workload))))

        async def worker(end):
            while time.monotonic() < end:
                k = counter[0]
                counter[0] += 1
                verify(k, await one_async(k))

        c0 = time.process_time()
        t0 = time.monotonic()
        await asyncio.gather(*(worker(t0 + seconds)
                               for _ in range(IN_FLIGHT)))
        t = time.monotonic() - t0
        return {"checks": counter[0], "seconds": t,
                "cpu": time.process_time() - c0, "wrong": wrong}
    return asyncio.run(run())


# ---------------------------------------------------------------------------
# The driver
# ---------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workload", required=True)
    ap.add_argument("--resolv-conf")
    ap.add_argument("--nsd")
    ap.add_argument("--proxy")
    ap.add_argument("--delay-ms", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--job", choices=("pyspf", "sync", "async"))
    a = ap.parse_args()
    workload = load_workload(a.workload)
    if a.job:
        print(json.dumps(job(a.job, workload, a.seconds)))
        return 0
    if not (a.resolv_conf and a.nsd and a.proxy):
        ap.error("--resolv-conf, --nsd and --proxy are needed")

    import spf
    import maildrop_spf
    try:
        import dns.version
        dnspython = " (dnspython %s)" % dns.version.version
    except ImportError:
        dnspython = ""
    setups = [("direct", a.nsd, "straight to NSD on loopback, no delay "
               "(CPU-bound)"),
              ("proxy", a.proxy, "through the delay proxy, every query "
               "held %d ms" % a.delay_ms)]
    kinds = [("pyspf", "pyspf spf.check2, one at a time"),
             ("sync", "maildrop_spf.check, one at a time"),
             ("async", "maildrop_spf.check_async, %d in flight"
              % IN_FLIGHT)]
    results = {}
    failures = []
    for setup, server, _ in setups:
        # rewritten in place: the file is bind-mounted over resolv.conf
        with open(a.resolv_conf, "w", encoding="ascii") as f:
            f.write("nameserver %s\n" % server)
        for kind, _ in kinds:
            secs = a.seconds * (2 if kind == "pyspf" else 1)
            p = subprocess.run(
                [sys.executable, os.path.abspath(__file__), "--workload",
                 a.workload, "--job", kind, "--seconds", str(secs)],
                capture_output=True, text=True, timeout=secs + 120)
            try:
                out = json.loads(p.stdout.strip().splitlines()[-1])
            except (IndexError, ValueError):
                out = None
            if p.returncode != 0 or out is None:
                failures.append("%s, %s: the job failed (status %d):\n%s"
                                % (setup, kind, p.returncode,
                                   p.stderr.strip()[-1500:]))
                continue
            if out["wrong"]:
                failures.append("%s, %s: wrong results:\n  %s"
                                % (setup, kind, "\n  ".join(out["wrong"])))
            if out["checks"] < len(workload):
                failures.append("%s, %s: %d checks in %.1f s, not one pass "
                                "over the workload's %d"
                                % (setup, kind, out["checks"], out["seconds"],
                                   len(workload)))
            results[(setup, kind)] = out
    if failures:
        for f in failures:
            print("python: FAIL " + f, file=sys.stderr)
        print("python: no figures printed", file=sys.stderr)
        return 1

    print("Python: the binding maildrop_spf (cffi, libmaildrop-spf %s) "
          "against pyspf %s%s" % (maildrop_spf.version(), spf.__version__,
                                  dnspython))
    print("workload: spf-bench's %d checks, round-robin, every result "
          "verified; each figure" % len(workload))
    print("one run of %g s (pyspf %g s) in a fresh interpreter after an "
          "untimed pass;" % (a.seconds, 2 * a.seconds))
    print("both resolve through /etc/resolv.conf (pyspf: dnspython; "
          "maildrop_spf: DnsResolver(),")
    print("c-ares), no cache on either side")
    for setup, _, title in setups:
        base = results[(setup, "pyspf")]
        base_rate = base["checks"] / base["seconds"]
        print()
        print("== " + title)
        print("  %-42s %10s %9s %12s" % ("", "checks/s", "x pyspf",
                                         "CPU ms/check"))
        for kind, label in kinds:
            r = results[(setup, kind)]
            rate = r["checks"] / r["seconds"]
            print("  %-42s %10.1f %8.1fx %12.3f"
                  % (label, rate, rate / base_rate,
                     1000.0 * r["cpu"] / r["checks"]))
    print()
    print("goal: maildrop_spf >= 5x pyspf one at a time, >= 50x with "
          "asyncio; CPU ms/check is")
    print("the interpreter's own CPU time per check (pyspf, and the "
          "binding's C code inside it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
