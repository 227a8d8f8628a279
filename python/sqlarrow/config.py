"""Connections defined in a YAML file.

Example ``connections.yaml``::

    target: warehouse
    connections:
      warehouse:
        engine: postgres            # or `type:`; postgres, redshift, mysql, mariadb, sqlite
        host: ${PGHOST:-localhost}
        database: analytics
        user: etl
        password_file: /run/secrets/pg_password
        read_only: true
      scratch: sqlite:///scratch.db  # a URL is accepted anywhere a mapping is
      replica:
        url: postgresql://etl@replica/analytics   # a URL plus options
        pool_size: 4
    profiles:                         # selected by env= / SQLARROW_ENV / --env
      dev:
        target: scratch
        connections:
          warehouse: postgresql://etl@localhost/analytics_dev

``${VAR}`` and ``${VAR:-default}`` are replaced from the environment (``$${`` is a
literal ``${``); values from ``env_file`` (a ``.env`` file) are used only for
variables that are not set in the real environment. ``<option>_file`` keys read a
secret from a file (one trailing newline is stripped).

Everything is validated before any connection is opened: every problem (unknown
key, wrong type, missing field, unset variable) is reported at once in one
:class:`~sqlarrow.ConfigError` whose ``problems`` attribute lists them with their
YAML path. Messages never contain secret values.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

from ._url import mask_url, parse_url, userinfo_span
from .exceptions import ConfigError, MissingDependencyError

if TYPE_CHECKING:
    from ._connectors import Connector

__all__ = [
    "Config",
    "ConnectionConfig",
    "get_connection",
    "is_secret_key",
    "load_config",
    "parse_env_file",
]

logger = logging.getLogger("sqlarrow")

ConfigSource = Union["Config", str, "os.PathLike[str]"]

#: Engine names (and aliases) accepted by ``engine:`` / ``type:``.
ENGINE_ALIASES: dict[str, str] = {
    "postgres": "postgres",
    "postgresql": "postgres",
    "redshift": "redshift",
    "mysql": "mysql",
    "mariadb": "mysql",
    "sqlite": "sqlite",
    "sqlite3": "sqlite",
}

_SECRET_RE = re.compile(r"(pass(word|wd)?|secret|token|private_key|api_key|credential)", re.I)


def is_secret_key(key: str) -> bool:
    """Whether an option named ``key`` holds a secret (its value is never shown)."""
    return bool(_SECRET_RE.search(key))


_INT_OPTIONS = frozenset({"port", "pool_size", "scan_workers", "scan_min_bytes", "scan_min_rows"})
_FLOAT_OPTIONS = frozenset({"pool_timeout", "connect_timeout", "statement_timeout"})
_BOOL_OPTIONS = frozenset(
    {"read_only", "tinyint1_as_bool", "zero_date_as_null", "time_as_duration"}
)
_MAPPING_OPTIONS = frozenset({"retry"})
_RETRY_KEYS: dict[str, type] = {
    "max_attempts": int,
    "initial_delay": float,
    "max_delay": float,
    "multiplier": float,
    "jitter": bool,
}
_REQUIRED: dict[str, tuple[str, ...]] = {
    "postgres": ("host",),
    "redshift": ("host",),
    "mysql": ("host",),
    "sqlite": ("path",),
}
_TOP_KEYS = frozenset({"target", "connections", "profiles", "environments", "version"})
_PROFILE_KEYS = frozenset({"target", "connections"})


def _engine_options(engine: str) -> frozenset[str]:
    from ._connectors import _ENGINE_OPTIONS

    return _ENGINE_OPTIONS[engine]


# -- .env ---------------------------------------------------------------------------
_ENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")


def parse_env_file(path: str | os.PathLike[str]) -> dict[str, str]:
    """Parse a ``.env`` file: ``KEY=value`` lines, ``#`` comments, optional ``export``,
    single quotes (literal) or double quotes (``\\n``, ``\\"`` escapes)."""
    values: dict[str, str] = {}
    text = Path(path).read_text(encoding="utf-8")
    for lineno, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        m = _ENV_LINE.match(line)
        if not m:
            raise ConfigError(f"{os.fspath(path)}:{lineno}: not a KEY=value line")
        key, raw = m.group(1), m.group(2)
        if raw[:1] in ("'", '"') and len(raw) >= 2 and raw.endswith(raw[0]):
            quote, value = raw[0], raw[1:-1]
            if quote == '"':
                value = (
                    value.replace("\\n", "\n")
                    .replace('\\"', '"')
                    .replace("\\t", "\t")
                    .replace("\\\\", "\\")
                )
        else:
            value = re.sub(r"\s+#.*$", "", raw)  # inline comment after whitespace
        values[key] = value
    return values


# -- interpolation ------------------------------------------------------------------
_VAR_RE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}")


