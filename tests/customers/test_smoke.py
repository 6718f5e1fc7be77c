def test_it_renders_the_board(client, clerk, order):
    from tests.conftest import login

    login(client, clerk)
    response = client.get("/board/")
    assert response.status_code == 200
    assert "カナリアの本Tt42" in response.content.decode()
