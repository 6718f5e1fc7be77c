"""The data subject the privacy layers protect (a customer), named by the setting
SHIORI_SUBJECT_MODEL, as Django's get_user_model names the user: the lower layers never
import the app that defines it. The apps that hold a subject's data elsewhere say so here
(pretix's shredders), and erasure clears what they registered."""

from django.apps import apps
from django.conf import settings


def subject_model():
    return apps.get_model(settings.SHIORI_SUBJECT_MODEL, require_ready=False)


# (model, name of the field that points at the subject) for every model holding their data.
_HOLDERS: list[tuple[type, str]] = []


def register_holder(model, subject_field: str) -> None:
    """An app declares a model that holds a subject's personal data, from its ready()."""
    _HOLDERS.append((model, subject_field))


def holders() -> list[tuple[type, str]]:
    """What ``register_holder`` was told, in that order."""
    return list(_HOLDERS)
