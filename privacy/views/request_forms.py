"""Forms of the requests desk that name staff: the proposal with its second person, and
lifting a stop."""

from django import forms
from django.contrib.auth.models import User
from django.utils.translation import gettext_lazy as _

from privacy.staff import roles
from privacy.views import forms as base


class StaffChoiceField(forms.ModelChoiceField):
    """Staff by the name they are called in the shop (family name first), never by email."""

    def label_from_instance(self, obj):
        return f"{obj.last_name} {obj.first_name}".strip() or obj.username


class ProposeForm(base.ProposeForm):
    """The outcome, the reply, and who approves it: one named member of the counter staff
    (the manager proposing is not offered), or anyone of them."""

    second_person = StaffChoiceField(
        label=_("Second person who approves"),
        queryset=User.objects.none(),
        required=False,
        empty_label=_("Any other member of the counter staff"),
        help_text=_("They find it under “Awaiting approval” at the top of every page."),
    )

    def __init__(self, *args, proposer=None, **kwargs):
        super().__init__(*args, **kwargs)
        staff = User.objects.filter(is_active=True, groups__name__in=roles.COUNTER).distinct()
        if proposer is not None:
            staff = staff.exclude(pk=proposer.pk)
        self.fields["second_person"].queryset = staff.order_by("last_name", "username")


class LiftForm(forms.Form):
    purpose = forms.CharField(max_length=40, widget=forms.HiddenInput)
    reason = base.ReasonField(
        label=_("Reason for lifting"),
        help_text=_("For example: the customer asked at the counter to receive it again."),
    )
