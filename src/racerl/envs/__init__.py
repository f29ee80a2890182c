"""Gymnasium environments: the shared car-batch core, the single-car env, the vector env, the
stable-baselines3 adapter and action spaces in model_metadata.json layout.
"""
