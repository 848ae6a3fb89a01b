"""The one strict base model, and the hint a constrained string carries for error messages.

Every model that parses YAML people write derives from `StrictModel`: the loader's published
contracts (the asset spec) and the generator's job, runner and registry models, which import it
from here as they import the asset spec. So "strict" means one thing everywhere: unknown keys are
errors, models are frozen, and fields may be given by name or by alias.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """Frozen; unknown keys are errors; fields are read by name or alias."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


@dataclass(frozen=True)
class Hint:
    """What values of a constrained string are called, and how to write a valid one.

    It sits in the type's ``Annotated`` metadata beside the constraint, where pydantic ignores it
    and an error reporter finds it on the field:
    ``Annotated[str, StringConstraints(pattern=...), Hint("identifier", "use ...")]``.
    """

    label: str
    """Names the value in a message: ``'x-y' is not a valid identifier``."""
    fix: str
    """Says how to write a valid one."""
