"""The FAQ knowledge base: files admins edit, validated, indexed and answered live."""
