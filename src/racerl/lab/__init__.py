"""Before training: the reward check and the reward lab.
"""
