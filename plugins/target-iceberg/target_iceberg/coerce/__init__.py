"""Coercion of incoming values to the contract's types.

`values` holds the rules, one Python function per type: it is the reference definition of
what a contract accepts (documented in the plugin README). `arrow` is the vectorised fast path
over whole blocks; it may only accept what `values` accepts, with the same result (property
tests check this), and whenever it fails the row path decides.
"""

from __future__ import annotations
