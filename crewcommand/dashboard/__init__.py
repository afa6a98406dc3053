"""The composition layer: pages that compose several apps (see views.py)."""
