"""How big a request may be. The app uploads nothing bigger than a small image, so a stranger's loop of
large POSTs is refused with 413 before it fills the disk (the proxy's ``client_max_body_size`` in
deploy/nginx.conf is the first line of defence; these hold when the app is reached directly)."""

from __future__ import annotations

MIB = 1024 * 1024
# One file through Gradio's /gradio_api/upload (its ``max_file_size``); over it Gradio answers 413.
UPLOAD_LIMIT_BYTES = 5 * MIB
# Any request body (multipart overhead on top of one file); the whole app, the Gradio UI included.
REQUEST_BODY_LIMIT_BYTES = UPLOAD_LIMIT_BYTES + 64 * 1024
# A REST API body is a small JSON document (a judgement with a comment is a few kB).
API_BODY_LIMIT_BYTES = 1 * MIB
