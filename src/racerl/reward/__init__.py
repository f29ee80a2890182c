"""Reward functions: loading a user's ``reward_function(params)``, calling it by DeepRacer's
rules, and the sandboxed runner for code from strangers, behind one protocol.
"""
