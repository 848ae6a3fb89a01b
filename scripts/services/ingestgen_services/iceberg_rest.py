"""A reference Iceberg REST catalog (Apache Iceberg's own handlers) on the local S3 server.

It is not Nessie: it has no branches and no commit log. It exists so the loader's multi-table
``transactions/commit`` path can be tested against the protocol's reference implementation even
where the Nessie runner jar cannot be fetched. Its jars come through Maven from
``iceberg-rest/pom.xml``; the small launcher ``iceberg-rest/IcebergRestLauncher.java`` is compiled
once next to them (needs a full JDK, which has the compiler) and binds 127.0.0.1 only.

Startup is what the tests wait for (the session's catalog, and the fault tests' private ones,
each started and killed per test): the JVM runs with the C1 compiler only and, from Java 19, an
application class-data archive written by the first start next to the jars and mapped by the
later ones. Neither changes what the server does.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ingestgen_services import ServiceError
from ingestgen_services.jdk import Java
from ingestgen_services.lake import lake_root
from ingestgen_services.process import LOOPBACK, http_get_json, pid_alive, spawn, wait_until
from ingestgen_services.s3 import S3Service

SOURCES = Path(__file__).resolve().parent.parent / "iceberg-rest"
LAUNCHER = "IcebergRestLauncher"
"""In the server's command line (`pid_alive` checks it before signalling)."""
BACKSLASH = "\\"


@dataclass(frozen=True)
class IcebergRestService:
    """A running reference Iceberg REST catalog."""

    uri: str
    warehouse: str
    pid: int
    log_path: Path

    def is_alive(self) -> bool:
        """Whether the recorded process still runs."""
        return pid_alive(self.pid, LAUNCHER)


def fetch_libs(cache_dir: Path) -> Path:
    """Return the folder with the catalog's jars, fetching them with Maven when missing.

    The folder is keyed by the pom's hash, so editing the pom fetches afresh.

    Raises:
        ServiceError: Maven is missing or could not resolve the jars.
    """
    pom = SOURCES / "pom.xml"
    key = hashlib.sha256(pom.read_bytes()).hexdigest()[:12]
    lib = cache_dir / "iceberg-rest" / f"lib-{key}"
    if (lib / ".complete").exists():
        return lib
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ServiceError(
            "Maven (mvn) is needed to fetch the reference Iceberg REST catalog's jars: "
            "apt-get install maven"
        )
    cmd = [mvn, "-B", "-q", "-Dstyle.color=never", "-f", str(pom)]
    cmd += ["dependency:copy-dependencies", f"-DoutputDirectory={lib}"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
    if result.returncode != 0:
        said = [ln for ln in (result.stdout + result.stderr).splitlines() if "[ERROR]" in ln]
        raise ServiceError(
            f"Maven could not fetch the jars listed in {pom.name} (exit {result.returncode}): "
            f"{said[0] if said else '(no message)'}. Check Maven's access to its repository "
            "(~/.m2/settings.xml)."
        )
    (lib / ".complete").write_text("ok\n")
    return lib


def compile_launcher(lib: Path, java: Java) -> Path | None:
    """Return the launcher compiled into a jar, compiling it the first time.

    Keyed by the source's hash, next to the jars' folder (itself keyed by the pom). A jar, not
    a folder of classes: the JVM archives classes from jars only. None when there is no
    ``javac`` next to ``java``: the launcher then runs in source-file mode, which compiles it
    at every start.

    Raises:
        ServiceError: javac failed (its output quoted).
    """
    javac = java.executable.with_name("javac")
    if not javac.is_file():
        return None
    source = SOURCES / f"{LAUNCHER}.java"
    key = hashlib.sha256(source.read_bytes()).hexdigest()[:12]
    jar = lib.with_name(f"{lib.name}-launcher-{key}") / "launcher.jar"
    if jar.is_file():
        return jar
    jar.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="javac.", dir=jar.parent))
    try:
        cmd = [str(javac), "-nowarn", "-cp", f"{lib}/*", "-d", str(work / "classes"), str(source)]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
        if done.returncode != 0:
            raise ServiceError(
                f"javac could not compile {source.name} (exit {done.returncode}): "
                f"{(done.stdout + done.stderr)[-2000:]}"
            )
        with zipfile.ZipFile(work / "launcher.jar", "w") as archive:
            for path in sorted((work / "classes").rglob("*.class")):
                archive.write(path, path.relative_to(work / "classes").as_posix())
        # Atomic: a concurrent start sees no jar or a whole one (both compiled the same source).
        (work / "launcher.jar").replace(jar)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return jar


