"""What the public notice says of staff training: only what the records show."""

from django.utils import timezone

from privacy.staff.records.models import TrainingSession


def latest_training_day():
    """The day of the latest training session, or None when none was recorded."""
    held = TrainingSession.objects.filter(held_on__lte=timezone.localdate())
    return held.order_by("-held_on").values_list("held_on", flat=True).first()
