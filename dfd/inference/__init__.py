"""Using a trained detector on raw videos: its settings, runtimes, preparation and scoring."""

# largest absolute logit difference between an export and its checkpoint (dfd.inference.parity;
# here, in the package's face, where `dfd export --help` reads it without importing torch)
PARITY_TOLERANCE = 1e-4
