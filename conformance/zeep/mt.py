"""Shared helpers of the zeep runner: mutual-TLS clients for each role, the SOAP
1.1/1.2 ports of a WSDL, test data that stays valid (dates relative to today, a
BSN that passes the 11-proef) and the per-operation PASS/FAIL report."""

import datetime as dt
import os
import random
import sys
import traceback
import uuid

import requests
from lxml import etree
from zeep import Client, Settings
from zeep.transports import Transport
from zeep.wsdl.bindings import Soap11Binding, Soap12Binding

URL = os.environ["MT_URL"]
CA = os.environ["MT_CA"]
CERTS = os.environ["MT_CERTS"]
NS = {
    "m": "urn:machtigingen:machtigingen:v1",
    "b": "urn:machtigingen:beoordeling:v1",
    "o": "urn:machtigingen:optin:v1",
    "k": "urn:machtigingen:terugkoppelingbeheer:v1",
    "t": "urn:machtigingen:terugkoppeling:v1",
    "c": "urn:machtigingen:common:v1",
}


# --- excerpt: session ---
def session(role):
    """A requests session that presents `role`'s certificate and trusts only MT_CA."""
    s = requests.Session()
    s.cert = (f"{CERTS}/{role}.pem", f"{CERTS}/{role}.key")
    s.verify = CA
    # Environment CA bundles (REQUESTS_CA_BUNDLE) would override `verify`, and
    # the platform is reached directly, never through a proxy.
    s.trust_env = False
    return s


def client(service, role):
    """A strict zeep client for `service` (e.g. "machtigingen") as `role`, reading
    the WSDL the running service serves."""
    return Client(
        f"{URL}/soap/{service}/v1?wsdl",
        transport=Transport(session=session(role), timeout=30),
        settings=Settings(strict=True, raw_response=False),
    )
# --- end ---


def port(zeep_client, soap):
    """The service proxy for the WSDL port whose binding is SOAP 1.1 or 1.2."""
    kind = {"soap11": Soap11Binding, "soap12": Soap12Binding}[soap]
    for svc in zeep_client.wsdl.services.values():
        for p in svc.ports.values():
            if type(p.binding) is kind:
                return zeep_client.bind(svc.name, p.name)
    raise LookupError(f"no {soap} port in the WSDL")


def today(days=0):
    return dt.date.today() + dt.timedelta(days=days)


def now():
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def bsn():
    """A random BSN that passes the 11-proef."""
    while True:
        d = [random.randint(0, 9) for _ in range(8)]
        total = sum(x * w for x, w in zip(d, range(9, 1, -1)))
        last = total % 11
        if last < 10 and d[0] != 0:
            return "".join(map(str, d)) + str(last)


def reference(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def describe(e):
    """An exception as one line; a SOAP Fault with the findings of its `Fout`."""
    text = f"{type(e).__name__}: {e}"
    detail = getattr(e, "detail", None)
    if detail is not None:
        findings = [el.text for el in detail.iter()
                    if isinstance(el.tag, str) and etree.QName(el).localname == "Melding"]
        if findings:
            text += " [" + " | ".join(findings) + "]"
    return text.replace("\n", " ")[:600]


class Report:
    """One line per operation and SOAP version, in the order first called; an
    operation fails when any of its calls failed."""

    def __init__(self):
        self.results = {}

    def call(self, service, operation, soap, fn, *args, **kwargs):
        """Runs one call and records it; returns its result, or None on failure."""
        key = (service, operation, soap)
        errors = self.results.setdefault(key, [])
        try:
            return fn(*args, **kwargs)
        except Exception as e:  # every failure is reported, none ends the run
            errors.append(describe(e))
            if os.environ.get("MT_DEBUG"):
                traceback.print_exc()
            return None

    def check(self, service, operation, soap, condition, message):
        """Records an expectation about an earlier call's answer."""
        if not condition:
            self.results.setdefault((service, operation, soap), []).append(message)

    def finish(self):
        passed = failed = 0
        for (service, operation, soap), errors in self.results.items():
            if errors:
                failed += 1
                print(f"FAIL {service}.{operation} {soap} : {'; '.join(errors)}")
            else:
                passed += 1
                print(f"PASS {service}.{operation} {soap}")
        print(f"{passed} passed, {failed} failed")
        sys.stdout.flush()
        return 1 if failed else 0
