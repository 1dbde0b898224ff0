"""Where every benchmark puts its findings: one markdown file under bench/results/."""
from __future__ import annotations

import sys
from pathlib import Path


def write_results(out, lines: list[str] | str, *, echo: bool = True) -> str:
    """Write ``lines`` (or a whole text) to ``out`` (folders made as needed); echo it."""
    text = lines if isinstance(lines, str) else "\n".join(lines) + "\n"
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    if echo:
        sys.stdout.write(text)
    return text
