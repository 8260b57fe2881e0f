"""dfd: an experiment framework for deepfake video detection on PyTorch Lightning and Hydra."""

from dfd.moved import install as _install_moved_module_aliases

_install_moved_module_aliases()
