"""Real servers on localhost for the outside services Shiori talks to: a minimal SMTP server
(what a shop's mail relay says, enough for Django's smtp backend) and an HTTP server that
answers like openBD or NDL Search. Each runs in a thread and is stopped by the test."""

import socket
import socketserver
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


def free_port() -> int:
    """A local port nothing listens on (a mail server that is down)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _SMTPHandler(socketserver.StreamRequestHandler):
    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self):
        self.reply("220 fake.local ESMTP")
        envelope = {"from": None, "to": []}
        while True:
            line = self.rfile.readline()
            if not line:
                return
            verb = line.decode("ascii", "replace").strip().split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250 fake.local")
            elif verb == "MAIL":
                envelope = {"from": line.decode().strip(), "to": []}
                self.reply("250 OK")
            elif verb == "RCPT":
                envelope["to"].append(line.decode().split(":", 1)[1].strip().strip("<>"))
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                data = []
                while True:
                    part = self.rfile.readline()
                    if not part or part in (b".\r\n", b".\n"):
                        break
                    data.append(part)
                self.server.messages.append({**envelope, "data": b"".join(data)})
                self.reply("250 OK queued")
            elif verb == "QUIT":
                self.reply("221 Bye")
                return
            else:
                self.reply("250 OK")


class FakeSMTP(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int = 0):
        super().__init__(("127.0.0.1", port), _SMTPHandler)
        self.messages = []
        self.port = self.server_address[1]
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.shutdown()
        self.server_close()


# Shapes recorded from the real services (openBD v1 /get, NDL Search OpenSearch RSS).
OPENBD_BOOK = {
    "9784101001340": {
        "summary": {
            "isbn": "9784101001340",
            "title": "人間失格",
            "volume": "",
            "series": "新潮文庫",
            "publisher": "新潮社",
            "pubdate": "1952-10",
            "cover": "",
            "author": "太宰治／著",
        },
        "onix": {"RecordReference": "9784101001340"},
    }
}
NDL_BOOKS = {
    "9784003101018": (
        "坊っちゃん",
        "夏目漱石 著",
        "岩波書店",
    )
}


def ndl_rss(isbn13: str) -> bytes:
    items = ""
    if isbn13 in NDL_BOOKS:
        title, author, publisher = NDL_BOOKS[isbn13]
        items = f"""<item>
<title>{title}</title>
<link>https://ndlsearch.ndl.go.jp/books/R100000002-I000000000000</link>
<author>{author}</author>
<category>図書</category>
<dc:title>{title}</dc:title>
<dcndl:titleTranscription>ボッチャン</dcndl:titleTranscription>
<dc:creator>夏目, 漱石, 1867-1916</dc:creator>
<dc:publisher>{publisher}</dc:publisher>
<dc:identifier xsi:type="dcndl:ISBN">{isbn13}</dc:identifier>
</item>"""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcndl="http://ndl.go.jp/dcndl/terms/"
 xmlns:openSearch="http://a9.com/-/spec/opensearchrss/1.0/"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" version="2.0">
<channel>
<title>ISBN {isbn13} - 国立国会図書館サーチ OpenSearch</title>
<openSearch:totalResults>{1 if items else 0}</openSearch:totalResults>
{items}
</channel>
</rss>""".encode()


class _BookHandler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        parts = urlsplit(self.path)
        self.server.requests.append(
            {"path": parts.path, "query": parse_qs(parts.query), "headers": dict(self.headers)}
        )
        if self.server.delay:
            import time

            time.sleep(self.server.delay)
        isbn13 = parse_qs(parts.query).get("isbn", [""])[0]
        if parts.path.endswith("/openbd"):
            import json

            body = json.dumps([OPENBD_BOOK.get(isbn13)], ensure_ascii=False).encode()
            kind = "application/json; charset=utf-8"
        elif parts.path.endswith("/ndl"):
            body, kind = ndl_rss(isbn13), "application/rss+xml; charset=utf-8"
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class FakeBookServices(ThreadingHTTPServer):
    """openBD at /openbd, NDL Search at /ndl. ``delay`` seconds before each answer."""

    daemon_threads = True

    def __init__(self, delay: float = 0):
        super().__init__(("127.0.0.1", 0), _BookHandler)
        self.requests = []
        self.delay = delay
        self.base = f"http://127.0.0.1:{self.server_address[1]}"
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    def point(self, settings) -> None:
        settings.BOOKSHOP_ISBN_LOOKUP = True
        settings.BOOKSHOP_ISBN_OPENBD_URL = f"{self.base}/openbd"
        settings.BOOKSHOP_ISBN_NDL_URL = f"{self.base}/ndl"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.shutdown()
        self.server_close()
