"""Data only: word lists and rule tables that Guanchao reads (see README.md in this folder)."""

from pathlib import Path

DIRECTORY = Path(__file__).parent
