# SPDX-License-Identifier: BSD-2-Clause
"""The README's examples run and print what the README says."""
import os
import subprocess
import sys

EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                        "examples")


def _run(name):
    return subprocess.run([sys.executable, os.path.join(EXAMPLES, name)],
                          check=True, stdout=subprocess.PIPE,
                          universal_newlines=True, timeout=60).stdout


def test_sync_example():
    out = _run("sync_check.py").splitlines()
    assert out[0] == "pass ip4:192.0.2.0/24"
    assert out[1].startswith("Received-SPF: pass (mx.example.org: ")
    assert out[2] == ("fail 203.0.113.5 is not one of example.com's "
                      "designated mail servers.")


def test_async_example():
    assert _run("async_check.py").strip() == "[('fail', 1), ('pass', 100)]"
