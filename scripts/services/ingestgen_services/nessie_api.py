"""Nessie's published REST API v2, for tests: the OpenAPI document and a server that holds to it.

The Nessie server cannot be had on the project's build machines, but its API description can:
the ``nessie-model`` jar (which Maven serves) carries the OpenAPI document the server is built
from (``META-INF/openapi/openapi.json``). `fetch_openapi` gets it through Maven into the cache.

`FakeNessie` is a local HTTP server for the few calls the loader makes (read a reference,
create a branch, read a commit log, list references, merge a branch, delete a branch). Every
request it gets is checked against the document (operation, path parameters and their
patterns, query parameters, the JSON body against its schema) and every answer it gives is
checked against the response schema, so a test fails when the client sends what Nessie would
not take or the fake answers what Nessie would not say.
Error answers follow Nessie's own mapping (API v2 ``NessieError`` with an ``errorCode``; the
Iceberg REST endpoint's 400 ``NoSuchReferenceException``), as read in Nessie's source.

It never stands in for Nessie anywhere but in tests, and binds 127.0.0.1 only.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import subprocess
import threading
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ingestgen_services import ServiceError
from ingestgen_services.nessie import NESSIE_VERSION
from ingestgen_services.process import LOOPBACK

MODEL = "org.projectnessie.nessie:nessie-model"
OPENAPI_ENTRY = "META-INF/openapi/openapi.json"
API_PREFIX = "/api"  # the document's paths start at /v2; the server mounts them under /api


def fetch_openapi(cache_dir: Path, version: str = NESSIE_VERSION) -> Path:
    """The OpenAPI document of Nessie ``version``, fetched with Maven from ``nessie-model``.

    Raises:
        ServiceError: Maven is missing or could not fetch the jar; says what it answered.
    """
    folder = cache_dir / "nessie-model" / version
    document = folder / "openapi.json"
    if document.is_file():
        return document
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ServiceError(f"Maven (mvn) is needed to fetch {MODEL}: apt-get install maven")
    folder.mkdir(parents=True, exist_ok=True)
    cmd = [mvn, "-B", "-q", "-Dstyle.color=never", "dependency:copy"]
    cmd += [f"-Dartifact={MODEL}:{version}:jar", f"-DoutputDirectory={folder}"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    jar = folder / f"nessie-model-{version}.jar"
    if result.returncode != 0 or not jar.is_file():
        said = [ln for ln in (result.stdout + result.stderr).splitlines() if "[ERROR]" in ln]
        raise ServiceError(
            f"Maven could not fetch {MODEL}:{version} (exit {result.returncode}): "
            f"{said[0] if said else '(no message)'}. Check Maven's access to its repository."
        )
    with zipfile.ZipFile(jar) as archive:
        tmp = document.with_suffix(".tmp")
        tmp.write_bytes(archive.read(OPENAPI_ENTRY))
        tmp.replace(document)
    return document


def _discriminated(node: Any) -> Any:
    # OpenAPI's `discriminator` picks one `oneOf` branch by a property; JSON Schema has no such
    # keyword (and Branch and Tag have the same shape), so it becomes if/then per mapped value.
    if isinstance(node, list):
        return [_discriminated(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: _discriminated(v) for k, v in node.items()}
    if "discriminator" in out and "oneOf" in out:
        prop = out["discriminator"]["propertyName"]
        mapping = out["discriminator"]["mapping"]
        del out["oneOf"], out["discriminator"]
        out["required"] = sorted({*out.get("required", []), prop})
        out.setdefault("properties", {})[prop] = {"enum": sorted(mapping)}
        out["allOf"] = [
            {"if": {"properties": {prop: {"const": v}}}, "then": {"$ref": ref}}
            for v, ref in sorted(mapping.items())
        ]
    return out


class OpenApi:
    """Checks requests and answers against an OpenAPI 3.1 document."""

    def __init__(self, document: dict[str, Any]) -> None:
        from jsonschema import Draft202012Validator

        self.doc = _discriminated(document)
        self._validator = Draft202012Validator
        self._routes = []
        for template, ops in self.doc["paths"].items():
            names: dict[str, str] = {}
            pattern = ""
            for literal, name in re.findall(r"([^{]*)(?:\{([^}]+)\})?", template):
                pattern += re.escape(literal)
                if name:
                    names[f"p{len(names)}"] = name
                    pattern += f"(?P<p{len(names) - 1}>[^/]+)"
            self._routes.append((re.compile(f"^{pattern}$"), template, ops, names))

    def _errors(self, schema: dict[str, Any], value: Any) -> list[str]:
        root = {**schema, "components": self.doc["components"]}
        validator = self._validator(root)
        return [
            f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
            for e in validator.iter_errors(value)
        ]

    def operation(self, method: str, path: str) -> tuple[str, dict[str, Any], dict[str, str]]:
        """The path template, operation and path parameters of a request.

        Raises:
            ValueError: the document has no such operation.
        """
        for pattern, template, ops, names in self._routes:
            if (match := pattern.match(path)) and method.lower() in ops:
                params = {names[k]: v for k, v in match.groupdict().items()}
                return template, ops[method.lower()], params
        raise ValueError(f"no operation {method} {path} in Nessie's OpenAPI document")

    def check_request(
        self, method: str, path: str, query: dict[str, list[str]], body: Any
    ) -> list[str]:
        """What is wrong with the request (empty: the document allows it)."""
        try:
            template, op, path_params = self.operation(method, path)
        except ValueError as exc:
            return [str(exc)]
        problems = []
        declared = {p["name"]: p for p in op.get("parameters", [])}
        for name, value in path_params.items():
            problems += [f"path {name}: {e}" for e in self._errors(declared[name]["schema"], value)]
        for name, param in declared.items():
            if param["in"] == "query" and param.get("required") and name not in query:
                problems.append(f"{template}: required query parameter {name!r} missing")
        for name, values in query.items():
            param = declared.get(name)
            if param is None or param["in"] != "query":
                problems.append(f"{template}: unknown query parameter {name!r}")
                continue
            for value in values:
                typed: Any = int(value) if param["schema"].get("type") == "integer" else value
                problems += [f"query {name}: {e}" for e in self._errors(param["schema"], typed)]
        request_body = op.get("requestBody")
        if request_body is None and body is not None:
            problems.append(f"{template}: takes no body")
        elif request_body is not None:
            if body is None:
                if request_body.get("required"):
                    problems.append(f"{template}: body required")
            else:
                schema = request_body["content"]["application/json"]["schema"]
                problems += [f"body {e}" for e in self._errors(schema, body)]
        return problems

    def check_response(self, method: str, path: str, status: int, body: Any) -> list[str]:
        """What is wrong with an answer (empty: the document allows it)."""
        template, op, _ = self.operation(method, path)
        declared = op["responses"].get(str(status))
        if declared is None:
            return [f"{template}: status {status} is not a documented answer"]
        content = (declared.get("content") or {}).get("application/json")
        if content is None or "schema" not in content:
            return []
        return [f"answer {e}" for e in self._errors(content["schema"], body)]


def _hash() -> str:
    return secrets.token_hex(32)


@dataclass
class FakeNessie:
    """A Nessie API v2 stand-in holding to `OpenApi`; see the module docstring."""

    api: OpenApi
    branches: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    fail_next: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    """Canned error answers by ``"METHOD path"``, used once each."""
    merges: list[dict[str, Any]] = field(default_factory=list)
    """The bodies of the merges it took."""

    def __post_init__(self) -> None:
        self.branches.setdefault("main", [{"hash": _hash(), "message": "init", "properties": {}}])
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                status, answer = fake.handle(self.command, url.path, parse_qs(url.query), body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = do_PUT = _serve

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def api_uri(self) -> str:
        """The API root the client is given."""
        return f"http://{LOOPBACK}:{self.server.server_address[1]}{API_PREFIX}/v2"

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()

    def commit(self, branch: str, message: str, properties: dict[str, str]) -> str:
        """Add a commit to ``branch`` (as the Iceberg REST endpoint would); return its hash."""
        parent = self.branches[branch][0]["hash"]
        entry = {"hash": _hash(), "message": message, "properties": properties, "parent": parent}
        self.branches[branch].insert(0, entry)
        return str(entry["hash"])

    def handle(
        self, method: str, path: str, query: dict[str, list[str]], body: Any
    ) -> tuple[int, Any]:
        """Check the request, answer it, check the answer."""
        self.requests.append((method, path))
        if not path.startswith(API_PREFIX):
            return 404, nessie_error(404, "Not Found", "UNKNOWN", f"no such path {path}")
        api_path = path.removeprefix(API_PREFIX)
        problems = self.api.check_request(method, api_path, query, body)
        if problems:
            self.problems += problems
            return 400, nessie_error(400, "Bad Request", "BAD_REQUEST", "; ".join(problems))
        # Canned answers by the path as sent, or without its "@<hash>" (tests cannot know it).
        for key in (f"{method} {api_path}", f"{method} {re.sub(r'@[0-9a-fA-F]+', '', api_path)}"):
            if (canned := self.fail_next.pop(key, None)) is not None:
                return canned
        status, answer = self._answer(method, api_path, query, body)
        if status < 400:
            # Nessie documents its merge's success as 204 with a MergeResponse body; a JAX-RS
            # server sends a non-empty entity as 200, so the answer is checked as the 204 one.
            documented = 204 if api_path.endswith("/history/merge") else status
            self.problems += self.api.check_response(method, api_path, documented, answer)
        return status, answer

    def _answer(
        self, method: str, path: str, query: dict[str, list[str]], body: Any
    ) -> tuple[int, Any]:
        parts = path.split("/")  # ['', 'v2', 'trees', ref, ...]
        if method == "GET" and path == "/v2/trees":
            refs = [_branch(name, log) for name, log in sorted(self.branches.items())]
            return 200, {"references": refs, "hasMore": False}
        if method == "POST" and path == "/v2/trees":
            name = query["name"][0]
            if name in self.branches:
                return 409, nessie_error(
                    409, "Conflict", "REFERENCE_ALREADY_EXISTS", f"'{name}' exists"
                )
            source = body.get("name")
            if source not in self.branches or self.branches[source][0]["hash"] != body.get("hash"):
                return 409, nessie_error(409, "Conflict", "REFERENCE_CONFLICT", "source moved")
            self.branches[name] = list(self.branches[source])
            return 200, {"reference": _branch(name, self.branches[name])}
        ref, _, expected = parts[3].partition("@")
        if ref not in self.branches:
            return 404, nessie_error(404, "Not Found", "REFERENCE_NOT_FOUND", f"'{ref}' not found")
        if method == "GET" and len(parts) == 4:
            return 200, {"reference": _branch(ref, self.branches[ref])}
        if method == "GET" and parts[4:] == ["history"]:
            limit = int(query.get("max-records", ["100"])[0])
            entries = [
                {
                    "commitMeta": {
                        "hash": e["hash"],
                        "message": e["message"],
                        "authors": [],
                        "allSignedOffBy": [],
                        "allProperties": {k: [v] for k, v in e["properties"].items()},
                        "parentCommitHashes": [e["parent"]] if e.get("parent") else [],
                        "commitTime": "2026-12-01T00:00:00Z",
                    }
                }
                for e in self.branches[ref][:limit]
            ]
            return 200, {"logEntries": entries, "hasMore": False}
        head = str(self.branches[ref][0]["hash"])
        if method == "DELETE" and len(parts) == 4:
            if expected and expected != head:
                return 409, nessie_error(409, "Conflict", "REFERENCE_CONFLICT", f"'{ref}' moved")
            self.branches.pop(ref)
            return 200, {"reference": {"type": "BRANCH", "name": ref, "hash": head}}
        if method == "POST" and parts[4:] == ["history", "merge"]:
            return self._merge(ref, expected, body)
        return 501, nessie_error(501, "Not Implemented", "UNKNOWN", f"{method} {path} is not faked")

    def _merge(self, target: str, expected: str, body: dict[str, Any]) -> tuple[int, Any]:
        # A merge adds one commit to the target carrying the request's commitMeta. Conflicts
        # (Nessie compares content keys) are not modelled: tests inject Nessie's 409 answer.
        source = body["fromRefName"]
        if source not in self.branches:
            return 404, nessie_error(404, "Not Found", "REFERENCE_NOT_FOUND", f"'{source}'")
        if not any(e["hash"] == expected for e in self.branches[target]):
            return 404, nessie_error(404, "Not Found", "REFERENCE_NOT_FOUND", f"no {expected}")
        meta = body.get("commitMeta") or {}
        props = {k: v[0] for k, v in (meta.get("allProperties") or {}).items() if v}
        self.merges.append(body)
        merged = self.commit(target, str(meta.get("message") or "merge"), props)
        return 200, {
            "resultantTargetHash": merged,
            "targetBranch": target,
            "effectiveTargetHash": expected,
            "expectedHash": expected,
        }


def _branch(name: str, log: list[dict[str, Any]]) -> dict[str, str]:
    return {"type": "BRANCH", "name": name, "hash": str(log[0]["hash"])}


def nessie_error(status: int, reason: str, code: str, message: str) -> dict[str, Any]:
    """An API v2 error answer: Nessie's ``NessieError`` JSON."""
    return {"status": status, "reason": reason, "message": message, "errorCode": code}


def iceberg_rest_error(status: int, kind: str, message: str) -> dict[str, Any]:
    """An Iceberg REST error answer, as Nessie's IcebergErrorMapper writes it."""
    return {"error": {"message": message, "type": kind, "code": status}}
