"""The study report: the self-contained HTML document and its sections (primary result, participant flow,
exploratory analyses).
"""
