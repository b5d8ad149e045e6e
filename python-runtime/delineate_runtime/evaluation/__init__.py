"""Metrics, prompted/automatic evaluation, speed and FLOPs, before/after reports."""
