"""Evaluation under DeepRacer's rules, its records, the robustness report and races.
"""
