"""The policy numbers the runtime and the `migrate` commands must agree on, in one place.

A command that reasons about the running server (`migrate status` waiting out a token
lifetime, `migrate keys retire` waiting out the JWKS cache) reads the same number the
server uses, so neither can act before the other is done.
"""

from __future__ import annotations

# Access-token lifetime when the legacy code states none (seconds).
DEFAULT_LIFETIME = 3600
# How long clients may cache the JWKS (Cache-Control max-age, seconds): a retired key stays
# published this long after the last token it signed can have expired.
JWKS_MAX_AGE = 300
