"""One parser per spec-file format, each returning offsets that ``load`` turns into spans.

- :mod:`.json_format`: RFC 8259 JSON (data equals ``json.loads``).
- :mod:`.hocon_format`: HOCON, a fast scanner compatible with pyhocon (FLARE's parser).
- :mod:`.yaml_format`: YAML through PyYAML's composer, YAML 1.2 core-schema scalars.

Each module is imported only when a file of its format is loaded.
"""
