"""Write docs/cases.md from the casebook: every case run through smooth, its real output pasted.

    python tools/refresh_cases.py          # rewrite docs/cases.md
    python tools/refresh_cases.py --check  # exit 1 if docs/cases.md is out of date
"""

from __future__ import annotations

import sys
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "cases.md"

HEAD = """# The casebook: published failures, reproduced

`smooth cases` lists them; `smooth cases NAME` runs one. Each case below was checked against its
public thread; the output is the real output of the commands shown, written by
`tools/refresh_cases.py` (do not edit by hand). `tests/test_cases.py` checks every symptom and fix
against expectations computed without smooth (mpmath, exact reasoning on the format, or the
framework itself).

"""


def text() -> str:
    from smoothcli import cases

    parts = [HEAD, "| case | source | symptom |\n|---|---|---|\n"]
    parts += [f"| [{c.name}](#{c.name.lower()}) | {c.source} | {c.title} |\n" for c in cases.CASES]
    parts.append("\nLeft out, with why:\n\n")
    parts += [f"- {src}: {why}\n" for src, why in cases.LEFT_OUT]
    for c in cases.CASES:
        parts.append(f"\n## {c.name}\n\n```text\n{cases.render(c)}```\n")
    return "".join(parts)


def main() -> int:
    new = text()
    if "--check" in sys.argv[1:]:
        return 0 if DOC.read_text(encoding="utf-8") == new else 1
    DOC.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
