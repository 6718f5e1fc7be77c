"""Failed logins are kept by the keyed hash of the typed name (privacy.staff.backends): the
names django-axes kept in clear before are replaced by their hashes, and rows that now name
the same login ("Tanaka", "tanaka") are merged, their failures added up."""

from django.db import migrations


def _hash_typed_names(apps, schema_editor):
    attempts = apps.get_model("axes", "AccessAttempt")
    failures = apps.get_model("axes", "AccessFailureLog")
    if not (attempts.objects.exists() or failures.objects.exists()):
        return  # nothing to convert: no keyring needed
    from privacy.staff.backends import DIGEST_PREFIX, login_name_digest

    def digest(name):
        if name and name.startswith(DIGEST_PREFIX):
            return name
        return login_name_digest(name)

    kept = {}
    for attempt in attempts.objects.order_by("pk"):
        attempt.username = digest(attempt.username)
        key = (attempt.username, attempt.ip_address, attempt.user_agent)
        first = kept.get(key)
        if first is None:
            kept[key] = attempt
            continue
        first.failures_since_start += attempt.failures_since_start
        first.attempt_time = max(first.attempt_time, attempt.attempt_time)
        attempt.delete()
    for attempt in kept.values():
        attempt.save(update_fields=["username", "failures_since_start", "attempt_time"])
    for failure in failures.objects.all():
        failures.objects.filter(pk=failure.pk).update(username=digest(failure.username))


class Migration(migrations.Migration):
    dependencies = [
        ("privacy", "0018_approvals_and_requests"),
        ("axes", "0010_accessattemptexpiration"),
    ]

    operations = [migrations.RunPython(_hash_typed_names, migrations.RunPython.noop)]
