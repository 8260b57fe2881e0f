"""What a dataset is: label tables, folder layouts, the manifest, splits, folds, protocols and checks."""
