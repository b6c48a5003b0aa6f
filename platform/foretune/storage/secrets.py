"""Credentials in URIs: found, refused and redacted before anything is opened.

    check_uri("s3://KEY:SECRET@bucket/x", "--out")  # StorageError: --out s3://***@bucket/x holds ...
    redact("s3://bucket/x?secret_key=abc")           # 's3://bucket/x?secret_key=***'
    scrub(message)                                   # every URI in a text, redacted

A URI holds credentials when its authority has userinfo (``user[:password]@host``; a secret may
contain ``/``, so the userinfo runs to the last ``@`` before the query when that part has a
``:`` or no ``/``) or its query has a credential-like parameter (``access_key``, ``secret_key``,
``session_token``, ``X-Amz-*``, ``X-Goog-*``, anything naming a key, secret, token, password,
signature or credential). Such a URI is refused, shown with the userinfo replaced by ``***`` and
every query value by ``***``: no fragment of a key is ever printed, logged or stored.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from foretune.errors import StorageError

#: Words that make a query parameter a credential (compared without ``_``/``-``, lower case).
_SECRET_WORDS = ("key", "secret", "token", "password", "passwd", "signature", "credential", "auth")
#: Prefixes of signed-URL parameters (AWS SigV4, Google signed URLs).
_SECRET_PREFIXES = ("xamz", "xgoog")
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>()\[\],;]+")
_HOW = (
    "remove them and give them through the environment (AWS_ACCESS_KEY_ID / "
    "AWS_SECRET_ACCESS_KEY, AWS_PROFILE), a credentials file or an instance profile"
)


def _parts(uri: str) -> tuple[str, str, str | None]:
    """``(scheme, path part, query or None)`` of ``scheme://path?query``."""
    scheme, _, rest = uri.partition("://")
    path, mark, query = rest.partition("?")
    path = path.partition("#")[0]
    return scheme, path, query if mark else None


def _has_userinfo(path: str) -> bool:
    """Whether the part before the query starts with ``userinfo@`` (see the module docstring)."""
    if "@" not in path:
        return False
    head = path.rsplit("@", 1)[0]
    return ":" in head or "/" not in head


def _secret_name(name: str) -> bool:
    word = unquote(name).lower().replace("_", "").replace("-", "")
    return word.startswith(_SECRET_PREFIXES) or any(w in word for w in _SECRET_WORDS)


def _secret_params(query: str | None) -> list[str]:
    """The names of the credential-like parameters of ``query``."""
    if not query:
        return []
    names = [unquote(p.partition("=")[0]) for p in query.split("&") if p]
    return [n for n in names if _secret_name(n)]


def redact(uri: str) -> str:
    """``uri`` with its userinfo replaced by ``***`` and every query value by ``***``."""
    text = str(uri)
    if "://" not in text:
        return text
    scheme, path, query = _parts(text)
    if _has_userinfo(path):
        path = "***@" + path.rsplit("@", 1)[1]
    if query is not None:
        query = "&".join(f"{p.partition('=')[0]}=***" if "=" in p else p for p in query.split("&"))
        return f"{scheme}://{path}?{query}"
    return f"{scheme}://{path}"


def scrub(text: str) -> str:
    """``text`` with every URI in it redacted (``redact``): a last guard on messages."""
    return _URI.sub(lambda m: redact(m.group(0)), str(text))


def holds_credentials(uri: str) -> bool:
    """Whether ``uri`` carries credentials in its userinfo or its query."""
    if "://" not in str(uri):
        return False
    _, path, query = _parts(str(uri))
    return _has_userinfo(path) or bool(_secret_params(query))


def check_uri(uri: str, label: str = "") -> None:
    """Refuse (``StorageError``) a URI that carries credentials, naming it redacted; other
    strings pass. ``label`` names where it was given (``--out``)."""
    text = str(uri)
    if "://" not in text:
        return
    _, path, query = _parts(text)
    where = f"{label} {redact(text)}".strip()
    if _has_userinfo(path):
        raise StorageError(f"{where} holds credentials in the URI (before '@'); {_HOW}")
    secret = _secret_params(query)
    if secret:
        raise StorageError(
            f"{where} holds credentials in its query ({', '.join(sorted(set(secret)))}); {_HOW}"
        )
