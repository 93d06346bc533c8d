#!/usr/bin/python3
"""Changes the users of the Django site's PostgreSQL database through Django's own ORM, with the
site's own settings (DJANGO_SETTINGS_MODULE and the GATEHOUSE_DJANGO_PG_* variables in the
environment, the site's directory on PYTHONPATH).

Usage: django_postgres_users.py '<json>' with keys
  op:        "create"       migrate, then create each of `users`
                            ({username, password, groups?, active?})
             "set_password" user.set_password(password); user.save()
  username, password: the op's arguments
Prints {"ok": true, "django": [version], "vendor": "postgresql"} on success. Passwords are never
printed.
"""
import json
import sys

import django

django.setup()

from django.contrib.auth.models import Group, User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

args = json.loads(sys.argv[1])


def create():
    call_command('migrate', verbosity=0, interactive=False)
    for spec in args['users']:
        user = User.objects.create_user(spec['username'], password=spec['password'])
        user.is_active = spec.get('active', True)
        user.save()
        for name in spec.get('groups', []):
            group, _ = Group.objects.get_or_create(name=name)
            user.groups.add(group)


def set_password():
    user = User.objects.get(username=args['username'])
    user.set_password(args['password'])
    user.save()


OPS = {'create': create, 'set_password': set_password}

OPS[args['op']]()
json.dump({'ok': True, 'django': list(django.VERSION), 'vendor': connection.vendor}, sys.stdout)
sys.stdout.write('\n')
