"""Designing a study: creating, opening and closing it, balance of the design, item orders, each rater's
list and assignment, power by simulation and the pre-registration.
"""
