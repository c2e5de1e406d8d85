"""Worlds and builders the tests share: datasets, trained models, studies, servers."""
