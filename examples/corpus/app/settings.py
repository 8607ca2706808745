"""Django-style settings (fake values)."""
import os

DEBUG = os.environ.get("DEBUG", "0") == "1"
ALLOWED_HOSTS = ["localhost", "127.0.0.1"]
SECRET_KEY = "django-insecure-EXAMPLE-not-a-real-secret"
STRIPE_API_KEY = os.environ.get("STRIPE_SECRET_KEY", "sk_live_EXAMPLE_not_a_real_key_142395")
GOOGLE_MAPS_KEY = "AIzaSy-EXAMPLE-not-a-real-key-606424"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}}
