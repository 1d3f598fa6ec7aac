"""Keep secrets off the screen, out of logs, the audit log and snapshots.

Anything that may carry a credential (a URI with a password, a query string with a token)
passes through `redact` before it is displayed or written.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_SECRET_KEYS = re.compile(r"(pass|secret|token|key|auth|credential|signature|sig)", re.I)
_INLINE = re.compile(r"(?i)\b(password|passwd|pwd|token|secret|api[_-]?key)=([^\s&;]+)")
MASK = "***"


def redact_uri(uri: str) -> str:
    """Mask the password of `scheme://user:pass@host` and secret-looking query values."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return _INLINE.sub(lambda m: f"{m.group(1)}={MASK}", uri)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        if ":" in userinfo:
            user = userinfo.split(":", 1)[0]
            netloc = f"{user}:{MASK}@{hostport}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_SECRET_KEYS.search(k) for k, _ in pairs):
            query = urlencode([(k, MASK if _SECRET_KEYS.search(k) else v) for k, v in pairs], safe="/:")
    if netloc == parts.netloc and query == parts.query:
        return uri  # nothing secret: keep it byte for byte (urlunsplit would turn test:/// into test:/)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact(text: str) -> str:
    """Mask credentials inside free text (error messages from SDKs quote URIs and options)."""
    text = re.sub(r"([a-z][a-z0-9+.-]*://[^\s'\"<>]+)", lambda m: redact_uri(m.group(1)), text)
    return _INLINE.sub(lambda m: f"{m.group(1)}={MASK}", text)
