"""The directory: accounts and their lifecycle, departments, plans, roles and cases."""
