"""Users and sessions: password hashes (`passwords.py`), session tokens and their lookup
(`sessions.py`), and what a signup, login or user update may contain (`users.py`)."""
