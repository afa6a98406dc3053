"""Shared helpers for booking's tests: a real picture, and a valid request form post."""

from __future__ import annotations

import io

from PIL import Image


def picture(fmt: str = "JPEG", size=(64, 48), exif: bool = False) -> bytes:
    image = Image.new("RGB", size, (200, 80, 40))
    out = io.BytesIO()
    kwargs = {}
    if exif:
        data = Image.Exif()
        data[0x010F] = "SecretCam"  # Make
        data[0x8825] = {1: "N", 2: (43.0, 39.0, 0.0)}  # GPSInfo
        kwargs["exif"] = data.tobytes()
    image.save(out, format=fmt, **kwargs)
    return out.getvalue()


def valid_post(**overrides) -> dict:
    data = {
        "website": "",
        "name": "Sam Visitor",
        "phone": "(416) 555-0123",
        "email": "sam@example.com",
        "address": "12 Elm St, Toronto ON M4W 1A1",
        "service": "other",
        "description": "Furnace makes a noise",
        "first_date": "",
        "first_window": "",
        "second_date": "",
        "second_window": "",
    }
    data.update(overrides)
    return data
