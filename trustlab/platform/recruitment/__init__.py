"""The public-link flow of a link study: joining with a participant id, then consent, instructions,
practice, items, the completion code and the return paths.
"""
