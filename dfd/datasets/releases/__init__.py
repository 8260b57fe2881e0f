"""The field's benchmark datasets, each read from its tree exactly as its authors distribute it."""
