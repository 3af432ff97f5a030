import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;

import javax.net.ssl.SSLSocketFactory;
import javax.xml.datatype.XMLGregorianCalendar;
import javax.xml.ws.Holder;

import machtigingen.terugkoppeling.v1.Gebeurtenis;
import machtigingen.terugkoppeling.v1.MachtigingStatus;
import machtigingen.terugkoppeling.v1.Terugkoppeling;
import machtigingen.terugkoppelingbeheer.v1.Abonnement;
import machtigingen.terugkoppelingbeheer.v1.Controle;
import machtigingen.terugkoppelingbeheer.v1.Formaat;
import machtigingen.terugkoppelingbeheer.v1.TerugkoppelingBeheerFout;
import machtigingen.terugkoppelingbeheer.v1.OphalenTerugkoppelingenResponse.Bericht;
import machtigingen.terugkoppelingbeheer.v1.RegistrerenAbonnementResponse.Verificatie;
import machtigingen.terugkoppelingbeheer.v1.TerugkoppelingBeheerPortType;
import machtigingen.terugkoppelingbeheer.v1.TerugkoppelingBeheerService;

/**
 * terugkoppelingbeheer-v1: the callback the platform pushes to (register, rotate, cancel), the
 * pull fallback, and the platform's receiver check of the registered callback.
 */
final class TerugkoppelingBeheerClient {
    private final TerugkoppelingBeheerPortType port;

    TerugkoppelingBeheerClient(Ports.Soap soap, SSLSocketFactory tls, String baseUrl) {
        port = Ports.open(new TerugkoppelingBeheerService(), "TerugkoppelingBeheer" + soap.portSuffix,
                TerugkoppelingBeheerPortType.class, soap, tls, baseUrl + "/soap/terugkoppelingbeheer/v1");
    }

    /** What RegistrerenAbonnement answers: the registration and the platform's verification call. */
    record Registered(Abonnement subscription, Verificatie verification) {}

    /** RegistrerenAbonnement: SOAP callbacks of machtiging.status to {@code url}, served under {@code caPem}. */
    Registered register(String url, String caPem) throws TerugkoppelingBeheerFout {
        return register(url, caPem, List.of(Gebeurtenis.MACHTIGING_STATUS));
    }

    /** RegistrerenAbonnement of {@code events}; none: every event the party's authorizations allow. */
    Registered register(String url, String caPem, List<Gebeurtenis> events) throws TerugkoppelingBeheerFout {
        Holder<Abonnement> subscription = new Holder<>();
        Holder<Verificatie> verification = new Holder<>();
        port.registrerenAbonnement(url, Formaat.SOAP, caPem, events, subscription, verification);
        return new Registered(subscription.value, verification.value);
    }

    /**
     * OphalenTerugkoppelingen: the status changes of {@code aanvraagIds} not yet
     * acknowledged, each exactly the OntvangenTerugkoppeling a push carries.
     */
    List<Terugkoppeling> pull(List<String> aanvraagIds) throws TerugkoppelingBeheerFout {
        List<Terugkoppeling> mine = new ArrayList<>();
        BigInteger after = null;
        while (true) {
            List<Bericht> page = port.ophalenTerugkoppelingen(after, 500);
            for (Bericht message : page) {
                Terugkoppeling t = message.getOntvangenTerugkoppeling().getTerugkoppeling();
                MachtigingStatus change = t.getMachtigingStatus();
                if (change != null && aanvraagIds.contains(change.getMachtigingsaanvraagId())) {
                    mine.add(t);
                }
                after = message.getVolgnummer();
            }
            if (page.size() < 500) {
                return mine;
            }
        }
    }

    /** BevestigenTerugkoppelingen: answers how many were acknowledged. */
    BigInteger acknowledge(List<Terugkoppeling> messages) throws TerugkoppelingBeheerFout {
        List<String> ids = new ArrayList<>();
        for (Terugkoppeling t : messages) {
            ids.add(t.getTerugkoppelingId());
        }
        Holder<BigInteger> acknowledged = new Holder<>();
        Holder<List<String>> unknown = new Holder<>();
        port.bevestigenTerugkoppelingen(ids, acknowledged, unknown);
        if (unknown.value != null && !unknown.value.isEmpty()) {
            throw new IllegalStateException("unknown: " + unknown.value);
        }
        return acknowledged.value;
    }

    /** ControlerenOntvanger: runs the receiver check against the registered callback now; answers its report. */
    Controle checkReceiver() throws TerugkoppelingBeheerFout {
        return port.controlerenOntvanger();
    }

    /** OphalenControles: the stored receiver checks, newest first. */
    List<Controle> checks() throws TerugkoppelingBeheerFout {
        return port.ophalenControles();
    }

    /** RoterenGeheim: answers the new signing secret; the previous one keeps signing for a while. */
    String rotateSecret() throws TerugkoppelingBeheerFout {
        Holder<String> secret = new Holder<>();
        Holder<XMLGregorianCalendar> previousValidUntil = new Holder<>();
        port.roterenGeheim(secret, previousValidUntil);
        return secret.value;
    }

    /** OpzeggenAbonnement: answers whether there was a registration to remove. */
    boolean unsubscribe() throws TerugkoppelingBeheerFout {
        return port.opzeggenAbonnement();
    }
}
