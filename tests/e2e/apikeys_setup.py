"""The auth e2e users (:mod:`tests.e2e.auth_setup`) and an API key of the README example's app
for the member, made in the server's database; printed as JSON.

Run as ``python -m tests.e2e.apikeys_setup PREFIX`` with the example server's environment.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from tests.e2e import auth_setup


def main(prefix: str) -> dict[str, Any]:
    creds = auth_setup.main(prefix)  # sets Django up
    from django.contrib.auth import get_user_model

    from tests.apikeys.models import ApiKey

    model = get_user_model()
    member = model.objects.get(username=creds["member"])
    retired = model.objects.create(username=f"{prefix}-retired", is_active=False)
    return {**creds, "member_key": ApiKey.issue(member), "inactive_key": ApiKey.issue(retired)}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])))
