"""The job compiler: ``emit(validate(resolve(load(path))))``.

Each stage lives in a module named after it and returns its own typed model.
"""
