"""Pictures for people: training and evaluation charts, videos and camera views.
"""
