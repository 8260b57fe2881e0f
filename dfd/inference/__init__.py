"""Using a trained detector on raw videos: its settings, runtimes, preparation and scoring."""
