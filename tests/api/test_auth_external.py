"""RS256 tokens from an enterprise's own identity provider, configured by PEM public key or JWKS file."""

from __future__ import annotations

import json
import time

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from permit_service import create_app
from permit_service.config import Config, ConfigError
from tests.api.checks import assert_problem, bearer, counted, hand_made
from tests.conftest import TEST_JWT_SECRET

ISSUER = "https://sso.example-chem.cn/realms/plant"
ME = "/api/v1/auth/me"


@pytest.fixture(scope="module")
def idp_key() -> rsa.RSAPrivateKey:
    """The provider's signing key (made once: RSA key generation is slow)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def stranger_key() -> rsa.RSAPrivateKey:
    """A key the service has never been told about."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.fixture
def pem_file(idp_key, tmp_path):
    path = tmp_path / "idp-public.pem"
    path.write_bytes(_pem(idp_key))
    return path


@pytest.fixture
def jwks_file(idp_key, stranger_key, tmp_path):
    path = tmp_path / "jwks.json"
    ours = json.loads(pyjwt.algorithms.RSAAlgorithm.to_jwk(idp_key.public_key()))
    encryption = json.loads(pyjwt.algorithms.RSAAlgorithm.to_jwk(stranger_key.public_key()))
    path.write_text(
        json.dumps(
            {
                "keys": [
                    {**ours, "kid": "plant-2026", "use": "sig", "alg": "RS256"},
                    {**encryption, "kid": "enc", "use": "enc"},
                ]
            }
        )
    )
    return path


@pytest.fixture
def idp_mode() -> str:
    """How the provider's key is configured; tests parametrize it to cover both."""
    return "jwks"


@pytest.fixture
def config(database_url, idp_mode, pem_file, jwks_file) -> Config:
    """The app's configuration with the external provider switched on."""
    keys = {
        "pem": {"external_idp_public_key_file": str(pem_file)},
        "jwks": {"external_idp_jwks_file": str(jwks_file)},
    }
    return Config(
        env="test",
        database_url=database_url,
        jwt_secret_key=TEST_JWT_SECRET,
        external_idp_issuer=ISSUER,
        **keys[idp_mode],
    )


def idp_token(key, sub: str, *, kid: str | None = "plant-2026", **claims) -> str:
    """A token as the provider would issue it."""
    now = int(time.time())
    body = {"iss": ISSUER, "aud": "permit-service", "sub": sub, "iat": now, "exp": now + 300, **claims}
    body = {k: v for k, v in body.items() if v is not None}
    return pyjwt.encode(body, key, algorithm="RS256", headers={"kid": kid} if kid else None)


@pytest.mark.parametrize("idp_mode", ["pem", "jwks"])
def test_provider_token_signs_in_the_person_whose_username_is_sub(client, factory, idp_key, idp_mode):
    world = factory.world()
    person = world.people["guardian"]
    headers = bearer(idp_token(idp_key, person.username))
    me = client.get(ME, headers=headers)
    assert me.status_code == 200
    assert me.get_json()["id"] == str(person.id) and me.get_json()["roles"] == ["guardian"]
    assert client.get(f"/api/v1/enterprises/{world.enterprise.id}", headers=headers).status_code == 200
    assert_problem(client.get(f"/api/v1/enterprises/{world.other_enterprise.id}", headers=headers), 404)


@pytest.mark.parametrize("idp_mode", ["pem", "jwks"])
def test_provider_token_without_kid_uses_the_single_key(client, factory, idp_key, idp_mode):
    world = factory.world()
    assert (
        client.get(
            ME, headers=bearer(idp_token(idp_key, world.people["worker"].username, kid=None))
        ).status_code
        == 200
    )


def test_unknown_kid_is_refused(client, factory, idp_key, stranger_key):
    world = factory.world()
    username = world.people["worker"].username
    assert_problem(client.get(ME, headers=bearer(idp_token(idp_key, username, kid="rotated-away"))), 401)
    assert_problem(client.get(ME, headers=bearer(idp_token(stranger_key, username, kid="enc"))), 401)


@pytest.mark.parametrize("idp_mode", ["pem", "jwks"])
def test_token_signed_by_another_key_is_refused(client, factory, stranger_key, idp_mode):
    world = factory.world()
    assert_problem(
        client.get(ME, headers=bearer(idp_token(stranger_key, world.people["worker"].username))), 401
    )


@pytest.mark.parametrize("idp_mode", ["pem", "jwks"])
def test_hs256_token_signed_with_the_public_key_as_secret_is_refused(client, factory, idp_key, idp_mode):
    world = factory.world()
    now = int(time.time())
    claims = {"aud": "permit-service", "sub": world.people["worker"].username, "iat": now, "exp": now + 300}
    for issuer in (ISSUER, "permit-service"):
        forged = hand_made({"alg": "HS256", "typ": "JWT"}, {**claims, "iss": issuer}, hmac_key=_pem(idp_key))
        assert_problem(client.get(ME, headers=bearer(forged)), 401)


