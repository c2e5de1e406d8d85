"""The JSON API under /api/v1: thin routes that parse, call a service and map its errors to HTTP statuses.

``rater`` (sign-in, next item, answers, image files), ``staff`` (research and curation),
``recruitment`` (a link study's public routes and participant steps), ``deps`` (what the routes
share: the principal, the services, the error answers), ``limits`` (request size limits).
"""
