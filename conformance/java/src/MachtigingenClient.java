import java.math.BigInteger;
import java.time.LocalDate;
import java.util.List;

import javax.net.ssl.SSLSocketFactory;
import javax.xml.datatype.DatatypeConfigurationException;
import javax.xml.datatype.DatatypeFactory;
import javax.xml.datatype.XMLGregorianCalendar;
import javax.xml.ws.Holder;

import machtigingen.common.v1.Grondslag;
import machtigingen.common.v1.Status;
import machtigingen.machtigingen.v1.AanvullendeInformatie;
import machtigingen.machtigingen.v1.Antwoord;
import machtigingen.machtigingen.v1.Antwoorden;
import machtigingen.machtigingen.v1.Beslissing;
import machtigingen.machtigingen.v1.Bijlage;
import machtigingen.machtigingen.v1.Bijlagen;
import machtigingen.machtigingen.v1.MachtigingenFout;
import machtigingen.machtigingen.v1.Indiener;
import machtigingen.machtigingen.v1.MachtigingenPortType;
import machtigingen.machtigingen.v1.MachtigingenService;
import machtigingen.machtigingen.v1.Machtigingsaanvraag;
import machtigingen.machtigingen.v1.MachtigingsaanvraagDetails;
import machtigingen.machtigingen.v1.Prestatie;
import machtigingen.machtigingen.v1.Prestaties;
import machtigingen.machtigingen.v1.RaadplegenVerstrekkingenResponse.Verzekeraar;
import machtigingen.machtigingen.v1.Samenvatting;
import machtigingen.machtigingen.v1.Verzekerde;

/** The care provider's side of machtigingen-v1: catalog, submit, modify, answer, withdraw, consult, search. */
final class MachtigingenClient {
    /** A BSN that passes the 11-proef (JVC-J01), and one that does not. */
    static final String BSN = "999999990";
    static final String BSN_FAILING_11_PROEF = "123456789";

    private final MachtigingenPortType port;

    MachtigingenClient(Ports.Soap soap, SSLSocketFactory tls, String baseUrl) {
        port = Ports.open(new MachtigingenService(), "Machtigingen" + soap.portSuffix,
                MachtigingenPortType.class, soap, tls, baseUrl + "/soap/machtigingen/v1");
    }

    /** RaadplegenVerstrekkingen: one insurer's catalog. */
    Verzekeraar catalog(String uzovi) throws MachtigingenFout {
        List<Verzekeraar> insurers = port.raadplegenVerstrekkingen(uzovi);
        if (insurers.size() != 1) {
            throw new IllegalStateException("expected 1 insurer, got " + insurers.size());
        }
        return insurers.get(0);
    }

    /** What IndienenMachtigingsaanvraag answers. */
    record Submitted(String id, Status status, Beslissing decision) {}

    /** IndienenMachtigingsaanvraag: eyelid correction, starting today, so the dates are always valid. */
    Submitted submit(String reference, String agb, String uzovi, String bsn) throws MachtigingenFout {
        return submit(request(reference, agb, uzovi, bsn), false);
    }

    /** IndienenMachtigingsaanvraag; {@code concept}: only saved as a draft, not sent to the insurer. */
    Submitted submit(Machtigingsaanvraag request, boolean concept) throws MachtigingenFout {
        Holder<String> id = new Holder<>();
        Holder<Status> status = new Holder<>();
        Holder<Boolean> repeated = new Holder<>();
        Holder<Beslissing> decision = new Holder<>();
        port.indienenMachtigingsaanvraag(request, concept, id, status, repeated, decision);
        return new Submitted(id.value, status.value, decision.value);
    }

    /** WijzigenMachtigingsaanvraag: new content for a draft, which submits it. */
    Status modifyAndSubmit(String id, Machtigingsaanvraag request) throws MachtigingenFout {
        Holder<Status> status = new Holder<>();
        port.wijzigenMachtigingsaanvraag(new Holder<>(id), request, false, status);
        return status.value;
    }

    /** AanleverenAanvullendeInformatie: answer the insurer's question {@code question}. */
    Status supplyInformation(String id, String question, String answer) throws MachtigingenFout {
        AanvullendeInformatie info = new AanvullendeInformatie();
        info.setAntwoorden(new Antwoorden());
        info.getAntwoorden().getAntwoord().add(answer(question, answer));
        Holder<Status> status = new Holder<>();
        port.aanleverenAanvullendeInformatie(new Holder<>(id), info, status);
        return status.value;
    }

