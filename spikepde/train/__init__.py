"""spikepde.train"""
