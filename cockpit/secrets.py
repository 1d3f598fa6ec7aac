"""Keep secrets off the screen, out of logs, the audit log and snapshots.

Anything that may carry a credential (a URI with a password, a query string with a token)
passes through `redact` before it is displayed or written.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_plus

_SECRET_KEYS = re.compile(r"(pass|secret|token|key|auth|credential|signature|sig)", re.I)
MASK = "***"

_SECRET_SUFFIXES = ("password", "passwd", "passphrase", "token", "secret", "signature", "credential",
                    "credentials", "apikey", "accesskey", "accountkey", "privatekey", "secretkey",
                    "authorization")
_SECRET_WORDS = frozenset({"key", "sig", "pwd", "pw", "pass", "auth"})
_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")
_URL_REST = re.compile(r"[^\s'\"<>]*")
_AUTHORITY_END = re.compile(r"[/?#]")
_PARAM_SEGMENT = re.compile(r"[^&;#]*")
# Every pattern below is built so that a failed attempt cannot re-scan what another one scanned
# (possessive quantifiers, look-behinds that keep a match from starting inside a word): linear time.
_PAIR = re.compile(r"(?<![\w.-])([\w.-]++)=(\*\*\*(?=[\s&;'\"<>]|$)|[^\s&;]++)")
_QUOTED_PAIR = re.compile(r"""(["'])([\w.-]++)\1[ \t]*+:[ \t]*+(?:"((?:[^"\\\n]|\\.)*+)"|'((?:[^'\\\n]|\\.)*+)')""")
_HEADER = re.compile(r"""(?i)(?<![\w-])((?:proxy-)?authorization|x-api-key|api-key|x-auth-token|private-token)"""
                     r"""(["']?[ \t]*+[:=][ \t]*+["']?)(?:(bearer|basic|digest|token|negotiate)[ \t]++)?"""
                     r"""([^\s"'<>,;]++)""")
_BEARER = re.compile(r"""(?i)(?<![\w-])(bearer[ \t]++)"""
                     r"""(?!(?:tokens?|auth|authentication|credentials?|header|scheme|realm|error|of|for|and|or|"""
                     r"""is|was|the|a|an|in|to|with|not|required|missing|expired|invalid)\b)"""
                     r"""(?![\w-]*+=["'])([^\s"'<>,;]++)""")


def is_secret_name(key: str) -> bool:
    """Does a key (`access_token`, `X-Amz-Signature`, `db.password`, `apiKey`) name a secret?"""
    k = key.lower()
    flat = k.replace("_", "").replace("-", "").replace(".", "")
    return flat.endswith(_SECRET_SUFFIXES) or re.split(r"[_.-]", k)[-1] in _SECRET_WORDS


def redact_uri(uri: str) -> str:
    """Mask the password of `scheme://user:pass@host` and secret-looking query values.

    Everything else stays byte for byte (no re-encoding); linear in the length of `uri`."""
    spans: list[tuple[int, int]] = []
    sep = uri.find("://")
    first_authority_end = len(uri) if sep != -1 else 0
    while sep != -1:
        nxt = uri.find("://", sep + 3)
        limit = len(uri) if nxt == -1 else nxt
        end = _userinfo(uri, sep + 3, limit, spans)
        first_authority_end = min(first_authority_end, end)
        sep = nxt
    q = min((i for i in (uri.find("?", first_authority_end), uri.find("#", first_authority_end)) if i != -1),
            default=-1)
    if q != -1:
        for seg in _PARAM_SEGMENT.finditer(uri, q + 1):
            _mask_param(uri, seg.start(), seg.end(), spans)
    if not spans:
        return uri  # nothing secret: keep it byte for byte (urlunsplit would turn test:/// into test:/)
    merged: list[tuple[int, int]] = []
    for a, b in sorted(spans):  # a nested URL's password inside a masked query value: one mask
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    out, done = [], 0
    for a, b in merged:
        out += [uri[done:a], MASK]
        done = b
    out.append(uri[done:])
    return "".join(out)


def _userinfo(uri: str, start: int, limit: int, spans: list[tuple[int, int]]) -> int:
    """Mask `user:PASSWORD@` in the authority starting at `start`; return where the authority ends."""
    m = _AUTHORITY_END.search(uri, start, limit)
    end = m.start() if m else limit
    at = uri.rfind("@", start, end)
    if at != -1:
        colon = uri.find(":", start, at)
        if colon != -1:
            spans.append((colon + 1, at))
        return end
    colon = uri.find(":", start, end)
    port = uri[colon + 1:end] if colon != -1 else ""
    if port and not (port.isascii() and port.isdigit()) and uri[start:start + 1] != "[":
        # `user:pa/ss@host`: a password with a '/', '?' or '#' in it ends the authority early
        at = uri.find("@", end, limit)
        if at != -1:
            spans.append((colon + 1, at))
    return end


def _mask_param(uri: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    """One `&`-separated query parameter (a nested URL's `?` starts another one inside it)."""
    pos = start
    while pos <= end:
        q = uri.find("?", pos, end)
        stop = end if q == -1 else q
        eq = uri.find("=", pos, stop)
        if eq > pos and _SECRET_KEYS.search(unquote_plus(uri[pos:eq])):
            spans.append((eq + 1, end))
            return
        if q == -1:
            return
        pos = q + 1


def redact(text: str) -> str:
    """Mask credentials inside free text (error messages from SDKs quote URIs, options and headers).

    Linear in the length of the text: no pattern here can backtrack over what it already scanned."""
    if "://" in text:
        text = _redact_urls(text)
    text = _HEADER.sub(lambda m: f"{m[0][:m.start(4) - m.start()]}{MASK}", text)
    text = _BEARER.sub(lambda m: f"{m.group(1)}{MASK}", text)
    text = _QUOTED_PAIR.sub(_mask_quoted_pair, text)
    return _PAIR.sub(lambda m: f"{m.group(1)}={MASK}" if is_secret_name(m.group(1)) else m.group(0), text)


def _mask_quoted_pair(m: re.Match[str]) -> str:
    if not is_secret_name(m.group(2)):
        return m.group(0)
    quote = '"' if m.group(3) is not None else "'"
    return f"{m[0][:m.start(3 if m.group(3) is not None else 4) - m.start()]}{MASK}{quote}"


def _redact_urls(text: str) -> str:
    """`scheme://...` runs through `redact_uri`: found with str.find, not a backtracking regex."""
    out: list[str] = []
    done = 0
    i = text.find("://")
    while i != -1:
        s = i
        while s > done and text[s - 1] in _SCHEME_CHARS:
            s -= 1
        while s < i and not (text[s].isascii() and text[s].isalpha()):
            s += 1  # a scheme starts with a letter
        rest = _URL_REST.match(text, i + 3) if s < i else None  # match once: it runs to the URL's end
        end = rest.end() if rest else i + 3
        if end == i + 3:
            i = text.find("://", i + 3)
            continue
        out += [text[done:s], redact_uri(text[s:end])]
        done = end
        i = text.find("://", end)
    out.append(text[done:])
    return "".join(out)
