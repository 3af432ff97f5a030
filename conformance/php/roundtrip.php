<?php
// PHP SoapClient conformance runner and PHP integration example
// (docs/integratie.md): every operation of the four platform services over SOAP
// 1.1 and 1.2 with plain PHP arrays, in one round trip per SOAP version; the
// generated types must be concrete (no anyType for repeated elements); the
// callback contract (terugkoppeling-v1.wsdl) is checked by handing a SOAP
// callback the reference receiver received to a SoapServer built from it.

declare(strict_types=1);

require __DIR__ . '/mt.php';

const MT = 'machtigingen-v1';
const BO = 'beoordeling-v1';
const OI = 'optin-v1';
const TK = 'terugkoppelingbeheer-v1';
// A 1x1 JPEG: the catalog requires a photo for PLAST-OOGLID.
const PHOTO = '/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAP//////////////////////////////////////////////////'
    . '////////////////////////////////////wgALCAABAAEBAREA/8QAFBABAAAAAAAAAAAAAAAAAAAAAP/a'
    . 'AAgBAQABPxA=';

final class RoundTrip
{
    private array $ids = [];
    private string $bsn;
    private string $nummer = '';

    public function __construct(private Report $r, private string $soap)
    {
    }

    private function call(string $service, string $role, string $op, array $args = []): mixed
    {
        return $this->r->call($service, $op, $this->soap, function () use ($service, $role, $op, $args) {
            if (in_array(null, $args, true)) {
                throw new RuntimeException('not run: an earlier call it depends on failed');
            }
            $client = Mt::client(substr($service, 0, -3), $role, $this->soap);
            $res = $client->__soapCall($op, [$args]);
            $envelope = $this->soap === 'soap12' ? 'http://www.w3.org/2003/05/soap-envelope'
                : 'http://schemas.xmlsoap.org/soap/envelope/';
            if (!str_contains((string) $client->__getLastRequest(), $envelope)) {
                throw new RuntimeException("request was not a {$this->soap} envelope");
            }
            return $res;
        });
    }

    private function check(string $service, string $op, bool $ok, string $message): void
    {
        $this->r->check($service, $op, $this->soap, $ok, $message);
    }

    public function types(): void
    {
        foreach (['machtigingen', 'beoordeling', 'optin', 'terugkoppelingbeheer'] as $service) {
            $this->r->call("$service-v1", '__getTypes', $this->soap, function () use ($service) {
                $types = Mt::client($service, $service === 'beoordeling' ? 'zorgverzekeraar' : 'zorgaanbieder', $this->soap)->__getTypes();
                $any = array_filter($types, fn ($t) => str_contains($t, 'anyType'));
                if ($any) {
                    throw new RuntimeException('anyType in ' . implode(', ', array_map(
                        fn ($t) => preg_replace('/\s+/', ' ', $t), $any)));
                }
            });
        }
    }

    // --- excerpt: aanvraag ---
    private function aanvraag(int $aantal = 1, ?string $referentie = null): array
    {
        return [
            'Referentie' => $referentie ?? Mt::reference('PHP'),
            'Indiener' => ['AgbPraktijk' => '03123456', 'Software' => ['Naam' => 'conformance-php', 'Versie' => '1.0']],
            'Verzekerde' => ['Bsn' => $this->bsn, 'Geboortedatum' => Mt::date(-365 * 40),
                'Naam' => ['Voorletters' => 'J.', 'Achternaam' => 'Jansen']],
            'Uzovi' => '3311', 'Grondslag' => 'Zvw', 'Verstrekking' => 'PLAST-OOGLID', 'Zorgsoort' => '0301',
            'Prestaties' => ['Prestatie' => [['Code' => 'DBC-OOGLID', 'Aantal' => $aantal]]],
            'Begindatum' => Mt::date(7), 'GewensteEinddatum' => Mt::date(180),
            'Antwoorden' => ['Antwoord' => [['VraagId' => 'GEZICHTSVELD', 'Waarde' => 'ja'],
                ['VraagId' => 'GRADEN', 'Waarde' => '25']]],
            'Toelichting' => 'Conformance: dermatochalasis met gezichtsveldbeperking.',
            // SoapClient base64-encodes xs:base64Binary itself: pass the raw bytes.
            'Bijlagen' => ['Bijlage' => [['Soort' => 'foto', 'Naam' => 'vooraanzicht.jpg',
                'MediaType' => 'image/jpeg', 'Inhoud' => base64_decode(PHOTO)]]],
        ];
    }
    // --- end ---

