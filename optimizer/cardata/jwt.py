"""Read the claims of a JWT without verifying it.

The CarData id_token is a JWT whose `exp` says when the MQTT stream will be closed; the client
only needs that claim to schedule its refresh. The signature is BMW's business (the broker checks
it), so no key material or crypto library is involved here.
"""

from __future__ import annotations

import base64
import json
from typing import Any


def claims(token: str) -> dict[str, Any]:
    """The payload of `token`; {} when it is not a readable JWT (an opaque token)."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    padded = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        payload = json.loads(base64.urlsafe_b64decode(padded))
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}
