"""One run of one job, start to finish (the seed's oneshot mode).

plan (validate, render or check the committed render) -> ``meltano install`` if plugin venvs are
missing -> OpenLineage START -> ``meltano run <job>`` with a per-run summary path, its output
redacted on the way to the terminal and the run's log file -> judge the loader's summary ->
write the run record -> OpenMetadata status and OpenLineage COMPLETE/FAIL.

Every output line, the loader's summary file, the record and the events pass through the
job's redactor (``logging.redaction``). This module never changes the rendered project.
"""

from __future__ import annotations

import logging
import os
import secrets
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from ingestgen.errors import UserError
from ingestgen.meltano.tool import Meltano
from ingestgen.paths import display
from ingestgen.record.emit import Emitters
from ingestgen.record.model import Outcome, RunFacts, Usage, build_record, parse_summary
from ingestgen.record.store import default_record_dir, read_json, write_json
from ingestgen.redact import RedactingFilter, Redactor, for_project
from ingestgen.run import systemdb
from ingestgen.run.outcome import judge
from ingestgen.run.plan import RunPlan, plan
from ingestgen.run.progress import Console, Progress


@dataclass(frozen=True)
class RunResult:
    """A finished run: its record (redacted), where it is, and the exit code."""

    record: dict[str, Any]
    record_path: Path

    @property
    def exit_code(self) -> int:
        """0 landed, 1 partial, 2 hard failure."""
        return int(self.record["exit_code"])


def run_job(
    root: Path,
    job_file: Path,
    *,
    record_dir: Path | None = None,
    install: bool = True,
    environ: Mapping[str, str] | None = None,
    out: TextIO | None = None,
    tty: bool | None = None,
) -> RunResult:
    """Run one job and record it; see the module docstring.

    Args:
        root: the repository root.
        job_file: the job's YAML file.
        record_dir: where the record, log and loader summary go (default
            ``projects/<tenant>/.meltano/runs/<job>/``).
        install: run ``meltano install`` when plugin venvs are missing.
        environ: the environment of the run (default ``os.environ``).
        out: where log lines and progress go (default stderr).
        tty: force the progress line on or off (default: when ``out`` is a terminal).

    Raises:
        ConfigError: invalid job file (nothing run, no record).
        UserError: drifted render, or plugins missing with ``install=False``.
    """
    started = time.time()
    env = dict(os.environ if environ is None else environ)
    clock = time.monotonic()
    the_plan = plan(root, job_file)
    durations = {"render_s": time.monotonic() - clock}
    folder, job = the_plan.project.folder, the_plan.job
    if not install and not the_plan.installed:
        raise UserError(
            f"the plugins of {display(folder, root)} are not installed: run without "
            f"--no-install, or run `meltano install` in {display(folder, root)}"
        )
    redactor = for_project(the_plan.project, env, enabled=the_plan.redaction)
    run_id = str(new_run_id())
    records = record_dir or default_record_dir(folder, job.name)
    records.mkdir(parents=True, exist_ok=True)
    paths = {
        kind: records / f"{run_id}{suffix}"
        for kind, suffix in (("record", ".json"), ("log", ".log"), ("summary", ".summary.json"))
    }
    emitters = Emitters(
        environ=env,
        tenant=the_plan.tenant,
        job=job.name,
        source_type=the_plan.source_type,
        redactor=redactor,
    )
    progress = Progress(f"{the_plan.tenant}/{job.name}", the_plan.streams)
    stream = out or sys.stderr
    with (
        paths["log"].open("w", encoding="utf-8") as log,
        Console(stream, progress, tty=tty) as console,
        _redacted_logging(redactor, stream),
    ):

        def show(line: str) -> None:
            clean = redactor.redact(line)
            log.write(clean + "\n")
            console.line(clean)

        show(
            f"ingestgen: run {run_id} of {the_plan.tenant}/{job.name} "
            f"({the_plan.rendered}; state id {the_plan.state_id})"
        )
        installed = _install(the_plan, env, show, durations)
        meltano_code: int | None = None
        usage = Usage()
        if installed is None:
            emitters.start(run_id, the_plan.streams, time.time())
            meltano = Meltano(folder, the_plan.run_env(env, run_id, paths["summary"]))
            done = meltano.stream(*the_plan.run_args(), on_line=show)
            durations["meltano_s"] = done.seconds
            meltano_code, usage = done.exit_code, done.usage
            systemdb.redact_run(folder, env, run_id, redactor)
    raw_summary = read_json(paths["summary"])
    if raw_summary is not None:
        # The loader writes its summary as it is; keep only a redacted copy next to the record.
        raw_summary = redactor.redact_obj(raw_summary)
        write_json(paths["summary"], raw_summary)
    summary = parse_summary(raw_summary)
    outcome = installed or judge(summary, meltano_code if meltano_code is not None else 2)
    facts = RunFacts(
        tenant=the_plan.tenant,
        job=job.name,
        run_id=run_id,
        state_id=the_plan.state_id,
        extractor=job.extractor.name,
        loader=job.loader.name,
        streams=the_plan.streams,
        source_type=the_plan.source_type,
        catalog=the_plan.catalog,
        started_at=started,
        ended_at=time.time(),
        durations=durations,
        meltano_exit_code=meltano_code,
        summary=summary,
        usage=usage,
        files={kind: display(path, root) for kind, path in paths.items()},
    )
    record: dict[str, Any] = redactor.redact_obj(build_record(facts, outcome))
    write_json(paths["record"], record)
    record["emitted"] = emitters.finish(record)
    write_json(paths["record"], record)
    return RunResult(record, paths["record"])


def new_run_id() -> uuid.UUID:
    """A new run id: a UUIDv7 (RFC 9562), so ids sort by their start, to the millisecond.

    The layout OpenLineage uses for run ids, built here: importing its client to make one
    would cost a third of ingestgen's start-up.
    """
    millis = time.time_ns() // 1_000_000 & (1 << 48) - 1
    rand = secrets.randbits(74)
    value = millis << 80 | 0x7 << 76 | (rand >> 62) << 64 | 0b10 << 62 | rand & (1 << 62) - 1
    return uuid.UUID(int=value)


def _install(
    the_plan: RunPlan,
    env: Mapping[str, str],
    show: Callable[[str], None],
    durations: dict[str, float],
) -> Outcome | None:
    """Install the project's plugins if their venvs are missing; an Outcome if that failed."""
    if the_plan.installed:
        return None
    show(f"ingestgen: installing the plugins of projects/{the_plan.tenant} (meltano install)")
    done = Meltano.quiet(the_plan.project.folder, env).stream("install", on_line=show)
    durations["install_s"] = done.seconds
    if done.exit_code == 0:
        return None
    return Outcome(
        "failed",
        2,
        f"meltano install failed (exit {done.exit_code}); nothing ran. "
        "Check the plugins' pip_url and the package index (see the log above)",
    )


@contextmanager
def _redacted_logging(redactor: Redactor, stream: TextIO) -> Iterator[None]:
    """Route this process's Python logging through the redactor for the duration of the run.

    That covers ingestgen's own warnings and the OpenLineage client's log.
    """
    root = logging.getLogger()
    handler = logging.StreamHandler(stream)
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("ingestgen: %(levelname)s %(name)s: %(message)s"))
    redacting = RedactingFilter(redactor)
    handler.addFilter(redacting)
    others = list(root.handlers)
    for other in others:
        other.addFilter(redacting)
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
        for other in others:
            other.removeFilter(redacting)