    private function submit(bool $concept = false, ?array &$doc = null): ?string
    {
        $doc = $this->aanvraag();
        $res = $this->call(MT, 'zorgaanbieder', 'IndienenMachtigingsaanvraag',
            ['Machtigingsaanvraag' => $doc, 'Concept' => $concept]);
        $want = $concept ? 'Concept' : 'Ingediend';
        $this->check(MT, 'IndienenMachtigingsaanvraag', ($res->Status ?? null) === $want,
            'status ' . ($res->Status ?? 'none') . ", expected $want");
        return $res->MachtigingsaanvraagId ?? null;
    }

    private function provider(): void
    {
        $this->bsn = Mt::bsn();
        $cat = $this->call(MT, 'zorgaanbieder', 'RaadplegenVerstrekkingen', ['Uzovi' => '3311']);
        $codes = [];
        foreach (Mt::items($cat->Verzekeraar ?? null) as $z) {
            foreach (Mt::items($z->Verstrekking ?? null) as $v) {
                $codes[] = $v->Code;
            }
        }
        $this->check(MT, 'RaadplegenVerstrekkingen', in_array('PLAST-OOGLID', $codes, true), 'PLAST-OOGLID not in the catalog');
        foreach (['grant', 'partial', 'reject'] as $k) {
            $this->ids[$k] = $this->submit();
        }
        $found = $this->call(MT, 'zorgaanbieder', 'RaadplegenMachtigingsaanvraag', ['MachtigingsaanvraagId' => $this->ids['grant']]);
        $this->check(MT, 'RaadplegenMachtigingsaanvraag', ($found->Machtigingsaanvraag->Bsn ?? null) === $this->bsn, 'not the submitted request');
        $hits = $this->call(MT, 'zorgaanbieder', 'ZoekenMachtigingsaanvragen', [
            'AangemaaktVanaf' => Mt::date(-1),
            'Verzekerde' => ['Bsn' => $this->bsn, 'Geboortedatum' => Mt::date(-365 * 40)],
            'Paginering' => ['Pagina' => 1, 'PaginaGrootte' => 10]]);
        $this->check(MT, 'ZoekenMachtigingsaanvragen', (int) ($hits->Totaal ?? -1) === 3, 'found ' . ($hits->Totaal ?? 'none') . ' of 3');
        // A draft, modified and then submitted; that one withdrawn.
        $draft = $this->submit(true, $doc);
        $res = $this->call(MT, 'zorgaanbieder', 'WijzigenMachtigingsaanvraag', ['MachtigingsaanvraagId' => $draft,
            'Machtigingsaanvraag' => $this->aanvraag(2, $doc['Referentie']), 'Concept' => false]);
        $this->check(MT, 'WijzigenMachtigingsaanvraag', ($res->Status ?? null) === 'Ingediend', 'not submitted');
        $res = $this->call(MT, 'zorgaanbieder', 'IntrekkenMachtigingsaanvraag',
            ['MachtigingsaanvraagId' => $draft, 'Reden' => 'Conformance: dubbel ingediend.']);
        $this->check(MT, 'IntrekkenMachtigingsaanvraag', ($res->Status ?? null) === 'Ingetrokken', 'not withdrawn');
    }

    private function decide(string $key, array $decision, string $want): void
    {
        $res = $this->call(BO, 'zorgverzekeraar', 'VastleggenBeoordeling',
            ['MachtigingsaanvraagId' => $this->ids[$key]] + $decision);
        $this->check(BO, 'VastleggenBeoordeling', ($res->Status ?? null) === $want, "$want not recorded");
    }

