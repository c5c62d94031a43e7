"""Training: the loop, optimizers and schedules, augmentation, checkpoints and run directories."""
