"""The oneshot runner: ``ingestgen run <job.yaml>``.

It renders (or checks) the job's Meltano project, installs missing plugins, runs the job,
records it and exits 0 (landed), 1 (partial) or 2 (hard failure). Stages: `plan` (what to run),
`meltano` (the subprocess), `progress` (what the terminal shows), `outcome` (the exit code),
`oneshot` (the whole sequence).
"""
