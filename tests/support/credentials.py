"""Credentials for the token tests: wsapp tokens gone bad, and other schemes' credentials.

One list of what projects put in ``Authorization: Bearer`` and ``?token=`` that is not a wsapp
token, so the shape test (``tests/wsapp/test_tokens.py``) and the pass-through tests
(``tests/wsapp/test_auth.py``, ``tests/e2e/test_auth.py``) agree on what "foreign" means.
"""

from __future__ import annotations

import pytest

#: A JWT (HS256: three parts and a 43-character signature, like a wsapp token, but ``eyJ``).
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.ZW5jb2RlZC1zaWduYXR1cmUtb2YtNDMtY2hhcmFjdGVycw"

#: Credentials of other schemes, as projects use them: none is a wsapp token.
FOREIGN = [
    pytest.param("sk_live_4eC39HqLyjWDarjtT1zdp7dc", id="api-key"),
    pytest.param(JWT, id="jwt"),
    pytest.param("9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b", id="drf-token"),
    pytest.param("forged", id="word"),
]


def tampered(token: str) -> str:
    """The token with its signature's last character changed: still a wsapp token, a forged one."""
    return token[:-1] + ("A" if token[-1] != "A" else "B")
