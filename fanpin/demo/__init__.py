"""The synthetic demo county: population, monthly panel, geography, planted cases, workflow replay, workshop cases."""
