"""The Django site whose users protect the Mercurial repositories: the admin (for adding users
and putting them in the `committers` group) on a SQLite database in the data directory."""
import os

from hgsite.data import DATA

# Example only: a real site reads its secret from the environment or a file.
SECRET_KEY = os.environ.get('HGSITE_SECRET_KEY', 'example-only-not-secret')
DEBUG = False
ALLOWED_HOSTS = ['127.0.0.1', 'localhost']
INSTALLED_APPS = [
    'django.contrib.admin',
    'django.contrib.auth',
    'django.contrib.contenttypes',
    'django.contrib.sessions',
    'django.contrib.messages',
]
MIDDLEWARE = [
    'django.contrib.sessions.middleware.SessionMiddleware',
    'django.middleware.common.CommonMiddleware',
    'django.middleware.csrf.CsrfViewMiddleware',
    'django.contrib.auth.middleware.AuthenticationMiddleware',
    'django.contrib.messages.middleware.MessageMiddleware',
]
ROOT_URLCONF = 'hgsite.urls'
TEMPLATES = [{
    'BACKEND': 'django.template.backends.django.DjangoTemplates',
    'APP_DIRS': True,
    'OPTIONS': {'context_processors': [
        'django.template.context_processors.request',
        'django.contrib.auth.context_processors.auth',
        'django.contrib.messages.context_processors.messages',
    ]},
}]
DATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3', 'NAME': os.path.join(DATA, 'site.sqlite3')}}
DEFAULT_AUTO_FIELD = 'django.db.models.AutoField'
USE_TZ = True
STATIC_URL = '/static/'
