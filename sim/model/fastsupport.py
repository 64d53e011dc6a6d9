"""Which configs the fast engine settles, and which it hands to the event engine, saying why.

The fast engine reproduces the event engine for every field of the config schema it was
verified against (`tests/test_fast_engine.py`). A field added to the schema since, set to
anything but its default, may change what `World` does in a way `FastWorld` does not copy:
such a config runs on the event engine, and the run says so.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from sim.config.schema import Config

#: The schema's models and fields the fast engine was verified against.
VERIFIED: dict[str, frozenset[str]] = {
    "ActorGroup": frozenset((
        "code_covert_attempts_per_year code_covert_records_median code_covert_records_sigma "
        "covert_attempts_per_year covert_records_max covert_records_median covert_records_sigma data_classes employer "
        "headcount hours least_resistance_share location preferred_sites purposes records_median "
        "records_sigma requests_per_hour route_choice routes_around_keys timezone title").split()),
    "Config": frozenset((
        "actors controls data deletions gatekeeper migrations organisations parent_approval places policy "
        "replication routes scenario sites").split()),
    "Controls": frozenset((
        "audit_delay_days_median audit_delay_sigma audit_detect_probability code_review_coverage "
        "egress_monitoring_share gateway_deidentify_share insider_export_share key_custody_enforced").split()),
    "DataClass": frozenset("covert_overlap_share records title".split()),
    "Deletion": frozenset((
        "data_class duration_quantile incomplete_probability median_days residue_share sigma site "
        "stall_quantile start").split()),
    "Gatekeeper": frozenset((
        "emergency_purposes expiry_hours false_approval false_denial hours organisation policy "
        "review_distribution review_hours_mean review_hours_sigma reviewers timezone").split()),
    "Migration": frozenset("data_class duration_days keep_source source start target".split()),
    "Organisation": frozenset("independence jurisdiction parent title".split()),
    "ParentApproval": frozenset("approve_probability delay_hours_median delay_sigma".split()),
    "Policy": frozenset("allowed_read allowed_rest counted_classes".split()),
    "Replication": frozenset("data_class interval_hours source target until".split()),
    "Route": frozenset("actor data_class gate site".split()),
    "Scenario": frozenset("colour days description display name replications seed start_date title".split()),
    "Site": frozenset("access_logged holdings jurisdiction key_custody operator role title".split()),
    "WorkingHours": frozenset("end_hour start_hour weekdays_only".split()),
}


def unsupported(config: Config) -> str | None:
    """Return why the fast engine cannot settle a config exactly, or None if it can."""
    return _unknown(config, "")


def _unknown(model: BaseModel, path: str) -> str | None:
    known = VERIFIED.get(type(model).__name__)
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        where = f"{path}{name}"
        if known is None or name not in known:
            if value != field.get_default(call_default_factory=True):
                return f"the fast engine was not verified with `{where}` (a {type(model).__name__} field) set"
            continue
        for key, child in _children(value):
            found = _unknown(child, f"{where}{key}.")
            if found is not None:
                return found
    return None


def _children(value: Any) -> list[tuple[str, BaseModel]]:
    if isinstance(value, BaseModel):
        return [("", value)]
    if isinstance(value, dict):
        return [(f".{key}", item) for key, item in value.items() if isinstance(item, BaseModel)]
    if isinstance(value, (list, tuple)):
        return [(f"[{i}]", item) for i, item in enumerate(value) if isinstance(item, BaseModel)]
    return []
