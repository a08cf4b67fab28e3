# SPDX-License-Identifier: BSD-2-Clause
"""The README's examples run, print what the README says, and are
shown there as they are."""
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


# the repository's README (run-tests.sh says where: it tests a copy)
README = os.environ.get("MDSPF_README") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "README.md")


def _readme_python_section():
    with open(README, encoding="utf-8") as f:
        text = f.read()
    start = text.index("\n## Python\n")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def _fenced(section, lang):
    blocks, inside, cur = [], None, []
    for line in section.splitlines(keepends=True):
        if inside is None and line.startswith("```"):
            inside = line[3:].strip()
            cur = []
        elif inside is not None and line.startswith("```"):
            if inside == lang:
                blocks.append("".join(cur))
            inside = None
        elif inside is not None:
            cur.append(line)
    return blocks


def test_readme_shows_the_examples_as_they_are():
    """The README's Python section shows both example files verbatim, and
    the output it prints for the blocking one is what the example
    prints (its long header line up to the "...")."""
    section = _readme_python_section()
    code = _fenced(section, "python")
    for name in ("sync_check.py", "async_check.py"):
        with open(os.path.join(EXAMPLES, name), encoding="utf-8") as f:
            assert f.read() in code, name + " differs from the README"
    shown = _fenced(section, "")
    out = _run("sync_check.py").splitlines()
    printed = [b for b in shown if b.startswith("pass ")][0].splitlines()
    assert printed[0] == out[0] and printed[2] == out[2]
    assert printed[1].endswith(" ...")
    assert out[1].startswith(printed[1][:-4])
