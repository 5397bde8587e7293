"""radshield policy pack: HIPAA 164.312 guard rails for the landing zone, all MANDATORY.

Run with ``pulumi preview --policy-pack infra/policy`` from the repository root.
"""

from pulumi_policy import EnforcementLevel, PolicyPack
from radshield_policies import build_policies

PolicyPack(
    name="radshield-hipaa",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=build_policies(),
)
