# SPDX-License-Identifier: BSD-2-Clause
"""Build the maildrop_spf package: the cffi extension (maildrop_spf_build.py
says where the library is found) and the pure-Python modules."""

from setuptools import setup

setup(cffi_modules=["maildrop_spf_build.py:ffibuilder"])
