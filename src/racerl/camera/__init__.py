"""Pixels: the front camera rendered for a batch of cars, lighting randomisation, and the
top-down picture of a track with cars and trails.
"""
