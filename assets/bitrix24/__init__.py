"""Bitrix24: client master data (leads, contacts, companies, deals), calls and e-mails, their summaries."""
