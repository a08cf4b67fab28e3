# SPDX-License-Identifier: BSD-2-Clause
"""spf.py -- makes "import spf" give maildrop_spf.compat.spf, so that
programs written for pyspf (spf-engine) run on libmaildrop-spf unchanged:
put this directory (and the maildrop_spf package) first on PYTHONPATH.

With MDSPF_SPF_SHIM_MARK set, the path of the module that replaced pyspf
is written to that file, so a test can tell that the program it ran used
it (tests/compat/spf-engine.sh).
"""

import os
import sys

from maildrop_spf.compat import spf as _compat

sys.modules[__name__] = _compat

_mark = os.environ.get("MDSPF_SPF_SHIM_MARK")
if _mark:
    with open(_mark, "a", encoding="utf-8") as _f:
        _f.write("%s %s\n" % (_compat.__name__, _compat.__file__))
