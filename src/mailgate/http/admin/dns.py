"""`/dns/{domain}`: the `mailgate dns DOMAIN --json` command, the records a domain publishes
so that clients find this server's doors. Like the command, any key may read it: the records
are what the domain shows the world."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from mailgate.clientconfig import dns
from mailgate.http.admin import models
from mailgate.http.admin.auth import Acting, Svc

router = APIRouter(tags=["dns"])
Domain = Annotated[str, Path(max_length=254, examples=["example.test"])]


@router.get("/dns/{domain}", response_model=list[models.DnsRecord],
            response_model_exclude_unset=True, summary="dns --json",
            description="RFC 6186 SRV records (a door closed for new accounts, or whose "
                        "listener is off, as not provided: target `.`), "
                        "`_autodiscover._tcp`, and CNAME hints for `autoconfig.` and "
                        "`autodiscover.`.")
def dns_records(svc: Svc, _actor: Acting, domain: Domain) -> list[dict[str, object]]:
    return dns.client_records(svc, domain)
