r"""Keys keyed by path: each parameter's randomness is a function of the model's
key and the parameter's name alone.

A parameter (or sub-block) named ``name`` gets the :class:`winit.Key` whose two
64-bit words are the little-endian halves of

.. math::

    \operatorname{BLAKE2b}_{128}\bigl(\text{data} = \mathrm{utf8}(\mathit{name}),\
    \text{key} = \mathrm{le}_{64}(k_0) \,\|\, \mathrm{le}_{64}(k_1)\bigr)

where ``(k0, k1)`` are the words of the model's key (``hashlib.blake2b`` with
``digest_size=16``). A sub-block's name is ``path[sub]``. Nothing else enters:
adding, removing or reordering other parameters changes no parameter's key.
"""

from __future__ import annotations

import hashlib

from .._seeds import Key


def path_key(root: Key, name: str) -> Key:
    """The key of the parameter or sub-block ``name`` under the model key ``root``."""
    secret = root.words[0].to_bytes(8, "little") + root.words[1].to_bytes(8, "little")
    digest = hashlib.blake2b(name.encode("utf-8"), digest_size=16, key=secret).digest()
    return Key((int.from_bytes(digest[:8], "little"), int.from_bytes(digest[8:], "little")))