    private function insurer(): void
    {
        $inbox = Mt::items($this->call(BO, 'zorgverzekeraar', 'OphalenInbox', ['Maximum' => 500])->Item ?? null);
        $mine = array_map(fn ($i) => $i->MachtigingsaanvraagId, $inbox);
        $this->check(BO, 'OphalenInbox', !array_diff(array_values($this->ids), $mine), 'submitted requests missing');
        if ($inbox) {
            $ack = $this->call(BO, 'zorgverzekeraar', 'BevestigenInbox', ['InboxId' => array_map(fn ($i) => $i->InboxId, $inbox)]);
            $this->check(BO, 'BevestigenInbox', (int) ($ack->Bevestigd ?? -1) === count($inbox), 'not all acknowledged');
        }
        $this->searchAsInsurer();
        $doc = $this->call(BO, 'zorgverzekeraar', 'RaadplegenAanvraag', ['MachtigingsaanvraagId' => $this->ids['grant']]);
        $this->check(BO, 'RaadplegenAanvraag', ($doc->Document->Machtigingsaanvraag->Verzekerde->Bsn ?? null) === $this->bsn, 'wrong document');
        $this->decide('grant', ['InBehandeling' => true], 'InBehandeling');
        $this->decide('grant', ['AanvullendeInformatieGevraagd' => ['Vraag' => [
            ['VraagId' => 'FOTO2', 'Tekst' => 'Graag een foto van opzij.']]]], 'AanvullendeInformatieGevraagd');
        $res = $this->call(MT, 'zorgaanbieder', 'AanleverenAanvullendeInformatie', [
            'MachtigingsaanvraagId' => $this->ids['grant'], 'AanvullendeInformatie' => [
                'Antwoorden' => ['Antwoord' => [['VraagId' => 'FOTO2', 'Waarde' => 'Zie bijlage.']]],
                'Bijlagen' => ['Bijlage' => [['Soort' => 'foto', 'Naam' => 'opzij.jpg',
                    'MediaType' => 'image/jpeg', 'Inhoud' => base64_decode(PHOTO)]]]]]);
        $this->check(MT, 'AanleverenAanvullendeInformatie', isset($res->Status), 'no answer');
        $this->nummer = 'P' . substr((string) (int) (microtime(true) * 1000), -12) . substr($this->soap, -1);
        $period = ['GeldigVan' => Mt::date(7), 'GeldigTot' => Mt::date(180)];
        $this->decide('grant', ['Toekenning' => ['Uitkomst' => 'Toegekend', 'Machtigingsnummer' => $this->nummer] + $period
            + ['Prestatie' => [['Code' => 'DBC-OOGLID', 'Aantal' => 1, 'Bedrag' => '1234.50']]]], 'Toegekend');
        $this->decide('partial', ['Toekenning' => ['Uitkomst' => 'DeelsToegekend'] + $period
            + ['Prestatie' => [['Code' => 'DBC-OOGLID', 'Aantal' => 1]]]], 'DeelsToegekend');
        $this->decide('reject', ['Afwijzing' => ['RedenCode' => 'GEEN-INDICATIE', 'RedenTekst' => 'Geen functionele beperking.']], 'Afgewezen');
        $ok = $this->call(BO, 'zorgverzekeraar', 'ControlerenMachtiging', ['Uzovi' => '3311', 'Machtigingsnummer' => $this->nummer,
            'Bsn' => $this->bsn, 'Prestatie' => 'DBC-OOGLID', 'Datum' => Mt::date(30)]);
        $this->check(BO, 'ControlerenMachtiging', ($ok->Geldig ?? null) === true, 'answer ' . ($ok->RedenCode ?? 'none'));
        // Revisions: the partial grant extended, the grant revoked from today on.
        $res = $this->call(BO, 'zorgverzekeraar', 'HerzienenMachtiging', ['MachtigingsaanvraagId' => $this->ids['partial'],
            'Soort' => 'Verlenging', 'GeldigTot' => Mt::date(365), 'RedenCode' => 'LANGER', 'RedenTekst' => 'Behandeling duurt langer.']);
        $this->check(BO, 'HerzienenMachtiging', ($res->Beslissing->Herziening->VorigeGeldigTot ?? null) === Mt::date(180), 'not extended');
        $res = $this->call(BO, 'zorgverzekeraar', 'HerzienenMachtiging', ['MachtigingsaanvraagId' => $this->ids['grant'],
            'Soort' => 'Herroeping', 'RedenCode' => 'VERZEKERING', 'RedenTekst' => 'Niet meer bij ons verzekerd.']);
        $this->check(BO, 'HerzienenMachtiging', ($res->Status ?? null) === 'Herroepen', 'not revoked');
        $no = $this->call(BO, 'zorgverzekeraar', 'ControlerenMachtiging', ['Uzovi' => '3311', 'Machtigingsnummer' => $this->nummer,
            'Bsn' => $this->bsn, 'Prestatie' => 'DBC-OOGLID', 'Datum' => Mt::date(30)]);
        $this->check(BO, 'ControlerenMachtiging', ($no->RedenCode ?? null) === 'HERROEPEN', 'answer ' . ($no->RedenCode ?? 'none'));
    }

