<?php
// Shared helpers of the PHP SoapClient runner: mutual-TLS clients per role and
// SOAP version (plain arrays in, stdClass out), test data that stays valid
// (dates relative to today, a BSN that passes the 11-proef) and the
// per-operation PASS/FAIL report.

declare(strict_types=1);

final class Mt
{
    /** @var array<string, SoapClient> */
    private static array $clients = [];

    public static function env(string $name): string
    {
        $v = getenv($name);
        if ($v === false || $v === '') {
            throw new RuntimeException("$name is not set");
        }
        return $v;
    }

    /** PEM with certificate and key, as `local_cert` wants it. */
    private static function identity(string $role): string
    {
        $certs = self::env('MT_CERTS');
        $out = self::env('MT_WORK') . "/$role.identity.pem";
        if (!is_file($out)) {
            file_put_contents($out, file_get_contents("$certs/$role.pem") . file_get_contents("$certs/$role.key"));
            chmod($out, 0600);
        }
        return $out;
    }

    // --- excerpt: client ---
    /** A SoapClient for `service` (e.g. "machtigingen") as `role` over `soap` (soap11|soap12). */
    public static function client(string $service, string $role, string $soap): SoapClient
    {
        $key = "$service/$role/$soap";
        if (!isset(self::$clients[$key])) {
            $ssl = [
                'cafile' => self::env('MT_CA'),
                'local_cert' => self::identity($role),
                'verify_peer' => true,
                'verify_peer_name' => true,
            ];
            self::$clients[$key] = new SoapClient(self::env('MT_URL') . "/soap/$service/v1?wsdl", [
                'soap_version' => $soap === 'soap12' ? SOAP_1_2 : SOAP_1_1,
                'local_cert' => self::identity($role),
                'stream_context' => stream_context_create(['ssl' => $ssl]),
                'cache_wsdl' => WSDL_CACHE_NONE,
                'exceptions' => true,
                'trace' => true,
                'features' => SOAP_SINGLE_ELEMENT_ARRAYS,
            ]);
        }
        return self::$clients[$key];
    }
    // --- end ---

    public static function date(int $days = 0): string
    {
        return (new DateTimeImmutable('today'))->modify("$days days")->format('Y-m-d');
    }

    public static function now(): string
    {
        return (new DateTimeImmutable('now', new DateTimeZone('UTC')))->format('Y-m-d\TH:i:s\Z');
    }

    /** A random BSN that passes the 11-proef. */
    public static function bsn(): string
    {
        while (true) {
            $d = [random_int(1, 9)];
            for ($i = 1; $i < 8; $i++) {
                $d[] = random_int(0, 9);
            }
            $sum = 0;
            foreach ($d as $i => $x) {
                $sum += $x * (9 - $i);
            }
            if ($sum % 11 < 10) {
                return implode('', $d) . ($sum % 11);
            }
        }
    }

    public static function reference(string $prefix): string
    {
        return $prefix . '-' . bin2hex(random_bytes(6));
    }

    /** A repeated element as a list, whether absent, one or many. */
    public static function items(mixed $x): array
    {
        if ($x === null) {
            return [];
        }
        return is_array($x) ? $x : [$x];
    }
}

/** One line per operation and SOAP version; an operation fails when any call of it failed. */
final class Report
{
    /** @var array<string, list<string>> */
    private array $results = [];

    public function call(string $service, string $operation, string $soap, callable $fn): mixed
    {
        $key = "$service.$operation $soap";
        $this->results[$key] ??= [];
        try {
            return $fn();
        } catch (Throwable $e) {
            $this->results[$key][] = self::describe($e);
            return null;
        }
    }

    public function check(string $service, string $operation, string $soap, bool $ok, string $message): void
    {
        if (!$ok) {
            $this->results["$service.$operation $soap"][] = $message;
        }
    }

    private static function describe(Throwable $e): string
    {
        $text = get_class($e) . ': ' . $e->getMessage();
        if ($e instanceof SoapFault && isset($e->detail->Fout)) {
            $fout = $e->detail->Fout;
            $findings = array_map(fn ($b) => $b->Melding ?? '', Mt::items($fout->Bevinding ?? null));
            $text .= " [{$fout->Code}" . ($findings ? ': ' . implode(' | ', $findings) : '') . ']';
        }
        return substr(str_replace("\n", ' ', $text), 0, 600);
    }

    public function finish(): int
    {
        $passed = $failed = 0;
        foreach ($this->results as $key => $errors) {
            if ($errors) {
                $failed++;
                echo "FAIL $key : " . implode('; ', $errors) . "\n";
            } else {
                $passed++;
                echo "PASS $key\n";
            }
        }
        echo "$passed passed, $failed failed\n";
        return $failed ? 1 : 0;
    }
}
