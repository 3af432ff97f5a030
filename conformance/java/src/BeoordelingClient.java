import java.math.BigInteger;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.List;

import javax.net.ssl.SSLSocketFactory;
import javax.xml.datatype.XMLGregorianCalendar;
import javax.xml.ws.Holder;

import machtigingen.beoordeling.v1.BeoordelingPortType;
import machtigingen.beoordeling.v1.BeoordelingService;
import machtigingen.machtigingen.v1.Beslissing;
import machtigingen.machtigingen.v1.Vraag;
import machtigingen.beoordeling.v1.AanvraagSamenvatting;
import machtigingen.beoordeling.v1.BeoordelingFout;
import machtigingen.beoordeling.v1.InboxItem;
import machtigingen.beoordeling.v1.RaadplegenAanvraagResponse;
import machtigingen.beoordeling.v1.VastleggenBeoordeling;
import machtigingen.beoordeling.v1.ZoekenAanvragen;
import machtigingen.common.v1.Status;

/** The insurer's side, beoordeling-v1: inbox, the request as submitted, decisions, validity check. */
final class BeoordelingClient {
    private final BeoordelingPortType port;

    BeoordelingClient(Ports.Soap soap, SSLSocketFactory tls, String baseUrl) {
        port = Ports.open(new BeoordelingService(), "Beoordeling" + soap.portSuffix,
                BeoordelingPortType.class, soap, tls, baseUrl + "/soap/beoordeling/v1");
    }

    /** OphalenInbox: the entries not yet acknowledged that concern {@code aanvraagId}. */
    List<InboxItem> inboxFor(String aanvraagId) throws BeoordelingFout {
        List<InboxItem> mine = new ArrayList<>();
        for (InboxItem item : port.ophalenInbox(500)) {
            if (item.getMachtigingsaanvraagId().equals(aanvraagId)) {
                mine.add(item);
            }
        }
        return mine;
    }

    /** BevestigenInbox: answers how many were acknowledged. */
    BigInteger acknowledge(List<InboxItem> items) throws BeoordelingFout {
        List<BigInteger> ids = new ArrayList<>();
        for (InboxItem item : items) {
            ids.add(item.getInboxId());
        }
        return port.bevestigenInbox(ids);
    }

    /** One page of ZoekenAanvragen's answer. */
    record SearchPage(BigInteger total, boolean totalIsMinimum, BigInteger page, String next,
            List<AanvraagSamenvatting> found) {}

    /** ZoekenAanvragen for one patient created since yesterday, {@code size} per page, continuing at {@code next}. */
    SearchPage searchPatient(String bsn, LocalDate birthDate, int size, String next) throws BeoordelingFout {
        ZoekenAanvragen.Verzekerde patient = new ZoekenAanvragen.Verzekerde();
        patient.setBsn(bsn);
        patient.setGeboortedatum(MachtigingenClient.date(birthDate));
        ZoekenAanvragen.Paginering paging = new ZoekenAanvragen.Paginering();
        paging.setPaginaGrootte(size);
        paging.setVervolg(next);
        Holder<BigInteger> total = new Holder<>();
        Holder<Boolean> totalIsMinimum = new Holder<>();
        Holder<BigInteger> page = new Holder<>();
        Holder<BigInteger> pageSize = new Holder<>();
        Holder<String> following = new Holder<>();
        Holder<List<AanvraagSamenvatting>> found = new Holder<>();
        port.zoekenAanvragen(null, MachtigingenClient.date(LocalDate.now().minusDays(1)), null, null, null,
                patient, paging, total, totalIsMinimum, page, pageSize, following, found);
        return new SearchPage(total.value, Boolean.TRUE.equals(totalIsMinimum.value), page.value,
                following.value, found.value == null ? List.of() : found.value);
    }

    /** What RaadplegenAanvraag answers: the status and the document as the provider submitted it. */
    record Request(Status status, String agb, RaadplegenAanvraagResponse.Document document) {}

    /** RaadplegenAanvraag. */
    Request consult(String aanvraagId) throws BeoordelingFout {
        Holder<String> id = new Holder<>(aanvraagId);
        Holder<Status> status = new Holder<>();
        Holder<String> agb = new Holder<>();
        Holder<XMLGregorianCalendar> submittedAt = new Holder<>();
        Holder<RaadplegenAanvraagResponse.OpenVragen> questions = new Holder<>();
        Holder<Beslissing> decision = new Holder<>();
        Holder<RaadplegenAanvraagResponse.Document> document = new Holder<>();
        port.raadplegenAanvraag(id, status, agb, submittedAt, questions, decision, document);
        return new Request(status.value, agb.value, document.value);
    }

    /** VastleggenBeoordeling with InBehandeling (true): the insurer takes the request up. */
    Status takeUp(String aanvraagId) throws BeoordelingFout {
        Holder<Status> status = new Holder<>();
        port.vastleggenBeoordeling(new Holder<>(aanvraagId), true,
                null, null, null, status, new Holder<>());
        return status.value;
    }

    /** VastleggenBeoordeling with AanvullendeInformatieGevraagd: one question to the provider. */
    Status ask(String aanvraagId, String question, String text) throws BeoordelingFout {
        Vraag vraag = new Vraag();
        vraag.setVraagId(question);
        vraag.setTekst(text);
        VastleggenBeoordeling.AanvullendeInformatieGevraagd questions =
                new VastleggenBeoordeling.AanvullendeInformatieGevraagd();
        questions.getVraag().add(vraag);
        Holder<Status> status = new Holder<>();
        port.vastleggenBeoordeling(new Holder<>(aanvraagId), null, questions, null, null, status, new Holder<>());
        return status.value;
    }

    /** VastleggenBeoordeling with a Toekenning: granted for six months under {@code number}. */
    Beslissing grant(String aanvraagId, String number) throws BeoordelingFout {
        VastleggenBeoordeling.Toekenning grant = new VastleggenBeoordeling.Toekenning();
        grant.setUitkomst("Toegekend");
        grant.setMachtigingsnummer(number);
        grant.setGeldigVan(MachtigingenClient.date(LocalDate.now()));
        grant.setGeldigTot(MachtigingenClient.date(LocalDate.now().plusMonths(6)));
        Holder<Status> status = new Holder<>();
        Holder<Beslissing> decision = new Holder<>();
        port.vastleggenBeoordeling(new Holder<>(aanvraagId), null, null, grant, null, status, decision);
        if (status.value != Status.TOEGEKEND) {
            throw new IllegalStateException("status " + status.value + ", expected Toegekend");
        }
        return decision.value;
    }

    /** What ControlerenMachtiging answers. */
    record Validity(boolean valid, String reasonCode, String reason) {}

    /** ControlerenMachtiging for today. */
    Validity check(String uzovi, String number, String bsn, String prestatie) throws BeoordelingFout {
        Holder<Boolean> valid = new Holder<>();
        Holder<String> reasonCode = new Holder<>();
        Holder<String> reason = new Holder<>();
        port.controlerenMachtiging(uzovi, number, bsn, prestatie, MachtigingenClient.date(LocalDate.now()),
                valid, reasonCode, reason, new Holder<>(), new Holder<>(), new Holder<>());
        return new Validity(valid.value, reasonCode.value, reason.value);
    }
}