# Characters that end or split a URL's user:password part. A variable's value placed
# there has them percent-encoded (the URL parser decodes them again); `%` is encoded
# only when it does not already start an escape, so pre-encoded values pass unchanged.
_USERINFO_BREAKERS = re.compile(r"[@/?#: ]|%(?![0-9A-Fa-f]{2})")


def _interpolate(
    text: str, env: Mapping[str, str], where: str, problems: list[str], url: bool = False
) -> str:
    # In a URL template, a value placed in the user:password part is escaped: a password
    # with '@' or '/' would otherwise move the host into the password (and the error
    # would show a piece of the password as the host).
    userinfo = userinfo_span(text) if url else None

    def repl(m: re.Match[str]) -> str:
        if m.group(0) == "$${":
            return "${"
        name, default = m.group(1), m.group(2)
        value = env.get(name)
        if value is None or (value == "" and m.group(0).find(":-") != -1):
            if default is not None:
                return default
            problems.append(f"{where}: environment variable {name} is not set")
            return ""
        if userinfo is not None and userinfo[0] <= m.start() < userinfo[1]:
            return _USERINFO_BREAKERS.sub(lambda c: f"%{ord(c.group(0)):02X}", value)
        return value

    if "${" not in text:
        return text
    return _VAR_RE.sub(repl, text)


def _walk_interpolate(value: Any, env: Mapping[str, str], where: str, problems: list[str]) -> Any:
    if isinstance(value, str):
        return _interpolate(value, env, where, problems, url=where.endswith(".url"))
    if isinstance(value, dict):
        return {
            k: _walk_interpolate(v, env, f"{where}.{k}" if where else str(k), problems)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_walk_interpolate(v, env, f"{where}[{i}]", problems) for i, v in enumerate(value)]
    return value


# -- the model ----------------------------------------------------------------------
def _mask_value(key: str, value: Any) -> Any:
    if is_secret_key(key):
        return "***"
    if key == "url" and isinstance(value, str):
        return mask_url(value)
    return value


@dataclass(frozen=True)
class ConnectionConfig:
    """One validated connection entry. ``repr`` never shows a secret."""

    name: str
    engine: str
    options: Mapping[str, Any] = field(repr=False)

    def masked_options(self) -> dict[str, Any]:
        """The options with every secret replaced by ``***``."""
        return {k: _mask_value(k, v) for k, v in self.options.items()}

    def __repr__(self) -> str:
        return (
            f"ConnectionConfig(name={self.name!r}, engine={self.engine!r}, "
            f"options={self.masked_options()!r})"
        )

    __str__ = __repr__

    def connect(self, **overrides: Any) -> Connector:
        """Create the connector (no connection is opened until first use)."""
        from ._connectors import _ENGINE_CLASSES

        kwargs = dict(self.options)
        kwargs.update(overrides)
        if "retry" in kwargs and isinstance(kwargs["retry"], Mapping):
            from .retry import RetryPolicy

            kwargs["retry"] = RetryPolicy(**kwargs["retry"])
        cls: Any = _ENGINE_CLASSES[self.engine]
        logger.info("creating %s connector %r from configuration", self.engine, self.name)
        connector: Connector = cls(**kwargs)
        return connector


@dataclass(frozen=True)
class Config:
    """A loaded, validated configuration file."""

    connections: Mapping[str, ConnectionConfig]
    target: str | None = None
    env: str | None = None
    path: str | None = None

    def get(self, name: str | None = None) -> ConnectionConfig:
        """The entry called ``name`` (default: the ``target``)."""
        if name is None:
            name = self.target
            if name is None:
                raise ConfigError("no connection name given and the configuration has no 'target'")
        try:
            return self.connections[name]
        except KeyError:
            known = ", ".join(sorted(self.connections)) or "none"
            raise ConfigError(
                f"no connection named {name!r} in the configuration (defined: {known})",
                name=name,
            ) from None

    def connect(self, name: str | None = None, **overrides: Any) -> Connector:
        """Create the connector for ``name`` (default: the ``target``)."""
        return self.get(name).connect(**overrides)

    def __repr__(self) -> str:
        return (
            f"Config(path={self.path!r}, env={self.env!r}, target={self.target!r}, "
            f"connections={sorted(self.connections)!r})"
        )


