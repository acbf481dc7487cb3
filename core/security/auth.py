"""Who a request (or a LiveQuery client) is: the master key, a user with roles, or nobody."""

from __future__ import annotations

from dataclasses import dataclass

from parsnip.core.events import Context


@dataclass(frozen=True, slots=True)
class Auth:
    """An authenticated caller. `roles` holds role names (without "role:"), direct and inherited."""

    master: bool = False
    read_only: bool = False  # the read-only master key: reads as master, may not write
    user_id: str | None = None
    session_id: str | None = None  # objectId of the _Session the token belongs to
    session_token: str | None = None
    installation_id: str | None = None
    roles: frozenset[str] = frozenset()

    def acl_keys(self) -> list[str]:
        """The ACL entries that apply to this caller: "*", its user id, "role:<name>" per role."""
        keys = ["*"]
        if self.user_id:
            keys.append(self.user_id)
        keys += ["role:" + r for r in sorted(self.roles)]
        return keys

    def groups(self) -> list[str]:
        """CLP entries that apply: the ACL keys plus "authenticated" for a logged-in user."""
        keys = self.acl_keys()
        if self.user_id:
            keys.append("authenticated")
        return keys

    def context(self, request_id: str | None = None, client_ip: str | None = None) -> Context:
        """The Context its writes carry into the log."""
        return Context(
            user_id=self.user_id, session_id=self.session_id, installation_id=self.installation_id,
            master=self.master, request_id=request_id, client_ip=client_ip,
        )


MASTER = Auth(master=True)
NOBODY = Auth()
