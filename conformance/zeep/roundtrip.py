"""zeep (strict) conformance runner and Python integration example
(docs/integratie.md): every operation of the four platform services over SOAP
1.1 and 1.2 with typed objects built from the served WSDLs, in one realistic
round trip per SOAP version, and the callback contract (terugkoppeling-v1.wsdl)
parsed from what the reference receiver received."""

import base64
import json
import os
import time
from decimal import Decimal
from pathlib import Path

from lxml import etree
from zeep import Client, Settings
from zeep.exceptions import Fault

import mt

ROOT = Path(__file__).resolve().parents[2]
RECEIVER_URL = os.environ["MT_RECEIVER_URL"]
RECEIVER_LOG = os.environ["MT_RECEIVER_LOG"]
MT_SVC, BO_SVC, OI_SVC, TK_SVC = (
    "machtigingen-v1", "beoordeling-v1", "optin-v1", "terugkoppelingbeheer-v1")
# A 1x1 JPEG: the catalog requires a photo for PLAST-OOGLID.
PHOTO = base64.b64decode(
    "/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAP//////////////////////////////////////////////////"
    "////////////////////////////////////wgALCAABAAEBAREA/8QAFBABAAAAAAAAAAAAAAAAAAAAAP/a"
    "AAgBAQABPxA=")


