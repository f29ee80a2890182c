"""The batched simulator: the car model, the episode rules and penalties, the episode state
as one struct of arrays, the params dict, and ``BatchSim``, which steps N cars at once.
"""
