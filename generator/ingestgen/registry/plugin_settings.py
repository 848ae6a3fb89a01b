"""The registry's Meltano ``settings:`` of our own plugins, generated from the plugins.

Each of our plugins (a registry plugin whose ``pip_url`` installs a folder under ``plugins/``)
declares its settings once, in its own code; ``<executable> --about --format=json`` prints them
as JSON Schema. A full ``ingestgen render`` rewrites those plugins' ``settings:`` lists in
``registry/connectors.yaml`` from that output (names, kinds, choices, ``sensitive`` from
``secret``, descriptions) and ``render --check`` reports a stale or hand-edited list as drift.
Only those lists are touched; the rest of the file is kept byte for byte. Never imports a
plugin: it runs the plugin's console script, as Meltano does, and keeps the answer in
`about_cache` under a hash of the code that gave it, so an unchanged plugin is not asked again.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from ingestgen.errors import ConfigError, Problem
from ingestgen.registry import about_cache

REGISTRY = "registry/connectors.yaml"
_OWN = re.compile(r"\$\{MELTANO_PROJECT_ROOT\}/\.\./\.\./plugins/([a-z0-9-]+)")
_SHARED = {"plugin-errors"}  # installed alongside every plugin; not a plugin itself
_KINDS = {
    "string": "string",
    "integer": "integer",
    "number": "decimal",
    "boolean": "boolean",
    "array": "array",
    "object": "object",
}


def own_plugin_folder(pip_url: str) -> str | None:
    """The ``plugins/<folder>`` a registry plugin installs, if it is one of ours."""
    folders = [f for f in _OWN.findall(pip_url) if f not in _SHARED]
    return folders[-1] if folders else None


def meltano_settings(schema: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Meltano setting definitions for a plugin's JSON Schema settings, in declared order."""
    out: list[dict[str, Any]] = []
    for name, prop in (schema.get("properties") or {}).items():
        kinds = prop.get("type", "object")
        kinds = [k for k in (kinds if isinstance(kinds, list) else [kinds]) if k != "null"]
        kind = _KINDS.get(kinds[0] if kinds else "object", "object")
        if kind == "string" and prop.get("format") == "date-time":
            kind = "date_iso8601"
        entry: dict[str, Any] = {"name": name, "kind": kind}
        if prop.get("enum"):
            entry["kind"] = "options"
            entry["options"] = [{"label": str(v), "value": v} for v in prop["enum"]]
        if prop.get("secret") or prop.get("writeOnly"):
            entry["sensitive"] = True
        if prop.get("description"):
            entry["description"] = " ".join(str(prop["description"]).split())
        out.append(entry)
    return out


def _executable(name: str) -> str | None:
    beside = Path(sys.executable).with_name(name)
    return str(beside) if beside.exists() else shutil.which(name)


@functools.cache
def _about(executable: str) -> dict[str, Any]:
    # The answer is cached on disk under a hash of the code that gives it (see about_cache).
    cached = about_cache.read(executable)
    if cached is not None:
        return cached
    done = subprocess.run(
        [executable, "--about", "--format=json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip().splitlines()[-1:] or ["no output"])
    about: dict[str, Any] = json.loads(done.stdout)
    about_cache.write(executable, about)
    return about


def _about_or_none(executable: str) -> dict[str, Any] | None:
    try:
        return _about(executable)
    except (RuntimeError, OSError, ValueError, subprocess.TimeoutExpired):
        return None  # asked again, one by one, for the located error


def settings_schema(pip_url: str, executable: str) -> dict[str, Any] | None:
    """Our plugin's settings as JSON Schema (``--about``), or None (not ours, not installed)."""
    if own_plugin_folder(pip_url) is None or (path := _executable(executable)) is None:
        return None
    about = _about_or_none(path)
    settings = (about or {}).get("settings")
    return settings if isinstance(settings, dict) else None


def _settings_block(settings: list[dict[str, Any]], executable: str) -> str:
    lines = [
        f"    # settings: generated from `{executable} --about --format=json` by"
        " `ingestgen render`; change them in the plugin\n",
        "    settings:\n",
    ]
    for entry in settings:
        flow = yaml.safe_dump(
            entry, default_flow_style=True, sort_keys=False, width=10_000, allow_unicode=True
        ).strip()
        lines.append(f"      - {flow}\n")
    return "".join(lines)


def _replace_settings(text: str, plugin: str, block: str) -> str | None:
    """``text`` with plugin ``plugin``'s settings list (and its marker) replaced by ``block``."""
    head = re.search(rf"(?m)^  {re.escape(plugin)}:\n", text[text.find("\nplugins:") :])
    if head is None:
        return None
    start = text.find("\nplugins:") + head.end()
    end = re.compile(r"(?m)^(?:  \S|\S)").search(text, start)
    stop = end.start() if end else len(text)
    body = text[start:stop]
    found = re.search(
        r"(?m)^(?:    # settings: generated .*\n)?    settings:\n(?:      .*\n|        .*\n)*", body
    )
    if found is None:
        trailing = len(body) - len(body.rstrip("\n"))
        new_body = body[: len(body) - trailing] + "\n" + block + "\n" * max(trailing - 1, 1)
    else:
        new_body = body[: found.start()] + block + body[found.end() :]
    return text[:start] + new_body + text[stop:]


def regenerate(root: Path, plugins: Mapping[str, tuple[str, str]]) -> str:
    """The registry text with our plugins' settings generated anew.

    Args:
        root: the repository.
        plugins: registry plugin name -> (pip_url, executable), as the registry declares them.

    Raises:
        ConfigError: a plugin's console script is missing or fails, located at its entry.
    """
    text = (root / REGISTRY).read_text(encoding="utf-8")
    problems: list[Problem] = []
    ours = {e for p, e in plugins.values() if own_plugin_folder(p) is not None}
    found = [path for path in map(_executable, sorted(ours)) if path is not None]
    with ThreadPoolExecutor(max_workers=max(len(found), 1)) as pool:
        # Each plugin's start-up takes a second or two: ask them all at once (results cached).
        list(pool.map(_about_or_none, found))
    for name, (pip_url, executable) in plugins.items():
        if own_plugin_folder(pip_url) is None:
            continue
        where = f"plugins.{name}.settings"
        path = _executable(executable)
        folder = own_plugin_folder(pip_url)
        if path is None:
            problems.append(
                Problem(
                    REGISTRY,
                    0,
                    where,
                    f"cannot generate the settings: {executable} is not installed next to "
                    "ingestgen",
                    f"run scripts/bootstrap (or pip install -e plugins/{folder})",
                )
            )
            continue
        try:
            about = _about(path)
        except (RuntimeError, OSError, ValueError, subprocess.TimeoutExpired) as exc:
            problems.append(
                Problem(REGISTRY, 0, where, f"`{executable} --about --format=json` failed: {exc}")
            )
            continue
        block = _settings_block(meltano_settings(about.get("settings") or {}), executable)
        new = _replace_settings(text, name, block)
        if new is None:
            problems.append(Problem(REGISTRY, 0, f"plugins.{name}", "entry not found in the file"))
            continue
        text = new
    if problems:
        raise ConfigError(problems)
    return text
