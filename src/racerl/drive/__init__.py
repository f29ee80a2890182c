"""Driving: one batched controller protocol and one rollout function through which every lap
is driven, and the controllers: a trained policy, and the scripted ones (pure pursuit, the
race line, the lab's behaviours).
"""
