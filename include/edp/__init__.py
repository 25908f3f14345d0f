"""The event data platform's production code: one subpackage per layer of the seed design."""
