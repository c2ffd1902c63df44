"""Staff accounts: passwords, sign-in sessions, roles."""
