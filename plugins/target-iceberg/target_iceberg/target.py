"""target-iceberg: the Singer target.

Reads the stream, enforces each stream's contract, writes large Parquet files and commits one
Iceberg snapshot per table at the end of the run.

Differences from a stock singer-sdk target, on purpose:
- RECORD lines are not parsed one by one into dicts: `FastSingerReader` hands raw payloads to
  the stream's `StreamSink`, which validates whole blocks in Arrow.
- No batch-size or 5-minute drains: files roll by size on disk, and the run commits once.
- Singer STATE is emitted downstream only after every table of the run has committed.
- Stream maps and flattening are not offered (they would put a per-record step back).
Never commits partially on a failure it can see: files are deleted and no state is emitted.
"""

from __future__ import annotations

import copy
import gc
import json
import logging
import time
import typing as t

import msgspec
from singer_sdk import Target
from singer_sdk.exceptions import RecordsWithoutSchemaException
from singer_sdk.helpers.capabilities import PluginCapabilities

from plugin_errors import ErrorKind, classify, exit_after_signal, message, run_cli
from target_iceberg import crashpoint, quarantine
from target_iceberg.catalog import storage_error
from target_iceberg.config import MAX_NAME, SETTINGS, TABLE_NAME, LoaderConfig, load_config
from target_iceberg.contract.jsonschema import contract_from_schema, extra_columns
from target_iceberg.errors import (
    AuditFailedError,
    RejectThresholdError,
    StreamError,
    TapStoppedError,
    loader_kind,
)
from target_iceberg.opening import is_rest, load_spec, open_run, unopened_context
from target_iceberg.reader import FastSingerReader
from target_iceberg.sinks import RunContext, StreamSink, threshold_message
from target_iceberg.summary import AuditSummary, RunSummary

if t.TYPE_CHECKING:
    from types import FrameType

    from singer_sdk.helpers.capabilities import CapabilitiesEnum

    # Imported when the run opens (`target_iceberg.opening`), in the background.
    from target_iceberg.commit import Committer, TableChange
    from target_iceberg.contract.model import Contract
    from target_iceberg.nessie import BranchRun
    from target_iceberg.outputs import Backend


