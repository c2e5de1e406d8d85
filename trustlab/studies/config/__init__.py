"""The study YAML as a strict, typed config: the shared strict base and error, the study's fields,
recruitment (consent, instructions, practice, completion), conditions and the rater-facing texts.
"""
