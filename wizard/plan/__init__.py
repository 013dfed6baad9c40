"""The restore plan: model, strict loader with FILE:LINE:COL errors, and JSON Schema.

Public API::

    from wizard.plan import load_plan, Plan
    loaded = load_plan("plans/lab.yaml")   # raises PlanError(errors=[...]) / InputFileError
    loaded.plan.cms_pool.fqdn
"""

from wizard.plan.loader import LoadedPlan, load_plan
from wizard.plan.model import Plan

__all__ = ["LoadedPlan", "Plan", "load_plan", "schema_document"]


def schema_document() -> dict[str, object]:
    """The JSON Schema of plans, as shipped in ``plans/schema.json``."""
    from wizard.plan.schema import json_schema

    return json_schema(Plan, title="lync-restore plan",
                       schema_id="https://lync-restore.invalid/plans/schema.json")
