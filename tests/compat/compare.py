#!/usr/bin/env python3
# compare.py -- the verdicts of tests/compat/run.sh: the outputs of
# Debian's libspf2 programs under Debian's libspf2 (the control) and under
# the compatible library, against this project's spfquery and the list of
# expected differences.
# SPDX-License-Identifier: BSD-2-Clause
#
#   usage: compare.py --dir DIR --cases FILE --expected FILE --ours 0|1 PROGRAM...
#
# DIR holds, for each PROGRAM (spfquery, exim, opendmarc, perl), what
# run.sh wrote: PROGRAM.ref.json (this project's spfquery --json over the
# inputs the program gives the library), PROGRAM.control and, with
# --ours 1, PROGRAM.ours (a directory of per-case outputs, or one output
# file with a line per case).  Each program's output is reduced to one
# record per case: the SPF result as the program reports it (libspf2's
# SPF_strresult names; "(invalid)" is written "invalid") and the rest of
# what it printed.  Then, case by case:
#
#   - the program's output has its usual shape under both libraries, and
#     what it decides follows from the result (exim's ACL branch and SMTP
#     reply, OpenDMARC's outcome);
#   - the control's result is the reference result, unless the case is
#     listed in the expected differences: then it is the listed libspf2
#     answer;
#   - the compatible library's result is the reference result (a listed
#     case's "ours" answer must be the reference too);
#   - an unlisted case prints exactly the same under both libraries.
#
# On any failure the program's whole table is printed.  Exit status 0 when
# everything holds, 1 otherwise.

import argparse
import json
import os
import re
import sys

RESULTS = ("pass", "fail", "softfail", "neutral", "none", "temperror",
           "permerror", "invalid")
PROGRAMS = ("spfquery", "exim", "opendmarc", "perl")


def norm(result):
    return "invalid" if result == "(invalid)" else result


def read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError as e:
        return None if e.errno == 2 else ""


# ---------------------------------------------------------------------------
# The expected differences
# ---------------------------------------------------------------------------

def load_expected(path, keys, problems):
    """PROGRAMS IP SENDER HELO LIBSPF2 OURS REASON... ->
    {(program, key): (libspf2, ours, reason, line number)}"""
    known = set(keys)
    out = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split(None, 6)
            if len(parts) < 7:
                problems.append(f"{path}:{n}: want PROGRAMS IP SENDER HELO "
                                f"LIBSPF2 OURS REASON: {line}")
                continue
            progs, ip, sender, helo, lib, ours, reason = parts
            key = f"{ip} {sender} {helo}"
            if key not in known:
                problems.append(f"{path}:{n}: no such case in cases.txt: {key}")
            for r in (lib, ours):
                if r not in RESULTS:
                    problems.append(f"{path}:{n}: unknown result '{r}'")
            plist = PROGRAMS if progs == "*" else progs.split(",")
            for p in plist:
                if p not in PROGRAMS:
                    problems.append(f"{path}:{n}: unknown program '{p}'")
                    continue
                if (p, key) in out:
                    problems.append(f"{path}:{n}: {p} {key} listed twice")
                out[(p, key)] = (lib, ours, reason, n)
    return out


# ---------------------------------------------------------------------------
# Per-program records: (result, fields, shape problems)
# ---------------------------------------------------------------------------

def parse_spfquery(d, i):
    """spfquery.libspf2: [StartError ... EndError] then four lines: the
    result, the SMTP comment, the header comment, the Received-SPF line."""
    out = read(os.path.join(d, f"{i}.out"))
    rc = (read(os.path.join(d, f"{i}.rc")) or "?").strip()
    err = (read(os.path.join(d, f"{i}.err")) or "").strip()
    if out is None:
        return None, [], ["no output file"]
    lines = out.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    bad = []
    errblock = []
    if lines and lines[0] == "StartError":
        try:
            end = lines.index("EndError")
        except ValueError:
            end = len(lines) - 1
            bad.append("StartError without EndError")
        errblock = lines[1:end]
        for e in errblock:
            if not re.match(r"(Context|ErrorCode|Error|Warning): ", e):
                bad.append(f"odd line in the error block: {e!r}")
        lines = lines[end + 1:]
    if len(lines) != 4:
        bad.append(f"{len(lines)} result lines, want 4")
        lines += [""] * (4 - len(lines))
    res = norm(lines[0])
    if res not in RESULTS:
        bad.append(f"result line {lines[0]!r}")
    if lines[2] and not lines[2].startswith("spfquery: "):
        bad.append(f"header comment {lines[2]!r}")
    if lines[3] and not lines[3].startswith(f"Received-SPF: {lines[0]} ("):
        bad.append(f"Received-SPF line {lines[3]!r}")
    if rc not in ("0", "1", "2", "3", "4", "5", "6", "7", "8"):
        bad.append(f"exit status {rc}")
    if err:
        bad.append(f"stderr: {err[:200]!r}")
    fields = [f"status {rc}"] + lines[1:4] + [" / ".join(errblock)]
    return res, fields, bad


