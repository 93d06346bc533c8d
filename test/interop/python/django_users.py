#!/usr/bin/python3
"""Changes users of a Django SQLite database through Django's own ORM, as a Django site does.

Usage: django_users.py '<json>' with keys
  db:        path of the SQLite database (created by op "create")
  op:        "create"       migrate, then create each of `users` ({username, password, groups})
             "set_password" user.set_password(password); user.save()
             "deactivate"   user.is_active = False; user.save()
             "remove_group" user.groups.remove(Group named `group`)
  username, password, group: the op's arguments
Prints {"ok": true, "django": [version]} on success. Passwords are never printed.
"""
import json
import sys

import django
from django.conf import settings

args = json.loads(sys.argv[1])
settings.configure(
    INSTALLED_APPS=['django.contrib.contenttypes', 'django.contrib.auth'],
    DATABASES={'default': {'ENGINE': 'django.db.backends.sqlite3', 'NAME': args['db']}},
    DEFAULT_AUTO_FIELD='django.db.models.AutoField',
    USE_TZ=True,
)
django.setup()

from django.contrib.auth.models import Group, User  # noqa: E402
from django.core.management import call_command  # noqa: E402


def create():
    call_command('migrate', verbosity=0, interactive=False)
    for spec in args['users']:
        user = User.objects.create_user(spec['username'], password=spec['password'])
        for name in spec.get('groups', []):
            group, _ = Group.objects.get_or_create(name=name)
            user.groups.add(group)


def set_password():
    user = User.objects.get(username=args['username'])
    user.set_password(args['password'])
    user.save()


def deactivate():
    user = User.objects.get(username=args['username'])
    user.is_active = False
    user.save()


def remove_group():
    user = User.objects.get(username=args['username'])
    user.groups.remove(Group.objects.get(name=args['group']))


OPS = {'create': create, 'set_password': set_password, 'deactivate': deactivate, 'remove_group': remove_group}

OPS[args['op']]()
json.dump({'ok': True, 'django': list(django.VERSION)}, sys.stdout)
sys.stdout.write('\n')
