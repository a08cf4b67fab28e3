#!/usr/bin/env python3
# spf_engine.py -- the comparison of tests/compat/spf-engine.sh: Debian's
# spf-engine (the code of postfix-policyd-spf-python's policyd-spf) on
# pyspf, the control, and on maildrop_spf.compat.spf, fed the same stream
# of Postfix policy requests.
# SPDX-License-Identifier: BSD-2-Clause
#
#   usage: spf_engine.py --cases FILE --expected FILE --dir DIR
#                        --pythonpath PATH [--python PYTHON]
#
# spf-engine runs as Postfix's spawn(8) runs policyd-spf: one process per
# configuration and side, the requests on its standard input one at a
# time ("name=value" lines and an empty line), each reply ("action=...",
# an empty line) read before the next request is written.  The
# program is spf_engine.policyd_spf.main, which /usr/bin/policyd-spf
# calls; the two sides differ only in PYTHONPATH: nothing for the
# control, PATH (the import shim tests/compat/pyspf-shim, whose spf.py is
# maildrop_spf.compat.spf, and the built maildrop_spf package) for the
# other.  Both resolve through /etc/resolv.conf: spf-engine's pyspf with
# dnspython, the compatible module with the library's c-ares backend
# (its system configuration); spf-engine.sh runs this in a private
# network namespace where that file names NSD on 127.0.0.1.
#
# The stream: every case of tests/integration/cases.txt is a message from
# its client address, HELO name and sender (sender "<>" is the null
# sender) to postmaster@compat.test; every third message has a second
# recipient (the same instance attribute), which spf-engine answers from
# the first one's result.  Configurations: see CONFIGS.
#
# The verdict, per configuration and request: the two replies are equal
# once the text of a permerror or temperror (the library's words for the
# problem, not pyspf's: bindings/python/README.md) is masked; or the
# case is listed in FILE (expected-differences format: CONFIGS IP SENDER
# HELO CONTROL OURS REASON, CONTROL and OURS being reduced actions, see
# reduce()), and then each side gives the listed reduced action.  A
# listed case that does not differ in a configuration it names is a
# failure too (the list must stay true).  Besides: the compatible side
# must have loaded the shim (a mark file), the control must not, no
# process may print a traceback or end with a status other than 0, and
# every Received-SPF header for the MAIL FROM identity that the
# compatible side prepends must carry the result cases.txt expects.
#
# Exit status 0 when all holds, 1 otherwise.

import argparse
import os
import re
import select
import subprocess
import sys
import time

# (name, settings over spf-engine's defaults); debugLevel 0 in all: no
# result is sent to the system log
CONFIGS = [
    ("defaults", {}),
    ("not-pass", {"HELO_reject": "SPF_Not_Pass",
                  "Mail_From_reject": "SPF_Not_Pass"}),
    ("permerror-reject", {"PermError_reject": "True"}),
    # the HELO names of cases.txt are mostly names NSD refuses
    # (temperror): without No_Check every message would be deferred on
    # its HELO name alone
    ("temperror-defer", {"TempError_Defer": "True", "HELO_reject": "No_Check"}),
    ("authres", {"Header_Type": "AR", "Authserv_Id": "mx.compat.test"}),
]
RESULTS = ("pass", "fail", "softfail", "neutral", "none", "temperror",
           "permerror")
REPLY_TIMEOUT = 30.0
RUNNER = ("import sys; from spf_engine.policyd_spf import main; "
          "sys.argv[0] = 'policyd-spf'; sys.exit(main())")


def load_cases(path):
    """[(ip, sender, helo, expected live result)]"""
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split()
            if len(parts) < 4:
                sys.exit("%s: malformed line: %s" % (path, line))
            out.append((parts[0], parts[1], parts[2],
                        parts[3].split("/")[0]))
    return out


def load_expected(path, keys, problems):
    """CONFIGS IP SENDER HELO CONTROL OURS REASON ->
    {(config, key): (control, ours, reason, line number)}"""
    names = {c[0] for c in CONFIGS}
    out = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split(None, 6)
            if len(parts) < 7:
                problems.append("%s:%d: want CONFIGS IP SENDER HELO CONTROL "
                                "OURS REASON: %s" % (path, n, line))
                continue
            confs, ip, sender, helo, control, ours, reason = parts
            key = (ip, sender, helo)
            if key not in keys:
                problems.append("%s:%d: no such case in cases.txt: %s"
                                % (path, n, " ".join(key)))
            for a in (control, ours):
                if not re.fullmatch(r"[a-z_]+(:[a-z]+)?", a):
                    problems.append("%s:%d: not a reduced action: %s"
                                    % (path, n, a))
            clist = sorted(names) if confs == "*" else confs.split(",")
            for c in clist:
                if c not in names:
                    problems.append("%s:%d: unknown configuration %s"
                                    % (path, n, c))
                out[(c, key)] = (control, ours, reason, n)
    return out


