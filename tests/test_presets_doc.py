"""docs/presets.md shows every value of both presets exactly as kingdra.config has them.

After changing a preset, regenerate the table with ``python -m tests.test_presets_doc``.
"""

import sys
from pathlib import Path

from kingdra.config import PRESETS, KingdraConfig, settings

DOC = Path(__file__).resolve().parents[1] / "docs" / "presets.md"
BEGIN, END = "<!-- presets table: begin -->", "<!-- presets table: end -->"


def _allowed(meta) -> str:
    if meta["choices"]:
        return ", ".join(f"`{c}`" for c in meta["choices"])
    return meta["range"].describe() if meta["range"] else ""


def render_table() -> str:
    """One row per field of KingdraConfig, from its metadata (kingdra.config.setting)."""
    names = list(PRESETS)
    configs = {name: KingdraConfig.from_preset(name) for name in names}
    lines = [
        "| field | " + " | ".join(f"`{n}`" for n in names) + " | allowed | meaning |",
        "|---|" + "---|" * len(names) + "---|---|",
    ]
    for field in settings():
        values = " | ".join(f"`{getattr(configs[n], field.name)!r}`" for n in names)
        meaning = field.metadata["help"].replace("|", "\\|")
        lines.append(f"| `{field.name}` | {values} | {_allowed(field.metadata)} | {meaning} |")
    return "\n".join(lines)


def _doc_table() -> str:
    text = DOC.read_text(encoding="utf-8")
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip()


def test_presets_doc_matches_the_config():
    assert _doc_table() == render_table(), "regenerate: python -m tests.test_presets_doc"


if __name__ == "__main__":
    text = DOC.read_text(encoding="utf-8")
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    DOC.write_text(f"{head}{BEGIN}\n{render_table()}\n{END}{tail}", encoding="utf-8")
    sys.stdout.write(f"updated {DOC}\n")
