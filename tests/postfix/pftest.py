#!/usr/bin/env python3
# pftest.py -- the helpers of tests/postfix/run.sh
# SPDX-License-Identifier: BSD-2-Clause
#
#   pftest.py probe SERVER PORT NAME
#       one DNS query (TXT NAME, UDP): exit 0 when SERVER answers it
#       with NOERROR and at least one record
#   pftest.py check --dir DIR --cases FILE --expected FILE --runs FILE
#       the verdicts: every run of RUNS (a line "LABEL IMPL CONFIG LOG
#       CASES": what run.sh sent through which smtpd; IMPL "ref" for
#       policyd-spf, "ours" for spf-policyd; LOG the policy service's log
#       file or "-"; CASES "*" or a comma-separated list) against
#       cases.txt and the expected differences: the RCPT replies in swaks'
#       transcripts (DIR/swaks/LABEL/CASE.out), the SPF header of each
#       message smtp-sink received (DIR/sink/*, found by its X-Test-Case
#       header), and for spf-policyd a "decision" log line per case
#   pftest.py reload --socket PATH --pid PID --conf FILE --new FILE
#       SIGHUP under load: connections to the policy daemon at PATH keep
#       sending requests (a softfail MAIL FROM) while FILE is replaced by
#       the content of NEW (Mail_From_reject = SPF_Not_Pass) and PID gets
#       SIGHUP.  Every request must be answered; before the signal with
#       the old configuration (PREPEND), each connection switches to the
#       new one (a 550 reject) once and for good, no request started
#       after the first new answer gets an old one, and the switch comes
#       within 2 s.
#
# Exit status 0 when everything holds, 1 otherwise (the reasons on
# standard output), 2 on bad usage.

import argparse
import email.parser
import email.policy
import os
import random
import re
import signal
import socket
import struct
import sys
import threading
import time

# ---------------------------------------------------------------------------
# probe
# ---------------------------------------------------------------------------


def dns_probe(server, port, name):
    qid = random.randrange(65536)
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack(">HH", 16, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.5)
        try:
            s.sendto(q, (server, port))
            r, _ = s.recvfrom(4096)
        except OSError:
            return False
    if len(r) < 12:
        return False
    rid, flags, _, ancount = struct.unpack(">HHHH", r[:8])
    return rid == qid and flags & 0x8000 and flags & 0xF == 0 and ancount > 0


# ---------------------------------------------------------------------------
# check
# ---------------------------------------------------------------------------


class Case:
    def __init__(self, fields, configs, where):
        (self.name, self.ip, self.helo, self.sender, rcpts, self.result,
         self.identity) = fields[:7]
        self.rcpts = int(rcpts)
        replies = fields[7:]
        if len(replies) != len(configs):
            raise ValueError(f"{where}: {len(replies)} replies for "
                             f"{len(configs)} configurations")
        for r in replies:
            parse_reply_token(r, where)
        self.reply = dict(zip(configs, replies))

    def expected(self, config):
        """the expected decision: REPLY/RESULT/IDENTITY"""
        reply = self.reply[config]
        if reply == "250":
            return f"250/{self.result}/{self.identity}"
        return f"{reply}/-/-"


def parse_reply_token(tok, where):
    m = re.fullmatch(r"([245][0-9x][0-9x])(?::([245]\.[0-9]{1,3}\.[0-9]{1,3}))?",
                     tok)
    if not m:
        raise ValueError(f"{where}: bad reply '{tok}'")
    return m.group(1), m.group(2)


def reply_matches(tok, code, dsn):
    want_code, want_dsn = parse_reply_token(tok, "reply")
    if not re.fullmatch(want_code.replace("x", "[0-9]"), code):
        return False
    return want_dsn is None or want_dsn == dsn


def decision_matches(want, got):
    """want: REPLY/RESULT/IDENTITY (REPLY a cases.txt token); got: the
    same with every RCPT reply written CODE:DSN, joined by ','"""
    wr, wres, wid = want.split("/")
    gr, gres, gid = got.split("/")
    for one in gr.split(","):
        code, _, dsn = one.partition(":")
        if not reply_matches(wr, code, dsn or None):
            return False
    return (wres, wid) == (gres, gid)


