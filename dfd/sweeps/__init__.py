"""Hyperparameter sweeps: the Optuna study behind the dfd_optuna Hydra sweeper, and the trial side of a job."""
