"""Pieces that run inside the JupyterHub process (loaded from ``jupyterhub_config.py``)."""
