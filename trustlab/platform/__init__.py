"""The web app: one FastAPI application with the REST API under /api/v1 and the Gradio UI at /. Accounts,
what a screen shows, the recruitment flow and the services sit below the API and the UI, which both
call the same services. The only package that imports Gradio.
"""
