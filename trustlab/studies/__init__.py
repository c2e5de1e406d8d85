"""User studies: the study config, the design (balance, each rater's list, power, pre-registration),
monitoring a running study, the recruitment rules, the questions and judgements, simulated raters,
the analysis and its report, and relabel proposals from raters' answers. No web and no Gradio here.
"""
