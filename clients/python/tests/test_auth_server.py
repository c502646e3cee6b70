"""Access control against a real server started with API keys and a token secret
(from the environment, the way a Kubernetes Secret would set them)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time

import httpx
import pytest

from needle import (
    NO_RETRIES,
    AsyncNeedle,
    AuthenticationError,
    Needle,
    PermissionDeniedError,
)

from .conftest import _binary, _free_port

ADMIN = "py-admin-key-0123456789abcdef"
SEARCH = "py-search-key-0123456789abcdef"
INGEST = "py-ingest-key-0123456789abcdef"


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory):
    data = tmp_path_factory.mktemp("needle-keyed") / "data"
    log_path = data.parent / "keyed.log"
    env = dict(os.environ)
    env["NEEDLE_AUTH__KEYS"] = (
        f'[{{name="ops", key="{ADMIN}", scopes=["admin"]}},'
        f' {{name="app", key="{SEARCH}", scopes=["search"]}},'
        f' {{name="pipe", key="{INGEST}", scopes=["ingest"]}}]'
    )
    env["NEEDLE_AUTH__TOKEN_SECRET"] = "py-token-secret-0123456789-0123456789"
    for _ in range(3):
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [str(_binary()), "serve", "--data-dir", str(data), "--http-addr", f"127.0.0.1:{port}"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(f"{url}/health/ready", timeout=1.0).status_code == 200:
                    yield url
                    proc.terminate()
                    proc.wait(timeout=15)
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    pytest.fail(f"keyed needle did not become ready; log:\n{log_path.read_text(errors='replace')[-4000:]}")


def test_without_a_key_is_refused(keyed):
    with Needle(keyed, retry=NO_RETRIES) as c:
        assert c.live().status == "ok"  # probes stay open
        with pytest.raises(AuthenticationError) as e:
            c.stats()
    assert e.value.code == "missing_api_key" and e.value.status == 401
    with Needle(keyed, api_key="wrong-key-0123456789abcdef", retry=NO_RETRIES) as c:
        with pytest.raises(AuthenticationError) as e:
            c.stats()
    assert e.value.code == "invalid_api_key"


def test_scopes(keyed, uid):
    with Needle(keyed, api_key=ADMIN) as admin:
        assert admin.write([{"id": f"{uid}-t", "type": "track", "name": uid}]).accepted == 1
    with Needle(keyed, api_key=SEARCH) as app:
        assert app.stats().entities >= 1
        with pytest.raises(PermissionDeniedError) as e:
            app.write([{"id": f"{uid}-t2", "type": "track", "name": uid}])
        assert e.value.code == "forbidden_scope" and "`admin`" in e.value.message
        with pytest.raises(PermissionDeniedError):
            app.send_events([{"user_id": uid, "type": "play", "item_id": f"{uid}-t", "ts": 1}])
    with Needle(keyed, api_key=INGEST) as pipe:
        assert pipe.send_events([{"user_id": uid, "type": "play", "item_id": f"{uid}-t", "ts": 1}]).accepted == 1
        with pytest.raises(PermissionDeniedError):
            pipe.stats()


def test_listener_token(keyed, uid):
    with Needle(keyed, api_key=INGEST) as pipe:
        pipe.send_events([{"user_id": uid, "type": "play", "item_id": "x", "ts": 1}])
    with Needle(keyed, api_key=ADMIN) as admin:
        token = admin.create_token(uid, ttl_s=300)
    assert token.token.startswith("ndt1.") and token.expires_at.endswith("Z")
    with Needle(keyed, api_key=token.token) as app:
        assert app.history(uid).events
        with pytest.raises(PermissionDeniedError) as e:
            app.history(uid + "x")
        assert e.value.code == "forbidden_listener"
        with pytest.raises(PermissionDeniedError) as e:
            app.search("anything")
        assert e.value.code == "forbidden_scope"


def test_async_client_sends_the_key(keyed):
    async def main():
        async with AsyncNeedle(keyed, api_key=SEARCH) as c:
            assert (await c.stats()).entities >= 0
        async with AsyncNeedle(keyed, api_key=ADMIN) as c:
            assert (await c.create_token("someone", ttl_s=60)).token

    asyncio.run(main())
