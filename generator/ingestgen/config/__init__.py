"""Stage 1: read user YAML (tenant jobs, asset specs) safely and validate it into frozen models."""
