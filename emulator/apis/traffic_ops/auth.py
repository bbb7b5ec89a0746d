"""What a Traffic Ops user may do: roles, and the checks of its auth middleware
(`routing/middleware/wrappers.go` AuthBase.GetWrapper and RequiredPermissionsMiddleware)."""

from __future__ import annotations

from dataclasses import dataclass

from .sessions import AuthFailure


@dataclass(frozen=True, slots=True)
class Role:
    priv_level: int
    permissions: frozenset[str]


@dataclass(frozen=True, slots=True)
class User:
    username: str
    password: str
    role: str


@dataclass(frozen=True, slots=True)
class Guard:
    """What a route demands of the caller (routes.go: RequiredPrivLevel, RequiredPermissions)."""

    priv_level: int
    permissions: tuple[str, ...]


NO_ROLE = Role(0, frozenset())


def authorize(role_name: str, role: Role, guard: Guard, role_based_permissions: bool) -> None:
    """AuthFailure 403 unless a user of `role` passes `guard`: its privilege level with
    role_based_permissions off, its permissions with it on (the role named `admin` has them
    all, as CurrentUser.MissingPermissions has it; a permission called ALL is no key)."""
    if not role_based_permissions:
        if role.priv_level < guard.priv_level:
            raise AuthFailure(403, "Forbidden.")
        return
    if role_name == "admin":
        return
    missing = [p for p in guard.permissions if p not in role.permissions]
    if missing:
        raise AuthFailure(403, f"missing required Permissions: {', '.join(missing)}")
