"""spikepde.reference"""
