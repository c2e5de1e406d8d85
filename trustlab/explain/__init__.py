"""Explanations of image classifiers: saliency maps (Grad-CAM family, CAM, LIME, captum methods) and
example-based twins behind one ``Explainer`` interface, plus faithfulness metrics, the artifact store,
batch precompute (``trustlab.explain.precompute.explain_items``), bias reports and sanity checks.

Which methods exist, and their parameters, is data in :mod:`trustlab.explanation_methods` (torch-free).
Importing this package imports every method module, which registers its explainer under its catalogue
name, so ``EXPLAINERS`` is complete for any reader of any ``trustlab.explain`` module.
"""

from trustlab.explain import cam_methods, captum_methods, gradcam, lime, twins  # noqa: F401  (register)
from trustlab.explain.base import EXPLAINERS, Attribution, Explainer, ExplainError, get_explainer

__all__ = ["EXPLAINERS", "Attribution", "ExplainError", "Explainer", "get_explainer"]
