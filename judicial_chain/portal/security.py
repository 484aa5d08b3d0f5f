"""The portal's Content-Security-Policy; the headers, CSRF tokens and the HTTPS check come from the service kit."""

from __future__ import annotations

from service_kit.page_security import SecurityHeaders, is_https, new_token, same_token

from .report import REPORT_CSS_HASH

__all__ = ["SecurityHeaders", "CSP", "new_token", "same_token", "is_https"]  # the kit's, with the portal's policy

# no inline script anywhere; the one inline style (the standalone printable report's) is allowed by its hash
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' '" + REPORT_CSS_HASH + "'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
