import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import javax.net.ssl.SSLSocketFactory;

import machtigingen.common.v1.Bevinding;
import machtigingen.common.v1.FoutDetail;
import machtigingen.common.v1.Status;
import machtigingen.optin.v1.RegistratieStatus;

/**
 * The JAX-WS round trip of the conformance suite: every operation of every service
 * with the classes plain `wsimport` generated, over mutual TLS, once on the SOAP
 * 1.1 ports and once on the SOAP 1.2 ports. Prints one PASS/FAIL line per call
 * and `N passed, M failed`; exits non-zero on any failure.
 *
 * Environment (conformance/README.md): MT_URL, MT_CA, MT_CERTS (with
 * zorgaanbieder.p12, zorgverzekeraar.p12, portaal.p12), MT_P12_PASSWORD,
 * MT_RECEIVER_URL, MT_RECEIVER_LOG.
 */
public final class Conformance {
    static final String AGB = "03123456";
    static final String UZOVI = "3311";

    private int passed;
    private int failed;

    public static void main(String[] args) throws Exception {
        Conformance run = new Conformance();
        run.all();
        System.out.println(run.passed + " passed, " + run.failed + " failed");
        System.exit(run.failed == 0 ? 0 : 1);
    }

    private void all() throws Exception {
        String url = env("MT_URL");
        Path certs = Path.of(env("MT_CERTS"));
        Path ca = Path.of(env("MT_CA"));
        char[] password = env("MT_P12_PASSWORD").toCharArray();

        // Loading each .p12 through JSSE is itself a check: the handshake only
        // proves it when JSSE found a certificate to send.
        SSLSocketFactory provider = step("pkcs12.zorgaanbieder", null,
                () -> Ports.mutualTls(certs.resolve("zorgaanbieder.p12"), password, ca));
        SSLSocketFactory insurer = step("pkcs12.zorgverzekeraar", null,
                () -> Ports.mutualTls(certs.resolve("zorgverzekeraar.p12"), password, ca));
        SSLSocketFactory portal = step("pkcs12.portaal", null,
                () -> Ports.mutualTls(certs.resolve("portaal.p12"), password, ca));
        if (provider == null || insurer == null || portal == null) {
            return;
        }
        for (Ports.Soap soap : Ports.Soap.values()) {
            roundTrip(soap, url, provider, insurer, portal);
        }
    }

