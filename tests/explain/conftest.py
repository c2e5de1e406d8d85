"""Explain tests: one torch thread (the 2 shared cores are faster without oversubscription)."""

import torch

torch.set_num_threads(1)