def load_cases(path):
    configs, cases = None, {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            fields = line.split()
            if fields[0] == "configs":
                configs = fields[1:]
                continue
            if configs is None:
                raise ValueError(f"{path}:{n}: a case before the configs line")
            c = Case(fields, configs, f"{path}:{n}")
            if c.name in cases:
                raise ValueError(f"{path}:{n}: case {c.name} twice")
            cases[c.name] = c
    return configs, cases


def load_expected(path, configs, cases):
    out = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split(None, 4)
            if len(parts) < 5:
                raise ValueError(f"{path}:{n}: want CONFIGS CASE REFERENCE "
                                 f"OURS REASON")
            cf, name, ref, ours, reason = parts
            if name not in cases:
                raise ValueError(f"{path}:{n}: no case {name} in cases.txt")
            for cfg in (configs if cf == "*" else cf.split(",")):
                if cfg not in configs:
                    raise ValueError(f"{path}:{n}: no configuration {cfg}")
                if ours != cases[name].expected(cfg):
                    raise ValueError(f"{path}:{n}: OURS {ours} is not what "
                                     f"cases.txt expects under {cfg}: "
                                     f"{cases[name].expected(cfg)}")
                out[(cfg, name)] = (ref, reason)
    return out


def swaks_replies(path):
    """the replies to the RCPT commands and to the end of DATA"""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return None, None, "no transcript"
    rcpt, data, last = [], None, None
    for i, line in enumerate(lines):
        if re.match(r"^ *-> RCPT TO:", line):
            last = "rcpt"
        elif re.match(r"^ *-> \.$", line):
            last = "data"
        elif re.match(r"^ *-> ", line):
            last = None
        m = re.match(r"^<(?:-|\*\*) +([0-9]{3})([ -])(?:([245]\.[0-9]+\.[0-9]+) )?(.*)",
                     line)
        if m and m.group(2) == " " and last:
            one = m.group(1) + (":" + m.group(3) if m.group(3) else "")
            if last == "rcpt":
                rcpt.append(one)
            else:
                data = one
            last = None
    return rcpt, data, "\n".join(lines[-12:])


def read_sink(sinkdir):
    """{X-Test-Case: [message, ...]}"""
    out = {}
    parser = email.parser.BytesParser(policy=email.policy.compat32)
    for name in sorted(os.listdir(sinkdir)):
        with open(os.path.join(sinkdir, name), "rb") as f:
            msg = parser.parse(f, headersonly=True)
        key = msg.get("X-Test-Case", "").strip()
        out.setdefault(key, []).append(msg)
    return out


def spf_header(msg, config):
    """(result, identity, problem) from the one SPF header of MSG"""
    unfold = [" ".join(v.split()) for v in msg.get_all("Received-SPF", [])]
    ar = [" ".join(v.split()) for v in msg.get_all("Authentication-Results", [])]
    if config == "ar":
        if unfold:
            return None, None, f"a Received-SPF header in AR mode: {unfold}"
        if len(ar) != 1:
            return None, None, f"{len(ar)} Authentication-Results headers: {ar}"
        h = ar[0]
        m = re.match(r"^([^;\s]+)\s*;.*?\bspf=([a-z]+)\b(.*)$", h, re.I)
        if not m:
            return None, None, f"Authentication-Results without spf=: {h}"
        if m.group(1) != "mx.postfix.test":
            return None, None, f"authserv-id {m.group(1)}, not mx.postfix.test: {h}"
        rest = m.group(3)
        ident = ("mailfrom" if re.search(r"\bsmtp\.mailfrom=", rest) else
                 "helo" if re.search(r"\bsmtp\.helo=", rest) else "?")
        return m.group(2).lower(), ident, None
    if ar:
        return None, None, f"an Authentication-Results header: {ar}"
    if len(unfold) != 1:
        return None, None, f"{len(unfold)} Received-SPF headers: {unfold}"
    h = unfold[0]
    m = re.match(r"^([A-Za-z]+)\b", h)
    im = re.search(r"\bidentity=([a-z]+)", h)
    if not m or not im:
        return None, None, f"Received-SPF without result or identity=: {h}"
    return m.group(1).lower(), im.group(1), None


def decision_lines(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return [l for l in f if re.search(r"\bdecision\b", l)]
    except OSError:
        return None


def cmd_check(a):
    configs, cases = load_cases(a.cases)
    expected = load_expected(a.expected, configs, cases)
    sink = read_sink(os.path.join(a.dir, "sink"))
    used = set()
    fails = 0
    with open(a.runs, encoding="utf-8") as f:
        runs = [l.split() for l in f if l.strip()]
    for label, impl, config, log, which in runs:
        names = list(cases) if which == "*" else which.split(",")
        logl = decision_lines(log) if log != "-" else None
        if log != "-" and logl is None:
            print(f"FAIL {label}: no log file {log}")
            fails += 1
        print(f"-- {label}: {'policyd-spf' if impl == 'ref' else 'spf-policyd'}, "
              f"configuration {config}")
        for name in names:
            c = cases[name]
            key = f"{label}/{name}"
            rcpt, data, tail = swaks_replies(
                os.path.join(a.dir, "swaks", label, name + ".out"))
            problems = []
            res, ident = "-", "-"
            if rcpt is None or len(rcpt) != c.rcpts:
                problems.append(f"{0 if rcpt is None else len(rcpt)} RCPT "
                                f"replies for {c.rcpts} recipients")
            msgs = sink.get(key, [])
            used.add(key)
            accepted = rcpt and any(r.startswith("2") for r in rcpt)
            if accepted:
                if data is None or not data.startswith("250"):
                    problems.append(f"DATA not accepted ({data})")
                if len(msgs) != 1:
                    problems.append(f"{len(msgs)} messages in smtp-sink, not 1")
                else:
                    res, ident, p = spf_header(msgs[0], config)
                    if p:
                        problems.append(p)
                        res, ident = "?", "?"
            elif msgs:
                problems.append(f"{len(msgs)} messages in smtp-sink though "
                                f"every recipient was refused")
            got = f"{','.join(rcpt or ['none'])}/{res}/{ident}"
            want = c.expected(config)
            note = ""
            if impl == "ref" and (config, name) in expected:
                want, reason = expected[(config, name)]
                note = f" (listed difference: {reason})"
            if not problems and not decision_matches(want, got):
                problems.append(f"want {want}{note}")
            if impl == "ours" and logl is not None:
                sender = ("" if c.sender == "<>" else
                          rf"\bsender={re.escape(c.sender)}\s.*")
                pat = (rf"\bdecision\s.*\bclient={re.escape(c.ip)}\s"
                       rf".*\bhelo={re.escape(c.helo)}\s.*{sender}"
                       rf"\bidentity={c.identity}\s+result={c.result}\s"
                       rf".*\baction=.*\bms=[0-9]+")
                if not any(re.search(pat, l, re.I) for l in logl):
                    problems.append(
                        f"no log line 'decision client={c.ip} helo={c.helo}"
                        f"{'' if c.sender == '<>' else ' sender=' + c.sender}"
                        f" identity={c.identity} result={c.result} "
                        f"action=... ms=N' in {log}")
            status = "FAIL" if problems else "ok"
            print(f"{status:4} {label:18} {name:12} {got}"
                  + (note if not problems else ""))
            for p in problems:
                print(f"       {p}")
            if problems:
                fails += 1
                if tail:
                    print("       | " + tail.replace("\n", "\n       | "))
    stray = [k for k in sink if k not in used]
    if stray:
        print(f"FAIL smtp-sink received messages of no case: {stray}")
        fails += 1
    print(f"{fails} failure(s)" if fails else "all decisions as expected")
    return 1 if fails else 0


# ---------------------------------------------------------------------------
# reload
# ---------------------------------------------------------------------------

REQUEST = ("request=smtpd_access_policy\nprotocol_state=RCPT\n"
           "protocol_name=ESMTP\nclient_address=192.0.2.1\n"
           "client_name=unknown\nreverse_client_name=unknown\n"
           "helo_name=mx1.spf.test\nsender=user@softfail-all.spf.test\n"
           "recipient=a@sink.test\nrecipient_count=0\n"
           "instance={instance}\n\n")


def ask(sock, buf, instance):
    """one request on SOCK; the action, or raises"""
    sock.sendall(REQUEST.format(instance=instance).encode())
    while b"\n\n" not in buf[0]:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("the daemon closed the connection")
        buf[0] += chunk
    reply, buf[0] = buf[0].split(b"\n\n", 1)
    attrs = dict(l.split("=", 1) for l in reply.decode().split("\n") if "=" in l)
    if "action" not in attrs:
        raise ValueError(f"a reply without action: {reply!r}")
    return attrs["action"]


def classify(action):
    a = action.lower()
    if a.startswith("prepend ") and "softfail" in a:
        return "old"
    if a.startswith("550 5.7.23") or a.startswith("reject"):
        return "new"
    return "bad"


def cmd_reload(a):
    stop = threading.Event()
    records = []  # (thread, t0, t1, class, action)
    errors = []
    lock = threading.Lock()

    def worker(k):
        n = 0
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(20)
                s.connect(a.socket)
                buf = [b""]
                while not stop.is_set():
                    n += 1
                    t0 = time.monotonic()
                    act = ask(s, buf, f"reload-{k}-{n}")
                    t1 = time.monotonic()
                    with lock:
                        records.append((k, t0, t1, classify(act), act))
        except Exception as e:  # pylint: disable=broad-except
            with lock:
                errors.append(f"connection {k}, request {n}: {e!r}")

    threads = [threading.Thread(target=worker, args=(k,))
               for k in range(a.connections)]
    for t in threads:
        t.start()
    time.sleep(a.before)
    with open(a.new, encoding="utf-8") as f:
        new = f.read()
    tmp = a.conf + ".new"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(new)
    os.replace(tmp, a.conf)
    t_hup = time.monotonic()
    os.kill(a.pid, signal.SIGHUP)
    time.sleep(a.after)
    stop.set()
    for t in threads:
        t.join(30)
    # a connection opened after the reload
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(20)
            s.connect(a.socket)
            late = ask(s, [b""], "reload-late")
    except Exception as e:  # pylint: disable=broad-except
        late = f"error {e!r}"

    fails = list(errors)
    bad = [r for r in records if r[3] == "bad"]
    if bad:
        fails.append(f"{len(bad)} answers of neither configuration, e.g. {bad[0][4]!r}")
    before = [r for r in records if r[1] < t_hup]
    after = [r for r in records if r[1] >= t_hup]
    if any(r[3] != "old" for r in before if r[2] < t_hup):
        fails.append("a request answered before SIGHUP got the new configuration")
    for k in range(a.connections):
        seq = [r[3] for r in sorted(records, key=lambda r: r[1]) if r[0] == k]
        if "new" in seq and "old" in seq[seq.index("new"):]:
            fails.append(f"connection {k} went back to the old configuration")
    news = [r for r in records if r[3] == "new"]
    if not news:
        fails.append("no request got the new configuration")
    else:
        first_new = min(r[2] for r in news)
        stale = [r for r in records if r[1] > first_new and r[3] == "old"]
        if stale:
            fails.append(f"{len(stale)} requests started after the first new "
                         f"answer got the old configuration")
        switch = min(r[1] for r in news) - t_hup
        if switch > 2.0:
            fails.append(f"the new configuration took {switch:.2f} s")
    if len(before) < 10 or len(after) < 10:
        fails.append(f"too few requests: {len(before)} before SIGHUP, "
                     f"{len(after)} after")
    if classify(late) != "new":
        fails.append(f"a new connection after the reload got {late!r}")
    lat = sorted(r[2] - r[1] for r in records)
    print(f"reload: {len(records)} requests on {a.connections} connections, "
          f"{len(before)} before SIGHUP, {len(after)} after, "
          f"{len(news)} under the new configuration; latency median "
          f"{lat[len(lat) // 2] * 1000:.1f} ms, max {lat[-1] * 1000:.1f} ms"
          if lat else "reload: no request answered")
    for f in fails:
        print(f"FAIL reload: {f}")
    return 1 if fails else 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    pr = sub.add_parser("probe")
    pr.add_argument("server")
    pr.add_argument("port", type=int)
    pr.add_argument("name")
    ch = sub.add_parser("check")
    for o in ("--dir", "--cases", "--expected", "--runs"):
        ch.add_argument(o, required=True)
    rl = sub.add_parser("reload")
    rl.add_argument("--socket", required=True)
    rl.add_argument("--pid", type=int, required=True)
    rl.add_argument("--conf", required=True)
    rl.add_argument("--new", required=True)
    rl.add_argument("--connections", type=int, default=4)
    rl.add_argument("--before", type=float, default=1.0)
    rl.add_argument("--after", type=float, default=2.0)
    a = p.parse_args()
    if a.cmd == "probe":
        return 0 if dns_probe(a.server, a.port, a.name) else 1
    if a.cmd == "check":
        try:
            return cmd_check(a)
        except ValueError as e:
            print(f"FAIL {e}")
            return 1
    return cmd_reload(a)


if __name__ == "__main__":
    sys.exit(main())
