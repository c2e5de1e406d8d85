"""Relabelling: consensus labels from raters (majority, Dawid-Skene, CROWDLAB), label issues from
out-of-sample probabilities, ambiguous class pairs, relabel proposals and the curator's decisions.
"""
