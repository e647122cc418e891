"""The Telegram relay (python-telegram-bot): `relay.py` and its parts. Nothing is imported
here, so reading the platform's traits does not load the SDK."""