    /** An unknown request id: a SoapFault whose detail carries `Fout` with its code. */
    /** ZoekenAanvragen for this run's patient, two per page, following Vervolg to the end. */
    private function searchAsInsurer(): void
    {
        $seen = [];
        $vervolg = null;
        $pages = 0;
        $page = null;
        while ($pages < 10) {
            $paginering = ['PaginaGrootte' => 2];
            if ($vervolg !== null) {
                $paginering['Vervolg'] = $vervolg;
            }
            $page = $this->call(BO, 'zorgverzekeraar', 'ZoekenAanvragen', [
                'AangemaaktVanaf' => Mt::date(-1),
                'Verzekerde' => ['Bsn' => $this->bsn, 'Geboortedatum' => Mt::date(-365 * 40)],
                'Paginering' => $paginering]);
            if ($page === null) {
                return;
            }
            $pages++;
            $items = Mt::items($page->Aanvraag ?? null);
            $this->check(BO, 'ZoekenAanvragen', count($items) <= 2 && (int) $page->Pagina === $pages,
                "page {$page->Pagina} holds " . count($items));
            foreach ($items as $a) {
                $seen[] = $a->MachtigingsaanvraagId;
            }
            $vervolg = $page->Vervolg ?? null;
            if ($vervolg === null) {
                break;
            }
        }
        $distinct = count(array_unique($seen));
        $this->check(BO, 'ZoekenAanvragen', $distinct === count($seen) && (int) $page->Totaal === count($seen)
            && !$page->TotaalIsMinimum, "Totaal {$page->Totaal} but " . count($seen) . " ids seen ($distinct distinct)");
        $this->check(BO, 'ZoekenAanvragen', !array_diff(array_values($this->ids), $seen),
            "a submitted request is missing from the insurer's search");
    }

    private function fault(): void
    {
        $this->r->call(MT, 'RaadplegenMachtigingsaanvraag', $this->soap, function () {
            try {
                Mt::client('machtigingen', 'zorgaanbieder', $this->soap)
                    ->__soapCall('RaadplegenMachtigingsaanvraag', [['MachtigingsaanvraagId' => 'MA' . str_repeat('0', 32)]]);
            } catch (SoapFault $f) {
                if (!isset($f->detail->Fout->Code)) {
                    throw new RuntimeException('Fault without Fout detail: ' . $f->getMessage());
                }
                return;
            }
            throw new RuntimeException('no Fault for an unknown request');
        });
    }

    private function callbacks(): void
    {
        $res = $this->call(TK, 'zorgaanbieder', 'RegistrerenAbonnement', ['Url' => Mt::env('MT_RECEIVER_URL'),
            'Formaat' => 'soap', 'CaBundle' => file_get_contents(Mt::env('MT_CA')), 'Gebeurtenis' => ['machtiging.status']]);
        $this->check(TK, 'RegistrerenAbonnement', ($res->Verificatie->Geslaagd ?? false) === true, 'verification failed');
        // Rotation and cancellation on the portal's own registration: the
        // provider's secret is the one the reference receiver was started with.
        $this->call(TK, 'portaal', 'RegistrerenAbonnement', ['Url' => Mt::env('MT_RECEIVER_URL'), 'Formaat' => 'json']);
        $res = $this->call(TK, 'portaal', 'RoterenGeheim');
        $this->check(TK, 'RoterenGeheim', str_starts_with($res->Geheim ?? '', 'whsec_'), 'no new secret');
        $res = $this->call(TK, 'portaal', 'OpzeggenAbonnement');
        $this->check(TK, 'OpzeggenAbonnement', ($res->Opgezegd ?? null) === true, 'not cancelled');
    }

