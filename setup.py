"""Packages of the wheel: dfd, the Hydra plugins, and conf/ shipped as `dfd.conf`.

conf/ stays at the top of the repository (the one copy); pyproject.toml maps it to the package
`dfd.conf` (package-dir) with its YAML files (package-data), so an installed dfd composes its
configs from any directory (dfd.config.config_dir). Only the package list is here:
pyproject.toml's `packages.find` cannot list packages whose folder is mapped elsewhere.
"""

from setuptools import find_namespace_packages, setup

CONFIG_GROUPS = [f"dfd.conf.{group}" for group in find_namespace_packages("conf")]
setup(
    packages=[
        *find_namespace_packages(include=["dfd*", "hydra_plugins*"]),
        "dfd.conf",
        *CONFIG_GROUPS,
    ]
)
