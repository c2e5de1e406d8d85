"""The Rate tab: the rating page, how a rater gets on and off it, the public study link's entry and the
screens between items.
"""