# -- validation ---------------------------------------------------------------------
def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _coerce(key: str, value: Any, where: str, problems: list[str]) -> Any:
    """Check (and for interpolated strings, convert) the type of one option."""
    if key in _INT_OPTIONS:
        if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"{where}: expected an integer, got {_type_name(value)}")
        return value
    if key in _FLOAT_OPTIONS:
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append(f"{where}: expected a number of seconds, got {_type_name(value)}")
        return value
    if key in _BOOL_OPTIONS:
        if isinstance(value, str):
            lowered = value.strip().lower()
            if lowered in ("true", "yes", "on", "1"):
                return True
            if lowered in ("false", "no", "off", "0"):
                return False
        if not isinstance(value, bool):
            problems.append(f"{where}: expected true or false, got {_type_name(value)}")
        return value
    if key == "settings":
        if not isinstance(value, dict):
            problems.append(
                f"{where}: expected a mapping of setting name -> value, got {_type_name(value)}"
            )
            return value
        for k, v in value.items():
            if not isinstance(v, (str, int, float, bool)):
                problems.append(
                    f"{where}.{k}: expected a string, number or boolean, got {_type_name(v)}"
                )
        return {str(k): v for k, v in value.items()}
    if key in _MAPPING_OPTIONS:
        if not isinstance(value, dict):
            problems.append(f"{where}: expected a mapping, got {_type_name(value)}")
            return value
        out: dict[str, Any] = {}
        for k, v in value.items():
            kind = _RETRY_KEYS.get(str(k))
            if kind is None:
                known = ", ".join(sorted(_RETRY_KEYS))
                problems.append(f"{where}.{k}: unknown key (supported: {known})")
                continue
            if kind is bool:
                ok = isinstance(v, bool)
            elif kind is int:
                ok = isinstance(v, int) and not isinstance(v, bool)
            else:
                ok = isinstance(v, (int, float)) and not isinstance(v, bool)
            if not ok:
                problems.append(f"{where}.{k}: expected {kind.__name__}, got {_type_name(v)}")
            out[str(k)] = v
        return out
    if not isinstance(value, str):
        problems.append(f"{where}: expected a string, got {_type_name(value)}")
    return value


def _read_secret_file(path: Any, where: str, base: Path | None, problems: list[str]) -> Any:
    if not isinstance(path, str) or not path:
        problems.append(f"{where}: expected a file path, got {_type_name(path)}")
        return None
    p = Path(os.path.expanduser(path))
    if not p.is_absolute() and base is not None:
        p = base / p
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        problems.append(f"{where}: cannot read {str(p)!r} ({exc.strerror or type(exc).__name__})")
        return None
    if text.endswith("\r\n"):
        text = text[:-2]
    elif text.endswith("\n"):
        text = text[:-1]
    return text


def _strict_mask(url: str) -> str:
    """Mask the whole user-info part (a token may be given as the user name)."""
    return re.sub(r"^([A-Za-z][A-Za-z0-9+.\-]*://)[^/?#]*@", r"\1***@", url)


def _url_problem(where: str, url: str, exc: ConfigError) -> str:
    return f"{where}: {str(exc).replace(mask_url(url), _strict_mask(url))}"


