import torch

# Keep the suite fast and deterministic next to a background training run.
torch.set_num_threads(1)
