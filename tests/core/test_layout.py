"""The projection layout has one home (`core/layout.py`): no other module spells a class's
table name, so changing the layout is a change of one file."""

from __future__ import annotations

import re
import subprocess

from parsnip.core import layout
from tests.conftest import ROOT

# A table name written out: `"p_<Class>"` in SQL text, or built from the prefix by hand.
_SPELLED = re.compile(r'"p_[A-Za-z_{]|\'p_[A-Za-z_{]|"p_" *\+')
_FOLDERS = ("core", "api", "livequery", "projections")


def test_no_module_but_the_layout_spells_a_table_name():
    files = subprocess.run(["git", "ls-files", *(f"{f}/*.py" for f in _FOLDERS)], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split()
    found = [
        f"{name}:{n}" for name in files if name != "core/layout.py"
        for n, line in enumerate((ROOT / name).read_text().splitlines(), 1) if _SPELLED.search(line)
    ]
    assert not found, "take table names from core/layout.py: " + ", ".join(found)


def test_table_names_are_quoted_and_validated():
    assert layout.table("GameScore") == '"p_GameScore"'
    assert layout.USER_TABLE == layout.table("_User")
    assert layout.MISSING_TABLE.search('relation "p_Game" does not exist').group(1) == "Game"
    try:
        layout.table('x"; DROP TABLE parsnip_log; --')
    except Exception as e:  # a class name that is not one never reaches SQL text
        assert getattr(e, "code", None) == 103
    else:
        raise AssertionError("an invalid class name was quoted into SQL")
