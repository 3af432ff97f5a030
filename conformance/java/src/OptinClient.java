import java.math.BigInteger;
import java.time.Instant;
import java.time.LocalDate;
import java.time.temporal.ChronoUnit;
import java.util.List;

import javax.net.ssl.SSLSocketFactory;
import javax.xml.datatype.DatatypeConfigurationException;
import javax.xml.datatype.DatatypeFactory;
import javax.xml.ws.Holder;

import machtigingen.optin.v1.Abonnement;
import machtigingen.optin.v1.Afhandeling;
import machtigingen.optin.v1.OptinFout;
import machtigingen.optin.v1.Naam;
import machtigingen.optin.v1.OptinPortType;
import machtigingen.optin.v1.OptinService;
import machtigingen.optin.v1.Patient;
import machtigingen.optin.v1.Registratie;
import machtigingen.optin.v1.RegistratieStatus;
import machtigingen.optin.v1.Toestemming;
import machtigingen.optin.v1.Toestemmingsregistratie;

/** optin-v1, used by both sides: a patient portal registers consent, the provider handles it. */
final class OptinClient {
    private final OptinPortType port;

    OptinClient(Ports.Soap soap, SSLSocketFactory tls, String baseUrl) {
        port = Ports.open(new OptinService(), "Optin" + soap.portSuffix,
                OptinPortType.class, soap, tls, baseUrl + "/soap/optin/v1");
    }

    /** Provider: AanmeldenDienstOptin (subscribing again is allowed). */
    Abonnement subscribe() throws OptinFout {
        return port.aanmeldenDienstOptin(null);
    }

    /** Provider: AfmeldenDienstOptin; registrations already received stay available. */
    Abonnement unsubscribe() throws OptinFout {
        return port.afmeldenDienstOptin();
    }

    /** Portal: RegistrerenToestemming, consent given just now; answers the RegistratieId. */
    String register(String reference, String bsn, String agb) throws OptinFout {
        Toestemmingsregistratie r = new Toestemmingsregistratie();
        r.setReferentie(reference);
        Patient patient = new Patient();
        patient.setBsn(bsn);
        patient.setGeboortedatum(MachtigingenClient.date(LocalDate.of(1970, 3, 14)));
        Naam name = new Naam();
        name.setVoorletters("J.");
        name.setAchternaam("Vries");
        patient.setNaam(name);
        r.setPatient(patient);
        r.setAgbZorgaanbieder(agb);
        r.setToestemming(Toestemming.JA);
        try {
            // With an offset (Z): the schema refuses a moment without one.
            r.setGegevenOp(DatatypeFactory.newInstance()
                    .newXMLGregorianCalendar(Instant.now().truncatedTo(ChronoUnit.SECONDS).toString()));
        } catch (DatatypeConfigurationException e) {
            throw new IllegalStateException(e);
        }
        Holder<String> id = new Holder<>();
        Holder<RegistratieStatus> status = new Holder<>();
        Holder<Boolean> repeated = new Holder<>();
        port.registrerenToestemming(r, id, status, repeated);
        return id.value;
    }

    /** Provider: OphalenToestemmingen, the registration {@code id} among those not yet acknowledged. */
    Registratie fetch(String id) throws OptinFout {
        for (Registratie r : port.ophalenToestemmingen(100)) {
            if (r.getRegistratieId().equals(id)) {
                return r;
            }
        }
        throw new IllegalStateException(id + " not among the unacknowledged registrations");
    }

    /** Provider: BevestigenOntvangst. */
    BigInteger acknowledge(String id) throws OptinFout {
        return port.bevestigenOntvangst(List.of(id));
    }

    /** Provider: AfhandelenToestemming as Verwerkt. */
    RegistratieStatus handle(String id) throws OptinFout {
        Holder<RegistratieStatus> status = new Holder<>();
        port.afhandelenToestemming(new Holder<>(id), Afhandeling.VERWERKT, null, null, status);
        return status.value;
    }

    /** Portal or provider: RaadplegenToestemming. */
    Registratie consult(String id) throws OptinFout {
        return port.raadplegenToestemming(id);
    }
}
