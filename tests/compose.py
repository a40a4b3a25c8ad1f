"""docker-compose.yml as Docker Compose reads it: YAML (anchors and merge keys), then ``${VAR}`` interpolation
(``${VAR:-default}``, ``${VAR-default}``, ``${VAR:?error}``, ``$$``), then profiles. There is no Docker engine
here; the compose tests read the file through this module, so they see what ``docker compose config`` would.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
COMPOSE_FILE = REPO / "docker-compose.yml"

_VARIABLE = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:-|-|:\?|\?)(?P<arg>[^}]*))?\}")


def interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """Compose's interpolation of every string in ``value`` (``env`` plays the shell and .env)."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name"), match.group("op"), match.group("arg") or ""
        current = env.get(name)
        if op in (":-", ":?") and not current or op in ("-", "?") and current is None:
            if op.endswith("?"):
                raise ValueError(f"docker-compose.yml: {name} is required: {arg}")
            return arg
        return current or ""

    return _VARIABLE.sub(one, value)


def load_compose(env: Mapping[str, str] | None = None, profiles: tuple[str, ...] = ()) -> dict:
    """The compose file after interpolation, with only the services the given profiles enable."""
    raw = yaml.safe_load(COMPOSE_FILE.read_text())
    config = interpolate(raw, env or {})
    config["services"] = {
        name: service
        for name, service in config["services"].items()
        if not service.get("profiles") or set(service["profiles"]) & set(profiles)
    }
    return config


def raw_compose() -> dict:
    """The file as YAML alone (anchors merged, nothing interpolated): what the schema validates."""
    return yaml.safe_load(COMPOSE_FILE.read_text())
