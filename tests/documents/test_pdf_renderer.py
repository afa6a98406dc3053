"""What a warm PDF render keeps between documents (documents.pdf): one WeasyPrint font
configuration per thread, and the cyclic garbage collector paused only for the render."""

from __future__ import annotations

import gc
import threading

import pytest

from documents import pdf

HTML = '<html lang="en"><body><p>Invoice <strong>$12.00</strong></p></body></html>'


def test_a_thread_keeps_its_font_configuration_and_another_thread_gets_its_own():
    first = pdf._font_config()
    assert pdf._html_to_pdf(HTML).startswith(b"%PDF-")
    assert pdf._font_config() is first

    seen = []
    thread = threading.Thread(target=lambda: seen.append(pdf._font_config()))
    thread.start()
    thread.join()

    assert seen and seen[0] is not first


def test_the_collector_is_off_during_a_render_and_back_on_after(monkeypatch):
    states = []
    real = pdf._font_config

    def spy():
        states.append(gc.isenabled())
        return real()

    monkeypatch.setattr(pdf, "_font_config", spy)
    assert gc.isenabled()

    assert pdf._html_to_pdf(HTML).startswith(b"%PDF-")

    assert states == [False]
    assert gc.isenabled()


def test_the_collector_comes_back_after_a_failed_render_and_stays_off_if_it_was_off(monkeypatch):
    def broken():
        raise RuntimeError("fonts gone")

    monkeypatch.setattr(pdf, "_font_config", broken)
    with pytest.raises(RuntimeError):
        pdf._html_to_pdf(HTML)
    assert gc.isenabled()

    gc.disable()
    try:
        with pdf._gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_overlapping_pauses_turn_the_collector_back_on_only_at_the_last_end():
    with pdf._gc_paused():
        with pdf._gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_the_fetcher_never_loads_the_systems_certificates():
    context = pdf._refusing_ssl_context()

    assert pdf._refusing_ssl_context() is context
    assert context.cert_store_stats()["x509_ca"] == 0
