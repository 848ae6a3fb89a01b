"""The oneshot runner: ``ingestgen run <job.yaml>``.

It renders (or checks) the job's Meltano project, installs missing plugins, runs the job,
records it and exits 0 (landed), 1 (partial) or 2 (hard failure). Stages: `plan` (what to run:
the rendered project's job, its ``meltano run`` command and environment), `progress` (what the
terminal shows), `outcome` (the exit code), `systemdb` (redacting Meltano's run row), `oneshot`
(the whole sequence). Meltano itself is run through `ingestgen.meltano.tool`.
"""
