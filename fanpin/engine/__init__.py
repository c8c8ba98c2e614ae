"""Scoring: weights (AHP, entropy, CV, CRITIC), ``RiskPolicy`` and ``Scorer``, income lines, saved policies, panel trends, scenario against baseline."""