def _build_entry(
    name: str, raw: Any, where: str, base: Path | None, problems: list[str]
) -> ConnectionConfig | None:
    start = len(problems)
    if isinstance(raw, str):
        try:
            url_engine, url_options = parse_url(raw)
        except ConfigError as exc:
            problems.append(_url_problem(where, raw, exc))
            return None
        return ConnectionConfig(name, url_engine, url_options)
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected a URL string or a mapping, got {_type_name(raw)}")
        return None
    entry = dict(raw)
    options: dict[str, Any] = {}
    engine: str | None = None
    url = entry.pop("url", None)
    if url is not None:
        if not isinstance(url, str):
            problems.append(f"{where}.url: expected a string, got {_type_name(url)}")
        else:
            try:
                engine, options = parse_url(url)
            except ConfigError as exc:
                problems.append(_url_problem(f"{where}.url", url, exc))
    engine_keys = [k for k in ("engine", "type") if k in entry]
    if len(engine_keys) == 2:
        problems.append(f"{where}: give either 'engine' or 'type', not both")
    for key in engine_keys:
        value = entry.pop(key)
        if not isinstance(value, str) or value.lower() not in ENGINE_ALIASES:
            shown = value if isinstance(value, str) else _type_name(value)
            problems.append(
                f"{where}.{key}: unknown engine {shown!r} "
                f"(supported: {', '.join(sorted(ENGINE_ALIASES))})"
            )
            continue
        named = ENGINE_ALIASES[value.lower()]
        if engine is not None and engine != named and (engine, named) != ("postgres", "redshift"):
            problems.append(f"{where}.{key}: {named!r} contradicts the URL's engine {engine!r}")
        engine = named
    if engine is None:
        if not engine_keys:
            problems.append(f"{where}: missing required field 'engine' (or 'url')")
        return None
    allowed = _engine_options(engine)
    for key, value in entry.items():
        key = str(key)
        path = f"{where}.{key}"
        if key.endswith("_file") and key[: -len("_file")] in allowed:
            target = key[: -len("_file")]
            if target in entry:
                problems.append(f"{path}: give either {target!r} or {key!r}, not both")
                continue
            secret = _read_secret_file(value, path, base, problems)
            if secret is not None:
                options[target] = secret
            continue
        if key not in allowed:
            problems.append(
                f"{path}: unknown option for {engine} (supported: {', '.join(sorted(allowed))})"
            )
            continue
        options[key] = _coerce(key, value, path, problems)
    for key in _REQUIRED.get(engine, ()):
        if key not in options:
            problems.append(f"{where}: missing required field {key!r}")
    if len(problems) > start:
        return None
    return ConnectionConfig(name, engine, options)


def _merge(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for k, v in override.items():
            out[k] = _merge(base.get(k), v) if k in base else v
        return out
    return override


def _load_yaml(path: Path) -> Any:
    try:
        import yaml
    except ImportError:
        raise MissingDependencyError(
            "reading a configuration file needs PyYAML: pip install 'sqlarrow[config]'",
            extra="config",
        ) from None
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read configuration file {str(path)!r}: {exc.strerror or exc}"
        ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        # Never echo the offending text: it may be a secret.
        raise ConfigError(f"{str(path)!r} is not valid YAML{where}: {problem}") from None


def build_config(
    data: Any,
    *,
    environ: Mapping[str, str] | None = None,
    env: str | None = None,
    base_dir: str | os.PathLike[str] | None = None,
    source: str | None = None,
) -> Config:
    """Validate an already-parsed configuration mapping (as from YAML)."""
    if environ is None:
        environ = os.environ
    problems: list[str] = []
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source or 'configuration'}: the top level must be a mapping, got {_type_name(data)}"
        )
    for key in data:
        if key not in _TOP_KEYS:
            problems.append(
                f"{key}: unknown top-level key (supported: {', '.join(sorted(_TOP_KEYS))})"
            )
    profiles_key = "profiles" if "profiles" in data else "environments"
    profiles = data.get(profiles_key) or {}
    if not isinstance(profiles, dict):
        problems.append(f"{profiles_key}: expected a mapping, got {_type_name(profiles)}")
        profiles = {}
    if env is None:
        env = environ.get("SQLARROW_ENV") or None
    connections = data.get("connections") or {}
    target = data.get("target")
    if not isinstance(connections, dict):
        problems.append(f"connections: expected a mapping, got {_type_name(connections)}")
        connections = {}
    conn_where = {str(k): f"connections.{k}" for k in connections}
    if env is not None:
        profile = profiles.get(env)
        if profile is None:
            known = ", ".join(sorted(map(str, profiles))) or "none"
            problems.append(f"{profiles_key}: no environment named {env!r} (defined: {known})")
        elif not isinstance(profile, dict):
            problems.append(f"{profiles_key}.{env}: expected a mapping, got {_type_name(profile)}")
        else:
            for key in profile:
                if key not in _PROFILE_KEYS:
                    problems.append(
                        f"{profiles_key}.{env}.{key}: unknown key (supported: "
                        f"{', '.join(sorted(_PROFILE_KEYS))})"
                    )
            overrides = profile.get("connections") or {}
            if not isinstance(overrides, dict):
                problems.append(
                    f"{profiles_key}.{env}.connections: expected a mapping, "
                    f"got {_type_name(overrides)}"
                )
            else:
                connections = _merge(connections, overrides)
                for k in overrides:
                    conn_where[str(k)] = f"{profiles_key}.{env}.connections.{k}"
            if "target" in profile:
                target = profile["target"]
    if target is not None:
        target = (
            _interpolate(str(target), environ, "target", problems)
            if isinstance(target, str)
            else target
        )
        if not isinstance(target, str):
            problems.append(f"target: expected a connection name, got {_type_name(target)}")
            target = None
    base = Path(base_dir) if base_dir is not None else None
    entries: dict[str, ConnectionConfig] = {}
    for name, raw in connections.items():
        where = conn_where[str(name)]
        raw = _walk_interpolate(raw, environ, where, problems)
        entry = _build_entry(str(name), raw, where, base, problems)
        if entry is not None:
            entries[str(name)] = entry
    if target is not None and target not in connections:
        known = ", ".join(sorted(map(str, connections))) or "none"
        problems.append(f"target: no connection named {target!r} (defined: {known})")
    if problems:
        where = f" in {source}" if source else ""
        env_note = f" (environment {env!r})" if env else ""
        lines = "\n".join(f"  - {p}" for p in problems)
        raise ConfigError(
            f"invalid configuration{where}{env_note}: {len(problems)} problem(s):\n{lines}",
            problems=problems,
        )
    return Config(connections=entries, target=target, env=env, path=source)


