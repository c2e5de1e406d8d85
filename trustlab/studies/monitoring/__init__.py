"""Watching a running study: progress per rater and condition, outcome blinding for the researcher, and
exports.
"""
