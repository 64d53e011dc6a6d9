"""Checks of the jurisdiction codes a config uses against the ones it declares.

A site's or an organisation's `jurisdiction`, and the codes in `policy.allowed_rest` and
`policy.allowed_read`, decide what counts as abroad: a code the model does not know (`"USA"`
beside the world's `"US"`) would silently count a US site as abroad. The codes a config knows
are the keys of its `[places]` table (the shipped world declares US, CN and SG); a config
without one may use any two-letter ISO 3166-1 code in capitals.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

ISO_ALPHA2 = re.compile(r"^[A-Z]{2}$")


def code_problems(config: Any) -> list[tuple[str, str, str]]:
    """Return (key, problem, fix) for every jurisdiction code a Config does not know, naming the closest one.

    The schema calls this while validating, so the config is typed loosely here: the schema imports
    this module, never the other way round.
    """
    problems = [(f"places.{code}", f"{code!r} is not a two-letter ISO 3166-1 code in capitals.",
                 "name each place by its ISO 3166-1 alpha-2 code, such as US, CN or SG.")
                for code in config.places if not ISO_ALPHA2.match(code)]
    used = [(f"organisations.{name}.jurisdiction", org.jurisdiction) for name, org in config.organisations.items()]
    used += [(f"sites.{name}.jurisdiction", site.jurisdiction) for name, site in config.sites.items()]
    used += [(f"policy.{field}", code) for field in ("allowed_rest", "allowed_read")
             for code in getattr(config.policy, field)]
    known = sorted(config.places)
    for key, code in used:
        if known and code not in config.places:
            close = difflib.get_close_matches(code.upper(), known, n=1, cutoff=0.5)
            hint = f"Did you mean {close[0]!r}? " if close else ""
            problems.append((key, f"the jurisdiction code {code!r} is not one the config declares in [places] "
                             f"({', '.join(known)}), so the model cannot tell whether it is abroad.",
                             f"{hint}Use a declared code, or add the new code to [places] with its name."))
        elif not known and not ISO_ALPHA2.match(code):
            problems.append((key, f"the jurisdiction code {code!r} is not a two-letter ISO 3166-1 code in "
                             "capitals.", "use a code such as US, CN or SG."))
    return problems
