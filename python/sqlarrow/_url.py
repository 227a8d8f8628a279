"""Parsing of connection URLs (``postgresql://…``, ``sqlite:///…``).

Everything here is pure Python and opens no connection. Error messages name the
offending part of the URL but never contain the password: URLs are masked with
:func:`mask_url` before they appear in any message.
"""

from __future__ import annotations

import re
from typing import Any, Callable
from urllib.parse import parse_qsl, unquote

from .exceptions import ConfigError

__all__ = ["SCHEMES", "mask_url", "parse_url", "userinfo_span"]

#: URL scheme -> engine name.
SCHEMES: dict[str, str] = {
    "postgresql": "postgres",
    "postgres": "postgres",
    "redshift": "redshift",
    "mysql": "mysql",
    "mariadb": "mysql",
    "sqlite": "sqlite",
}

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _to_int(name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"URL option {name!r} must be an integer, got {value!r}") from None


def _to_float(name: str, value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise ConfigError(f"URL option {name!r} must be a number, got {value!r}") from None


def _to_bool(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigError(f"URL option {name!r} must be true or false, got {value!r}")


def _to_str(name: str, value: str) -> str:
    return value


def _to_pg_settings(name: str, value: str) -> dict[str, str]:
    """libpq's ``options``: ``-c name=value`` (or ``-cname=value``, ``--name=value``)
    items split on whitespace, a backslash taking the next character literally."""
    words: list[str] = []
    cur: list[str] = []
    escaped = False
    for ch in value:
        if escaped:
            cur.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch.isspace():
            if cur:
                words.append("".join(cur))
                cur = []
        else:
            cur.append(ch)
    if cur:
        words.append("".join(cur))
    settings: dict[str, str] = {}
    i = 0
    while i < len(words):
        word = words[i]
        if word == "-c" and i + 1 < len(words):
            item, i = words[i + 1], i + 2
        elif word[:2] in ("-c", "--") and len(word) > 2:
            item, i = word[2:], i + 1
        else:
            raise ConfigError(
                f"URL option {name}: expected '-c name=value' items (libpq's form), got {word!r}"
            )
        key, eq, val = item.partition("=")
        if not eq or not key:
            raise ConfigError(f"URL option {name}: {item!r} is not name=value")
        settings[key.replace("-", "_")] = val
    return settings


# Options accepted in the query string, per engine, with their converters.
_PG_OPTIONS: dict[str, Callable[[str, str], Any]] = {
    "options": _to_pg_settings,
    "sslmode": _to_str,
    "application_name": _to_str,
    "connect_timeout": _to_float,
    "pool_size": _to_int,
    "pool_timeout": _to_float,
    "sslrootcert": _to_str,
    "sslcert": _to_str,
    "sslkey": _to_str,
    "read_only": _to_bool,
    "statement_timeout": _to_float,
    "uuid_as": _to_str,
    "scan_workers": _to_int,
    "scan_min_bytes": _to_int,
}
_MYSQL_OPTIONS: dict[str, Callable[[str, str], Any]] = {
    "unix_socket": _to_str,  # the server's socket path: the host (SQLAlchemy's spelling)
    "ssl_mode": _to_str,
    "ssl_ca": _to_str,
    "ssl_cert": _to_str,
    "ssl_key": _to_str,
    "connect_timeout": _to_float,
    "pool_size": _to_int,
    "pool_timeout": _to_float,
    "tinyint1_as_bool": _to_bool,
    "time_as_duration": _to_bool,
    "zero_date_as_null": _to_bool,
    "read_only": _to_bool,
    "statement_timeout": _to_float,
    "scan_workers": _to_int,
    "scan_min_rows": _to_int,
}
_SQLITE_OPTIONS: dict[str, Callable[[str, str], Any]] = {
    "pool_size": _to_int,
    "pool_timeout": _to_float,
    "read_only": _to_bool,
    "statement_timeout": _to_float,
    "mode": _to_str,  # SQLite URI style: mode=ro | rw | rwc
}

_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")


def _authority_end(rest: str) -> int:
    """Index in ``rest`` (the URL after ``//``) where the authority ends: the first
    ``/``, ``?`` or ``#``, or the end."""
    ends = [i for i in (rest.find(sep) for sep in "/?#") if i != -1]
    return min(ends, default=len(rest))


def _userinfo_end(rest: str) -> int:
    """Index in ``rest`` (the URL after ``//``) of the ``@`` that ends the user:password
    part, or -1. Normally the last ``@`` of the authority; but a password holding an
    unescaped ``/``, ``?`` or ``#`` moves its ``@`` into the path, query or fragment, and
    that ``@`` still ends the credentials. An ``@`` in a query after a ``key=`` is a
    value (``application_name=me@host``), not that."""
    end = _authority_end(rest)
    q = rest.find("?")
    for j in range(len(rest) - 1, end - 1, -1):
        if rest[j] != "@":
            continue
        in_query = q != -1 and q < j and "#" not in rest[q:j]
        if in_query and "=" in rest[q:j]:
            continue
        return j
    return rest.rfind("@", 0, end)


def userinfo_span(url: str) -> tuple[int, int] | None:
    """``(start, end)`` in ``url`` of its user:password part, from after ``://`` to the
    ``@`` that ends it (see ``_userinfo_end``); None when it has none. Also used on
    config URL templates, whose ``${...}`` placeholders hold none of ``/?#@``."""
    start = url.find("://")
    if start < 0:
        return None
    start += 3
    at = _userinfo_end(url[start:])
    return (start, start + at) if at != -1 else None


def mask_url(url: str) -> str:
    """Return ``url`` with the password (if any) replaced by ``***``."""
    m = _SCHEME_RE.match(url)
    if not m or not url[m.end() :].startswith("//"):
        return url
    span = userinfo_span(url)
    if span is None:
        return url
    userinfo = url[span[0] : span[1]]
    if ":" not in userinfo:
        return url
    user = userinfo.split(":", 1)[0]
    if any(c in user for c in "/?#"):
        user = ""
    return url[: span[0]] + f"{user}:***" + url[span[1] :]


def _check_credentials_escaped(rest: str, url: str) -> None:
    """Refuse a URL whose user name or password holds a character that ends it early,
    before the misparse can put a piece of the password into a host, port or database
    name (and from there into an error message)."""
    if _userinfo_end(rest) >= _authority_end(rest):
        raise ConfigError(
            "the user name or password in the URL holds a character that must be "
            "percent-encoded ('@' as %40, '/' as %2F, '?' as %3F, '#' as %23): "
            f"{mask_url(url)!r}"
        )


def _split_scheme(url: str) -> tuple[str, str]:
    m = _SCHEME_RE.match(url)
    if not m:
        raise ConfigError(
            f"not a database URL: {mask_url(url)!r} "
            f"(expected e.g. 'postgresql://user@host/db' or 'sqlite:///file.db')"
        )
    return m.group(1).lower(), url[m.end() :]


def _parse_query(
    query: str, allowed: dict[str, Callable[[str, str], Any]], scheme: str
) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if not query:
        return options
    pairs = parse_qsl(query, keep_blank_values=True)
    unknown = sorted({k for k, _ in pairs if k not in allowed})
    if unknown:
        names = ", ".join(repr(k) for k in unknown)
        known = ", ".join(sorted(allowed))
        raise ConfigError(
            f"unknown option(s) in {scheme} URL: {names} (supported: {known})",
            options=unknown,
        )
    for key, value in pairs:
        options[key] = allowed[key](key, value)
    return options


def _parse_postgres(
    rest: str,
    scheme: str,
    url: str,
    options: dict[str, Callable[[str, str], Any]] = _PG_OPTIONS,
) -> dict[str, Any]:
    if not rest.startswith("//"):
        raise ConfigError(f"{scheme} URL must start with '{scheme}://': {mask_url(url)!r}")
    rest = rest[2:]
    _check_credentials_escaped(rest, url)
    rest, _, _fragment = rest.partition("#")
    rest, _, query = rest.partition("?")
    authority, slash, path = rest.partition("/")
    kwargs: dict[str, Any] = {}

    userinfo = ""
    hostinfo = authority
    if "@" in authority:
        userinfo, _, hostinfo = authority.rpartition("@")
    if userinfo:
        user, colon, password = userinfo.partition(":")
        if user:
            kwargs["user"] = unquote(user)
        if colon:
            kwargs["password"] = unquote(password)

    host = hostinfo
    port_text: str | None = None
    if hostinfo.startswith("["):  # IPv6 literal
        close = hostinfo.find("]")
        if close == -1:
            raise ConfigError(f"invalid IPv6 host in URL: {mask_url(url)!r}")
        host = hostinfo[1:close]
        after = hostinfo[close + 1 :]
        if after:
            if not after.startswith(":"):
                raise ConfigError(f"invalid host in URL: {mask_url(url)!r}")
            port_text = after[1:]
    elif ":" in hostinfo:
        host, _, port_text = hostinfo.rpartition(":")
    if "," in host:
        raise ConfigError(f"multiple hosts are not supported: {mask_url(url)!r}")
    if host:
        kwargs["host"] = unquote(host)
    if port_text is not None and port_text != "":
        if not port_text.isdigit():
            raise ConfigError(f"invalid port {port_text!r} in URL {mask_url(url)!r}")
        kwargs["port"] = int(port_text)
    if slash and path:
        if "/" in path:
            raise ConfigError(f"invalid database name in URL: {mask_url(url)!r}")
        kwargs["database"] = unquote(path)
    kwargs.update(_parse_query(query, options, scheme))
    if "options" in kwargs:
        kwargs["settings"] = kwargs.pop("options")
    if "unix_socket" in kwargs:
        socket = kwargs.pop("unix_socket")
        if not socket.startswith("/"):
            raise ConfigError(f"unix_socket must be an absolute path, not {socket!r}")
        kwargs["host"] = socket
    return kwargs


def _parse_sqlite(rest: str, scheme: str, url: str) -> dict[str, Any]:
    if not rest.startswith("//"):
        raise ConfigError(
            f"SQLite URL must look like 'sqlite:///relative.db', 'sqlite:////absolute.db' "
            f"or 'sqlite://:memory:', got {mask_url(url)!r}"
        )
    rest = rest[2:]
    rest, _, _fragment = rest.partition("#")
    rest, _, query = rest.partition("?")
    if rest in ("", ":memory:", "/:memory:"):
        path = ":memory:"
    elif rest.startswith("/"):
        # sqlite:///rel.db -> "rel.db"; sqlite:////abs.db -> "/abs.db"
        path = unquote(rest[1:])
        if not path:
            path = ":memory:"
    else:
        raise ConfigError(
            "SQLite URLs take no host: use 'sqlite:///relative.db' or 'sqlite:////absolute.db', "
            f"got {mask_url(url)!r}"
        )
    kwargs: dict[str, Any] = {"path": path}
    options = _parse_query(query, _SQLITE_OPTIONS, scheme)
    mode = options.pop("mode", None)
    if mode is not None:
        if mode == "ro":
            options.setdefault("read_only", True)
        elif mode not in ("rw", "rwc"):
            raise ConfigError(f"SQLite URL option 'mode' must be ro, rw or rwc, got {mode!r}")
    kwargs.update(options)
    return kwargs


def parse_url(url: str) -> tuple[str, dict[str, Any]]:
    """Parse a connection URL into ``(engine, keyword arguments for its connector)``.

    Raises:
        ConfigError: for an unknown scheme, an unknown option or a malformed URL.
            The message never contains the password.
    """
    if not isinstance(url, str):
        raise ConfigError(f"url must be a str, not {type(url).__name__}")
    url = url.strip()
    scheme, rest = _split_scheme(url)
    engine = SCHEMES.get(scheme)
    if engine is None:
        supported = ", ".join(f"{s}://" for s in SCHEMES)
        raise ConfigError(
            f"unsupported URL scheme {scheme!r} in {mask_url(url)!r} (supported: {supported})",
            scheme=scheme,
        )
    if engine in ("postgres", "redshift"):
        return engine, _parse_postgres(rest, scheme, url)
    if engine == "mysql":
        return engine, _parse_postgres(rest, scheme, url, _MYSQL_OPTIONS)
    return engine, _parse_sqlite(rest, scheme, url)
