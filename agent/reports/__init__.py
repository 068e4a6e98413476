"""Reports on Scutum's own history: calibration, coverage, precondition audit (see docs/research.md)."""
