from tests.auth.conftest import login, sign_up


def test_login_flow(client):
    u = sign_up(client)
    t = login(client, u["email"])
    r = client.post("/v1/token/refresh", json={"refresh_token": t["refresh_token"]})
    assert r.status_code == 200, r.text
    assert client.get("/ready").status_code == 200
