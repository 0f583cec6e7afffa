"""JSON Schemas (draft 2020-12) shipped as package data."""

from pathlib import Path

SCHEMA_DIR = Path(__file__).resolve().parent
