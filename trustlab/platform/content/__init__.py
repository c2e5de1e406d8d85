"""What a rater's screen is made of: the study cache, item payloads, what an explanation may disclose,
image files behind their access rules, heatmap recolouring, and explanations computed on demand by the
batching worker.
"""