    /** One pass over every service on the ports of one SOAP version. */
    private void roundTrip(Ports.Soap soap, String url, SSLSocketFactory providerTls,
                           SSLSocketFactory insurerTls, SSLSocketFactory portalTls) throws Exception {
        String v = soap.label;
        // Unique per run and version: references are idempotency keys, and a
        // Machtigingsnummer is unique per insurer (BEO-002).
        String run = Long.toString(System.currentTimeMillis(), 36).toUpperCase(Locale.ROOT);
        String reference = "JAXWS-" + v + "-" + run;
        String number = "JX" + run + (soap == Ports.Soap.SOAP11 ? "A" : "B");

        MachtigingenClient provider = new MachtigingenClient(soap, providerTls, url);
        TerugkoppelingBeheerClient feedback = new TerugkoppelingBeheerClient(soap, providerTls, url);
        BeoordelingClient insurer = new BeoordelingClient(soap, insurerTls, url);

        // The provider registers its callback first, so the decisions below are pushed to it.
        // The suite's receiver serves a certificate of the platform's development CA.
        String receiverCa = Files.readString(Path.of(env("MT_CA")));
        step("terugkoppelingbeheer.RegistrerenAbonnement", v, () -> {
            var r = feedback.register(env("MT_RECEIVER_URL"), receiverCa);
            expect(r.verification().isGeslaagd(), "verification call failed: HTTP "
                    + r.verification().getHttpStatus() + " " + r.verification().getFout());
            return r;
        });

        // The platform's receiver check against that registration: every case as the contract
        // requires (docs/callbacks.md §10), and the report stored for OphalenControles.
        var check = step("terugkoppelingbeheer.ControlerenOntvanger", v, () -> {
            var c = feedback.checkReceiver();
            var failedCases = c.getGeval().stream().filter(g -> !g.isGeslaagd())
                    .map(g -> g.getNaam() + ": " + g.getAntwoord()).toList();
            var names = c.getGeval().stream().map(g -> g.getNaam()).toList();
            expect("geslaagd".equals(c.getStatus()) && failedCases.isEmpty(),
                    "status " + c.getStatus() + ", failed cases " + failedCases);
            expect(names.containsAll(List.of("geldig", "dubbel", "soap12")), "cases " + names);
            return c;
        });
        step("terugkoppelingbeheer.OphalenControles", v, () -> {
            var stored = feedback.checks();
            expect(!stored.isEmpty(), "no stored check");
            var newest = stored.get(0);
            expect(newest.getControleId().equals(need(check).getControleId())
                    && "geslaagd".equals(newest.getStatus())
                    && newest.getGeval().size() == check.getGeval().size(),
                    "newest stored check " + newest.getControleId() + ", expected " + check.getControleId());
            return stored;
        });

        String granted = grantedRequest(v, provider, insurer, reference, number);
        String withdrawn = withdrawnDraft(v, provider, insurer, reference + "-C");

        var pulled = step("terugkoppelingbeheer.OphalenTerugkoppelingen", v, () -> {
            // The withdrawn draft's changes are acknowledged too, when that part ran.
            var ids = withdrawn == null ? List.of(need(granted)) : List.of(need(granted), withdrawn);
            var mine = feedback.pull(ids);
            expect(mine.stream().anyMatch(t -> t.getMachtigingStatus().getBeslissing() != null
                    && number.equals(t.getMachtigingStatus().getBeslissing().getMachtigingsnummer())),
                    "no terugkoppeling with the grant among " + mine.size());
            return mine;
        });
        step("terugkoppelingbeheer.BevestigenTerugkoppelingen", v, () -> {
            var n = feedback.acknowledge(need(pulled));
            expect(n.intValue() == pulled.size(), n + " acknowledged of " + pulled.size());
            return n;
        });
        if (soap == Ports.Soap.SOAP11) {
            // The platform pushes SOAP 1.1 envelopes whichever port registered the callback.
            step("terugkoppeling.OntvangenTerugkoppeling", v, () -> {
                var pushed = TerugkoppelingCallback.awaitPushed(Path.of(env("MT_RECEIVER_LOG")), number,
                        Duration.ofSeconds(20));
                var change = pushed.getTerugkoppeling().getMachtigingStatus();
                expect(change != null && need(granted).equals(change.getMachtigingsaanvraagId()),
                        "pushed terugkoppeling is not about " + granted);
                return pushed;
            });
        }
        // Rotation and cancellation on the portal's own registration: the provider's
        // secret is the one the reference receiver was started with, and the next
        // receiver check (and runner) must still be signed with it.
        TerugkoppelingBeheerClient portalFeedback = new TerugkoppelingBeheerClient(soap, portalTls, url);
        step("terugkoppelingbeheer.RoterenGeheim", v, () -> {
            portalFeedback.register(env("MT_RECEIVER_URL"), receiverCa, List.of());
            String secret = portalFeedback.rotateSecret();
            expect(secret != null && secret.startsWith("whsec_"), "secret " + secret);
            return secret;
        });
        if (soap == Ports.Soap.SOAP12) {
            step("terugkoppelingbeheer.OpzeggenAbonnement", v, () -> {
                expect(portalFeedback.unsubscribe(), "no registration was removed");
                return true;
            });
        }

        optin(v, new OptinClient(soap, providerTls, url), new OptinClient(soap, portalTls, url), run);
    }

