"""The admin REST API: a FastAPI sub-application mounted at `/api/admin/v1` (docs/admin-api.md).

Every endpoint calls the same directory/audit/events service function as the CLI command it
mirrors, acting as the staff account of the presented API key: no rule lives in a view.
"""
