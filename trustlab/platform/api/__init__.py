"""The JSON API under /api/v1: thin routes that parse, call a service and map its errors to HTTP statuses;
request size limits.
"""
