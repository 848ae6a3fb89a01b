"""runner.yaml validation: every problem at once, located ``file:line key.path: message (hint)``,
exit code 2 from the CLI; cron expressions; where the runner config may live."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ingestgen import api
from ingestgen.config.runner import cron_problem, find_runner
from ingestgen.errors import ConfigError

BIN = Path(sys.executable).parent

HEAD = """\
runner:
  mode: orchestrated
  orchestrator:
    type: dagster
    schedules:
"""
ACME = """\
      - name: acme_daily
        config: configs/acme/deals_daily.yaml
        cron: "0 3 * * *"
"""

# Each case: runner.yaml text and the exact problems it must report, in order.
BAD: dict[str, tuple[str, list[str]]] = {
    "unknown_job_file": (
        HEAD
        + ACME
        + """\
      - name: acme_typo
        config: configs/acme/deals_dialy.yaml
        cron: "0 4 * * *"
""",
        [
            "configs/runner.yaml:10 runner.orchestrator.schedules[1].config: configs/acme/"
            "deals_dialy.yaml does not exist (create the job file or fix the path)"
        ],
    ),
    "bad_cron_fields": (
        HEAD
        + """\
      - name: acme_daily
        config: configs/acme/deals_daily.yaml
        cron: "0 3 * *"
""",
        [
            "configs/runner.yaml:8 runner.orchestrator.schedules[0].cron: '0 3 * *' has 4 fields; "
            "a cron expression has five: minute hour day-of-month month day-of-week, e.g. "
            "'0 * * * *'"
        ],
    ),
    "bad_cron_range": (
        HEAD
        + """\
      - name: acme_daily
        config: configs/acme/deals_daily.yaml
        cron: "0 24 * * *"
""",
        [
            "configs/runner.yaml:8 runner.orchestrator.schedules[0].cron: '0 24 * * *': hour 24 "
            "is outside 0-23"
        ],
    ),
    "duplicate_names": (
        HEAD
        + ACME
        + """\
      - name: acme_daily
        config: configs/initech/deals_daily.yaml
        cron: "0 5 * * *"
""",
        [
            "configs/runner.yaml:9 runner.orchestrator.schedules[1].name: the schedule "
            "'acme_daily' is already defined at schedules[0] (give every schedule its own name)"
        ],
    ),
    "mode_typo": (
        HEAD.replace("mode: orchestrated", "mode: orchestrate") + ACME,
        ["configs/runner.yaml:2 runner.mode: 'orchestrate' is not one of oneshot, orchestrated"],
    ),
    "orchestrator_type": (
        HEAD.replace("type: dagster", "type: airflow") + ACME,
        ["configs/runner.yaml:4 runner.orchestrator.type: 'airflow' is not one of dagster"],
    ),
    "outside_configs": (
        HEAD
        + """\
      - name: escape
        config: /app/specs/gdrive_csv/v1.0/deals_daily.yaml
        cron: "0 3 * * *"
      - name: climb
        config: configs/../specs/gdrive_csv/v1.0/deals_daily.yaml
        cron: "0 3 * * *"
      - name: host_path
        config: /etc/ingest/job.yaml
        cron: "0 3 * * *"
""",
        [
            "configs/runner.yaml:7 runner.orchestrator.schedules[0].config: '/app/specs/gdrive_csv/"
            "v1.0/deals_daily.yaml': the path must stay inside configs/ (e.g. configs/acme/"
            "deals_daily.yaml)",
            "configs/runner.yaml:10 runner.orchestrator.schedules[1].config: 'configs/../specs/"
            "gdrive_csv/v1.0/deals_daily.yaml': the path must stay inside configs/ (e.g. configs/"
            "acme/deals_daily.yaml)",
            "configs/runner.yaml:13 runner.orchestrator.schedules[2].config: "
            "'/etc/ingest/job.yaml': absolute paths must start with /app/configs/ "
            "(the image's configs)",
        ],
    ),
    "concurrency_zero": (
        HEAD + ACME + "    concurrency_per_tenant: 0\n",
        [
            "configs/runner.yaml:9 runner.orchestrator.concurrency_per_tenant: input should be "
            "greater than or equal to 1"
        ],
    ),
    "orchestrated_without_orchestrator": (
        "runner:\n  mode: orchestrated\n",
        [
            "configs/runner.yaml:1 runner.orchestrator: required with mode: orchestrated (add "
            "orchestrator: {type: dagster, schedules: [...]})"
        ],
    ),
    "oneshot_with_orchestrator": (
        HEAD.replace("mode: orchestrated", "mode: oneshot") + ACME,
        [
            "configs/runner.yaml:3 runner.orchestrator: only used with mode: orchestrated (set "
            "mode: orchestrated or remove the orchestrator block)"
        ],
    ),
    "unknown_key": (
        "runner:\n  mode: orchestrated\n  orchestrator:\n    type: dagster\n    schedule: []\n",
        [
            "configs/runner.yaml:5 runner.orchestrator.schedule: unknown key 'schedule' (did you "
            "mean 'schedules'? valid keys: concurrency_per_tenant, launcher, schedules, shards, "
            "type)"
        ],
    ),
    "bad_name_and_runner_as_job": (
        HEAD
        + """\
      - name: Acme-Daily
        config: configs/acme/deals_daily.yaml
        cron: "0 3 * * *"
      - name: itself
        config: configs/runner.yaml
        cron: "0 3 * * *"
