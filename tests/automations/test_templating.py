"""Template variables: unknown ones refused with the list of valid ones; rendering; segments."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from automations import templating


def test_known_variables_pass_and_render():
    text = "Hi {customer_name}, pay {amount_due} here: {payment_link}"
    templating.validate(text)
    assert templating.used(text) == ["customer_name", "amount_due", "payment_link"]
    values = {"customer_name": "Ana", "amount_due": "$10.00", "payment_link": "https://x/p/t/"}
    assert templating.render(text, values) == "Hi Ana, pay $10.00 here: https://x/p/t/"


def test_unknown_variable_is_refused_naming_the_valid_ones():
    with pytest.raises(ValidationError) as caught:
        templating.validate("Hi {first_name} {customer_name}")
    message = " ".join(caught.value.messages)
    assert "{first_name}" in message
    for name in templating.VARIABLES:
        assert "{" + name + "}" in message


@pytest.mark.parametrize("text", ["Hi {customer_name", "50% off }", "{{customer_name}}", "{}"])
def test_stray_braces_are_refused(text):
    with pytest.raises(ValidationError):
        templating.validate(text)


def test_a_repeated_variable_is_used_once_and_replaced_everywhere():
    text = "{company_name} / {company_name}"
    assert templating.used(text) == ["company_name"]
    assert templating.render(text, {"company_name": "Maple"}) == "Maple / Maple"


def test_segments_gsm7_and_ucs2():
    assert templating.sms_segments("a" * 160).segments == 1
    assert templating.sms_segments("a" * 161).segments == 2
    assert templating.sms_segments("€" * 80).units == 160  # extension table: two septets each
    assert templating.sms_segments("é" * 10).encoding == "GSM-7"
    ucs = templating.sms_segments("Merci ê" + "a" * 63)
    assert (ucs.encoding, ucs.segments) == ("UCS-2", 1)
    assert templating.sms_segments("ê" + "a" * 70).segments == 2
    assert templating.sms_segments("👍").units == 2