def java_command(lib: Path, java: Java) -> list[str]:
    """The JVM command line that runs the launcher, without its arguments."""
    cmd = [str(java.executable), "-Xmx384m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"]
    jar = compile_launcher(lib, java)
    if jar is None:
        return [*cmd, "-cp", f"{lib}/*", str(SOURCES / f"{LAUNCHER}.java")]
    if java.version >= 19:
        # Written when the first server exits, mapped by the next ones; the JVM ignores (and
        # writes again) an archive that does not match the class path or the JVM.
        archive = jar.with_name(f"java{java.version}.jsa")
        cmd += ["-XX:+AutoCreateSharedArchive", f"-XX:SharedArchiveFile={archive}"]
    return [*cmd, "-cp", f"{jar}{os.pathsep}{lib}/*", LAUNCHER]


def start_iceberg_rest(
    *, state_dir: Path, cache_dir: Path, java: Java, s3: S3Service, timeout: float = 120.0
) -> IcebergRestService:
    """Start the reference catalog with its warehouse at the lake root (``s3://<bucket>``).

    Its tables land at ``<lake root>/<namespace>/<table>``: a tenant's namespace is its prefix.

    Raises:
        ServiceError: the jars could not be fetched, or the server did not come up (log quoted).
    """
    lib = fetch_libs(cache_dir)
    work = state_dir / "iceberg-rest"
    work.mkdir(parents=True, exist_ok=True)
    warehouse = lake_root()
    props = {
        "rest.host": LOOPBACK,
        "rest.port": "0",
        "catalog-impl": "org.apache.iceberg.jdbc.JdbcCatalog",
        # A file, not ":memory:": SQLite's in-memory databases are per connection.
        "uri": f"jdbc:sqlite:file:{work / 'catalog.db'}",
        "jdbc.schema-version": "V1",
        "warehouse": warehouse,
        "io-impl": "org.apache.iceberg.aws.s3.S3FileIO",
        "s3.endpoint": s3.endpoint,
        "s3.path-style-access": "true",
        "s3.access-key-id": s3.access_key,
        "s3.secret-access-key": s3.secret_key,
        "client.region": s3.region,
    }
    config = work / "catalog.properties"
    config.touch(mode=0o600, exist_ok=True)
    config.chmod(0o600)
    # java.util.Properties treats backslash as its escape character.
    config.write_text(
        "".join(f"{k}={v.replace(BACKSLASH, BACKSLASH * 2)}\n" for k, v in props.items())
    )
    port_file = work / "port"
    port_file.unlink(missing_ok=True)
    log_path = state_dir / "logs" / "iceberg-rest.log"
    cmd = [*java_command(lib, java), str(config), str(port_file)]
    proc = spawn(cmd, log_path=log_path, cwd=work, env=dict(os.environ))
    what = "reference Iceberg REST catalog"
    wait_until(port_file.exists, what=what, timeout=timeout, proc=proc, log_path=log_path)
    uri = f"http://{LOOPBACK}:{int(port_file.read_text().strip())}"
    wait_until(
        lambda: http_get_json(f"{uri}/v1/config")[0] == 200,
        what=what,
        timeout=30,
        proc=proc,
        log_path=log_path,
    )
    return IcebergRestService(uri=uri, warehouse=warehouse, pid=proc.pid, log_path=log_path)
