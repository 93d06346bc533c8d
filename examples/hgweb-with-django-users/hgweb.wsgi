"""Mercurial's hgweb serving every repository under the data directory's repos/ (the file
Mercurial ships as contrib/hgweb.wsgi, with the config path filled in). hgweb trusts the
front: gatehouse authenticates every request and lets only `committers` send writes."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, 'site'))

from hgsite.data import DATA  # noqa: E402
from mercurial import demandimport  # noqa: E402

demandimport.enable()

from mercurial.hgweb import hgweb  # noqa: E402

application = hgweb(os.path.join(DATA, 'hgweb.config').encode())
