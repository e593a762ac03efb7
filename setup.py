"""Packaging beyond what pyproject.toml can say: the top-level configs/ folder (kept where it is,
next to the package) is installed as the package-data package ``posekit.configs``, so an
installed posekit finds its configs by name. Everything else is in pyproject.toml."""

from setuptools import find_namespace_packages, find_packages, setup

CONFIG_DIRS = ["posekit.configs"] + [
    f"posekit.configs.{name}" for name in find_namespace_packages(where="configs")
]

setup(
    packages=find_packages(include=["posekit", "posekit.*"]) + CONFIG_DIRS,
    package_dir={"posekit.configs": "configs"},
    package_data={name: ["*.yaml"] for name in CONFIG_DIRS},
)
