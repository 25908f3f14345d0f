"""cdk-nag's AwsSolutions pack on the whole app, and suppressions that carry their reason.

Every suppression is made next to the resource it concerns, through :func:`suppress`, which refuses an
empty or one-word reason: a reviewer must be able to read why the rule does not apply.
"""

from __future__ import annotations

from collections.abc import Sequence

import cdk_nag
from aws_cdk import Aspects, Stack
from constructs import IConstruct

MIN_REASON_WORDS = 5


def suppress(
    construct: IConstruct,
    rules: Sequence[tuple[str, str]],
    *,
    applies_to: Sequence[str] = (),
    children: bool = True,
) -> None:
    """Suppress ``(rule id, reason)`` pairs on ``construct`` (and its children)."""
    for rule, reason in rules:
        if len(reason.split()) < MIN_REASON_WORDS:
            raise ValueError(f"suppression of {rule} needs a reason a reviewer can check, got {reason!r}")
    suppressions = [
        cdk_nag.NagPackSuppression(id=rule, reason=reason, applies_to=list(applies_to) or None)
        for rule, reason in rules
    ]
    cdk_nag.NagSuppressions.add_resource_suppressions(construct, suppressions, apply_to_children=children)


def suppress_stack(stack: Stack, rules: Sequence[tuple[str, str]]) -> None:
    for rule, reason in rules:
        if len(reason.split()) < MIN_REASON_WORDS:
            raise ValueError(f"suppression of {rule} needs a reason, got {reason!r}")
    cdk_nag.NagSuppressions.add_stack_suppressions(
        stack, [cdk_nag.NagPackSuppression(id=rule, reason=reason) for rule, reason in rules]
    )


def apply_aws_solutions(scope: IConstruct, *, reports: bool = True) -> None:
    """Check every construct under ``scope`` against AwsSolutions (errors fail ``app.synth()``)."""
    Aspects.of(scope).add(cdk_nag.AwsSolutionsChecks(verbose=True, reports=reports))
