"""The data subject the privacy layers protect (a customer), named by the setting
SHIORI_SUBJECT_MODEL, as Django's get_user_model names the user: the lower layers never
import the app that defines it."""

from django.apps import apps
from django.conf import settings


def subject_model():
    return apps.get_model(settings.SHIORI_SUBJECT_MODEL, require_ready=False)
