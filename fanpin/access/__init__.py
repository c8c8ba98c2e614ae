"""Who may do what: roles and permissions (``Principal``, ``can``/``require``), masking of personal data, user accounts and the audit log."""