    /** The platform's receiver check against the provider's SOAP registration: every case passes, and it is stored. */
    private function receiverCheck(): void
    {
        $res = $this->call(TK, 'zorgaanbieder', 'ControlerenOntvanger');
        $cases = [];
        foreach (Mt::items($res->Controle->Geval ?? null) as $g) {
            $cases[$g->Naam] = $g;
        }
        $failed = array_keys(array_filter($cases, fn ($g) => $g->Geslaagd !== true));
        $this->check(TK, 'ControlerenOntvanger', ($res->Controle->Status ?? null) === 'geslaagd'
            && ($res->Controle->Formaat ?? null) === 'soap' && !$failed,
            'status ' . ($res->Controle->Status ?? '-') . ', failed cases: ' . implode(', ', $failed));
        $this->check(TK, 'ControlerenOntvanger', !array_diff(['geldig', 'dubbel', 'soap12'], array_keys($cases)),
            'cases ' . implode(', ', array_keys($cases)));
        $stored = Mt::items($this->call(TK, 'zorgaanbieder', 'OphalenControles')->Controle ?? null);
        $newest = $stored[0] ?? null;
        $this->check(TK, 'OphalenControles', $newest !== null && isset($res->Controle)
            && $newest->ControleId === $res->Controle->ControleId && $newest->Status === 'geslaagd'
            && count(Mt::items($newest->Geval ?? null)) === count($cases),
            'newest stored check ' . ($newest->ControleId ?? '-') . ', expected ' . ($res->Controle->ControleId ?? '-'));
    }

    private function pull(): void
    {
        $got = Mt::items($this->call(TK, 'zorgaanbieder', 'OphalenTerugkoppelingen', ['Na' => 0, 'Maximum' => 500])->Bericht ?? null);
        $mine = array_filter($got, fn ($b) => $b->Onderwerp === $this->ids['grant']);
        $this->check(TK, 'OphalenTerugkoppelingen', (bool) $mine, 'no terugkoppeling about the request');
        if ($got) {
            $ids = array_map(fn ($b) => $b->OntvangenTerugkoppeling->Terugkoppeling->TerugkoppelingId, $got);
            $res = $this->call(TK, 'zorgaanbieder', 'BevestigenTerugkoppelingen', ['TerugkoppelingId' => $ids]);
            $this->check(TK, 'BevestigenTerugkoppelingen', (int) ($res->Bevestigd ?? -1) === count($ids), 'not all acknowledged');
        }
    }

    /** The pushed SOAP callback about the granted request, handed to a SoapServer of the callback contract. */
    private function delivered(): void
    {
        $msg = $this->r->call('terugkoppeling-v1', 'OntvangenTerugkoppeling', $this->soap,
            function () {
                if (($this->ids['grant'] ?? null) === null) {
                    throw new RuntimeException('not run: an earlier call it depends on failed');
                }
                return Callback::parse(Callback::wait($this->ids['grant'], 'Toegekend'));
            });
        $this->check('terugkoppeling-v1', 'OntvangenTerugkoppeling',
            ($msg->Terugkoppeling->MachtigingStatus->Beslissing->Machtigingsnummer ?? null) === $this->nummer,
            'not the decision that was recorded');
    }

