"""A browser without JavaScript, for the OAuth server's pages: it keeps cookies, follows the
server's own redirects one at a time, reads each page's forms (hidden fields, buttons) with
the standard HTML parser and posts them as a browser would."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin

import requests


@dataclass
class Form:
    action: str
    fields: dict[str, str] = field(default_factory=dict)
    buttons: list[tuple[str, str]] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._label = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(Form(found.get("action", "")))
        elif tag == "input" and self.forms and "name" in found:
            self.forms[-1].fields[found["name"]] = found.get("value", "")
        elif tag == "button" and self.forms and "name" in found:
            self.forms[-1].buttons.append((found["name"], found.get("value", "")))
        elif tag == "label":
            self._label = True

    def handle_endtag(self, tag: str) -> None:
        self._label = self._label and tag != "label"

    def handle_data(self, data: str) -> None:
        if self._label and self.forms:
            self.forms[-1].labels.append(data.strip())


class Browser:
    def __init__(self, base: str, ca: str | None = None) -> None:
        """`ca`: the certificate to trust for https (else the system's)."""
        self.base = base
        self.http = requests.Session()
        self.verify: str | bool = ca or True

    def get(self, url: str) -> requests.Response:
        return self.http.get(urljoin(self.base, url), allow_redirects=False, timeout=30,
                             verify=self.verify)

    def follow(self, response: requests.Response) -> requests.Response:
        """Follow redirects while they stay on this server."""
        while response.is_redirect:
            target = urljoin(response.url, response.headers["location"])
            if not target.startswith(self.base):
                break
            response = self.get(target)
        return response

    @staticmethod
    def forms(response: requests.Response) -> list[Form]:
        parser = _Forms()
        parser.feed(response.text)
        return parser.forms

    def form(self, response: requests.Response, action: str) -> Form:
        return next(f for f in self.forms(response) if f.action == action)

    def submit(self, form: Form, **values: str) -> requests.Response:
        return self.http.post(urljoin(self.base, form.action), data={**form.fields, **values},
                              allow_redirects=False, timeout=30, verify=self.verify)

    def sign_in(self, page: requests.Response, address: str, password: str
                ) -> requests.Response:
        """Fill in the sign-in page; the answer (a redirect back, when it worked)."""
        return self.submit(self.form(page, "/signin"), address=address, password=password)

    def consent(self, page: requests.Response, action: str, decision: str = "allow"
                ) -> requests.Response:
        form = self.form(page, action)
        assert ("decision", decision) in form.buttons, form
        return self.submit(form, decision=decision)
