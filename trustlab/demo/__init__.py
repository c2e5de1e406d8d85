"""The whole trustlab loop on generated data: `trustlab demo` (the README's first section).

``plan`` says what a run is (sizes, names, paths, results), ``stages`` what each step checks and
does, ``runner`` walks the stages, ``report`` prints the summary and starts the server.
"""

from trustlab.demo.plan import (
    CONDITIONS,
    CURATOR,
    DATASET,
    FAST,
    FULL,
    MODEL,
    RESEARCHER,
    STUDY,
    DemoPlan,
    DemoResult,
    DemoStageError,
    StageResult,
    data_dir,
    load_credentials,
    report_dir,
    save_credentials,
)
from trustlab.demo.runner import run_demo

__all__ = [
    "CONDITIONS", "CURATOR", "DATASET", "FAST", "FULL", "MODEL", "RESEARCHER", "STUDY", "DemoPlan",
    "DemoResult", "DemoStageError", "StageResult", "data_dir", "load_credentials", "report_dir",
    "run_demo", "save_credentials",
]
