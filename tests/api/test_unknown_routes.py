"""A route Parsnip does not serve answers as Parse Server 9.10 does (its Express app's 404): an
HTML page naming the method (after the JS SDK's `_method`) and the path as sent, mount path
included and query string left out; a request without the application id is refused first.
Each expected page was read from the reference Parse Server."""

from __future__ import annotations

import httpx
import pytest

PAGE = ('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>Error</title>\n'
        '</head>\n<body>\n<pre>{}</pre>\n</body>\n</html>\n')

CASES = [
    # (id, method, path, JSON body or None, what the page says)
    ("unknown-path", "GET", "/nothing", None, "Cannot GET /parse/nothing"),
    ("post-classes-without-class", "POST", "/classes", {}, "Cannot POST /parse/classes"),
    ("get-classes-slash", "GET", "/classes/", None, "Cannot GET /parse/classes/"),
    ("put-without-object-id", "PUT", "/classes/Foo", {"a": 1}, "Cannot PUT /parse/classes/Foo"),
    ("delete-without-object-id", "DELETE", "/classes/Foo", None, "Cannot DELETE /parse/classes/Foo"),
    ("post-with-object-id", "POST", "/classes/Foo/abc", {}, "Cannot POST /parse/classes/Foo/abc"),
    ("too-deep", "GET", "/classes/A/b/c", None, "Cannot GET /parse/classes/A/b/c"),
    ("patch", "PATCH", "/classes/Foo", {}, "Cannot PATCH /parse/classes/Foo"),
    ("sdk-method-patch", "POST", "/classes/Foo", {"_method": "PATCH"}, "Cannot PATCH /parse/classes/Foo"),
    ("post-server-info", "POST", "/serverInfo", {}, "Cannot POST /parse/serverInfo"),
    ("query-string-left-out", "GET", "/nothing?a=1&b=2", None, "Cannot GET /parse/nothing"),
    ("path-as-sent", "GET", "/no%20thing", None, "Cannot GET /parse/no%20thing"),
]


@pytest.mark.parametrize("method,path,body,says", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_an_unknown_route_is_parse_servers_404_page(parsnip_server, method, path, body, says):
    headers = {"X-Parse-Application-Id": parsnip_server.app_id}
    r = httpx.request(method, parsnip_server.url + path, headers=headers, json=body, timeout=30)
    assert r.status_code == 404
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-security-policy"] == "default-src 'none'"
    assert r.headers["access-control-allow-origin"] == "*"
    assert r.text == PAGE.format(says)


def test_the_sdk_body_form_names_the_method_it_carries(parsnip_server):
    r = httpx.post(parsnip_server.url + "/classes/Foo", content=b'{"_method":"PUT","_ApplicationId":"%s"}'
                   % parsnip_server.app_id.encode(), headers={"Content-Type": "text/plain"}, timeout=30)
    assert (r.status_code, r.text) == (404, PAGE.format("Cannot PUT /parse/classes/Foo"))


def test_head_of_an_unknown_route_is_404_without_a_body(parsnip_server):
    r = httpx.head(parsnip_server.url + "/nothing", headers={"X-Parse-Application-Id": parsnip_server.app_id},
                   timeout=30)
    assert r.status_code == 404 and r.headers["content-type"] == "text/html; charset=utf-8"


def test_without_the_application_id_the_key_check_answers_first(parsnip_server):
    r = httpx.get(parsnip_server.url + "/nothing", timeout=30)
    assert (r.status_code, r.json()) == (403, {"error": "unauthorized"})
