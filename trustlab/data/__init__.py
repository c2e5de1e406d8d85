"""Datasets: image files in (folders, manifests, sources), decoded and checked, stored as items with
their labels and splits; the generated demo data lives here too.
"""
