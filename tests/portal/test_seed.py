"""seed_demo prints working portal links (``portal: <url>``) and replaces them on every run."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from django.test import Client

from portal.models import LinkChannel, PortalLink

pytestmark = pytest.mark.django_db


def _path(line: str) -> str:
    return "/" + line.split("://", 1)[1].split("/", 1)[1]


def _portal_lines(capsys) -> list[str]:
    return [line for line in capsys.readouterr().out.splitlines() if line.startswith("portal:")]


def test_seed_demo_prints_links_to_an_estimate_and_an_invoice(capsys):
    call_command("seed_demo", allow_production=True)  # tests run with DEBUG off
    lines = _portal_lines(capsys)
    assert len(lines) == 2
    kinds = []
    for line in lines:
        path = re.fullmatch(r"portal: https?://[^/]+(/p/[A-Za-z0-9_-]{43}/)", line).group(1)
        response = Client().get(path, follow=True)
        assert response.status_code == 200
        kinds.append(response.redirect_chain[-1][0].split("/")[3])
    assert sorted(kinds) == ["estimates", "invoices"]
    estimate_page = Client().get(_path(lines[0]), follow=True)
    assert b'name="signer_name"' in estimate_page.content  # the demo estimate can be signed

    call_command("seed_demo", allow_production=True)  # tests run with DEBUG off
    again = _portal_lines(capsys)
    assert len(again) == 2 and set(again).isdisjoint(lines)
    demo = PortalLink.objects.filter(channel=LinkChannel.DEMO)
    assert demo.count() == 4 and demo.filter(revoked_at=None).count() == 2
    for line in lines:  # the old links stop working
        assert Client().get(_path(line)).status_code == 404