def test_rs256_token_claiming_to_be_ours_is_refused(client, factory, idp_key):
    world = factory.world()
    token = idp_token(idp_key, str(world.people["worker"].id), iss="permit-service", kind="person")
    assert_problem(client.get(ME, headers=bearer(token)), 401)


def test_provider_tokens_with_bad_claims_are_refused(client, factory, idp_key, db_session):
    world = factory.world()
    username = world.people["worker"].username
    inactive = factory.person("worker", enterprise=world.enterprise, active=False)
    for token in (
        idp_token(idp_key, username, exp=None),  # never expires
        idp_token(idp_key, username, exp=int(time.time()) + 365 * 86400),  # lives for a year
        idp_token(idp_key, username, exp=int(time.time()) - 10),  # expired
        idp_token(idp_key, username, aud="another-app"),
        idp_token(idp_key, "nobody-here"),
        idp_token(idp_key, inactive.username),
        idp_token(idp_key, username, type="refresh"),
    ):
        assert_problem(client.get(ME, headers=bearer(token)), 401)
    token = idp_token(idp_key, username, type="refresh")
    assert_problem(client.post("/api/v1/auth/refresh", headers=bearer(token)), 401)


def test_provider_token_cannot_sign_in_a_regulator_when_bound_to_its_enterprise(
    app, client, factory, idp_key
):
    world = factory.world()
    app.config["PERMIT_CONFIG"].external_idp_enterprise = world.enterprise.credit_code
    assert (
        client.get(ME, headers=bearer(idp_token(idp_key, world.people["worker"].username))).status_code == 200
    )
    for outsider in (world.other_people["worker"], world.regulator, world.city_regulator):
        assert_problem(client.get(ME, headers=bearer(idp_token(idp_key, outsider.username))), 401)


def test_logout_revokes_a_provider_token_without_jti(client, factory, idp_key):
    world = factory.world()
    token = idp_token(idp_key, world.people["worker"].username)
    assert client.post("/api/v1/auth/logout", headers=bearer(token)).status_code == 204
    assert_problem(client.get(ME, headers=bearer(token)), 401)
    other = idp_token(idp_key, world.people["worker"].username, jti="idp-session-2")
    assert client.get(ME, headers=bearer(other)).status_code == 200


# --- configuration the service refuses to start with -----------------------------------------------


def _config(database_url, **kw) -> Config:
    return Config(env="test", database_url=database_url, jwt_secret_key=TEST_JWT_SECRET, **kw)


def test_service_refuses_to_start_with_an_unusable_provider_configuration(database_url, tmp_path, pem_file):
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("hello")
    ec_pem = tmp_path / "ec.pem"
    ec_pem.write_bytes(
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    empty_jwks = tmp_path / "empty.json"
    empty_jwks.write_text('{"keys": []}')
    for settings in (
        {"external_idp_issuer": ISSUER},
        {"external_idp_issuer": "permit-service", "external_idp_public_key_file": str(pem_file)},
        {"external_idp_issuer": ISSUER, "external_idp_public_key_file": str(not_pem)},
        {"external_idp_issuer": ISSUER, "external_idp_public_key_file": str(ec_pem)},
        {"external_idp_issuer": ISSUER, "external_idp_public_key_file": str(tmp_path / "missing.pem")},
        {"external_idp_issuer": ISSUER, "external_idp_jwks_file": str(empty_jwks)},
        {"external_idp_issuer": ISSUER, "external_idp_jwks_file": str(not_pem)},
    ):
        with pytest.raises(ConfigError):
            create_app(_config(database_url, **settings))


def test_config_reads_the_provider_settings_from_the_environment(pem_file):
    cfg = Config.from_env(
        {
            "EXTERNAL_IDP_ISSUER": ISSUER,
            "EXTERNAL_IDP_PUBLIC_KEY_FILE": str(pem_file),
            "EXTERNAL_IDP_ENTERPRISE": "91371100MA3C000000",
        }
    )
    assert (cfg.external_idp_issuer, cfg.external_idp_enterprise) == (ISSUER, "91371100MA3C000000")


def test_provider_token_is_cached_like_ours_and_a_change_in_the_process_is_seen_at_once(
    app, client, factory, idp_key
):
    world = factory.world()
    person = world.people["worker"]
    headers = bearer(idp_token(idp_key, person.username))
    assert client.get(ME, headers=headers).status_code == 200
    with counted(app) as statements:
        assert client.get(ME, headers=headers).status_code == 200
    assert statements == []  # within AUTH_CACHE_SECONDS: neither the person nor the revocation is read
    person.active = False
    factory.session.commit()
    assert_problem(client.get(ME, headers=headers), 401)
    newcomer = bearer(idp_token(idp_key, "new.hire"))
    assert_problem(client.get(ME, headers=newcomer), 401)  # nobody has that username yet
    factory.person("worker", enterprise=world.enterprise, username="new.hire")
    assert client.get(ME, headers=newcomer).get_json()["roles"] == ["worker"]
