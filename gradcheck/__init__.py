"""gradcheck: proves or disproves that a NumPy conv or pooling layer computes its gradients right."""
from .config import Config

__all__ = ["Config"]
