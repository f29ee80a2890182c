"""Driving: one batched controller protocol and one rollout function through which every lap
is driven, and the scripted controllers (pure pursuit, the race line, the lab's behaviours).
"""