    /** IntrekkenMachtigingsaanvraag. */
    Status withdraw(String id, String reason) throws MachtigingenFout {
        Holder<Status> status = new Holder<>();
        port.intrekkenMachtigingsaanvraag(new Holder<>(id), reason, status);
        return status.value;
    }

    /** A refusal as the typed fault carries it: the Fout detail's code and findings. */
    record Refusal(String code, String title, List<String> findings) {}

    /** IndienenMachtigingsaanvraag that must be refused; answers the fault detail. */
    Refusal submitRefused(String reference, String agb, String uzovi, String bsn) {
        try {
            submit(reference, agb, uzovi, bsn);
        } catch (MachtigingenFout fault) {
            var detail = fault.getFaultInfo();
            List<String> findings = new java.util.ArrayList<>();
            for (var finding : detail.getBevinding()) {
                findings.add(finding.getCode() + " " + finding.getMelding());
            }
            return new Refusal(detail.getCode(), detail.getTitel(), findings);
        }
        throw new IllegalStateException("accepted, expected a MachtigingenFout");
    }

    /** RaadplegenMachtigingsaanvraag. */
    MachtigingsaanvraagDetails consult(String id) throws MachtigingenFout {
        return port.raadplegenMachtigingsaanvraag(id);
    }

    /** ZoekenMachtigingsaanvragen by the provider's own reference. */
    List<Samenvatting> searchByReference(String reference) throws MachtigingenFout {
        Holder<BigInteger> total = new Holder<>();
        Holder<Boolean> totalIsMinimum = new Holder<>();
        Holder<BigInteger> page = new Holder<>();
        Holder<BigInteger> pageSize = new Holder<>();
        Holder<String> next = new Holder<>();
        Holder<List<Samenvatting>> found = new Holder<>();
        port.zoekenMachtigingsaanvragen(null, reference, null, null, null, null, null,
                total, totalIsMinimum, page, pageSize, next, found);
        return found.value;
    }

    static Machtigingsaanvraag request(String reference, String agb, String uzovi, String bsn) {
        Machtigingsaanvraag a = new Machtigingsaanvraag();
        a.setReferentie(reference);
        Indiener indiener = new Indiener();
        indiener.setAgbPraktijk(agb);
        Indiener.Software software = new Indiener.Software();
        software.setNaam("conformance-jaxws");
        software.setVersie("1.0");
        indiener.setSoftware(software);
        a.setIndiener(indiener);
        Verzekerde verzekerde = new Verzekerde();
        verzekerde.setBsn(bsn);
        verzekerde.setGeboortedatum(date(LocalDate.of(1970, 3, 14)));
        a.setVerzekerde(verzekerde);
        a.setUzovi(uzovi);
        a.setGrondslag(Grondslag.ZVW);
        a.setVerstrekking("PLAST-OOGLID");
        a.setZorgsoort("0301");
        Prestatie prestatie = new Prestatie();
        prestatie.setCode("DBC-OOGLID");
        prestatie.setAantal(1);
        a.setPrestaties(new Prestaties());
        a.getPrestaties().getPrestatie().add(prestatie);
        a.setBegindatum(date(LocalDate.now()));
        a.setGewensteEinddatum(date(LocalDate.now().plusMonths(6)));
        // The catalog's questions and required attachment for PLAST-OOGLID.
        a.setAntwoorden(new Antwoorden());
        a.getAntwoorden().getAntwoord().add(answer("GEZICHTSVELD", "ja"));
        a.getAntwoorden().getAntwoord().add(answer("GRADEN", "25"));
        Bijlage photo = new Bijlage();
        photo.setSoort("foto");
        photo.setNaam("vooraanzicht.jpg");
        photo.setMediaType("image/jpeg");
        photo.setInhoud(new byte[] {(byte) 0xFF, (byte) 0xD8, (byte) 0xFF, (byte) 0xD9});
        a.setBijlagen(new Bijlagen());
        a.getBijlagen().getBijlage().add(photo);
        return a;
    }

    private static Antwoord answer(String question, String value) {
        Antwoord a = new Antwoord();
        a.setVraagId(question);
        a.setWaarde(value);
        return a;
    }

    /** An xs:date. */
    static XMLGregorianCalendar date(LocalDate day) {
        try {
            return DatatypeFactory.newInstance().newXMLGregorianCalendar(day.toString());
        } catch (DatatypeConfigurationException e) {
            throw new IllegalStateException(e);
        }
    }
}