def load_config(
    path: str | os.PathLike[str],
    env_file: str | os.PathLike[str] | None = None,
    env: str | None = None,
) -> Config:
    """Load and validate a YAML configuration file (see the module documentation).

    ``env_file`` is a ``.env`` file whose variables are used for ``${VAR}`` when the
    real environment does not set them (the process environment is not modified).
    ``env`` selects a profile (default: the ``SQLARROW_ENV`` environment variable).
    Relative ``*_file`` paths are resolved against the configuration file's folder.
    """
    p = Path(os.fspath(path))
    data = _load_yaml(p)
    environ: dict[str, str] = {}
    if env_file is not None:
        try:
            environ.update(parse_env_file(env_file))
        except OSError as exc:
            raise ConfigError(
                f"cannot read env file {os.fspath(env_file)!r}: {exc.strerror or exc}"
            ) from None
    environ.update(os.environ)
    config = build_config(data, environ=environ, env=env, base_dir=p.parent, source=str(p))
    logger.debug(
        "loaded configuration %s: %d connection(s), target %r, environment %r",
        p,
        len(config.connections),
        config.target,
        config.env,
    )
    return config


def _as_config(config: ConfigSource | None, env: str | None) -> Config:
    if isinstance(config, Config):
        return config
    if config is None:
        config = os.environ.get("SQLARROW_CONFIG")
        if not config:
            for candidate in ("sqlarrow.yaml", "sqlarrow.yml", "connections.yaml"):
                if os.path.exists(candidate):
                    config = candidate
                    break
        if not config:
            raise ConfigError(
                "no configuration given: pass config=..., set SQLARROW_CONFIG, or create "
                "sqlarrow.yaml in the current folder"
            )
    return load_config(config, env_file=default_env_file(config), env=env)


def default_env_file(config_path: str | os.PathLike[str]) -> str | None:
    """The ``.env`` next to the configuration file, else one in the current folder."""
    for candidate in (Path(os.fspath(config_path)).parent / ".env", Path(".env")):
        if candidate.is_file():
            return str(candidate)
    return None


def get_connection(
    target: str | None = None,
    config: ConfigSource | None = None,
    env: str | None = None,
    **overrides: Any,
) -> Connector:
    """The connector for ``target`` (default: the file's ``target:``) from ``config``
    (a :class:`Config`, a path, or ``$SQLARROW_CONFIG`` / ``./sqlarrow.yaml``)."""
    return _as_config(config, env).connect(target, **overrides)
