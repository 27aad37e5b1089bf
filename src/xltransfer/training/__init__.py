"""Fine-tuning and pretraining: the loop, loaders, launcher and device checks."""
