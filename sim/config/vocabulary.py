"""How figures, tables and narration name the things of a scenario: channels, gates, keys in words."""

from __future__ import annotations

#: How figures, tables and narration name each channel.
CHANNEL_TITLES: dict[str, str] = {
    "approved_by_policy": "Approved under policy",
    "approved_in_error": "Approved in error",
    "emergency_path": "Emergency path",
    "parent_override": "Parent's override",
    "legacy_or_backup_abroad": "Copy held abroad",
    "covert": "Covert export",
}
#: How figures name each gate.
GATE_TITLES: dict[str, str] = {"none": "no gate", "parent": "parent's approval", "steward": "steward gate",
                               "key_release": "key holder's release", "blocked": "blocked"}


def display(key: str, title: str = "") -> str:
    """Return a thing's display name: its title, else its key in words ("cn_engineers" -> "Cn engineers")."""
    if title:
        return title
    words = key.replace("_", " ").strip()
    return words[:1].upper() + words[1:]
