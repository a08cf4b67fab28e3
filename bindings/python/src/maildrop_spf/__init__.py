# SPDX-License-Identifier: BSD-2-Clause
"""maildrop_spf: SPF (RFC 7208) checks with libmaildrop-spf.

    >>> import maildrop_spf
    >>> zone = maildrop_spf.Zone('example.com. TXT "v=spf1 ip4:192.0.2.0/24 -all"')
    >>> r = maildrop_spf.check("192.0.2.1", "user@example.com", "mx.example.com",
    ...                        resolver=zone)
    >>> r.result
    <SPFResult.PASS: 'pass'>

Blocking checks (check), checks on an asyncio loop (check_async), record
parsing (parse) and linting (lint), over live DNS (DnsResolver), an
in-memory zone (Zone), a what-if overlay (Overlay) or a resolver written
in Python (PythonResolver).  maildrop_spf.compat.spf is a drop-in for
pyspf's spf module.
"""

from ._core import (DnsResolver, DnsStatus, LintDiagnostic, LintNode,
                    LintReport, MaildropSPFError, Overlay, PythonResolver,
                    Query, Record, Resolver, Result, SPFResult,
                    SPFSyntaxError, Term, Zone, check, lint, parse, version)
from ._aio import check_async

__version__ = "0.2.0"

__all__ = [
    "DnsResolver", "DnsStatus", "LintDiagnostic", "LintNode", "LintReport",
    "MaildropSPFError", "Overlay", "PythonResolver", "Query", "Record",
    "Resolver", "Result", "SPFResult", "SPFSyntaxError", "Term", "Zone",
    "check", "check_async", "lint", "parse", "version",
]
