#!/usr/bin/python3
"""Python requests as an HTTP client of gatehouse, for the interop tests.

Usage: client.py '<json>' with keys
  urls:      list of URLs fetched in order on ONE requests.Session
  auth:      "basic" | "digest" | "none"
  user, password: credentials (str)
  utf8:      when true, user and password are passed as UTF-8 bytes (requests encodes str
             credentials as latin-1 for Basic)
  timeout:   seconds per request (default 10)
Prints one JSON object: {"requests": version, "results": [...]}, one result per URL with the
final status, the statuses of the responses requests followed to get there (its 401s), the
upstream's JSON echo when there is one, and the Digest parameters requests sent (never the
password; Basic credentials are not echoed at all).
"""
import json
import re
import sys

import requests
from requests.auth import HTTPBasicAuth, HTTPDigestAuth

DIGEST_PARAM = re.compile(r'(\w+)=(?:"([^"]*)"|([^\s,]+))')


def digest_params(header):
    if not header or not header.startswith('Digest '):
        return None
    params = {m.group(1): m.group(2) if m.group(2) is not None else m.group(3) for m in DIGEST_PARAM.finditer(header)}
    return {k: params.get(k) for k in ('username', 'realm', 'algorithm', 'nc', 'nonce', 'qop', 'uri')}


def main():
    args = json.loads(sys.argv[1])
    user, password = args.get('user', ''), args.get('password', '')
    if args.get('utf8'):
        user, password = user.encode('utf-8'), password.encode('utf-8')
    session = requests.Session()
    session.trust_env = False  # loopback only: ignore any proxy the environment names
    kind = args.get('auth', 'none')
    if kind == 'basic':
        session.auth = HTTPBasicAuth(user, password)
    elif kind == 'digest':
        session.auth = HTTPDigestAuth(user, password)
    results = []
    for url in args['urls']:
        r = session.get(url, timeout=args.get('timeout', 10), allow_redirects=False)
        try:
            seen = r.json()
        except ValueError:
            seen = None
        sent = r.request.headers.get('Authorization')
        results.append({
            'status': r.status_code,
            'history': [h.status_code for h in r.history],
            'seen': seen,
            'sentScheme': sent.split(' ', 1)[0] if sent else None,
            'sentDigest': digest_params(sent),
            'authenticationInfo': r.headers.get('Authentication-Info'),
            'wwwAuthenticate': r.headers.get('WWW-Authenticate'),
        })
    session.close()
    json.dump({'requests': requests.__version__, 'results': results}, sys.stdout)


if __name__ == '__main__':
    main()
