"""Taper Tracker's shipped files, not modules: protocols/ (the example protocol), icons/,
guide/ (the user guide F1 opens, with its screenshots).

Installed as the package data ``taper_app.resources`` (pyproject.toml maps this folder
there), so an installed program finds them with ``importlib.resources`` (taper_app/paths.py).
"""
