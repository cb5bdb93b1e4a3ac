"""WSGI entry point for gunicorn (`gunicorn -c gunicorn.conf.py wsgi:app`): the app, configured from the environment."""

from permit_service import create_app

app = create_app()
