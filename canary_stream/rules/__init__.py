"""Detection rules: the catalog, Tier 1 evaluators, Tier 2 windows, alerts and cases."""
