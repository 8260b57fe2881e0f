"""dfd's Hydra sweeper over current Optuna (hydra-optuna-sweeper 1.3.0 pins optuna<3)."""