def requests(cases):
    """[(case index, recipient position, request text)]"""
    out = []
    for i, (ip, sender, helo, _) in enumerate(cases):
        nrcpt = 2 if i % 3 == 0 else 1
        for r in range(nrcpt):
            attrs = [
                ("request", "smtpd_access_policy"),
                ("protocol_state", "RCPT"),
                ("protocol_name", "ESMTP"),
                ("client_address", ip),
                ("client_name", "unknown"),
                ("reverse_client_name", "unknown"),
                ("helo_name", helo),
                ("sender", "" if sender == "<>" else sender),
                ("recipient", "postmaster%s@compat.test" % ("" if r == 0
                                                           else r)),
                ("recipient_count", str(r)),
                ("queue_id", ""),
                ("instance", "%x.%x.0" % (os.getpid(), i)),
                ("size", "0"),
                ("sasl_method", ""),
                ("ccert_subject", ""),
                ("encryption_protocol", ""),
                ("policy_context", ""),
                ("server_address", "127.0.0.1"),
                ("server_port", "25"),
            ]
            text = "".join("%s=%s\n" % kv for kv in attrs) + "\n"
            out.append((i, r, text))
    return out


def run_engine(python, conf, env, reqs, errpath):
    """Feed reqs one at a time; returns (replies, exit status, problem)."""
    with open(errpath, "wb") as err:
        p = subprocess.Popen([python, "-c", RUNNER, conf], env=env,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=err)
    replies = []
    problem = None
    buf = b""
    fd = p.stdout.fileno()
    try:
        for _, _, text in reqs:
            p.stdin.write(text.encode())
            p.stdin.flush()
            deadline = time.monotonic() + REPLY_TIMEOUT
            while b"\n\n" not in buf:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no reply within %.0f s"
                                       % REPLY_TIMEOUT)
                r, _, _ = select.select([fd], [], [], left)
                if not r:
                    continue
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise EOFError("the process closed its output")
                buf += chunk
            reply, buf = buf.split(b"\n\n", 1)
            replies.append(reply.decode("utf-8", "replace"))
        p.stdin.close()
        rest = p.stdout.read()
        if rest:
            problem = "printed more than its replies: %r" % rest[:200]
        status = p.wait(timeout=REPLY_TIMEOUT)
    except (OSError, TimeoutError, EOFError, subprocess.TimeoutExpired) as e:
        problem = "after %d replies: %s" % (len(replies), e)
        p.kill()
        status = p.wait()
    return replies, status, problem


MASK = re.compile(r"(SPF (?:Permanent|Temporary) Error: ).*?"
                  r"(?=\) (?:identity=|smtp\.)|\. Please see |$)")


def normalize(reply):
    """The reply with the problem text of an error result masked."""
    return MASK.sub(r"\1<problem>", reply)


