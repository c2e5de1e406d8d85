"""Study analysis: pure functions on judgement DataFrames, one DB loader, and `analyze_study`."""

from trustlab.studies.analysis.analyze import Analysis, analyze_study, summarize
from trustlab.studies.analysis.load import load_study_data

__all__ = ["Analysis", "analyze_study", "load_study_data", "summarize"]
