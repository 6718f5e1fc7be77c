"""The three staff roles, as Django groups. No role relies on superuser status."""

from functools import wraps

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext_lazy

CLERK = "clerk"
MANAGER = "manager"
ADMINISTRATOR = "administrator"
ALL = (CLERK, MANAGER, ADMINISTRATOR)
COUNTER = (CLERK, MANAGER)


# How roles and the counter team read on screen (the group names are codes).
LABELS = {
    CLERK: gettext_lazy("Clerk"),
    MANAGER: gettext_lazy("Manager"),
    ADMINISTRATOR: gettext_lazy("Administrator"),
}


def group_label(name: str) -> str:
    """A role or team as staff read it: 店員, 店長, カウンター担当; another team by its name."""
    if name in LABELS:
        return str(LABELS[name])
    if name == settings.BOOKSHOP_COUNTER_TEAM:
        return str(gettext_lazy("Counter team"))
    return name


def roles_of(user) -> set[str]:
    if user is None or not user.is_authenticated or not user.is_active:
        return set()
    cached = getattr(user, "_shiori_roles", None)
    if cached is None:
        cached = set(user.groups.filter(name__in=ALL).values_list("name", flat=True))
        user._shiori_roles = cached
    return cached


def has_role(user, *roles: str) -> bool:
    return bool(roles_of(user) & set(roles))


def role_required(*roles: str):
    """Views for some roles only: everyone else gets 403 (the page exists, the role may not)."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not has_role(request.user, *roles):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


# The role checks of the views, each named once.
counter_only = role_required(*COUNTER)
manager_only = role_required(MANAGER)
administrator_only = role_required(ADMINISTRATOR)
manager_or_administrator = role_required(MANAGER, ADMINISTRATOR)


def counter_team() -> Group:
    """The team that works the counter: granted each customer with an open order."""
    group, _ = Group.objects.get_or_create(name=settings.BOOKSHOP_COUNTER_TEAM)
    return group
