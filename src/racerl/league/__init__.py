"""Leagues: seasons of races with points per finishing position, racers who submit exported
bundles from other machines, and the queue that evaluates them."""
