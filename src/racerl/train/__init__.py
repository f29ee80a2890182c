"""Training: the camera networks and the stable-baselines3 PPO/SAC trainer with its
checkpoints, metrics and sim-traces.
"""
