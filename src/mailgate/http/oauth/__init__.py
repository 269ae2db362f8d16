"""The built-in OAuth 2.0 authorization server and OpenID Connect provider, on the HTTP
listener: discovery and JWKS, authorization code + PKCE, device authorization (RFC 8628),
refresh-token rotation, revocation (RFC 7009), introspection (RFC 7662) and userinfo. Its
access tokens are the mail doors' JWTs (`auth.tokens`); see docs/modern-auth.md."""