# exim: what the RCPT ACL must decide for each result
EXIM_DECISION = {
    "pass": ("accept pass", "250"),
    "fail": ("deny fail", "550"),
    "temperror": ("defer temperror", "451"),
    "permerror": ("deny permerror/invalid", "550"),
    "invalid": ("deny permerror/invalid", "550"),
    "softfail": ("accept softfail/neutral/none", "250"),
    "neutral": ("accept softfail/neutral/none", "250"),
    "none": ("accept softfail/neutral/none", "250"),
}


def parse_exim(d, i):
    out = read(os.path.join(d, f"{i}.out"))
    err = read(os.path.join(d, f"{i}.err")) or ""
    rc = (read(os.path.join(d, f"{i}.rc")) or "?").strip()
    if out is None:
        return None, [], ["no output file"]
    bad = []
    codes = re.findall(r"^(\d{3}) ", out, re.M)
    if len(codes) != 5 or codes[0] != "220" or codes[1:3] != ["250", "250"] \
            or codes[4] != "221":
        bad.append(f"SMTP replies {codes}, want 220 250 250 RCPT 221")
    rcpt = codes[3] if len(codes) > 3 else "?"
    vars_ = [l[len("LOG: COMPAT-VARS\t"):] for l in err.split("\n")
             if l.startswith("LOG: COMPAT-VARS\t")]
    acl = [l[len("LOG: COMPAT-ACL\t"):] for l in err.split("\n")
           if l.startswith("LOG: COMPAT-ACL\t")]
    if len(vars_) != 1 or len(acl) != 1:
        bad.append(f"{len(vars_)} variable and {len(acl)} ACL log lines, want 1 each")
        return None, [rcpt], bad + [f"stderr: {err[-300:]!r}"]
    v = vars_[0].split("\t")
    if len(v) != 4:
        bad.append(f"variables line {vars_[0]!r}")
        v += [""] * (4 - len(v))
    res = norm(v[0])
    want = EXIM_DECISION.get(res)
    if want is None:
        bad.append(f"$spf_result {v[0]!r}")
    elif (acl[0], rcpt) != want:
        bad.append(f"ACL {acl[0]!r} and RCPT {rcpt} for {res}, want "
                   f"{want[0]!r} and {want[1]}")
    if rc != "0":
        bad.append(f"exit status {rc}")
    fields = [f"acl {acl[0]}", f"rcpt {rcpt}", "header_comment " + v[1],
              "smtp_comment " + v[2], "received " + v[3]]
    return res, fields, bad


OPENDMARC_OUTCOME = {
    "pass": ("pass", "pass"), "none": ("none", "none"),
    "neutral": ("fail", "pass"), "softfail": ("fail", "pass"),
    "temperror": ("tmpfail", "tmpfail"),
}


def split_lines(path):
    text = read(path)
    if text is None:
        return None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def parse_opendmarc(line):
    f = line.split("\t")
    if len(f) != 4:
        return None, f, [f"line {line!r}"]
    res = norm(f[0])
    bad = []
    if res not in RESULTS:
        bad.append(f"result {f[0]!r}")
    want = OPENDMARC_OUTCOME.get(res, ("fail", "fail"))
    if (f[1], f[2]) != want:
        bad.append(f"outcomes {f[1]}/{f[2]} for {res}, want {want[0]}/{want[1]}")
    return res, ["outcome " + f[1], "softfail-ok outcome " + f[2],
                 "identity " + f[3]], bad


def parse_perl(line):
    f = line.split("\t")
    if len(f) != 4:
        return None, f, [f"line {line!r}"]
    res = norm(f[0])
    bad = [] if res in RESULTS else [f"result {f[0]!r}"]
    return res, ["reason " + f[1], "error " + f[2], "explanation " + f[3]], bad


