"""invoice-import: bulk-import invoices from spreadsheets into ONLYOFFICE CRM, exactly once."""

__version__ = "0.1.0"
