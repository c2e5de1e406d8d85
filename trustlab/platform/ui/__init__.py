"""The Gradio UI: the queue, the rater screen's HTML and components, the staff exports; ``rater/`` holds
the Rate tab, ``staff/`` the Researcher and Curator tabs.
"""
