"""Make the sibling test modules importable (shared planted-data helpers)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
