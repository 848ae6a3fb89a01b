"""The tenant isolation rules (`target_iceberg.tenancy`): branch grammar and warehouse prefix."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from target_iceberg.tenancy import (
    branch_problem,
    nessie_ref_problem,
    tenant_id_problem,
    warehouse_prefix,
    warehouse_problem,
)

# pytest's record_property fixture: one row of the trust report per case.
RecordProperty = Callable[[str, object], None]

LAKE = "s3://lake"


@pytest.mark.parametrize(
    "branch", ["acme", "acme__sales", "acme__eu_west_1", "acme__2026", "acme__a" + "b" * 93]
)
def test_a_tenants_own_branches_pass(branch: str) -> None:
    assert branch_problem(branch, "acme") is None


BRANCH_ESCAPES = [
    ("main", "the default branch"),
    ("master", "a reserved name"),
    ("globex", "another tenant's branch"),
    ("acme_eu", "tenant acme_eu's branch (single '_')"),
    ("acmex", "a tenant whose id starts with acme"),
    ("acme__", "an empty suffix"),
    ("acme___x", "a suffix starting with '_'"),
    ("acme__x_", "a suffix ending with '_'"),
    ("acme__x__y", "a doubled separator in the suffix"),
    ("acme__Sales", "upper case"),
    ("acme/../main", "path syntax"),
    ("acme__x/../../main", "path syntax in the suffix"),
    ("acme%2F..%2Fmain", "percent-encoding"),
    ("acme__%6dain", "percent-encoding in the suffix"),
    ("acme@0123abcd", "a commit hash"),
    ("acme|globex", "Nessie's prefix separator"),
    ("acme?x=1", "a query string"),
    ("acme#x", "a fragment"),
    ("acme__x.", "a trailing dot"),
    ("acme__x..y", "'..'"),
    ("acme__sales ", "a trailing space"),
    ("acme\n", "a newline"),
    ("", "empty"),
    ("acme__" + "x" * 95, "longer than 100 characters"),
]


@pytest.mark.hostile
@pytest.mark.parametrize(("branch", "what"), BRANCH_ESCAPES)
def test_branch_escapes_are_refused(
    branch: str, what: str, record_property: RecordProperty
) -> None:
    record_property("category", "config: branch escape (shared rule)")
    record_property("case", f"tenant acme, branch {branch!r}: {what}")
    refusal = branch_problem(branch, "acme")
    assert refusal is not None
    assert "acme__<suffix>" in refusal.fix or "'acme'" in refusal.fix
    assert len(str(refusal)) < 400
    record_property("outcome", "refused with the fix naming acme's branch names")


@pytest.mark.hostile
@pytest.mark.parametrize("tenant", ["main", "master", "acme__x", "acme_", "Acme", "1acme", ""])
def test_branches_of_invalid_tenants_are_refused(
    tenant: str, record_property: RecordProperty
) -> None:
    record_property("category", "config: branch escape (shared rule)")
    record_property("case", f"tenant id {tenant!r} as its own branch")
    assert tenant_id_problem(tenant) is not None
    assert branch_problem(tenant, tenant) is not None
    record_property("outcome", "refused: not a tenant id")


@pytest.mark.hostile
@pytest.mark.parametrize("tenant", ["deadbeef", "cafe1234", "head", "detached"])
def test_tenant_ids_nessie_cannot_take_as_branch(
    tenant: str, record_property: RecordProperty
) -> None:
    # Valid tenant ids, but Nessie refuses them as reference names (hash-like, HEAD, DETACHED).
    record_property("category", "config: branch escape (shared rule)")
    record_property("case", f"tenant {tenant!r}: a name Nessie reads as a hash or keyword")
    assert tenant_id_problem(tenant) is None
    refusal = branch_problem(tenant, tenant)
    assert refusal is not None and "Nessie" in refusal.message
    assert branch_problem(f"{tenant}__data", tenant) is None
    record_property("outcome", "refused, with '<tenant>__<suffix>' as the way out")


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("main", True),
        ("a", True),
        ("feature/x-1_2", True),
        ("x.", False),
        ("x/", False),
        ("a..b", False),
        ("-", False),
        ("1abc", False),
        ("HEAD", False),
        ("Detached", False),
        ("abcdef12", False),
        ("abcdefg1", True),
    ],
)
def test_nessie_reference_name_rule(name: str, ok: bool) -> None:
    assert (nessie_ref_problem(name) is None) is ok


def test_the_seed_warehouse_is_the_tenants_prefix() -> None:
    assert warehouse_prefix(LAKE, "acme") == "s3://lake/acme/"
    assert warehouse_prefix("s3://lake/", "acme") == "s3://lake/acme/"
    assert warehouse_problem("s3://lake/acme/", LAKE, "acme") is None
    assert warehouse_problem("s3://lake/acme", LAKE, "acme") is None


WAREHOUSE_ESCAPES = [
    ("s3://lake/globex/acme/", "inside another tenant's prefix"),
    ("s3://lake/globex/", "another tenant's prefix"),
    ("s3://lake/acme/../globex/", "'..' out of the prefix"),
    ("s3://lake/acmex/", "a look-alike tenant"),
    ("s3://lake/acme/sub/", "a sub-folder (still refused: one prefix per tenant)"),
    ("s3://lake/", "the lake root (above every tenant)"),
    ("s3://other/acme/", "another bucket"),
    ("s3a://lake/acme/", "another scheme"),
    ("gs://lake/acme/", "another store"),
    ("file:///tmp/acme/", "a local folder"),
    ("s3://lake/%61cme/", "percent-encoding"),
    ("s3://lake//acme/", "a doubled slash"),
    ("s3://LAKE/acme/", "upper-case bucket"),
    ("s3://lake/acme/?x=1", "a query string"),
    ("s3://user@lake/acme/", "user info"),
    (" s3://lake/acme/", "a leading space"),
]


@pytest.mark.hostile
@pytest.mark.parametrize(("warehouse", "what"), WAREHOUSE_ESCAPES)
def test_warehouse_escapes_are_refused(
    warehouse: str, what: str, record_property: RecordProperty
) -> None:
    record_property("category", "config: warehouse prefix (shared rule)")
    record_property("case", f"tenant acme, warehouse {warehouse!r}: {what}")
    refusal = warehouse_problem(warehouse, LAKE, "acme")
    assert refusal is not None
    assert "'s3://lake/acme/'" in refusal.fix
    record_property("outcome", "refused, the fix names s3://lake/acme/")
