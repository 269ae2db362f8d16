"""`/dkim/keys`: the `dkim generate` command. The private key is written where the CLI writes
it (`DIR/dkim/DOMAIN/SELECTOR.pem`) and stays there; the answer is the TXT record."""

from __future__ import annotations

from fastapi import APIRouter

from mailgate.http.admin import models
from mailgate.http.admin.auth import Acting, Svc
from mailgate.mail_auth import dkim_operator, dkimkeys

router = APIRouter(tags=["dkim"])


@router.post("/dkim/keys", response_model=models.DkimRecord, status_code=201,
             summary="dkim generate")
def dkim_generate(svc: Svc, actor: Acting, body: models.DkimGenerate) -> dict[str, object]:
    key = dkim_operator.generate(svc, actor, body.domain, body.selector)
    return {"domain": key.domain, "selector": key.selector,
            "name": f"{key.selector}._domainkey.{key.domain}",
            "value": dkimkeys.txt_value(key), "record": dkimkeys.dns_record(key)}
