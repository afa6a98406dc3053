"""QuickBooks Online: connect a company (OAuth 2), push customers, invoices and payments,
pull payments recorded in QuickBooks back. See README "QuickBooks"."""
