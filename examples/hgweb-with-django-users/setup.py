#!/usr/bin/python3
"""Makes what the example serves, in its data directory (./data, or $HGSITE_DATA):

  site.sqlite3    the Django site's database, made by Django's own migrations, with
                    admin / admin-pass   superuser, in group committers
                    ann   / ann-pass     in group committers
                    ben   / ben-pass     in no group (may clone, may not push)
  repos/demo      a Mercurial repository with one commit
  hgweb.config    hgweb's configuration: every repository under repos/, pushes allowed
                  (gatehouse decides who may push before hgweb sees the request)

Run with Debian's Python: /usr/bin/python3 examples/hgweb-with-django-users/setup.py
Running it again keeps what is there.
"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, 'site'))
os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'hgsite.settings')

import django  # noqa: E402

from hgsite.data import DATA  # noqa: E402

USERS = [
    # username, password, superuser, groups
    ('admin', 'admin-pass', True, ['committers']),
    ('ann', 'ann-pass', False, ['committers']),
    ('ben', 'ben-pass', False, []),
]

HGWEB_CONFIG = """\
[paths]
/ = {repos}/*

[web]
# gatehouse authenticates every request to hgweb and lets only the committers group send
# anything but GET/HEAD (a push), so hgweb takes a push from whoever reached it.
allow-push = *
# The front is plain HTTP on loopback in this example; behind listen.tls or a TLS proxy,
# remove this line (hgweb then sees wsgi.url_scheme https).
push_ssl = false
"""


def hg(*args, cwd=None):
    # HGRCPATH empty: the user's own ~/.hgrc (extensions, hooks) does not shape the repository.
    env = {**os.environ, 'HGPLAIN': '1', 'HGRCPATH': ''}
    subprocess.run(['hg', *args], cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)


def main():
    os.makedirs(os.path.join(DATA, 'repos'), exist_ok=True)
    django.setup()
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command

    call_command('migrate', verbosity=0, interactive=False)
    committers, _ = Group.objects.get_or_create(name='committers')
    for name, password, superuser, groups in USERS:
        if User.objects.filter(username=name).exists():
            continue
        make = User.objects.create_superuser if superuser else User.objects.create_user
        user = make(name, f'{name}@example.invalid', password)
        if 'committers' in groups:
            user.groups.add(committers)

    repo = os.path.join(DATA, 'repos', 'demo')
    if not os.path.isdir(os.path.join(repo, '.hg')):
        hg('init', repo)
        with open(os.path.join(repo, 'README'), 'w') as f:
            f.write('A repository served by hgweb behind gatehouse.\n')
        hg('add', 'README', cwd=repo)
        hg('commit', '-u', 'setup <setup@example.invalid>', '-m', 'initial commit', cwd=repo)

    with open(os.path.join(DATA, 'hgweb.config'), 'w') as f:
        f.write(HGWEB_CONFIG.format(repos=os.path.join(DATA, 'repos')))
    print(f'data in {DATA}: users admin, ann (committers), ben; repository demo')


if __name__ == '__main__':
    main()
