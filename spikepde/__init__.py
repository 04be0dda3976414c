"""spikepde: spiking neural-network PDE surrogates trained without back-propagation."""
__version__ = "0.1.0"
