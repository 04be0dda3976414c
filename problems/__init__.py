"""The problem catalogue: one TOML file per PDE (installed as ``spikepde.catalogue``)."""
