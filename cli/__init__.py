"""The ``fljob`` command line. Only this package prints and exits."""
