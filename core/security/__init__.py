"""The Parse security model, in one place: who is asking (`auth.py`), object ACLs (`acl.py`),
class-level permissions and protected fields (`clp.py`), role membership (`roles.py`), and
the checks every route, the writer and LiveQuery go through (`guard.py`)."""
