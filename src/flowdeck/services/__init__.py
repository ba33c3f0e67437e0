"""The domain services: what Flowdeck does, for anyone who asks (the API, the pages).

One module a domain (catalog, workflows, executions, triggers, webhooks, secrets,
users): plain async functions taking a connection, the acting user and typed
arguments, returning rows or typed results and raising the domain errors of
`flowdeck.services.errors`. Every rule, ownership and permission check lives here;
nothing here knows of HTTP (no fastapi, starlette, api or web).
"""