""",
        [
            "configs/runner.yaml:6 runner.orchestrator.schedules[0].name: 'Acme-Daily' is not a "
            "valid identifier (use lower-case letters, digits or '_', not starting with a digit)",
            "configs/runner.yaml:10 runner.orchestrator.schedules[1].config: "
            "'configs/runner.yaml': a schedule runs a job file: a .yaml file other than "
            "runner.yaml",
        ],
    ),
    # Several kinds at once: a typo in one place never hides a problem elsewhere.
    "all_at_once": (
        HEAD.replace("mode: orchestrated", "mode: sometimes")
        + """\
      - name: acme_daily
        config: configs/acme/missing.yaml
        cron: "0 3 * * *"
      - name: acme_daily
        config: configs/acme/deals_daily.yaml
        cron: "every hour"
""",
        [
            "configs/runner.yaml:2 runner.mode: 'sometimes' is not one of oneshot, orchestrated",
            "configs/runner.yaml:7 runner.orchestrator.schedules[0].config: "
            "configs/acme/missing.yaml does not exist (create the job file or fix the path)",
            "configs/runner.yaml:11 runner.orchestrator.schedules[1].cron: 'every hour' has 2 "
            "fields; a cron expression has five: minute hour day-of-month month day-of-week, e.g. "
            "'0 * * * *'",
        ],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_runner_config_is_located(case: str, repo: Path) -> None:
    text, expected = BAD[case]
    (repo / "configs" / "runner.yaml").write_text(text)
    with pytest.raises(ConfigError) as caught:
        find_runner(repo)
    assert [str(p) for p in caught.value.problems] == expected
    # render refuses too, and writes nothing.
    with pytest.raises(ConfigError):
        api.render(repo)
    assert not (repo / "projects" / "_dagster").exists()


def test_cli_reports_every_problem_and_exits_2(repo: Path) -> None:
    text, expected = BAD["all_at_once"]
    (repo / "configs" / "runner.yaml").write_text(text)
    for command in ("validate", "render"):
        done = subprocess.run(
            [str(BIN / "ingestgen"), command, "--root", str(repo)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith(f"error: {len(expected)} problems found:\n")
        for line in expected:
            assert f"  {line}\n" in done.stderr
        assert "Traceback" not in done.stderr
    done = subprocess.run(
        [str(BIN / "ingestgen"), "validate", "--root", str(repo), "--output", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    problems = json.loads(done.stdout)["problems"]
    assert [(p["line"], p["path"]) for p in problems] == [
        (2, "runner.mode"),
        (7, "runner.orchestrator.schedules[0].config"),
        (11, "runner.orchestrator.schedules[1].cron"),
    ]


def test_invalid_job_behind_a_schedule(repo: Path) -> None:
    job = repo / "configs" / "acme" / "deals_daily.yaml"
    job.write_text(job.read_text().replace("tenant_id: acme", "tenant_id: Acme"))
    (repo / "configs" / "runner.yaml").write_text(HEAD + ACME)
    with pytest.raises(ConfigError) as caught:
        find_runner(repo)
    assert [str(p) for p in caught.value.problems] == [
        "configs/acme/deals_daily.yaml:2 tenant_id: 'Acme' is not a valid tenant id (write it in "
        "lower case, 'acme')",
        "configs/runner.yaml:7 runner.orchestrator.schedules[0].config: configs/acme/"
        "deals_daily.yaml is not a valid job file (run `ingestgen validate configs/acme/"
        "deals_daily.yaml`)",
    ]


def test_one_runner_config_per_repository(repo: Path) -> None:
    (repo / "configs" / "runner.yaml").write_text(HEAD + ACME)
    (repo / "configs" / "acme" / "runner.yaml").write_text(HEAD + ACME)
    with pytest.raises(ConfigError) as caught:
        find_runner(repo)
    assert [str(p) for p in caught.value.problems] == [
        "configs/runner.yaml: one runner config per repository, found 2: "
        "configs/acme/runner.yaml, configs/runner.yaml (merge their schedules into one "
        "runner.yaml)"
    ]


def test_good_runner_config_resolves_tenants_and_jobs(repo: Path) -> None:
    (repo / "configs" / "nested").mkdir()
    (repo / "configs" / "nested" / "runner.yaml").write_text(
        HEAD
        + ACME
        + """\
      - name: initech_hourly
        config: /app/configs/initech/deals_daily.yaml
        cron: "*/15 6-18 * 1,2,3 1-5"
    concurrency_per_tenant: 2
