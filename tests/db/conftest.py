"""Makes tests/db/query_world.py importable by name (like tests/platform/platform_world.py)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
