"""Maps the design's top-level folders onto the single import package ``fljob``.

``compiler/`` installs as ``fljob.compiler``, ``runtime/`` as ``fljob.runtime`` and so
on; no bare top-level ``compiler``/``runtime``/``cli`` package is ever installed.
"""

from setuptools import find_packages, setup

FOLDERS = {
    "compiler": "compiler",
    "runtime": "runtime",
    "cli": "cli",
    "templates": "templates",
    "schemas": "schemas",
}


def _packages() -> tuple[list[str], dict[str, str]]:
    packages = ["fljob"] + [f"fljob.{sub}" for sub in find_packages("fljob")]
    package_dir = {"fljob": "fljob"}
    for name, folder in FOLDERS.items():
        root = f"fljob.{name}"
        package_dir[root] = folder
        packages.append(root)
        # Template folders are data, not packages, even when they hold .py files.
        if name != "templates":
            packages.extend(f"{root}.{sub}" for sub in find_packages(folder))
    return packages, package_dir


PACKAGES, PACKAGE_DIR = _packages()
setup(packages=PACKAGES, package_dir=PACKAGE_DIR)
