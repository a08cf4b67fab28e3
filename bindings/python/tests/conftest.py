# SPDX-License-Identifier: BSD-2-Clause
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

ZONE = """
$ORIGIN example.com.
@          TXT "v=spf1 ip4:192.0.2.0/24 a:mail.example.com mx include:inc.example.net -all"
mail       A   198.51.100.7
@          MX  10 mx1.example.com.
mx1        A   198.51.100.25
soft       TXT "v=spf1 ~all"
broken     TXT "v=spf1 ip4:192.0.2.0/24 frob -all"
two        TXT "v=spf1 -all"
two        TXT "v=spf1 +all"
exp        TXT "v=spf1 -all exp=why.example.com"
why        TXT "%{i} may not send for %{d}"
$ORIGIN example.net.
inc        TXT "v=spf1 ip6:2001:db8::/32 ?all"
"""


@pytest.fixture
def zone():
    import maildrop_spf
    return maildrop_spf.Zone(ZONE)
