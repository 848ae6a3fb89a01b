"""The jars a Spark session needs for Iceberg: found in a folder, or fetched once with Maven.

Iceberg's Spark runtime, its AWS bundle (S3FileIO, for REST catalogs on S3) and the SQLite JDBC
driver (the embedded catalog). By default they are fetched with ``mvn dependency:copy-dependencies``
into ``$XDG_CACHE_HOME/ingestgen/spark-jars/<key>/`` (``~/.cache`` when unset), once; a folder
given as ``spark.jars_dir`` (or ``INGESTGEN_SPARK_JARS``) is used as it is. Never downloads
anything else.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from target_iceberg.errors import ConfigError, LoaderError

ICEBERG = "1.11.0"
ARTIFACTS = (
    ("org.apache.iceberg", "iceberg-spark-runtime-4.1_2.13", ICEBERG),
    ("org.apache.iceberg", "iceberg-aws-bundle", ICEBERG),
    ("org.xerial", "sqlite-jdbc", "3.47.1.0"),
)
"""Maven coordinates (group, artifact, version), matching pyspark 4.1 (Scala 2.13)."""
ENV = "INGESTGEN_SPARK_JARS"


class JarsUnavailable(LoaderError):
    """The Iceberg jars could not be found or fetched (a retry after the fix may work)."""

    terminal = False


def jar_names() -> list[str]:
    """File names of the jars, as Maven copies them."""
    return [f"{artifact}-{version}.jar" for _, artifact, version in ARTIFACTS]


def cache_dir() -> Path:
    """Where fetched jars are kept, keyed by the coordinates."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    key = hashlib.sha256(repr(ARTIFACTS).encode()).hexdigest()[:12]
    return base / "ingestgen" / "spark-jars" / key


def spark_jars(jars_dir: str | None = None) -> list[Path]:
    """The jar files: from ``jars_dir`` (or ``$INGESTGEN_SPARK_JARS``), else the cache.

    Raises:
        ConfigError: a given folder lacks one of the jars.
        JarsUnavailable: Maven is missing or could not fetch them.
    """
    given = jars_dir or os.environ.get(ENV)
    if given:
        folder = Path(given)
        missing = [name for name in jar_names() if not (folder / name).is_file()]
        if missing:
            raise ConfigError(
                f"spark.jars_dir {given!r} lacks {', '.join(missing)}; put them there, or unset "
                f"it (and {ENV}) to fetch them with Maven"
            )
        return [folder / name for name in jar_names()]
    return fetch(cache_dir())


def fetch(target: Path) -> list[Path]:
    """Fetch the jars into ``target`` with Maven, unless a complete copy is already there.

    Raises:
        JarsUnavailable: Maven is missing or failed (its first error line is quoted).
    """
    jars = [target / name for name in jar_names()]
    if (target / ".complete").is_file() and all(j.is_file() for j in jars):
        return jars
    mvn = shutil.which("mvn")
    if mvn is None:
        raise JarsUnavailable(
            "engine spark needs the Iceberg Spark jars and Maven (mvn) is not installed to "
            "fetch them: install Maven (apt-get install maven), or download "
            f"{', '.join(jar_names())} into a folder and set spark.jars_dir (or {ENV})"
        )
    target.mkdir(parents=True, exist_ok=True)
    dependencies = "".join(
        f"<dependency><groupId>{g}</groupId><artifactId>{a}</artifactId>"
        f"<version>{v}</version></dependency>"
        for g, a, v in ARTIFACTS
    )
    with tempfile.TemporaryDirectory(prefix="ingestgen-jars-") as work:
        pom = Path(work) / "pom.xml"
        pom.write_text(
            '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
            "<groupId>ingestgen</groupId><artifactId>spark-jars</artifactId><version>1</version>"
            f"<packaging>pom</packaging><dependencies>{dependencies}</dependencies></project>\n"
        )
        cmd = [mvn, "-B", "-q", "-Dstyle.color=never", "-f", str(pom)]
        cmd += ["dependency:copy-dependencies", "-DexcludeTransitive=true"]
        cmd += [f"-DoutputDirectory={target}"]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, check=False)
    if done.returncode != 0 or not all(j.is_file() for j in jars):
        said = [ln for ln in (done.stdout + done.stderr).splitlines() if "ERROR" in ln]
        raise JarsUnavailable(
            f"Maven could not fetch the Iceberg Spark jars (exit {done.returncode}): "
            f"{said[0][:300] if said else '(no message)'}. Check Maven's access to its "
            f"repository (~/.m2/settings.xml), or set spark.jars_dir (or {ENV})"
        )
    (target / ".complete").write_text("ok\n")
    return jars


if __name__ == "__main__":  # python -m target_iceberg.spark.jars: fetch now (set-up scripts)
    for jar in spark_jars():
        print(jar)
