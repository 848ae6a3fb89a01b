"""A Spark session whose Iceberg catalog is the loader's own catalog.

The loader's catalog is configured for pyiceberg (`target_iceberg.catalog`); Spark gets the same
catalog under the same name (the embedded SQLite catalog keys its rows on that name):

- ``type: sql`` on SQLite -> Iceberg's ``JdbcCatalog`` (``jdbc:sqlite:``, schema version V1, the
  layout pyiceberg's ``SqlCatalog`` uses);
- ``type: rest`` -> Iceberg's REST catalog with ``S3FileIO`` for ``s3.*`` settings, headers
  passed on (``header.*``), OAuth ``credential``/``token`` too.

``local[N]``, ``spark://`` and ``k8s://`` masters start a driver JVM here (``java`` from
``JAVA_HOME`` or ``PATH``) with the jars of `target_iceberg.spark.jars`; ``sc://`` connects to a
Spark Connect server, which must have those jars itself. Sessions run in UTC.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

from target_iceberg.config import SparkSettings
from target_iceberg.errors import ConfigError
from target_iceberg.spark.jars import spark_jars

logger = logging.getLogger(__name__)

_LOG4J = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = spark %p %c{1}: %m%n
"""
"""Spark's JVM logs only errors (the loader's own log says what happens)."""

_REST_PASSED = ("uri", "warehouse", "prefix", "credential", "token", "scope", "oauth2-server-uri")
_S3 = {
    "s3.endpoint": "s3.endpoint",
    "s3.access-key-id": "s3.access-key-id",
    "s3.secret-access-key": "s3.secret-access-key",
    "s3.session-token": "s3.session-token",
    "s3.path-style-access": "s3.path-style-access",
    "s3.region": "client.region",
}


def catalog_conf(name: str, properties: dict[str, str]) -> dict[str, str]:
    """Spark settings for an Iceberg catalog ``name`` equal to pyiceberg's ``properties``.

    Raises:
        ConfigError: a catalog kind Spark cannot share here (only SQLite SQL and REST).
    """
    prefix = f"spark.sql.catalog.{name}"
    conf = {prefix: "org.apache.iceberg.spark.SparkCatalog"}
    kind = properties.get("type", "rest" if properties.get("uri", "").startswith("http") else "")
    if kind == "sql":
        uri = properties.get("uri", "")
        if not uri.startswith("sqlite:///"):
            raise ConfigError(
                f"engine spark shares SQL catalogs on SQLite only; catalog uri {uri!r} is not "
                "sqlite:///<path>. Use the embedded catalog or a REST catalog"
            )
        conf |= {
            f"{prefix}.type": "jdbc",
            f"{prefix}.uri": "jdbc:sqlite:" + uri.removeprefix("sqlite://"),
            # pyiceberg's SqlCatalog layout; Java would otherwise create the older V0 tables.
            f"{prefix}.jdbc.schema-version": "V1",
            f"{prefix}.warehouse": properties.get("warehouse", ""),
        }
        return conf
    if kind == "rest":
        conf[f"{prefix}.type"] = "rest"
        for key in _REST_PASSED:
            if properties.get(key):
                conf[f"{prefix}.{key}"] = properties[key]
        if any(key.startswith("s3.") for key in properties):
            conf[f"{prefix}.io-impl"] = "org.apache.iceberg.aws.s3.S3FileIO"
        for ours, theirs in _S3.items():
            if properties.get(ours):
                conf[f"{prefix}.{theirs}"] = properties[ours]
        for key, value in properties.items():
            if key.startswith("header."):
                conf[f"{prefix}.{key}"] = value
        return conf
    raise ConfigError(
        f"engine spark cannot use a catalog of type {kind or 'unknown'!r}; use the embedded "
        "(sql on SQLite) catalog or a REST catalog"
    )


