"""spikepde.problem"""
