import pytest
from django.db import connection

from customers.models import Customer, SpecialOrder
from privacy.vault import crypto
from privacy.vault.crypto import DecryptionError
from tests.conftest import CANARIES, ORDER_CANARIES, TOLD


def fresh(model, pk):
    return model.objects.get(pk=pk)


def test_it_reads_back_every_personal_field(customer):
    loaded = fresh(Customer, customer.pk)
    for name, value in CANARIES.items():
        expected = value if name != "family_name_kana" else "カナリアセイ"
        assert getattr(loaded, name) == expected
    order = loaded.orders.get()
    assert order.title == ORDER_CANARIES["title"]
    assert order.isbn == ORDER_CANARIES["isbn"]


def test_it_stores_ciphertext_with_a_version_byte_and_nonce(customer):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT phone FROM customers_customer WHERE id = %s",
            [customer.pk.hex if connection.vendor == "sqlite" else customer.pk],
        )
        blob = bytes(cursor.fetchone()[0])
    assert blob[0] == crypto.FORMAT_V1
    assert len(blob) == 1 + 12 + len(CANARIES["phone"].encode()) + 16
    assert CANARIES["phone"].encode() not in blob


def _raw_copy(table, source_column, target_column, source_pk, target_pk):
    def key(pk):
        return pk.hex if connection.vendor == "sqlite" else pk

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {source_column} FROM {table} WHERE id = %s", [key(source_pk)])  # noqa: S608
        blob = cursor.fetchone()[0]
        cursor.execute(
            f"UPDATE {table} SET {target_column} = %s WHERE id = %s", [blob, key(target_pk)]
        )  # noqa: S608


def test_a_ciphertext_copied_into_another_customer_fails_to_decrypt(clerk, customer):
    from customers import services
    from tests.conftest import customer_data, order_data

    other = services.order_create_with_customer(
        notice=TOLD,
        actor=clerk,
        customer_data=customer_data(phone="08011112222", email="other@example.jp"),
        order_data=order_data(),
    ).customer
    _raw_copy("customers_customer", "phone", "phone", customer.pk, other.pk)
    with pytest.raises(DecryptionError):
        fresh(Customer, other.pk).phone


def test_a_ciphertext_copied_into_another_column_fails_to_decrypt(customer):
    _raw_copy("customers_customer", "phone", "email", customer.pk, customer.pk)
    loaded = fresh(Customer, customer.pk)
    assert loaded.phone == CANARIES["phone"]
    with pytest.raises(DecryptionError):
        loaded.email


def test_an_order_title_copied_into_another_order_fails(clerk, order):
    from customers import services
    from tests.conftest import order_data

    second = services.order_create(
        actor=clerk, customer=order.customer, data=order_data(title="別の本")
    )
    _raw_copy("customers_specialorder", "title", "title", order.pk, second.pk)
    with pytest.raises(DecryptionError):
        fresh(SpecialOrder, second.pk).title


def test_it_refuses_to_write_plaintext_even_past_the_audited_manager(customer):
    with pytest.raises(TypeError, match="encrypted"):
        Customer._base_manager.filter(pk=customer.pk).update(phone="0312345678")


def test_it_refuses_to_filter_on_an_encrypted_column(customer):
    from django.core.exceptions import FieldError

    with pytest.raises(FieldError):
        list(Customer.objects.filter(phone=CANARIES["phone"]))


def test_it_decrypts_only_the_fields_that_are_read(customer):
    loaded = fresh(Customer, customer.pk)
    before = crypto.counters["decrypt"]
    assert loaded.family_name == CANARIES["family_name"]
    assert crypto.counters["decrypt"] - before == 1


def test_an_unchanged_save_keeps_the_stored_ciphertext(customer):
    def stored():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT email FROM customers_customer WHERE id = %s",
                [customer.pk.hex if connection.vendor == "sqlite" else customer.pk],
            )
            return bytes(cursor.fetchone()[0])

    before = stored()
    loaded = fresh(Customer, customer.pk)
    loaded.email  # read, not changed
    loaded.notes = "new note"
    loaded.save()
    assert stored() == before
    assert fresh(Customer, customer.pk).notes == "new note"


def test_the_repr_of_an_unread_value_shows_nothing(customer):
    loaded = fresh(Customer, customer.pk)
    assert repr(loaded.__dict__["phone"]) == "<encrypted>"
    assert CANARIES["family_name"] not in str(loaded)


def test_a_bulk_update_is_refused_because_it_would_skip_the_audit_log(customer):
    from privacy.core.querysets import BulkWriteRefused

    with pytest.raises(BulkWriteRefused):
        Customer.objects.filter(pk=customer.pk).update(preferred_contact="phone")
    with pytest.raises(BulkWriteRefused):
        SpecialOrder.objects.bulk_update(list(SpecialOrder.objects.all()), ["quantity"])