def session_conf(
    settings: SparkSettings, catalog_name: str, properties: dict[str, str], jars: list[Path]
) -> dict[str, str]:
    """Every Spark setting of the session (the user's ``conf`` first, ours win)."""
    conf = {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": "4",
        "spark.sql.session.timeZone": "UTC",
        **{key: _text(value) for key, value in settings.conf.items()},
        "spark.sql.extensions": "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions",
        **catalog_conf(catalog_name, properties),
    }
    if not settings.master.startswith("sc://"):
        conf["spark.driver.memory"] = settings.driver_memory
        conf["spark.jars"] = ",".join(str(j) for j in jars)
    return conf


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


class SparkSessionHandle:
    """Starts the session in the background (a JVM takes seconds) and stops it at the end."""

    def __init__(
        self, settings: SparkSettings, catalog_name: str, properties: dict[str, str]
    ) -> None:
        self.settings = settings
        self.catalog_name = catalog_name
        self.properties = properties
        self._session: Any = None
        self._owned = True
        self._error: BaseException | None = None
        self._folder = Path(tempfile.mkdtemp(prefix="ingestgen-spark-"))
        self._thread = threading.Thread(target=self._start, name="spark-session", daemon=True)
        self._thread.start()

    @property
    def folder(self) -> Path:
        """A private temporary folder for the session's inputs and logs."""
        return self._folder

    def _start(self) -> None:
        try:
            self._session = self._build()
        except BaseException as exc:  # handed to the caller of `session`
            self._error = exc

    def _build(self) -> Any:
        try:
            from pyspark.sql import SparkSession
        except ImportError:
            raise ConfigError(
                "engine spark needs pyspark: install target-iceberg with its spark extra "
                "(pip install 'target-iceberg[spark]'; the registry's spark engine does)"
            ) from None
        master = self.settings.master
        if not master.startswith("sc://") and _running_context():
            # A session this process already runs (a notebook, a test module): use it and
            # leave it running; only the catalog is set (a runtime SQL setting).
            self._owned = False
            shared = SparkSession.builder.getOrCreate()
            for key, value in catalog_conf(self.catalog_name, self.properties).items():
                shared.conf.set(key, value)
            return shared
        jars: list[Path] = []
        builder = SparkSession.builder.appName("target-iceberg")
        if master.startswith("sc://"):
            builder = builder.remote(master)
        else:
            _check_java()
            jars = spark_jars(self.settings.jars_dir)
            log4j = self._folder / "log4j2.properties"
            log4j.write_text(_LOG4J)
            options = f"-Dlog4j2.configurationFile={log4j.as_uri()}"
            builder = builder.master(master).config("spark.driver.extraJavaOptions", options)
        for key, value in session_conf(
            self.settings, self.catalog_name, self.properties, jars
        ).items():
            builder = builder.config(key, value)
        logger.info("starting Spark session (master %s)", master)
        session = builder.getOrCreate()
        if not master.startswith("sc://"):
            session.sparkContext.setLogLevel("ERROR")
        return session

    def session(self) -> Any:
        """The running session (waits for its start).

        Raises:
            ConfigError: pyspark or Java is missing, or the jars cannot be had.
        """
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._session

    def stop(self) -> None:
        """Stop the session (if it started) and delete the temporary folder."""
        self._thread.join()
        if self._session is not None and self._owned:
            try:
                self._session.stop()
            except Exception:  # the run's outcome is decided; a failing stop changes nothing
                logger.warning("the Spark session did not stop cleanly", exc_info=True)
            self._session = None
        shutil.rmtree(self._folder, ignore_errors=True)


def _running_context() -> bool:
    from pyspark import SparkContext

    return SparkContext._active_spark_context is not None


def _check_java() -> None:
    home = os.environ.get("JAVA_HOME")
    java = Path(home) / "bin" / "java" if home else None
    if (java is not None and java.is_file()) or shutil.which("java"):
        return
    raise ConfigError(
        "engine spark needs a Java runtime (17 or newer) for a local Spark driver: install one "
        "(apt-get install openjdk-17-jre-headless) or set JAVA_HOME; for a Spark Connect "
        "server use master sc://host:port"
    )