def records(prog, base, ncases):
    """[(result, fields, shape problems)] * ncases, and problems of the run"""
    if prog in ("spfquery", "exim"):
        parse = parse_spfquery if prog == "spfquery" else parse_exim
        if not os.path.isdir(base):
            return None, [f"no output directory {base}"]
        return [parse(base, i) for i in range(ncases)], []
    lines = split_lines(base)
    if lines is None:
        return None, [f"no output file {base}"]
    run = []
    rc = (read(base + ".rc") or "?").strip()
    if rc != "0":
        run.append(f"exit status {rc}")
    err = (read(base + ".err") or "").strip()
    if err:
        run.append("stderr: " + err[:500])
    if len(lines) != ncases:
        run.append(f"{len(lines)} output lines for {ncases} cases")
    lines += [""] * (ncases - len(lines))
    parse = parse_opendmarc if prog == "opendmarc" else parse_perl
    return [parse(l) if l else (None, [], ["no output line"])
            for l in lines[:ncases]], run


# ---------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--cases", required=True)
    ap.add_argument("--expected", required=True)
    ap.add_argument("--ours", type=int, choices=(0, 1), required=True)
    ap.add_argument("programs", nargs="+", choices=PROGRAMS)
    a = ap.parse_args()

    with open(a.cases, encoding="utf-8") as f:
        keys = [l.rstrip("\n") for l in f if l.strip()]
    n = len(keys)
    problems = []
    expected = load_expected(a.expected, keys, problems)
    for p in problems:
        print(f"FAIL expected differences: {p}")
    failed = bool(problems)

    for prog in a.programs:
        ref = []
        with open(os.path.join(a.dir, f"{prog}.ref.json"), encoding="utf-8") as f:
            for line in f:
                ref.append(norm(json.loads(line)["result"]))
        control, crun = records(prog, os.path.join(a.dir, f"{prog}.control"), n)
        ours, orun = (records(prog, os.path.join(a.dir, f"{prog}.ours"), n)
                      if a.ours else (None, []))
        bad_run = [f"control: {p}" for p in crun] + [f"ours: {p}" for p in orun]
        if control is None or (a.ours and ours is None):
            for p in bad_run:
                print(f"FAIL {prog}: {p}")
            failed = True
            continue

        rows = []
        nfail = nlisted = 0
        for i, key in enumerate(keys):
            cres, cfields, cbad = control[i]
            ores, ofields, obad = ours[i] if ours else (None, [], [])
            lst = expected.get((prog, key))
            why = []
            want_ref = ref[i]
            if lst and lst[2].startswith("input:"):
                # the program hands the library other inputs than the
                # case's: the reference does not apply, the listed
                # answer replaces it
                want_ref = lst[1]
            want_c = lst[0] if lst else want_ref
            if lst:
                nlisted += 1
                if lst[1] != want_ref:
                    why.append(f"listed ours answer {lst[1]} is not the "
                               f"reference {ref[i]} (expected-differences "
                               f"line {lst[3]})")
            if cres != want_c:
                why.append(f"control gives {cres}, want {want_c}"
                           + (" (listed)" if lst else " (the reference)"))
            why += [f"control: {b}" for b in cbad]
            if a.ours:
                if ores != want_ref:
                    why.append(f"ours gives {ores}, want the reference {want_ref}")
                why += [f"ours: {b}" for b in obad]
                if not lst and cfields != ofields:
                    for cf, of in zip(cfields, ofields):
                        if cf != of:
                            why.append(f"output differs: libspf2 {cf!r}")
                            why.append(f"                ours    {of!r}")
                    if len(cfields) != len(ofields):
                        why.append(f"{len(cfields)} fields against {len(ofields)}")
            if why:
                nfail += 1
            rows.append((i, key, ref[i], cres, ores if a.ours else "-",
                         f"{lst[0]}->{lst[1]}" if lst else "", why,
                         lst[2] if lst else ""))

        if nfail or bad_run:
            failed = True
            print(f"FAIL {prog}: {nfail} of {n} cases" +
                  "".join(f"; {p}" for p in bad_run))
            print(f"  {'#':>3}  {'case':<58} {'reference':<10} {'libspf2':<10} "
                  f"{'ours':<10} {'listed':<20} verdict")
            for i, key, r, c, o, l, why, reason in rows:
                print(f"  {i + 1:>3}  {key:<58} {r:<10} {str(c):<10} "
                      f"{str(o):<10} {l:<20} {'FAIL' if why else 'ok'}")
                for w in why:
                    print(f"         {w}")
        else:
            print(f"ok {prog}: {n} cases" +
                  ("" if a.ours else " (control only)") +
                  f", {nlisted} listed differences, everything else identical"
                  + ("" if a.ours else " to the reference"))
            for i, key, r, c, o, l, why, reason in rows:
                if l:
                    print(f"     {key}: libspf2 {c}, ours {r}: {reason}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
