"""Training data: the DataModule, clip datasets, sampling, transforms, augmentation, self-blending."""