"""
    )
    runner = find_runner(repo)
    assert runner is not None
    assert runner.display == "configs/nested/runner.yaml"
    assert runner.orchestrated and runner.concurrency_per_tenant == 2
    assert runner.tenants == ["acme", "initech"]
    assert [(s.name, s.tenant, s.job, s.config, s.cron) for s in runner.schedules] == [
        ("acme_daily", "acme", "deals_daily", "configs/acme/deals_daily.yaml", "0 3 * * *"),
        (
            "initech_hourly",
            "initech",
            "deals_daily",
            "configs/initech/deals_daily.yaml",
            "*/15 6-18 * 1,2,3 1-5",
        ),
    ]


def test_no_runner_config_renders_no_workspace(repo: Path) -> None:
    assert find_runner(repo) is None
    api.render(repo)
    assert not (repo / "projects" / "_dagster").exists()
    assert "schedules:" not in (repo / "projects" / "acme" / "meltano.yml").read_text()


def test_oneshot_runner_renders_no_schedules(repo: Path) -> None:
    (repo / "configs" / "runner.yaml").write_text("runner:\n  mode: oneshot\n")
    runner = find_runner(repo)
    assert runner is not None and not runner.orchestrated and runner.schedules == ()
    api.render(repo)
    assert not (repo / "projects" / "_dagster").exists()


def test_the_seed_example_is_valid(repo_root: Path) -> None:
    runner = find_runner(repo_root)
    assert runner is not None and runner.display == "configs/examples/runner.yaml"
    assert [(s.name, s.tenant, s.job) for s in runner.schedules] == [
        ("stripe_hourly", "globex", "stripe")
    ]


@pytest.mark.parametrize(
    ("cron", "problem"),
    [
        ("0 * * * *", None),
        ("*/5 1-5 1,15 1,2,3 5/1", None),
        ("0 0 * * 7", None),
        ("0 0 29 2 *", None),
        ("60 * * * *", "'60 * * * *': minute 60 is outside 0-59"),
        ("0 0 0 * *", "'0 0 0 * *': day-of-month 0 is outside 1-31"),
        ("0 0 * 13 *", "'0 0 * 13 *': month 13 is outside 1-12"),
        ("0 0 * 1,2,13 *", "'0 0 * 1,2,13 *': month 13 is outside 1-12"),
        ("0 0 * * 8", "'0 0 * * 8': day-of-week 8 is outside 0-7"),
        ("5-1 * * * *", "'5-1 * * * *': the minute range '5-1' runs backwards"),
        ("*/0 * * * *", "'*/0 * * * *': the minute field '*/0' has a step of 0"),
        # Meltano's schema refuses names, '?' and ranges with steps; so do we, before Meltano.
        (
            "0 0 * * mon",
            "'0 0 * * mon': the day-of-week field 'mon' is not one of *, */step, "
            "n, n-m, n/step or n,m,... (numbers only)",
        ),
        (
            "0 0 ? * *",
            "'0 0 ? * *': the day-of-month field '?' is not one of *, */step, n, "
            "n-m, n/step or n,m,... (numbers only)",
        ),
        (
            "0 1-5/2 * * *",
            "'0 1-5/2 * * *': the hour field '1-5/2' is not one of *, */step, "
            "n, n-m, n/step or n,m,... (numbers only)",
        ),
        (
            "@hourly",
            "'@hourly' has 1 field; a cron expression has five: minute hour "
            "day-of-month month day-of-week, e.g. '0 * * * *'",
        ),
    ],
)
def test_cron_problems(cron: str, problem: str | None) -> None:
    assert cron_problem(cron) == problem