def reduce(reply):
    """A reply as a short key: prepend:RESULT (the header's SPF result),
    reject (5xx), defer (defer_if_permit), dunno, or the action's verb."""
    m = re.match(r"action=(\S+)\s*(.*)", reply, re.S)
    if not m:
        return "malformed"
    verb, rest = m.group(1).lower(), m.group(2)
    if verb == "prepend":
        h = re.match(r"Received-SPF: (\w+)", rest)
        if not h:
            h = re.search(r"; spf=(\w+)", rest)
        if h and h.group(1).lower() in RESULTS:
            return "prepend:" + h.group(1).lower()
        return "prepend:other"
    if re.fullmatch(r"5\d\d", verb) or verb == "reject":
        return "reject"
    if verb.startswith("defer") or re.fullmatch(r"4\d\d", verb):
        return "defer"
    return verb


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", required=True)
    ap.add_argument("--expected", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--pythonpath", required=True)
    ap.add_argument("--python", default=sys.executable)
    a = ap.parse_args()

    cases = load_cases(a.cases)
    keys = {c[:3] for c in cases}
    problems = []
    expected = load_expected(a.expected, keys, problems)
    reqs = requests(cases)
    mark = os.path.join(a.dir, "shim.mark")

    base = {k: v for k, v in os.environ.items()
            if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP",
                         "MDSPF_SPF_SHIM_MARK")}
    base["PYTHONDONTWRITEBYTECODE"] = "1"
    sides = {
        "control": dict(base),
        "ours": dict(base, PYTHONPATH=a.pythonpath, MDSPF_SPF_SHIM_MARK=mark),
    }
    # which spf module each side imports
    for side, env in sides.items():
        r = subprocess.run([a.python, "-c", "import spf; print(spf.__name__,"
                            " spf.__file__)"], env=dict(env, MDSPF_SPF_SHIM_MARK=""),
                           capture_output=True, text=True)
        print("spf-engine: %s side: import spf gives %s"
              % (side, r.stdout.strip() or r.stderr.strip()[-200:]))
        is_ours = r.stdout.startswith("maildrop_spf.compat.spf ")
        if r.returncode != 0 or is_ours != (side == "ours"):
            problems.append("%s side: import spf gives the wrong module"
                            % side)

    used = set()
    total = 0
    t0 = time.monotonic()
    for name, settings in CONFIGS:
        conf = os.path.join(a.dir, "policyd-spf.%s.conf" % name)
        with open(conf, "w", encoding="utf-8") as f:
            f.write("# spf-engine's defaults, but: %s\n" % name)
            f.write("debugLevel = 0\n")
            for k, v in settings.items():
                f.write("%s = %s\n" % (k, v))
        got = {}
        for side, env in sides.items():
            if side == "ours" and os.path.exists(mark):
                os.unlink(mark)
            errpath = os.path.join(a.dir, "%s.%s.err" % (name, side))
            replies, status, problem = run_engine(a.python, conf, env, reqs,
                                                  errpath)
            with open(errpath, encoding="utf-8", errors="replace") as f:
                err = f.read()
            if problem or status != 0 or "Traceback" in err:
                problems.append("%s, %s: policyd-spf failed (status %s%s)%s"
                                % (name, side, status,
                                   ", " + problem if problem else "",
                                   ":\n  | " + "\n  | ".join(
                                       err.strip().splitlines()[-15:])
                                   if err.strip() else ""))
            if side == "ours":
                try:
                    with open(mark, encoding="utf-8") as f:
                        m = f.read()
                except OSError:
                    m = ""
                if not m.startswith("maildrop_spf.compat.spf "):
                    problems.append("%s: the compatible side did not load "
                                    "the shim's module" % name)
            got[side] = replies
            with open(os.path.join(a.dir, "%s.%s.replies" % (name, side)),
                      "w", encoding="utf-8") as f:
                for (i, r, _), reply in zip(reqs, replies):
                    f.write("%s #%d\t%s\n" % (" ".join(cases[i][:3]), r + 1,
                                              reply))
        total += 2 * len(reqs)
        rows = []
        same = masked = listed = 0
        for n, (i, r, _) in enumerate(reqs):
            key = cases[i][:3]
            c = got["control"][n] if n < len(got["control"]) else "(none)"
            o = got["ours"][n] if n < len(got["ours"]) else "(none)"
            ent = expected.get((name, key))
            rc, ro = reduce(c), reduce(o)
            if ent:
                used.add((name, key))
            if r == 0 and ro.startswith("prepend:") and \
                    "identity=mailfrom" in o and cases[i][3] in RESULTS and \
                    name != "authres" and ro != "prepend:" + cases[i][3]:
                rows.append("%s: ours prepends %s, cases.txt expects %s"
                            % (" ".join(key), ro, cases[i][3]))
            if c == o:
                same += 1
            elif normalize(c) == normalize(o):
                masked += 1
            if normalize(c) == normalize(o):
                if ent and r == 0:
                    rows.append("%s: listed (line %d) as %s/%s, but both "
                                "sides reply the same: %s"
                                % (" ".join(key), ent[3], ent[0], ent[1], c))
                continue
            # a later recipient is answered from the first one's result
            if ent and (r > 0 or (rc, ro) == (ent[0], ent[1])):
                listed += 1
                continue
            rows.append("%s (recipient %d):\n    pyspf: %s\n    ours:  %s%s"
                        % (" ".join(key), r + 1, c, o,
                           "\n    listed (line %d): %s/%s"
                           % (ent[3], ent[0], ent[1]) if ent else ""))
        print("spf-engine: %-17s %d requests: %d replies identical, %d "
              "once the problem text is masked, %d listed, %d wrong%s"
              % (name, len(reqs), same, masked,
                 listed, len(rows),
                 "" if not rows else ":"))
        for row in rows:
            print("  " + row)
        if rows:
            problems.append("%s: %d differences" % (name, len(rows)))
        # the stream is not answered alike throughout
        kinds = {reduce(o) for o in got["ours"]}
        if name == "defaults" and not {"prepend:pass", "prepend:softfail",
                                       "prepend:neutral", "prepend:none",
                                       "prepend:permerror", "reject",
                                       "dunno"} <= kinds:
            problems.append("defaults: the compatible side's replies are "
                            "too uniform: %s" % sorted(kinds))
    for (name, key), ent in sorted(expected.items()):
        if (name, key) not in used:
            problems.append("line %d: %s never requested in %s"
                            % (ent[3], " ".join(key), name))
    print("spf-engine: %d requests in %.1f s" % (total,
                                                  time.monotonic() - t0))
    for p in problems:
        print("FAIL " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
