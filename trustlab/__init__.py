"""trustlab: find out whether explanations of an image classifier actually help people."""

import os as _os

# Offline by design: set before anything imports gradio or huggingface_hub.
for _key, _value in (
    ("GRADIO_ANALYTICS_ENABLED", "False"),
    ("HF_HUB_OFFLINE", "1"),
    ("HF_HUB_DISABLE_TELEMETRY", "1"),
):
    _os.environ.setdefault(_key, _value)

__version__ = "0.1.0"
