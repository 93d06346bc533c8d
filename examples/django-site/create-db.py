#!/usr/bin/python3
"""Create the database of a small but real Django site, with Django itself.

Usage: /usr/bin/python3 examples/django-site/create-db.py [DB_PATH]   (default: ./db.sqlite3 here)

Runs Django's migrations for a site with the admin, auth, sessions and messages apps and
Django's default PASSWORD_HASHERS, then creates through Django's own API (create_superuser,
create_user, Group, user.groups) the users that the README logs in with:

  admin / admin-pass    superuser, group staff
  ann   / ann-pass      group staff
  ben   / ben-pass      no group
  carl  / carl-pass     is_active = False (gatehouse treats him as unknown, like Django)
  dora  (unusable)      set_unusable_password(): can never log in with a password

Needs Debian's python3-django (apt install python3-django), run with /usr/bin/python3.
"""
import os
import sys

import django
from django.conf import settings

HERE = os.path.dirname(os.path.abspath(__file__))
DB_PATH = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, 'db.sqlite3'))

settings.configure(
    DEBUG=False,
    SECRET_KEY='example-only-not-secret',
    INSTALLED_APPS=[
        'django.contrib.admin',
        'django.contrib.auth',
        'django.contrib.contenttypes',
        'django.contrib.sessions',
        'django.contrib.messages',
    ],
    DATABASES={'default': {'ENGINE': 'django.db.backends.sqlite3', 'NAME': DB_PATH}},
    DEFAULT_AUTO_FIELD='django.db.models.AutoField',
    USE_TZ=True,
)
django.setup()

from django.contrib.auth.models import Group, User  # noqa: E402
from django.core.management import call_command  # noqa: E402

USERS = [
    # username, password, groups, active
    ('ann', 'ann-pass', ['staff'], True),
    ('ben', 'ben-pass', [], True),
    ('carl', 'carl-pass', ['staff'], False),
    ('dora', None, ['staff'], True),
]


def main():
    if os.path.exists(DB_PATH):
        sys.exit(f'{DB_PATH} exists; remove it first')
    call_command('migrate', verbosity=0, interactive=False)
    staff = Group.objects.create(name='staff')
    admin = User.objects.create_superuser('admin', 'admin@example.com', 'admin-pass')
    admin.groups.add(staff)
    for username, password, groups, active in USERS:
        user = User.objects.create_user(username, f'{username}@example.com', password)
        if password is None:
            user.set_unusable_password()
        user.is_active = active
        user.save()
        for name in groups:
            user.groups.add(Group.objects.get(name=name))
    print(f'created {DB_PATH} with Django {django.get_version()}: '
          f'{User.objects.count()} users, {Group.objects.count()} group(s)')


if __name__ == '__main__':
    main()
