"""The site's wsgi.py, with Django's mod_wsgi auth handler imported into it, as Django's
"Authenticating against Django's user database from Apache" shows for WSGIAuthUserScript and
WSGIAuthGroupScript. gatehouse runs it as the `site` group's application and its provider."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'hgsite.settings')

application = get_wsgi_application()

from django.contrib.auth.handlers.modwsgi import check_password, groups_for_user  # noqa: E402,F401
