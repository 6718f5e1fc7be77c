from privacy.staff import roles as staff_roles


def roles(request):
    user_roles = staff_roles.roles_of(getattr(request, "user", None))
    return {
        "is_clerk": staff_roles.CLERK in user_roles,
        "is_manager": staff_roles.MANAGER in user_roles,
        "is_administrator": staff_roles.ADMINISTRATOR in user_roles,
        "works_counter": bool(user_roles & set(staff_roles.COUNTER)),
    }
