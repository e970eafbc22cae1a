"""Create the auth e2e tests' users in the server's database; print their credentials as JSON.

Run as ``python -m tests.e2e.auth_setup PREFIX`` with a server's environment (its settings and
``DATABASE_URL``): the test process's own database is pytest-django's, not the one the server
reads, and tokens and sessions must be made against the server's users and ``SECRET_KEY``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

PASSWORD = "e2e-password-1"  # only the admin user has a usable password: PBKDF2 is slow


def main(prefix: str) -> dict[str, Any]:
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission
    from django.core import signing
    from django.test import Client

    from wsapp.tokens import make_token, token_max_age

    model = get_user_model()

    def create(name: str, **fields: Any) -> Any:
        user = model(username=f"{prefix}-{name}", **fields)
        user.set_unusable_password()
        user.save()
        return user

    member = create("member")
    staff = create("staff")
    staff.user_permissions.add(Permission.objects.get(codename="view_user"))
    admin = create("admin", is_staff=True)
    admin.set_password(PASSWORD)
    admin.save()

    changer = create("changer")
    stale = make_token(changer)
    changer.set_unusable_password()  # a new random hash: as good as a password change
    changer.save()

    stamp = int(time.time()) - token_max_age() - 5
    real_timestamp = signing.TimestampSigner.timestamp
    signing.TimestampSigner.timestamp = lambda self: signing.b62_encode(stamp)  # type: ignore[method-assign]
    try:
        expired = make_token(member)
    finally:
        signing.TimestampSigner.timestamp = real_timestamp  # type: ignore[method-assign]

    client = Client()
    client.force_login(member)
    from django.conf import settings

    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    return {
        "member": member.username,
        "staff": staff.username,
        "admin": admin.username,
        "password": PASSWORD,
        "member_token": make_token(member),
        "staff_token": make_token(staff),
        "stale_token": stale,
        "expired_token": expired,
        "session_cookie": f"{settings.SESSION_COOKIE_NAME}={session}",
        "session_cookie_name": settings.SESSION_COOKIE_NAME,
    }


def run(module: str, prefix: str, env: Mapping[str, str]) -> dict[str, Any]:
    """Run a setup ``module`` (this one, or one built on it) in a server's environment ``env``;
    the credentials it printed."""
    result = subprocess.run(
        [sys.executable, "-m", module, prefix],
        cwd=Path(__file__).resolve().parents[2],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])))