class RoundTrip:
    def __init__(self, report, soap):
        self.r, self.soap = report, soap
        self.clients = {}

    def svc(self, service, role):
        """The typed service proxy of `service` for `role` on this SOAP version."""
        key = (service, role)
        if key not in self.clients:
            self.clients[key] = mt.client(service, role)
        return mt.port(self.clients[key], self.soap)

    def call(self, service, role, operation, **kwargs):
        def invoke():
            if any(v is None for v in kwargs.values()):
                raise RuntimeError("not run: an earlier call it depends on failed")
            proxy = self.svc(service.removesuffix("-v1"), role)
            return getattr(proxy, operation)(**kwargs)

        return self.r.call(service, operation, self.soap, invoke)

    def check(self, service, operation, condition, message):
        self.r.check(service, operation, self.soap, condition, message)

    # ---------------------------------------------------------------- provider
    # --- excerpt: aanvraag ---
    def aanvraag(self, aantal=1, referentie=None):
        """A Machtigingsaanvraag as a typed object of the served schema."""
        c = self.clients[("machtigingen", "zorgaanbieder")]
        Aanvraag = c.get_element(f"{{{mt.NS['m']}}}Machtigingsaanvraag")
        return Aanvraag(
            Referentie=referentie or mt.reference("ZEEP"),
            Indiener={"AgbPraktijk": "03123456",
                      "Software": {"Naam": "conformance-zeep", "Versie": "1.0"}},
            Verzekerde={"Bsn": self.bsn, "Geboortedatum": mt.today(-365 * 40),
                        "Naam": {"Voorletters": "J.", "Achternaam": "Jansen"}},
            Uzovi="3311", Grondslag="Zvw", Verstrekking="PLAST-OOGLID", Zorgsoort="0301",
            Prestaties={"Prestatie": [{"Code": "DBC-OOGLID", "Aantal": aantal}]},
            Begindatum=mt.today(7), GewensteEinddatum=mt.today(180),
            Antwoorden={"Antwoord": [{"VraagId": "GEZICHTSVELD", "Waarde": "ja"},
                                     {"VraagId": "GRADEN", "Waarde": "25"}]},
            Toelichting="Conformance: dermatochalasis met gezichtsveldbeperking.",
            Bijlagen={"Bijlage": [{"Soort": "foto", "Naam": "vooraanzicht.jpg",
                                   "MediaType": "image/jpeg", "Inhoud": PHOTO}]},
        )
    # --- end ---

    def submit(self, concept=False):
        doc = self.aanvraag()
        res = self.call(MT_SVC, "zorgaanbieder", "IndienenMachtigingsaanvraag",
                        Machtigingsaanvraag=doc, Concept=concept)
        self.last_referentie = doc.Referentie
        want = "Concept" if concept else "Ingediend"
        self.check(MT_SVC, "IndienenMachtigingsaanvraag", res is not None and res.Status == want,
                   f"status {getattr(res, 'Status', None)}, expected {want}")
        return res.MachtigingsaanvraagId if res is not None else None

    def provider(self):
        self.bsn = mt.bsn()
        cat = self.call(MT_SVC, "zorgaanbieder", "RaadplegenVerstrekkingen", Uzovi="3311")
        codes = [v.Code for z in (cat or []) for v in z.Verstrekking]
        self.check(MT_SVC, "RaadplegenVerstrekkingen", "PLAST-OOGLID" in codes,
                   f"PLAST-OOGLID not in the catalog {codes}")
        self.ids = {k: self.submit() for k in ("grant", "partial", "reject")}
        found = self.call(MT_SVC, "zorgaanbieder", "RaadplegenMachtigingsaanvraag",
                          MachtigingsaanvraagId=self.ids["grant"])
        self.check(MT_SVC, "RaadplegenMachtigingsaanvraag",
                   found is not None and found.Bsn == self.bsn, "not the submitted request")
        hits = self.call(MT_SVC, "zorgaanbieder", "ZoekenMachtigingsaanvragen",
                         Verzekerde={"Bsn": self.bsn, "Geboortedatum": mt.today(-365 * 40)},
                         AangemaaktVanaf=mt.today(-1), Paginering={"Pagina": 1, "PaginaGrootte": 10})
        self.check(MT_SVC, "ZoekenMachtigingsaanvragen", hits is not None and hits.Totaal == 3,
                   f"found {getattr(hits, 'Totaal', None)} of 3")
        # A draft, modified and then submitted; another one withdrawn.
        draft = self.submit(concept=True)
        changed = self.aanvraag(aantal=2, referentie=self.last_referentie)
        res = self.call(MT_SVC, "zorgaanbieder", "WijzigenMachtigingsaanvraag",
                        MachtigingsaanvraagId=draft, Machtigingsaanvraag=changed, Concept=False)
        self.check(MT_SVC, "WijzigenMachtigingsaanvraag",
                   res is not None and res.Status == "Ingediend", f"answer {res}")
        res = self.call(MT_SVC, "zorgaanbieder", "IntrekkenMachtigingsaanvraag",
                        MachtigingsaanvraagId=draft, Reden="Conformance: dubbel ingediend.")
        self.check(MT_SVC, "IntrekkenMachtigingsaanvraag",
                   res is not None and res.Status == "Ingetrokken", f"answer {res}")

    # ----------------------------------------------------------------- insurer
    def decide(self, aanvraag_id, **decision):
        return self.call(BO_SVC, "zorgverzekeraar", "VastleggenBeoordeling",
                         MachtigingsaanvraagId=aanvraag_id, **decision)

    def insurer(self):
        inbox = self.call(BO_SVC, "zorgverzekeraar", "OphalenInbox", Maximum=500) or []
        mine = {i.MachtigingsaanvraagId for i in inbox}
        self.check(BO_SVC, "OphalenInbox", set(self.ids.values()) <= mine,
                   "submitted requests missing from the inbox")
        if inbox:
            ack = self.call(BO_SVC, "zorgverzekeraar", "BevestigenInbox",
                            InboxId=[i.InboxId for i in inbox])
            self.check(BO_SVC, "BevestigenInbox", ack == len(inbox), f"acknowledged {ack}")
        self.search_as_insurer()
        doc = self.call(BO_SVC, "zorgverzekeraar", "RaadplegenAanvraag",
                        MachtigingsaanvraagId=self.ids["grant"])
        self.check(BO_SVC, "RaadplegenAanvraag", doc is not None and
                   doc.Document.Machtigingsaanvraag.Verzekerde.Bsn == self.bsn, "wrong document")
        gid = self.ids["grant"]
        res = self.decide(gid, InBehandeling=True)  # the marker's value (b:Keuze)
        self.check(BO_SVC, "VastleggenBeoordeling",
                   res is not None and res.Status == "InBehandeling", "InBehandeling not recorded")
        res = self.decide(gid, AanvullendeInformatieGevraagd={"Vraag": [
            {"VraagId": "FOTO2", "Tekst": "Graag een foto van opzij."}]})
        self.check(BO_SVC, "VastleggenBeoordeling", res is not None and
                   res.Status == "AanvullendeInformatieGevraagd", "question not recorded")
        res = self.call(MT_SVC, "zorgaanbieder", "AanleverenAanvullendeInformatie",
                        MachtigingsaanvraagId=gid, AanvullendeInformatie={
                            "Antwoorden": {"Antwoord": [{"VraagId": "FOTO2", "Waarde": "Zie bijlage."}]},
                            "Bijlagen": {"Bijlage": [{"Soort": "foto", "Naam": "opzij.jpg",
                                                      "MediaType": "image/jpeg", "Inhoud": PHOTO}]}})
        self.check(MT_SVC, "AanleverenAanvullendeInformatie", res is not None, "no answer")
        self.machtigingsnummer = f"Z{int(time.time() * 1000) % 10**12}{self.soap[-1]}"
        grant = {"GeldigVan": mt.today(7), "GeldigTot": mt.today(180)}
        res = self.decide(gid, Toekenning={
            "Uitkomst": "Toegekend", "Machtigingsnummer": self.machtigingsnummer, **grant,
            "Prestatie": [{"Code": "DBC-OOGLID", "Aantal": 1, "Bedrag": Decimal("1234.50")}]})
        self.check(BO_SVC, "VastleggenBeoordeling", res is not None and res.Status == "Toegekend",
                   "grant not recorded")
        res = self.decide(self.ids["partial"], Toekenning={
            "Uitkomst": "DeelsToegekend", **grant,
            "Prestatie": [{"Code": "DBC-OOGLID", "Aantal": 1}]})
        self.check(BO_SVC, "VastleggenBeoordeling",
                   res is not None and res.Status == "DeelsToegekend", "partial grant not recorded")
        res = self.decide(self.ids["reject"], Afwijzing={
            "RedenCode": "GEEN-INDICATIE", "RedenTekst": "Geen functionele beperking."})
        self.check(BO_SVC, "VastleggenBeoordeling",
                   res is not None and res.Status == "Afgewezen", "rejection not recorded")
        ok = self.call(BO_SVC, "zorgverzekeraar", "ControlerenMachtiging", Uzovi="3311",
                       Machtigingsnummer=self.machtigingsnummer, Bsn=self.bsn,
                       Prestatie="DBC-OOGLID", Datum=mt.today(30))
        self.check(BO_SVC, "ControlerenMachtiging", ok is not None and ok.Geldig is True,
                   f"answer {getattr(ok, 'RedenCode', None)}")
        # Revisions: the partial grant extended, the grant revoked from today on.
        res = self.call(BO_SVC, "zorgverzekeraar", "HerzienenMachtiging",
                        MachtigingsaanvraagId=self.ids["partial"], Soort="Verlenging",
                        GeldigTot=mt.today(365), RedenCode="LANGER",
                        RedenTekst="Behandeling duurt langer.")
        self.check(BO_SVC, "HerzienenMachtiging", res is not None and
                   res.Beslissing.Herziening.VorigeGeldigTot == mt.today(180), f"answer {res}")
        res = self.call(BO_SVC, "zorgverzekeraar", "HerzienenMachtiging",
                        MachtigingsaanvraagId=gid, Soort="Herroeping", RedenCode="VERZEKERING",
                        RedenTekst="Niet meer bij ons verzekerd.")
        self.check(BO_SVC, "HerzienenMachtiging", res is not None and res.Status == "Herroepen",
                   f"answer {res}")
        no = self.call(BO_SVC, "zorgverzekeraar", "ControlerenMachtiging", Uzovi="3311",
                       Machtigingsnummer=self.machtigingsnummer, Bsn=self.bsn,
                       Prestatie="DBC-OOGLID", Datum=mt.today(30))
        self.check(BO_SVC, "ControlerenMachtiging", no is not None and no.RedenCode == "HERROEPEN",
                   f"answer {getattr(no, 'RedenCode', None)}")

    def search_as_insurer(self):
        """ZoekenAanvragen for this run's patient, two per page, following Vervolg
        to the end: every page small, no id twice, Totaal equal to what was seen,
        and the three submitted requests among them."""
        seen, vervolg, pages = [], None, 0
        while pages < 10:
            paginering = {"PaginaGrootte": 2}
            if vervolg is not None:
                paginering["Vervolg"] = vervolg
            page = self.call(BO_SVC, "zorgverzekeraar", "ZoekenAanvragen",
                             Verzekerde={"Bsn": self.bsn, "Geboortedatum": mt.today(-365 * 40)},
                             AangemaaktVanaf=mt.today(-1), Paginering=paginering)
            if page is None:
                return
            pages += 1
            items = page.Aanvraag or []
            self.check(BO_SVC, "ZoekenAanvragen", len(items) <= 2 and page.Pagina == pages,
                       f"page {page.Pagina} holds {len(items)}")
            seen += [a.MachtigingsaanvraagId for a in items]
            vervolg = page.Vervolg
            if vervolg is None:
                break
        self.check(BO_SVC, "ZoekenAanvragen", len(seen) == len(set(seen)) and
                   page.Totaal == len(seen) and not page.TotaalIsMinimum,
                   f"Totaal {page.Totaal} but {len(seen)} ids seen ({len(set(seen))} distinct)")
        self.check(BO_SVC, "ZoekenAanvragen", set(self.ids.values()) <= set(seen),
                   "a submitted request is missing from the insurer's search")

    def fault(self):
        """An unknown request id: a SOAP Fault whose detail parses as `Fout`."""
        proxy = self.svc("machtigingen", "zorgaanbieder")
        client = self.clients[("machtigingen", "zorgaanbieder")]

        def expect_fault():
            try:
                proxy.RaadplegenMachtigingsaanvraag(MachtigingsaanvraagId="MA" + "0" * 32)
            except Fault as f:
                detail = f.detail[0] if f.detail is not None and len(f.detail) else None
                if detail is None or etree.QName(detail).localname != "Fout":
                    raise AssertionError(f"Fault without Fout detail: {f.message}")
                fout = client.get_element(detail.tag).parse(detail, client.wsdl.types)
                if not fout.Code:
                    raise AssertionError("Fout without Code")
                return fout
            raise AssertionError("no Fault for an unknown request")

        self.r.call(MT_SVC, "RaadplegenMachtigingsaanvraag", self.soap, expect_fault)

    # --------------------------------------------------------------- callbacks
    def register_callback(self):
        res = self.call(TK_SVC, "zorgaanbieder", "RegistrerenAbonnement", Url=RECEIVER_URL,
                        Formaat="soap", CaBundle=Path(mt.CA).read_text(),
                        Gebeurtenis=["machtiging.status"])
        self.check(TK_SVC, "RegistrerenAbonnement", res is not None and res.Verificatie.Geslaagd,
                   f"verification failed: {getattr(res, 'Verificatie', None)}")
        # Rotation and cancellation on the portal's own registration: the
        # provider's secret is the one the reference receiver was started with.
        self.call(TK_SVC, "portaal", "RegistrerenAbonnement", Url=RECEIVER_URL, Formaat="json")
        res = self.call(TK_SVC, "portaal", "RoterenGeheim")
        self.check(TK_SVC, "RoterenGeheim", res is not None and res.Geheim.startswith("whsec_"),
                   "no new secret")
        res = self.call(TK_SVC, "portaal", "OpzeggenAbonnement")
        self.check(TK_SVC, "OpzeggenAbonnement", res is True, f"answer {res}")

    def receiver_check(self):
        """The platform's receiver check against the provider's registration (SOAP
        format, the reference receiver): every case as the contract requires, and
        the report stored where OphalenControles finds it."""
        res = self.call(TK_SVC, "zorgaanbieder", "ControlerenOntvanger")
        cases = {g.Naam: g for g in getattr(res, "Geval", None) or []}
        failed = [f"{n}: {g.Antwoord}" for n, g in cases.items() if g.Geslaagd is not True]
        self.check(TK_SVC, "ControlerenOntvanger", res is not None and res.Status == "geslaagd"
                   and res.Formaat == "soap" and res.Url == RECEIVER_URL and not failed,
                   f"status {getattr(res, 'Status', None)}, failed cases {failed}")
        self.check(TK_SVC, "ControlerenOntvanger", {"geldig", "dubbel", "soap12"} <= set(cases),
                   f"cases {sorted(cases)}")
        stored = self.call(TK_SVC, "zorgaanbieder", "OphalenControles") or []
        newest = stored[0] if stored else None
        self.check(TK_SVC, "OphalenControles", res is not None and newest is not None
                   and newest.ControleId == res.ControleId and newest.Status == "geslaagd"
                   and len(newest.Geval) == len(cases),
                   f"newest stored check {getattr(newest, 'ControleId', None)}, "
                   f"expected {getattr(res, 'ControleId', None)}")

    def pull(self):
        got = self.call(TK_SVC, "zorgaanbieder", "OphalenTerugkoppelingen", Na=0, Maximum=500) or []
        mine = [b for b in got if b.Onderwerp == self.ids["grant"]]
        self.check(TK_SVC, "OphalenTerugkoppelingen", mine, "no terugkoppeling about the request")
        if got:
            ids = [b.OntvangenTerugkoppeling.Terugkoppeling.TerugkoppelingId for b in got]
            res = self.call(TK_SVC, "zorgaanbieder", "BevestigenTerugkoppelingen",
                            TerugkoppelingId=ids)
            self.check(TK_SVC, "BevestigenTerugkoppelingen",
                       res is not None and res.Bevestigd == len(ids), f"answer {res}")

    def delivered(self):
        """The pushed SOAP callback about the granted request, as the reference
        receiver logged it (signature verified there), parsed with zeep against
        the callback contract."""
        def parse():
            if self.ids.get("grant") is None:
                raise RuntimeError("not run: an earlier call it depends on failed")
            body = wait_for_callback(self.ids["grant"], "Toegekend")
            return parse_callback(body)

        msg = self.r.call("terugkoppeling-v1", "OntvangenTerugkoppeling", self.soap, parse)
        self.check("terugkoppeling-v1", "OntvangenTerugkoppeling", msg is not None and
                   msg.MachtigingStatus.Beslissing.Machtigingsnummer == self.machtigingsnummer,
                   "not the decision that was recorded")

    # ------------------------------------------------------------------ opt-in
    def optin(self):
        res = self.call(OI_SVC, "zorgaanbieder", "AanmeldenDienstOptin",
                        NotificatieEmail="optin@praktijk.example")
        self.check(OI_SVC, "AanmeldenDienstOptin", res is not None and res.Actief, f"answer {res}")
        regs = {}
        for outcome in ("Verwerkt", "Afgewezen"):
            res = self.call(OI_SVC, "portaal", "RegistrerenToestemming", Toestemmingsregistratie={
                "Referentie": mt.reference("PORTAAL"),
                "Patient": {"Bsn": mt.bsn(), "Geboortedatum": mt.today(-365 * 30),
                            "Naam": {"Achternaam": "de Boer"}},
                "AgbZorgaanbieder": "03123456", "Toestemming": "Ja", "GegevenOp": mt.now()})
            if res is not None:
                regs[res.RegistratieId] = outcome
        pulled = self.call(OI_SVC, "zorgaanbieder", "OphalenToestemmingen", Maximum=100) or []
        seen = [r.RegistratieId for r in pulled]
        self.check(OI_SVC, "OphalenToestemmingen", set(regs) <= set(seen), "registrations missing")
        if seen:
            res = self.call(OI_SVC, "zorgaanbieder", "BevestigenOntvangst", RegistratieId=seen)
            self.check(OI_SVC, "BevestigenOntvangst", res == len(seen), f"acknowledged {res}")
        for rid, outcome in regs.items():
            extra = {} if outcome == "Verwerkt" else {
                "RedenCode": "ONBEKENDE-PATIENT", "RedenTekst": "Patient niet in zorg."}
            res = self.call(OI_SVC, "zorgaanbieder", "AfhandelenToestemming",
                            RegistratieId=rid, Afhandeling=outcome, **extra)
            self.check(OI_SVC, "AfhandelenToestemming",
                       res is not None and res.Status == outcome, f"answer {res}")
            seen = self.call(OI_SVC, "portaal", "RaadplegenToestemming", RegistratieId=rid)
            self.check(OI_SVC, "RaadplegenToestemming",
                       seen is not None and seen.Status == outcome, "portal does not see the outcome")
        res = self.call(OI_SVC, "zorgaanbieder", "AfmeldenDienstOptin")
        self.check(OI_SVC, "AfmeldenDienstOptin", res is not None and not res.Actief, f"answer {res}")

    def run(self):
        self.register_callback()
        self.receiver_check()
        self.provider()
        self.insurer()
        self.fault()
        self.pull()
        self.delivered()
        self.optin()


