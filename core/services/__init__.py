"""The use cases, one call each, for every transport (REST routes and batch today; Cloud Code,
GraphQL and history later): each takes the backend (`base.Backend`), who is asking
(`base.Caller`: the `Auth` and the request's context) and plain arguments, and returns domain
results, never HTTP.

    objects.py        find, count, get, create, update, delete of any class's objects
    users.py          signup, login, logout, me, upgrade_to_revocable, update/delete a user
    authdata.py       signup or login with authData, linking and unlinking providers
    sessions.py       a user's sessions: find, get, me, create, update, delete
    installations.py  devices: register (create or update by installationId), find, delete
    aggregate.py      aggregate pipelines and distinct
    classes.py        which of these serves a class's objects
    access.py         the master-key-required and read-only-master checks
    query_options.py  a find's options read into `core/reads.py: FindOptions`
    own_account.py    what signup and logins share (a new session, the user's own view)

`core` must not import `api`: the reads reach the projections through `core/reads.py:
ObjectReader`, which `api/runtime.py` wires in.
"""