    /** Submit, find, consult; the insurer takes it up and grants it; the grant is valid. Answers its id. */
    private String grantedRequest(String v, MachtigingenClient provider, BeoordelingClient insurer,
                                  String reference, String number) {
        step("machtigingen.RaadplegenVerstrekkingen", v, () -> {
            var insurerCatalog = provider.catalog(UZOVI);
            expect(insurerCatalog.getVerstrekking().stream().anyMatch(x -> x.getCode().equals("PLAST-OOGLID")),
                    "PLAST-OOGLID not in the catalog of " + UZOVI);
            return insurerCatalog;
        });
        var submitted = step("machtigingen.IndienenMachtigingsaanvraag", v, () -> {
            var s = provider.submit(reference, AGB, UZOVI, MachtigingenClient.BSN);
            expect(s.id() != null && s.status() == Status.INGEDIEND, "status " + s.status() + ", expected Ingediend");
            return s;
        });
        String id = submitted == null ? null : submitted.id();
        step("machtigingen.RaadplegenMachtigingsaanvraag", v, () -> {
            var details = provider.consult(need(id));
            expect(reference.equals(details.getReferentie()), "reference " + details.getReferentie());
            return details;
        });
        step("machtigingen.ZoekenMachtigingsaanvragen", v, () -> {
            var found = provider.searchByReference(reference);
            expect(found.size() == 1 && found.get(0).getMachtigingsaanvraagId().equals(need(id)),
                    found.size() + " found");
            return found;
        });
        step("machtigingen.IndienenMachtigingsaanvraag.MachtigingenFout", v, () -> {
            var refusal = provider.submitRefused(reference + "-X", AGB, UZOVI,
                    MachtigingenClient.BSN_FAILING_11_PROEF);
            expect(refusal.findings().stream().anyMatch(f -> f.startsWith("JVC-J01")),
                    "fault " + refusal.code() + " " + refusal.findings() + ", expected a JVC-J01 finding");
            return refusal;
        });

        var inbox = step("beoordeling.OphalenInbox", v, () -> {
            var items = insurer.inboxFor(need(id));
            expect(!items.isEmpty(), id + " not in the inbox");
            return items;
        });
        step("beoordeling.BevestigenInbox", v, () -> {
            var n = insurer.acknowledge(need(inbox));
            expect(n.intValue() == inbox.size(), n + " acknowledged of " + inbox.size());
            return n;
        });
        step("beoordeling.ZoekenAanvragen", v, () -> {
            // Every page of this patient's requests, three at a time, along the Vervolg chain.
            List<String> seen = new ArrayList<>();
            BeoordelingClient.SearchPage page = null;
            String next = null;
            for (int n = 1; n <= 100; n++) {
                page = insurer.searchPatient(MachtigingenClient.BSN, LocalDate.of(1970, 3, 14), 3, next);
                expect(page.found().size() <= 3 && page.page().intValue() == n,
                        "page " + page.page() + " holds " + page.found().size());
                page.found().forEach(a -> seen.add(a.getMachtigingsaanvraagId()));
                next = page.next();
                if (next == null) {
                    break;
                }
            }
            expect(next == null, "more than 100 pages");
            expect(seen.contains(need(id)), id + " not found by the insurer's search");
            expect(new HashSet<>(seen).size() == seen.size(), "an id came twice: " + seen);
            expect(page.totalIsMinimum() || page.total().intValue() == seen.size(),
                    "Totaal " + page.total() + " but " + seen.size() + " seen");
            return seen;
        });
        step("beoordeling.RaadplegenAanvraag", v, () -> {
            var request = insurer.consult(need(id));
            expect(reference.equals(request.document().getMachtigingsaanvraag().getReferentie()),
                    "document reference " + request.document().getMachtigingsaanvraag().getReferentie());
            return request;
        });
        step("beoordeling.VastleggenBeoordeling.InBehandeling", v, () -> {
            var status = insurer.takeUp(need(id));
            expect(status == Status.IN_BEHANDELING, "status " + status);
            return status;
        });
        var decision = step("beoordeling.VastleggenBeoordeling.Toekenning", v, () -> {
            var d = insurer.grant(need(id), number);
            expect(number.equals(d.getMachtigingsnummer()), "Machtigingsnummer " + d.getMachtigingsnummer());
            return d;
        });
        step("beoordeling.ControlerenMachtiging", v, () -> {
            need(decision);
            var validity = insurer.check(UZOVI, number, MachtigingenClient.BSN, "DBC-OOGLID");
            expect(validity.valid() && "GELDIG".equals(validity.reasonCode()),
                    validity.reasonCode() + " " + validity.reason());
            return validity;
        });
        return decision == null ? null : id;
    }

