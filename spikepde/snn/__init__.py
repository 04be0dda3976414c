"""spikepde.snn"""
