"""What the app does, as plain functions over Settings: the rater services (next item, screens), storing
answers, and the researcher's and curator's operations. The REST API and the Gradio UI both call these.
"""
