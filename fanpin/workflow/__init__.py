"""Monitoring work: warning clues, verification orders, the monitoring record and register, risk elimination, the household profile."""
