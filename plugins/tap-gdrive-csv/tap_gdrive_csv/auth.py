"""Access tokens for the Drive API: a given OAuth token, or one minted from a service account.

The service-account flow is Google's OAuth 2.0 JWT bearer grant: sign a JWT (RS256, ``kid`` =
the key's ``private_key_id``) whose ``iss`` is the account's e-mail, ``scope`` the Drive
read-only scope and ``aud`` the key's ``token_uri``, then POST it to ``token_uri`` as
``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer``. Tokens are kept in memory only and
never logged; the private key never leaves this process.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from tap_gdrive_csv.exceptions import AuthError
from tap_gdrive_csv.transport import Transport, error_reason, json_body

DRIVE_READONLY_SCOPE = "https://www.googleapis.com/auth/drive.readonly"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_LIFETIME_SECONDS = 3600
REFRESH_MARGIN_SECONDS = 60


class TokenProvider(Protocol):
    """Hands out bearer tokens."""

    def token(self) -> str:
        """Return a token valid for the next request."""
        ...

    def refresh(self) -> bool:
        """Drop the current token; return whether a new one can be obtained."""
        ...

    def describe(self) -> str:
        """Name the identity for error messages (never the secret)."""
        ...


class StaticToken:
    """A token given in the settings; it cannot be renewed."""

    def __init__(self, token: str) -> None:
        self._token = token

    def token(self) -> str:
        """Return the configured token."""
        return self._token

    def refresh(self) -> bool:
        """A given token cannot be renewed."""
        return False

    def describe(self) -> str:
        """Name the credential for error messages."""
        return "the OAuth token in TAP_GDRIVE_CSV_OAUTH_TOKEN"


class ServiceAccountTokens:
    """Mints and caches access tokens from a service account key."""

    def __init__(
        self,
        key: dict[str, Any],
        transport: Transport,
        *,
        subject: str | None = None,
        scope: str = DRIVE_READONLY_SCOPE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.email = str(key["client_email"])
        self.token_uri = str(key["token_uri"])
        self._key_id = key.get("private_key_id")
        self._private_key = _load_key(str(key["private_key"]), self.email)
        self._transport = transport
        self._subject = subject
        self._scope = scope
        self._clock = clock
        self._token: str | None = None
        self._expires_at = 0.0

    def describe(self) -> str:
        """Name the service account (and the impersonated user) for error messages."""
        who = f"service account {self.email}"
        return f"{who} acting as {self._subject}" if self._subject else who

    def token(self) -> str:
        """Return a cached token, minting a new one shortly before it expires."""
        if self._token is None or self._clock() >= self._expires_at - REFRESH_MARGIN_SECONDS:
            self._mint()
        assert self._token is not None
        return self._token

    def refresh(self) -> bool:
        """Forget the cached token so the next call mints a new one."""
        self._token = None
        return True

    def assertion(self) -> str:
        """Return a freshly signed JWT for the token endpoint."""
        now = int(self._clock())
        claims: dict[str, Any] = {
            "iss": self.email,
            "scope": self._scope,
            "aud": self.token_uri,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME_SECONDS,
        }
        if self._subject:
            claims["sub"] = self._subject
        headers = {"kid": self._key_id} if self._key_id else None
        return jwt.encode(claims, self._private_key, algorithm="RS256", headers=headers)

    def _mint(self) -> None:
        issued_at = self._clock()
        response = self._transport.request(
            "POST",
            self.token_uri,
            what=f"an access token for {self.email}",
            data={"grant_type": JWT_BEARER_GRANT, "assertion": self.assertion()},
        )
        if response.status_code != 200:
            reason, message = error_reason(response)
            msg = (
                f"the token endpoint {self.token_uri} refused {self.describe()} "
                f"(HTTP {response.status_code} {reason}: {message}); check that the key in "
                "TAP_GDRIVE_CSV_SERVICE_ACCOUNT_KEY is current (not deleted or disabled) and, "
                "with service_account_subject, that domain-wide delegation grants the "
                f"{DRIVE_READONLY_SCOPE} scope"
            )
            raise AuthError(msg)
        body = json_body(response)
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            msg = f"the token endpoint {self.token_uri} answered without an access_token"
            raise AuthError(msg)
        self._token = token
        self._expires_at = issued_at + float(body.get("expires_in", 3600))


def _load_key(pem: str, email: str) -> RSAPrivateKey:
    try:
        key = load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        msg = (
            f"the private_key of service account {email} is not a readable PEM key: create a "
            "new JSON key for the service account and put its content in "
            "TAP_GDRIVE_CSV_SERVICE_ACCOUNT_KEY"
        )
        raise AuthError(msg) from exc
    if not isinstance(key, RSAPrivateKey):
        msg = f"the private_key of service account {email} is not an RSA key (RS256 needs one)"
        raise AuthError(msg)
    return key
