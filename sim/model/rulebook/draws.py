"""The fixed layout of each request's random draws, shared by every engine.

Every request consumes one row of uniforms and one row of normals from its actor's named
streams (`actor.<name>.request.u` and `.z`), whatever happens to it, so arrangements stay in
step under common random numbers. Covert attempts draw from `actor.<name>.covert.*`.
"""

from __future__ import annotations

U_PURPOSE, U_CLASS, U_SITE, U_DECISION, U_OVERRIDE, U_CONTROL, U_AUDIT, U_REVIEW = range(8)
Z_RECORDS, Z_REVIEW, Z_PARENT_DELAY, Z_AUDIT_DELAY = range(4)
REQUEST_UNIFORMS, REQUEST_NORMALS = 8, 4
#: Actors that mix two route orders draw one more uniform per request, in dispatch order, from
#: `actor.<name>.request.route`.
ROUTE_UNIFORMS = 1
#: Each covert mode has its own streams: `actor.<name>.covert.*` for human exfiltration and
#: `actor.<name>.covert_code.*` for code-borne reads, with the same layout (the second uniform
#: decides whether the mode's control, egress monitoring or code review, stops the attempt).
COVERT_U_SITE, COVERT_U_STOP, COVERT_U_AUDIT = range(3)
COVERT_Z_RECORDS, COVERT_Z_AUDIT_DELAY = range(2)
COVERT_UNIFORMS, COVERT_NORMALS = 3, 2
