"""`dfd serve`: the trained detector behind a REST API (FastAPI + uvicorn)."""
