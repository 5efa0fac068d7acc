"""Calibration and sim-to-real evaluation: system identification, latency and reports (see DESIGN.md)."""
