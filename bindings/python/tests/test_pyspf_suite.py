# SPDX-License-Identifier: BSD-2-Clause
"""pyspf's own test driver (Debian python3-spf's testspf.py, unchanged)
with `spf` resolving to maildrop_spf.compat.spf: the RFC 7208 and RFC
4408 suites pass.  The files are copied into a temporary directory."""
import gzip
import os
import shutil
import subprocess
import sys

import pytest

DOC = os.environ.get("MDSPF_PYSPF_DOC", "/usr/share/doc/python3-spf")

SHIM = """
import sys, unittest
from maildrop_spf.compat import spf
sys.modules["spf"] = spf
import testspf
assert testspf.spf is spf
suite = unittest.TestSuite()
for name in sys.argv[1:]:
    suite.addTest(testspf.makeSuite(name))
res = unittest.TextTestRunner(verbosity=2).run(suite)
print("tests run:", res.testsRun)
sys.exit(0 if res.wasSuccessful() and res.testsRun > 150 else 1)
"""


def _unpack(tmp_path, name):
    src = os.path.join(DOC, name)
    if os.path.exists(src + ".gz"):
        with gzip.open(src + ".gz", "rb") as f, \
                open(os.path.join(tmp_path, name), "wb") as out:
            shutil.copyfileobj(f, out)
    else:
        shutil.copy(src, os.path.join(tmp_path, name))


@pytest.mark.parametrize("suite", ["rfc7208-tests.yml", "rfc4408-tests.yml"])
def test_testspf_driver(tmp_path, suite):
    for name in ("testspf.py", suite):
        _unpack(str(tmp_path), name)
    (tmp_path / "shim.py").write_text(SHIM)
    p = subprocess.run([sys.executable, "shim.py", suite], cwd=str(tmp_path),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, timeout=300)
    assert p.returncode == 0, p.stdout[-4000:]
    assert " ... ok" in p.stdout


def test_testspf_pyspf_extensions(tmp_path):
    """pyspf's own test.yml: everything passes but the documented
    differences (README: lax-mode default= modifier, permerror wording
    in two Received-SPF comments)."""
    for name in ("testspf.py", "test.yml"):
        _unpack(str(tmp_path), name)
    (tmp_path / "shim.py").write_text(SHIM.replace("> 150", ">= 16"))
    p = subprocess.run([sys.executable, "shim.py", "test.yml"],
                       cwd=str(tmp_path), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True,
                       timeout=300)
    assert "tests run: 16" in p.stdout, p.stdout[-3000:]
    assert "FAILED (failures=4)" in p.stdout, p.stdout[-6000:]
    assert "default-modifier in test.yml failed" in p.stdout
    assert "default-modifier-harsh in test.yml failed" in p.stdout
    assert "Two or more type TXT spf records found." in p.stdout
    assert "Invalid domain found (use FQDN)" in p.stdout
