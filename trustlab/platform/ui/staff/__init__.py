"""The staff tabs: sign-in shared by both, the Researcher tab (live progress and results) and the Curator
tab (the relabel queue).
"""
