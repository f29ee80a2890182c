"""The model folder in DeepRacer's layout, the training config and the sim-trace files; no
torch here, so the car runtime can read a model folder too.
"""
