from django.contrib.auth.backends import ModelBackend
from django.utils import timezone


class StaffBackend(ModelBackend):
    """Django's backend, refusing deactivated accounts and accounts past their end date.

    Because ``get_user`` asks the same question, a session of such an account stops working
    at its next request."""

    def user_can_authenticate(self, user):
        if not super().user_can_authenticate(user):
            return False
        profile = getattr(user, "staff_profile", None)
        return not (profile and profile.valid_until and profile.valid_until < timezone.localdate())
