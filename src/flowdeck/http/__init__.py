"""Request plumbing the REST API and the pages share: the bounded route class, the
client's origin, the browser session and its CSRF token, and the HTTP-level error.

Below `api` and `web` (which never import each other), above the services.
"""
