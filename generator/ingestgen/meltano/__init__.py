"""What ingestgen knows about Meltano, in one place.

`project` reads a rendered project (``projects/<tenant>/meltano.yml``) back as typed, read-only
objects; `tool` finds and runs the ``meltano`` command in the environment it needs. Nothing here
renders a project or decides what a run means.
"""