class TargetIceberg(Target):
    """Singer target that enforces asset contracts and commits atomically to Apache Iceberg."""

    name = "target-iceberg"
    config_jsonschema: t.ClassVar[dict[str, t.Any]] = SETTINGS
    message_reader_class = FastSingerReader
    detects_replays = True
    """Commit nothing for a run that repeats a committed one exactly (see `replay_of`)."""
    capabilities: t.ClassVar[list[CapabilitiesEnum]] = [
        PluginCapabilities.ABOUT,
        PluginCapabilities.STRUCTURED_LOGGING,
        PluginCapabilities.BATCH,
    ]

    def __init__(self, **kwargs: t.Any) -> None:
        super().__init__(**kwargs)
        self.settings: LoaderConfig = load_config(self.config)
        reader = t.cast("FastSingerReader", self.message_reader)
        reader.router = self
        self.buffers: dict[str, list[t.Any]] = {}
        self.block_records = self.settings.batch_size_rows
        self.sinks: dict[str, StreamSink] = {}
        self.summary = RunSummary(
            run_id=self.settings.run_id,
            namespace=self.settings.namespace,
            tenant=self.settings.tenant,
            job=self.settings.job,
            started_at=time.time(),
        )
        self._context: RunContext | None = None
        self._committer: Committer | None = None
        self._replayed: str | None = None  # the run this one repeats (see replay_of)
        self._specs: dict[str, Contract] = {}
        self._finished = False
        self._nessie: BranchRun | None = None

    @classmethod
    def append_builtin_config(cls, config_jsonschema: dict[str, t.Any]) -> None:
        """Add none of the SDK's built-in target settings.

        Batch sizes, record validation switches and metadata columns tune machinery this
        target replaces.
        """

    # Run context -------------------------------------------------------------------------

    @property
    def context(self) -> RunContext:
        """Catalog, namespace and writer settings, opened on the first SCHEMA message.

        Waits while the run opens in the background (`target_iceberg.opening`).
        """
        if self._context is None:
            self._open_run()
        assert self._context is not None
        self._context.wait_open()
        return self._context

    def _open_run(self, first: tuple[str, str, Contract] | None = None) -> StreamSink | None:
        """Start opening the run; with ``first`` (stream, table, contract), its stream's sink.

        The first stream's blocks are parsed while the catalog and its table open.
        """
        cfg = self.settings
        ctx = self._context = unopened_context(cfg)
        sink = None if first is None else StreamSink(*first, ctx, opened_later=True)

        def open_now() -> None:
            opened = open_run(ctx, cfg, self.summary, self._backend)
            self._committer, self._nessie = opened.committer, opened.nessie
            if sink is not None:
                sink.open_output()

        ctx.open_in_background(open_now)
        return sink

    def _first_failure(self, exc: BaseException) -> BaseException:
        """The run's first failure: the opening's, if it failed, else ``exc``.

        A failure found while the run opened in the background (a later line, the tap's end)
        comes after the opening's in input order: the SCHEMA message opened the run.
        """
        if self._context is None or not isinstance(exc, Exception):
            return exc
        return self._context.opening_failure() or exc

    def _backend(self, catalog: t.Any) -> Backend:
        """The engine's write path: its table outputs and its committer (the one seam)."""
        cfg = self.settings
        if cfg.engine == "spark":
            from target_iceberg.spark.backend import SparkBackend

            return SparkBackend(cfg, catalog)
        from target_iceberg.outputs import NativeBackend

        return NativeBackend(cfg.write_mode)

    @property
    def committer(self) -> Committer:
        """The committer: the engine backend's (`Backend.committer`) unless replaced."""
        _ = self.context
        assert self._committer is not None
        return self._committer

    @committer.setter
    def committer(self, value: Committer) -> None:
        self._committer = value

    # Messages ----------------------------------------------------------------------------

    def _contract_for(self, stream: str, message: dict[str, t.Any]) -> Contract:
        schema = message["schema"]
        spec_path = self.settings.spec_path(stream)
        if spec_path is None:
            return contract_from_schema(schema, message.get("key_properties"))
        if stream not in self._specs:
            self._specs[stream] = load_spec(spec_path)
        contract = self._specs[stream]
        if self.settings.unknown_columns == "evolve":
            contract = contract.with_extra(extra_columns(schema, contract.names))
        return contract

    def _process_schema_message(self, message_dict: dict[str, t.Any]) -> None:
        self._assert_line_requires(message_dict, requires={"stream", "schema"})
        stream = message_dict["stream"]
        if not isinstance(stream, str) or not stream:
            raise StreamError(f"a SCHEMA message names stream {stream!r}: it must be a name")
        schema = message_dict["schema"]
        if not isinstance(schema, dict) or not isinstance(schema.get("properties"), dict):
            raise StreamError(
                f"the SCHEMA message of stream {stream!r} has no JSON Schema object with "
                "`properties`; the tap must describe the record's fields"
            )
        key = message_dict.get("key_properties")
        if key is not None and not (isinstance(key, list) and all(isinstance(k, str) for k in key)):
            raise StreamError(
                f"the SCHEMA message of stream {stream!r} has key_properties {key!r}: "
                "it must be a list of field names"
            )
        contract = self._contract_for(stream, message_dict)
        sink = self.sinks.get(stream)
        if sink is None:
            table = self._table_for(stream)
            if self._context is None:
                sink = self._open_run((stream, table, contract))
                assert sink is not None
            else:
                sink = StreamSink(stream, table, contract, self.context)
            self.sinks[stream] = sink
            self.summary.streams[stream] = sink.summary
            self.buffers[stream] = sink.buffer
        elif sink.contract != contract:
            self.logger.info("stream %s: the contract changed; new rows follow it", stream)
            sink.update_contract(contract)
        crashpoint.reached("schema")

    def _table_for(self, stream: str) -> str:
        """The table of a new stream; two streams never share one, nor a quarantine name."""
        table = self.settings.table_name(stream)
        where = f"streams.{stream}.table" if stream.isidentifier() else "streams.<stream>.table"
        if not TABLE_NAME.fullmatch(table):
            raise StreamError(
                f"stream {_short(stream)} gives no usable table name ({_short(table)}: "
                f"1-{MAX_NAME} of a-z, 0-9, _); map it to a table with {where}"
            )
        if table.endswith(quarantine.SUFFIX):
            raise StreamError(
                f"stream {_short(stream)} would land in table {self.settings.namespace}.{table}, "
                f"a name kept for quarantine tables (<table>{quarantine.SUFFIX}); map it to "
                f"another table with {where}"
            )
        for other, sink in sorted(self.sinks.items()):
            if sink.table_name == table:
                raise StreamError(
                    f"streams {_short(other)} and {_short(stream)} would both land in table "
                    f"{self.settings.namespace}.{table}; give one of them its own table with "
                    "streams.<stream>.table"
                )
        return table

    # The RecordRouter side, called by FastSingerReader.

    def unknown_stream(self, stream: str) -> list[t.Any]:
        """A RECORD for a stream without SCHEMA: a broken tap."""
        raise RecordsWithoutSchemaException(
            f"A record for stream '{stream}' was encountered before a corresponding schema. "
            "Check that the tap sends a SCHEMA message before the stream's records."
        )

    def buffer_full(self, stream: str) -> None:
        """Hand the stream's buffered payloads to its sink."""
        self.sinks[stream].flush()

    def _process_record_message(self, message_dict: dict[str, t.Any]) -> None:
        # Only reached when a caller bypasses FastSingerReader.
        self._assert_line_requires(message_dict, requires={"stream", "record"})
        stream = message_dict["stream"]
        buffer = self.buffers.get(stream)
        if buffer is None:
            buffer = self.unknown_stream(stream)
        buffer.append(msgspec.json.encode({"type": "RECORD", "record": message_dict["record"]}))
        if len(buffer) >= self.block_records:
            self.buffer_full(stream)

    def _process_state_message(self, message_dict: dict[str, t.Any]) -> None:
        self._assert_line_requires(message_dict, requires={"value"})
        value = message_dict["value"]
        if not isinstance(value, dict):
            raise StreamError(
                f"a STATE message carries {_short(value)}: a Singer state value must be a JSON "
                "object; the tap is broken (its bookmarks would be lost)"
            )
        self._latest_state = value
        crashpoint.reached("state")

    def _process_activate_version_message(self, message_dict: dict[str, t.Any]) -> None:
        self.logger.warning(
            "ACTIVATE_VERSION for stream %s ignored: the loader appends",
            message_dict.get("stream"),
        )

    def _process_batch_message(self, message_dict: dict[str, t.Any]) -> None:
        self._assert_line_requires(message_dict, requires={"stream", "encoding", "manifest"})
        stream = message_dict["stream"]
        sink = self.sinks.get(stream) if isinstance(stream, str) else None
        if sink is None:
            raise RecordsWithoutSchemaException(
                f"A BATCH message for stream {_short(stream)} came before its SCHEMA message."
            )
        encoding, manifest = message_dict["encoding"], message_dict["manifest"]
        if not isinstance(encoding, dict) or not (
            isinstance(manifest, list) and all(isinstance(f, str) for f in manifest)
        ):
            raise StreamError(
                f"a BATCH message of stream {_short(stream)} needs `encoding` as an object and "
                "`manifest` as a list of file URLs; the tap is broken"
            )
        sink.process_batch_files(encoding, manifest)

    def _handle_max_record_age(self) -> None:
        """No time-based drains: the run commits once, at its end."""

    def listen(self, file_input: t.IO[str] | None = None) -> None:  # type: ignore[misc]
        """Process the whole input; on any failure delete the run's files and record it."""
        try:
            super().listen(file_input)
        except BaseException as exc:
            failure = self._explained(self._first_failure(exc))
            if not self._finished:
                self._finished = True
                self._abort(failure)
            if failure is not exc:
                raise failure from exc
            raise

    # End of run --------------------------------------------------------------------------

    def process_endofpipe(self) -> None:
        """Flush, check the reject threshold, commit every table, then emit the STATE."""
        if self._finished:
            return
        from target_iceberg.commit import STATE, replay_of

        self._finished = True
        started = time.time()
        try:
            self._check_input_finished()
            for sink in self.sinks.values():
                sink.flush()
            if self._context is not None:
                self._context.drain()
            self._check_threshold()
            properties = self._snapshot_properties()
            changes: list[TableChange] = []
            for stream in sorted(self.sinks):
                changes.extend(self.sinks[stream].stage(properties))
                crashpoint.reached("stage")
            replayed = (
                replay_of(changes, properties.get(STATE), self.settings.run_id)
                if self.detects_replays
                else None
            )
            if replayed is not None:
                self._skip_replay(replayed, changes)
                changes = []
            # Called also without changes: a backend may act on the run's commit (the mapper
            # passes its rows on then).
            committed = self.committer.commit(changes)
            crashpoint.reached("committed")
            if self._context is not None and self._context.audit_branch is not None:
                committed = self._audit_and_publish(self._context.audit_branch, committed)
        except Exception as exc:
            failure = self._explained(self._first_failure(exc))
            self._abort(failure)
            if failure is not exc:
                raise failure from exc
            raise
        finally:
            if self._context is not None and self._context.backend is not None:
                self._context.backend.close()
        self._summarise_commit(changes, committed)
        self.summary.commit_s = round(time.time() - started, 3)
        if self._latest_state is not None:
            self._write_state_message(copy.deepcopy(self._latest_state))
            crashpoint.reached("state-emitted")
        self.summary.finish(self.settings.run_summary_path)

    @property
    def publish_committer(self) -> Committer:
        """Who publishes audit branches: one multi-table commit on REST, else the run's."""
        from target_iceberg.commit import MultiTableCommitter

        catalog = self.context.catalog
        if is_rest(catalog) and not isinstance(self.committer, MultiTableCommitter):
            cfg = self.settings
            return MultiTableCommitter(
                catalog, tenant=cfg.tenant or cfg.namespace, job=cfg.job, run_id=cfg.run_id
            )
        return self.committer

    def _audit_and_publish(self, branch: str, committed: dict[str, int]) -> dict[str, int]:
        """Run the specs' audit checks on the branch; publish it or fail with the evidence kept.

        Raises:
            AuditFailedError: a check failed; main is untouched, the branch kept.
        """
        # Imported here: the checks read tables through pyiceberg's Arrow scan, which runs
        # without an audit never need.
        from target_iceberg.audit.publish import AuditTarget, Publisher

        cfg = self.settings
        assert cfg.audit is not None
        targets = []
        for sink in self.sinks.values():
            summary = sink.summary
            targets.append(
                AuditTarget(
                    (cfg.namespace, sink.table_name),
                    checks=sink.contract.audit,
                    key=sink.contract.key,
                    read=summary.rows_read,
                    rejected=summary.rows_rejected,
                )
            )
            if summary.rejected_table:
                targets.append(AuditTarget((cfg.namespace, summary.rejected_table.split(".")[1])))
        publisher = Publisher(
            self.context.catalog, self.publish_committer, run_id=cfg.run_id, branch=branch
        )
        outcome = publisher.run(targets)
        nessie = self._nessie.audit if self._nessie is not None else None
        self.summary.audit = AuditSummary(
            branch=branch,
            nessie_branch=nessie,
            passed=not outcome.failing,
            published=outcome.published,
            on_fail=cfg.audit.on_fail,
            checks=outcome.checks,
            snapshots=outcome.snapshots,
        )
        for check in outcome.checks:
            log = self.logger.info if check.passed else self.logger.error
            log(
                "audit %s %s: %s (%s)",
                check.table,
                check.check,
                "pass" if check.passed else "FAIL",
                check.detail,
            )
        if outcome.failing:
            raise AuditFailedError(
                f"the audit of run {cfg.run_id} failed: "
                + "; ".join(f"{c.table} {c.check}: {c.detail}" for c in outcome.failing)
                + f". main is unchanged; the run's data is kept on branch {branch}"
                + (f" of Nessie branch {nessie}" if nessie else "")
                + ". Inspect it "
                "with `ingestgen audit`, then publish or discard it, or fix the source and re-run",
                exit_code=cfg.audit.on_fail,
            )
        if nessie is not None and self._nessie is not None:  # published only once merged
            self.summary.audit.published = False
            tenant = cfg.tenant or cfg.namespace
            self._nessie.publish_audit(tenant=tenant, job=cfg.job, run_id=cfg.run_id)
            self.summary.audit.published = True
        return {**committed, **outcome.snapshots}

    def _skip_replay(self, run_id: str, changes: list[TableChange]) -> None:
        """Commit nothing for a run that repeats ``run_id`` exactly; delete its files."""
        self.logger.warning(
            "this run repeats run %s (same final state, same rows per table), which committed "
            "but did not get its state to Meltano; committing nothing a second time",
            run_id,
        )
        for change in changes:
            change.discard()
        for sink in self.sinks.values():
            sink.abort()
        self._replayed = run_id

    def _summarise_commit(self, changes: list[TableChange], committed: dict[str, int]) -> None:
        """Record the run's snapshots (and Nessie commit) and its status in the summary."""
        if changes and self._nessie is not None:
            self.summary.nessie = self._nessie.record_commit(self.settings.run_id)
        for sink in self.sinks.values():
            sink.summary.snapshot_id = committed.get(sink.summary.table, sink.already_committed())
            if sink.summary.rejected_table:
                sink.summary.rejected_snapshot_id = committed.get(sink.summary.rejected_table)
        rejected = sum(s.summary.rows_rejected for s in self.sinks.values())
        if self._replayed is not None or (
            not changes and any(s.already_committed() is not None for s in self.sinks.values())
        ):
            self.summary.status = "already_committed"
        else:
            self.summary.status = "partial" if rejected else "success"

    def _snapshot_properties(self) -> dict[str, str]:
        from target_iceberg.commit import JOB, STATE, TENANT

        props = {TENANT: self.settings.tenant or "", JOB: self.settings.job or ""}
        if self._latest_state is not None:
            props[STATE] = json.dumps(self._latest_state, separators=(",", ":"), default=str)
        return {k: v for k, v in props.items() if v}

    def _check_input_finished(self) -> None:
        """With ``require_final_state``: refuse an input ending in records after its last STATE.

        A tap that finishes ends with a STATE (the Singer SDK writes the final state last);
        records after it are covered by no bookmark, so committing them would land them again
        on the next run, which starts from the bookmark Meltano kept. A tap that sends no STATE
        at all has no bookmark to resume from, so its input is taken as it is.
        """
        reader = t.cast("FastSingerReader", self.message_reader)
        if self.settings.require_final_state and reader.states and reader.after_last_state:
            raise TapStoppedError(
                f"the input ended with {reader.after_last_state} record message(s) after the "
                "tap's last STATE message: the tap stopped before it finished (its own error "
                "is in the log above). Nothing was committed and no state was emitted; run "
                "again once the tap's problem is fixed (it resumes from its last bookmark)"
            )

    def _check_threshold(self) -> None:
        cfg = self.settings
        total = sum(s.summary.rows_rejected for s in self.sinks.values())
        if cfg.max_rejected_rows is not None and total > cfg.max_rejected_rows:
            raise RejectThresholdError(threshold_message(total, cfg.max_rejected_rows))
        if cfg.max_rejected_ratio is None:
            return
        for stream, sink in sorted(self.sinks.items()):
            read, bad = sink.summary.rows_read, sink.summary.rows_rejected
            if read and bad / read > cfg.max_rejected_ratio:
                raise RejectThresholdError(
                    f"stream {stream}: {bad} of {read} record(s) broke the contract "
                    f"({bad / read:.2%}), more than max_rejected_ratio={cfg.max_rejected_ratio}; "
                    "nothing was committed. See sample_rejects in the run summary, fix the "
                    "source or the spec, or raise max_rejected_ratio"
                )

    def _explained(self, exc: BaseException) -> BaseException:
        """``exc``, or for a failed write to storage an error naming where and the fix."""
        props = self._context.properties if self._context is not None else {}
        return storage_error(exc, props, self.settings.s3_timeout_s) or exc

    def _abort(self, exc: BaseException, kind: ErrorKind | None = None) -> None:
        for sink in self.sinks.values():
            sink.abort()
        if self._context is not None and self._context.backend is not None:
            self._context.backend.close()
        self.summary.status = "failed"
        self.summary.error = message(exc)
        self.summary.error_kind = kind or classify(exc, loader_kind)
        self.summary.finish(self.settings.run_summary_path)

    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:  # pragma: no cover
        self.logger.error(
            "received signal %d: deleting uncommitted files, committing nothing", signum
        )
        self._finished = True
        # Stopped from outside, not by the input: running again may well succeed.
        self._abort(RuntimeError(f"terminated by signal {signum}"), ErrorKind.TRANSIENT)
        exit_after_signal(signum)

    @classmethod
    def invoke(cls, *args: t.Any, **kwargs: t.Any) -> None:
        """Run the target; any failure ends it with one line and the convention's exit code.

        Exit codes (plugin_errors): 0 committed (also with quarantined rows), 2 terminal (a
        setting, spec, contract or Singer stream to fix), 75 transient (a service or a commit
        conflict: retry), 3 internal (a bug), 143 SIGTERM. The run summary says ``failed``
        and carries the same ``error_kind``.
        """
        # Parsing is done; most objects alive now live for the whole run.
        gc.freeze()
        run_cli(
            cls.name,
            lambda: super(TargetIceberg, cls).invoke(*args, **kwargs),
            logger=logging.getLogger(cls.name),
            extra=loader_kind,
        )


def _short(value: t.Any) -> str:
    """A value for a message: its repr, cut to 80 characters."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


if __name__ == "__main__":
    from target_iceberg.main import tune_collector

    tune_collector()
    TargetIceberg.cli()
