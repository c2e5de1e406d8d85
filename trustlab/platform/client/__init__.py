"""Clients of a running deployment: the HTTP rater driver and simulated raters answering through the REST
API.
"""
