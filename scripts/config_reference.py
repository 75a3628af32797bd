"""Write docs/configuration.md from the configuration's pydantic models.

    .venv/bin/python scripts/config_reference.py          # rewrite the reference
    .venv/bin/python scripts/config_reference.py --check  # exit 1 when it is out of date

Run it after changing a setting, its default or its description; the test suite runs the check.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.config_reference import OUTPUT, REGENERATE, render

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the configuration reference.")
    parser.add_argument("--check", action="store_true", help="only compare; write nothing")
    parser.add_argument(
        "--file", type=Path, default=ROOT / OUTPUT, help=f"the reference (default: {OUTPUT})"
    )
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.file.read_text(encoding="utf-8") if args.file.exists() else ""
        if current != text:
            print(f"{args.file} is out of date: run {REGENERATE}", file=sys.stderr)
            return 1
        print(f"{args.file} is up to date")
        return 0
    args.file.write_text(text, encoding="utf-8")
    print(f"wrote {args.file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