def wait_for_callback(request_id, status, timeout=20):
    """The body of the first SOAP callback in MT_RECEIVER_LOG about `request_id`
    with `status`."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for line in Path(RECEIVER_LOG).read_text().splitlines():
            rec = json.loads(line)
            body = rec.get("bericht")
            if (rec.get("contentType", "").startswith("text/xml") and isinstance(body, str)
                    and request_id in body and f"<Status>{status}</Status>" in body):
                return body
        time.sleep(0.3)
    raise TimeoutError(f"no SOAP callback about {request_id} ({status}) in {RECEIVER_LOG}")


# --- excerpt: parse_callback ---
def parse_callback(body):
    """Parses a received callback as the OntvangenTerugkoppeling request of
    terugkoppeling-v1.wsdl, the way a provider's zeep-based server would."""
    client = Client(str(ROOT / "wsdl" / "terugkoppeling-v1.wsdl"), settings=Settings(strict=True))
    binding = mt.port(client, "soap11")._binding
    envelope = etree.fromstring(body.encode())
    return binding.get("OntvangenTerugkoppeling").input.deserialize(envelope)
# --- end ---


def main():
    report = mt.Report()
    for soap in ("soap11", "soap12"):
        RoundTrip(report, soap).run()
    return report.finish()


if __name__ == "__main__":
    raise SystemExit(main())
