"""The rules of a recruitment study (who is admitted, returns, timeouts, completion codes) and its
participants table.
"""
