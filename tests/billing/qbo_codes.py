"""Django-free QuickBooks test data (also used by scripts/fake-quickbooks): a token key and
the tax codes of every province for a fake company."""

from __future__ import annotations

from decimal import Decimal

from cryptography.fernet import Fernet

from tests.fakes.quickbooks_server import CLIENT_ID, CLIENT_SECRET, QuickBooksFake

TOKEN_KEY = Fernet.generate_key().decode()

# Extra codes a Canadian QuickBooks company has, beyond the fake's seeded GST/HST ON/Exempt.
EXTRA_CODES = {
    "HST NB": [("HST NB", "15")],
    "HST NL": [("HST NL", "15")],
    "HST PE": [("HST PE", "15")],
    "HST NS": [("HST NS", "14")],
    "GST/PST BC": [("GST", None), ("PST BC", "7")],
    "PST BC": [("PST BC", None)],
    "GST/RST MB": [("GST", None), ("RST MB", "7")],
    "RST MB": [("RST MB", None)],
    "GST/QST QC": [("GST", None), ("QST QC", "9.975")],
    "QST QC": [("QST QC", None)],
    "GST/PST SK": [("GST", None), ("PST SK", "6")],
    "PST SK": [("PST SK", None)],
}


def add_canadian_codes(fake: QuickBooksFake, realm: str) -> None:
    """Give the fake company the tax codes of every province (as a real Canadian file has)."""
    company = fake.companies[realm]
    with fake.lock:
        rate_ids: dict[str, str] = {row["Name"]: row["Id"] for row in company.all("TaxRate")}
        for name, parts in EXTRA_CODES.items():
            details = []
            for rate_name, value in parts:
                if rate_name not in rate_ids:
                    assert value is not None
                    rate = company.insert(
                        "TaxRate", {"Name": rate_name, "RateValue": Decimal(value), "Active": True}
                    )
                    rate_ids[rate_name] = rate["Id"]
                details.append(
                    {
                        "TaxRateRef": {"value": rate_ids[rate_name], "name": rate_name},
                        "TaxTypeApplicable": "TaxOnAmount",
                        "TaxOrder": 0,
                    }
                )
            company.insert(
                "TaxCode",
                {
                    "Name": name,
                    "Description": name,
                    "Active": True,
                    "Taxable": True,
                    "TaxGroup": True,
                    "SalesTaxRateList": {"TaxRateDetail": details},
                    "PurchaseTaxRateList": {"TaxRateDetail": []},
                },
            )


def quickbooks_env(fake: QuickBooksFake) -> dict[str, str]:
    """Environment variables that aim a separate process (a Celery worker) at the fake."""
    return {
        "QUICKBOOKS_CLIENT_ID": CLIENT_ID,
        "QUICKBOOKS_CLIENT_SECRET": CLIENT_SECRET,
        "QUICKBOOKS_DISCOVERY_URL": fake.discovery_url,
        "QUICKBOOKS_API_BASE": fake.api_url_v3,
        "QUICKBOOKS_TOKEN_KEYS": TOKEN_KEY,
        "OAUTHLIB_INSECURE_TRANSPORT": "1",
    }