    private function optin(): void
    {
        $res = $this->call(OI, 'zorgaanbieder', 'AanmeldenDienstOptin', ['NotificatieEmail' => 'optin@praktijk.example']);
        $this->check(OI, 'AanmeldenDienstOptin', ($res->Abonnement->Actief ?? false) === true, 'not subscribed');
        $regs = [];
        foreach (['Verwerkt', 'Afgewezen'] as $outcome) {
            $res = $this->call(OI, 'portaal', 'RegistrerenToestemming', ['Toestemmingsregistratie' => [
                'Referentie' => Mt::reference('PORTAAL'),
                'Patient' => ['Bsn' => Mt::bsn(), 'Geboortedatum' => Mt::date(-365 * 30), 'Naam' => ['Achternaam' => 'de Boer']],
                'AgbZorgaanbieder' => '03123456', 'Toestemming' => 'Ja', 'GegevenOp' => Mt::now()]]);
            if (isset($res->RegistratieId)) {
                $regs[$res->RegistratieId] = $outcome;
            }
        }
        $pulled = Mt::items($this->call(OI, 'zorgaanbieder', 'OphalenToestemmingen', ['Maximum' => 100])->Registratie ?? null);
        $seen = array_map(fn ($r) => $r->RegistratieId, $pulled);
        $this->check(OI, 'OphalenToestemmingen', !array_diff(array_keys($regs), $seen), 'registrations missing');
        if ($seen) {
            $res = $this->call(OI, 'zorgaanbieder', 'BevestigenOntvangst', ['RegistratieId' => $seen]);
            $this->check(OI, 'BevestigenOntvangst', (int) ($res->Bevestigd ?? -1) === count($seen), 'not all acknowledged');
        }
        foreach ($regs as $id => $outcome) {
            $args = ['RegistratieId' => $id, 'Afhandeling' => $outcome];
            if ($outcome === 'Afgewezen') {
                $args += ['RedenCode' => 'ONBEKENDE-PATIENT', 'RedenTekst' => 'Patient niet in zorg.'];
            }
            $res = $this->call(OI, 'zorgaanbieder', 'AfhandelenToestemming', $args);
            $this->check(OI, 'AfhandelenToestemming', ($res->Status ?? null) === $outcome, "$outcome not recorded");
            $res = $this->call(OI, 'portaal', 'RaadplegenToestemming', ['RegistratieId' => $id]);
            $this->check(OI, 'RaadplegenToestemming', ($res->Registratie->Status ?? null) === $outcome, 'portal does not see the outcome');
        }
        $res = $this->call(OI, 'zorgaanbieder', 'AfmeldenDienstOptin');
        $this->check(OI, 'AfmeldenDienstOptin', ($res->Abonnement->Actief ?? true) === false, 'still subscribed');
    }

    public function run(): void
    {
        $this->types();
        $this->callbacks();
        $this->receiverCheck();
        $this->provider();
        $this->insurer();
        $this->fault();
        $this->pull();
        $this->delivered();
        $this->optin();
    }
}

/** The provider's side of the callback contract. */
final class Callback
{
    public ?object $received = null;

    /** The body of the first SOAP callback in MT_RECEIVER_LOG about `$id` with `$status`. */
    public static function wait(string $id, string $status, int $timeout = 20): string
    {
        $deadline = time() + $timeout;
        while (time() < $deadline) {
            foreach (file(Mt::env('MT_RECEIVER_LOG'), FILE_IGNORE_NEW_LINES) as $line) {
                $rec = json_decode($line, true);
                $body = $rec['bericht'] ?? null;
                if (str_starts_with($rec['contentType'] ?? '', 'text/xml') && is_string($body)
                    && str_contains($body, $id) && str_contains($body, "<Status>$status</Status>")) {
                    return $body;
                }
            }
            usleep(300000);
        }
        throw new RuntimeException("no SOAP callback about $id ($status)");
    }

    /** Lets a SoapServer built from terugkoppeling-v1.wsdl handle the body; returns its typed argument. */
    public static function parse(string $body): object
    {
        $handler = new self();
        $server = new SoapServer(dirname(__DIR__, 2) . '/wsdl/terugkoppeling-v1.wsdl', ['cache_wsdl' => WSDL_CACHE_NONE]);
        $server->setObject($handler);
        ob_start();
        $server->handle($body);
        $answer = ob_get_clean();
        if ($handler->received === null) {
            throw new RuntimeException('SoapServer did not dispatch: ' . substr((string) $answer, 0, 300));
        }
        return $handler->received;
    }

    public function OntvangenTerugkoppeling(object $request): array
    {
        $this->received = $request;
        return ['Ontvangen' => true];
    }
}

$report = new Report();
foreach (['soap11', 'soap12'] as $soap) {
    (new RoundTrip($report, $soap))->run();
}
exit($report->finish());