    /** A draft, changed and thereby submitted; the insurer asks, the provider answers, then withdraws. */
    private String withdrawnDraft(String v, MachtigingenClient provider, BeoordelingClient insurer,
                                  String reference) {
        var draft = step("machtigingen.IndienenMachtigingsaanvraag.Concept", v, () -> {
            var s = provider.submit(MachtigingenClient.request(reference, AGB, UZOVI, MachtigingenClient.BSN), true);
            expect(s.status() == Status.CONCEPT, "status " + s.status() + ", expected Concept");
            return s;
        });
        String id = draft == null ? null : draft.id();
        step("machtigingen.WijzigenMachtigingsaanvraag", v, () -> {
            var changed = MachtigingenClient.request(reference, AGB, UZOVI, MachtigingenClient.BSN);
            changed.setToelichting("Gezichtsveld opnieuw gemeten.");
            var status = provider.modifyAndSubmit(need(id), changed);
            expect(status == Status.INGEDIEND, "status " + status + ", expected Ingediend");
            return status;
        });
        step("beoordeling.VastleggenBeoordeling.AanvullendeInformatieGevraagd", v, () -> {
            var items = insurer.inboxFor(need(id));
            if (!items.isEmpty()) {
                insurer.acknowledge(items);
            }
            var status = insurer.ask(id, "FOTO-ZIJAANZICHT", "Graag ook een foto van opzij.");
            expect(status == Status.AANVULLENDE_INFORMATIE_GEVRAAGD, "status " + status);
            return status;
        });
        step("machtigingen.AanleverenAanvullendeInformatie", v, () -> {
            // Answering a question round takes the request back into handling (docs/levenscyclus.md).
            var status = provider.supplyInformation(need(id), "FOTO-ZIJAANZICHT", "Volgt met de post.");
            expect(status == Status.IN_BEHANDELING, "status " + status + ", expected InBehandeling");
            return status;
        });
        var withdrawn = step("machtigingen.IntrekkenMachtigingsaanvraag", v, () -> {
            var status = provider.withdraw(need(id), "Behandeling niet meer nodig.");
            expect(status == Status.INGETROKKEN, "status " + status + ", expected Ingetrokken");
            return status;
        });
        return withdrawn == null ? null : id;
    }

    /** Opt-in: the provider subscribes, a portal registers consent, the provider handles it, the portal sees the outcome. */
    private void optin(String v, OptinClient provider, OptinClient portal, String run) {
        step("optin.AanmeldenDienstOptin", v, () -> {
            var subscription = provider.subscribe();
            expect(subscription.isActief(), "subscription not active");
            return subscription;
        });
        String registration = step("optin.RegistrerenToestemming", v,
                () -> portal.register("JAXWS-OPTIN-" + v + "-" + run, MachtigingenClient.BSN, AGB));
        step("optin.OphalenToestemmingen", v, () -> provider.fetch(need(registration)));
        step("optin.BevestigenOntvangst", v, () -> {
            var n = provider.acknowledge(need(registration));
            expect(n.intValue() == 1, n + " acknowledged");
            return n;
        });
        step("optin.AfhandelenToestemming", v, () -> {
            var status = provider.handle(need(registration));
            expect(status == RegistratieStatus.VERWERKT, "status " + status);
            return status;
        });
        step("optin.RaadplegenToestemming", v, () -> {
            var r = portal.consult(need(registration));
            expect(r.getStatus() == RegistratieStatus.VERWERKT,
                    "status " + r.getStatus() + " as the portal sees it, expected Verwerkt");
            return r;
        });
        step("optin.AfmeldenDienstOptin", v, () -> {
            var subscription = provider.unsubscribe();
            expect(!subscription.isActief(), "still active");
            return subscription;
        });
    }

    /** Runs one call and prints its PASS/FAIL line; answers its result, or null when it failed. */
    private <T> T step(String operation, String soap, Callable<T> call) {
        String name = soap == null ? operation : operation + " " + soap;
        try {
            T result = call.call();
            passed++;
            System.out.println("PASS " + name);
            return result;
        } catch (Exception e) {
            failed++;
            System.out.println("FAIL " + name + " : " + reason(e));
            return null;
        }
    }

    private static String reason(Throwable e) {
        // Every service's typed fault exception carries the same fault bean,
        // FoutDetail: the platform's code and each finding (docs/foutcodes.md).
        StringBuilder detail = new StringBuilder();
        try {
            if (e.getClass().getMethod("getFaultInfo").invoke(e) instanceof FoutDetail fout) {
                detail.append(" [").append(fout.getCode());
                for (Bevinding b : fout.getBevinding()) {
                    detail.append("; ").append(b.getCode()).append(" ").append(b.getLocatie())
                            .append(": ").append(b.getMelding());
                }
                detail.append("]");
            }
        } catch (ReflectiveOperationException notAFault) {
            // any other exception: its message says it all
        }
        return e.getClass().getSimpleName() + detail + ": " + String.valueOf(e.getMessage()).replace('\n', ' ');
    }

    private static void expect(boolean ok, String otherwise) {
        if (!ok) {
            throw new IllegalStateException(otherwise);
        }
    }

    /** The result of an earlier step this one depends on. */
    private static <T> T need(T earlier) {
        if (earlier == null || (earlier instanceof List<?> l && l.isEmpty())) {
            throw new IllegalStateException("not run: an earlier step it depends on failed");
        }
        return earlier;
    }

    private static String env(String name) {
        String value = System.getenv(name);
        if (value == null || value.isEmpty()) {
            throw new IllegalStateException(name + " is not set");
        }
        return value;
    }
}
