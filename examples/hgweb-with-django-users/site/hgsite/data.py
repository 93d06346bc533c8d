"""Where the example keeps what it makes: the Django database, hgweb.config and the
repositories. HGSITE_DATA overrides it (the tests point it at a temporary directory)."""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.abspath(os.environ.get('HGSITE_DATA') or os.path.join(HERE, '..', '..', 'data'))
