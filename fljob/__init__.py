"""fljob: a declarative job compiler, template toolchain and compact runtime for federated learning.

Importing ``fljob`` is cheap on purpose: heavy dependencies (torch, grpc, pyhocon)
load only inside the modules that need them.
"""

__version__ = "0.1.0"
