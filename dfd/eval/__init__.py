"""Numbers only: scoring, aggregation, metrics, bootstrap intervals, thresholds and perturbations."""
