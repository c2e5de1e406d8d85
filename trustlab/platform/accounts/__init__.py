"""Accounts: passwords, bearer tokens, invites, disabling access, and sign-in throttling.
"""
