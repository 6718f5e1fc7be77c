"""The two-person rule, written once (privacy.staff.two_person): the proposer never decides
their own proposal, and the second person is a member of the counter staff."""

import pytest
from django.utils import translation

from privacy.staff import two_person


class Refused(Exception):
    pass


def test_another_counter_staff_member_may_decide(manager, clerk):
    assert two_person.may_decide(manager.pk, clerk)
    assert two_person.may_decide(clerk.pk, manager)
    two_person.require_second_person(manager.pk, clerk, Refused)


def test_the_proposer_may_not_decide_their_own_proposal(manager):
    assert not two_person.may_decide(manager.pk, manager)
    with pytest.raises(Refused, match="you proposed it"):
        two_person.require_second_person(manager.pk, manager, Refused)
    with pytest.raises(Refused, match="you asked for it"):
        two_person.require_second_person(manager.pk, manager, Refused, own=two_person.OWN_REQUEST)


def test_only_counter_staff_may_be_the_second_person(manager, administrator):
    assert not two_person.may_decide(manager.pk, administrator)
    with pytest.raises(Refused, match="Only a member of the counter staff"):
        two_person.require_second_person(manager.pk, administrator, Refused)
    with pytest.raises(Refused, match="Only a member of the counter staff"):
        two_person.require_counter_staff(administrator, Refused)


def test_nothing_proposed_is_nothing_to_decide(clerk):
    assert not two_person.may_decide(None, clerk)


def test_the_reasons_keep_their_translations(manager, administrator):
    with translation.override("ja"):
        with pytest.raises(Refused) as own:
            two_person.require_second_person(manager.pk, manager, Refused)
        with pytest.raises(Refused) as asked:
            two_person.require_second_person(
                manager.pk, manager, Refused, own=two_person.OWN_REQUEST
            )
        with pytest.raises(Refused) as not_counter:
            two_person.require_counter_staff(administrator, Refused)
    assert str(own.value) == "提案者本人は承認できません。別のスタッフの承認が必要です。"
    assert str(asked.value) == "依頼者本人は承認できません。別のスタッフの承認が必要です。"
    assert str(not_counter.value) == "これを承認できるのは店頭スタッフだけです。"
