"""authData: logging in with a third party (or anonymously) instead of a password.

`base` says what an adapter is, `anonymous` and `oauth2` are adapters, `registry` builds the
enabled ones from `Config.auth`, `store` finds a user by provider id and keeps ids unique.
The request flows (signup-or-login, link, unlink) are in `core/services/authdata.py`.
"""
