# SPDX-License-Identifier: BSD-2-Clause
"""Compatibility modules: maildrop_spf.compat.spf is a drop-in for pyspf."""
