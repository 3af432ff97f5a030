// The portal in a real browser (issue 22): Debian's headless chromium, driven
// by playwright-core, presents the persons' PKCS#12 certificates from the
// zero-config development PKI to a real `serve` that tests/browser/run.sh
// started; API calls go over node's https with the systeem certificates.
// Every page is checked for Content-Security-Policy violations, and each
// role's pages are screenshotted for docs/portaal.md.
//
// Environment (set by run.sh): MT_URL, MT_CA, MT_DEMO, MT_CERTS,
// MT_P12_PASSWORD, MT_RECEIVER_LOG, MT_CHROMIUM, MT_SCREENSHOTS.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { chromium } from 'playwright-core';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run tests/browser/run.sh`);
  return v;
};
const BASE = env('MT_URL');
const CA = fs.readFileSync(env('MT_CA'));
const DEMO = env('MT_DEMO');
const CERTS = env('MT_CERTS');
const P12_PASSWORD = env('MT_P12_PASSWORD');
const RECEIVER_LOG = env('MT_RECEIVER_LOG');
const SHOTS = env('MT_SCREENSHOTS');
const DOC = fs.readFileSync(new URL('../../docs/portaal.md', import.meta.url), 'utf8');

const p12 = {
  medewerker: path.join(DEMO, 'medewerker.p12'),
  beoordelaar3311: path.join(DEMO, 'beoordelaar.p12'),
  beoordelaar3312: path.join(CERTS, 'beoordelaar3312.p12'),
  systeem: path.join(DEMO, 'zorgaanbieder.p12'),
};
const pem = {
  verzekeraar3312: path.join(CERTS, 'verzekeraar3312'),
  praktijksoftware: path.join(CERTS, 'praktijksoftware'),
  patientportaal: path.join(CERTS, 'patientportaal'),
  leverancier: path.join(CERTS, 'leverancier'),
  zorgaanbieder: path.join(DEMO, 'zorgaanbieder'),
};

const day = (n) => new Date(Date.now() + n * 86400000).toISOString().slice(0, 10);
const unique = () => `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;

let browser;
const shots = [];

before(async () => {
  browser = await chromium.launch({
    executablePath: env('MT_CHROMIUM'),
    // Root in CI: chromium's sandbox needs user namespaces a container may lack.
    args: ['--no-sandbox'],
  });
});

after(async () => {
  await browser?.close();
});

/** A browser context that presents `pfx` to the server, with CSP watchers. */
async function as(pfx, fn, { watcherCheck = false } = {}) {
  const context = await browser.newContext({
    clientCertificates: [{ origin: BASE, pfxPath: pfx, passphrase: P12_PASSWORD }],
    // The server certificate is the development CA's; the client certificate
    // proxy does not take a custom CA, so TLS trust is checked over the API
    // (node https with MT_CA) instead.
    ignoreHTTPSErrors: true,
    viewport: { width: 1200, height: 900 },
    locale: 'nl-NL',
  });
  const problems = [];
  // Injected over the DevTools protocol, so the page's own CSP does not apply to it.
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  const page = await context.newPage();
  page.setDefaultTimeout(10000);
  page.on('console', (m) => {
    const t = m.text();
    if (/Content Security Policy|CSP violation|Refused to/i.test(t)) problems.push(t);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  page.on('response', (r) => {
    // Sub-resources (the stylesheet) must load; documents may be 4xx on purpose.
    // (The browser's own favicon probe is not the page's: the portal declares none.)
    if (r.request().resourceType() !== 'document' && r.status() >= 400 && !r.url().endsWith('/favicon.ico')) {
      problems.push(`${r.status()} for ${r.url()}`);
    }
  });
  try {
    await fn(page);
  } finally {
    await context.close();
  }
  if (watcherCheck) return problems;
  assert.deepEqual(problems, [], 'no CSP violation, script error or failed sub-resource');
  return problems;
}

/** Opens `p`, asserts the status and that the stylesheet applied. */
async function open(page, p, status = 200) {
  const r = await page.goto(BASE + p);
  assert.equal(r.status(), status, `${p}: ${await page.content()}`);
  await stylesheetApplied(page);
  return r;
}

async function stylesheetApplied(page) {
  const font = await page.evaluate(() => getComputedStyle(document.body).fontFamily);
  assert.match(font, /system-ui/, 'portaal.css applied (not blocked by the CSP)');
}

async function shot(page, name) {
  shots.push(name);
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
}

/** A request over the API with a systeem certificate (PEM pair `base`). */
function api(base, method, p, body, contentType = 'application/json') {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const req = https.request(
      BASE + p,
      {
        method,
        ca: CA,
        cert: fs.readFileSync(`${base}.pem`),
        key: fs.readFileSync(`${base}.key`),
        headers: data ? { 'content-type': contentType, accept: 'application/json' } : { accept: 'application/json' },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (text += c));
        res.on('end', () => {
          let json = null;
          try { json = JSON.parse(text); } catch { /* not JSON */ }
          resolve({ status: res.statusCode, text, json });
        });
      },
    );
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}

async function eventually(what, check, seconds = 20) {
  const until = Date.now() + seconds * 1000;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > until) assert.fail(`not within ${seconds}s: ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Fills the aanvraag form for the sample catalog's 3312 PLAST-OOGLID. */
async function fillAanvraag(page, referentie, bsn = '999999990') {
  await open(page, '/portaal/aanvragen/nieuw');
  await page.selectOption('#keuze', '3312|PLAST-OOGLID');
  await Promise.all([page.waitForURL(/keuze=/), page.getByRole('button', { name: 'Kiezen' }).click()]);
  await page.fill('#referentie', referentie);
  await page.fill('#bsn', bsn);
  await page.fill('#geboortedatum', '1970-03-14');
  await page.fill('#achternaam', 'Jansen');
  await page.fill('#zorgsoort', '0303');
  await page.fill('#begindatum', day(7));
  await page.fill('#einddatum', day(180));
  await page.check('#prestatie-DBC-OOGLID');
  await page.selectOption('#vraag-GEZICHTSVELD', 'ja');
  await page.fill('#toelichting', 'Dermatochalasis beiderzijds');
}

/** Submits the filled form; returns the new request's id. */
async function submit(page) {
  await Promise.all([
    page.waitForURL(/\/portaal\/aanvragen\/[^/]+$/),
    page.getByRole('button', { name: 'Indienen' }).click(),
  ]);
  const id = new URL(page.url()).pathname.split('/').pop();
  assert.notEqual(id, 'nieuw', await page.content());
  await stylesheetApplied(page);
  return id;
}

test('a staff member submits through the form and sees the status change after the insurer decides', async () => {
  const referentie = `BROWSER-A-${unique()}`;
  let id;
  await as(p12.medewerker, async (page) => {
    await open(page, '/portaal/gegevens');
    await shot(page, 'medewerker-gegevens');
    await fillAanvraag(page, referentie);
    await shot(page, 'medewerker-aanvraag-nieuw');
    id = await submit(page);
    await assert.doesNotReject(page.locator('strong', { hasText: 'Ingediend' }).waitFor());
  });

  // The insurer's software decides over its REST API.
  const d = await api(pem.verzekeraar3312, 'POST', `/api/v1/beoordeling/machtigingsaanvragen/${id}/beoordeling`, {
    status: 'Toegekend', geldigVan: day(7), geldigTot: day(180),
  });
  assert.equal(d.status, 200, d.text);
  const nummer = d.json.beslissing.machtigingsnummer;
  assert.ok(nummer, d.text);

  await as(p12.medewerker, async (page) => {
    await open(page, `/portaal/aanvragen/${id}`);
    await page.locator('strong', { hasText: 'Toegekend' }).waitFor();
    assert.ok((await page.content()).includes(nummer), 'the Machtigingsnummer is shown');
    await shot(page, 'medewerker-aanvraag-detail');
    await open(page, '/portaal/aanvragen');
    assert.ok((await page.content()).includes(referentie), 'the list shows it');
    await shot(page, 'medewerker-aanvragen');
  });
});

test('a JVC finding appears next to its field, and the form works by keyboard', async (t) => {
  await as(p12.medewerker, async (page) => {
    await fillAanvraag(page, `BROWSER-B-${unique()}`, '123456789');
    const r = await Promise.all([
      page.waitForResponse((res) => res.request().method() === 'POST'),
      page.getByRole('button', { name: 'Indienen' }).click(),
    ]);
    assert.equal(r[0].status(), 422);
    await page.waitForLoadState();
    await stylesheetApplied(page);
    const bsn = page.locator('#bsn');
    assert.equal(await bsn.getAttribute('aria-invalid'), 'true');
    assert.equal(await bsn.getAttribute('aria-describedby'), 'bsn-fout');
    assert.equal(await bsn.inputValue(), '123456789', 'what was entered is kept');
    const fout = page.locator('#bsn-fout');
    assert.match(await fout.innerText(), /JVC-J01/);
    // Next to its field: the finding sits in the BSN field's own block, right above the input.
    const [f, i] = [await fout.boundingBox(), await bsn.boundingBox()];
    assert.ok(f && i && f.y < i.y && i.y - (f.y + f.height) < 40, `finding beside its field: ${JSON.stringify([f, i])}`);
    await fout.scrollIntoViewIfNeeded();
    await shot(page, 'medewerker-aanvraag-fout');

    // Keyboard: from the top, Tab reaches every field and the submit button,
    // each with a visible focus indicator.
    await open(page, '/portaal/aanvragen/nieuw?keuze=3312%7CPLAST-OOGLID');
    const wanted = await page.$$eval(
      'form[method="post"] input:not([type=hidden]), form[method="post"] select, form[method="post"] textarea, form[method="post"] button',
      (els) => els.map((e) => e.id || `${e.tagName}:${e.name}=${e.value}`),
    );
    assert.ok(wanted.includes('bsn') && wanted.includes('BUTTON:actie=indienen'), JSON.stringify(wanted));
    const reached = new Set();
    const invisible = [];
    // Chromium keeps a date input's focus in its inner fields, where it is not
    // :focus-visible on the input itself; portaal.css outlines it by
    // :focus-within, so that is what counts for a date input.
    for (let n = 0; n < 120 && reached.size < wanted.length; n++) {
      await page.keyboard.press('Tab');
      const f = await page.evaluate(() => {
        const e = document.activeElement;
        if (!e || e === document.body) return null;
        const s = getComputedStyle(e);
        return {
          key: e.id || `${e.tagName}:${e.name}=${e.value}`,
          visible: (e.matches(':focus-visible') || (e.type === 'date' && e.matches(':focus-within'))) && s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2,
          detail: `focus-visible=${e.matches(':focus-visible')} outline=${s.outlineStyle} ${s.outlineWidth}`,
        };
      });
      if (!f) continue;
      if (wanted.includes(f.key)) {
        reached.add(f.key);
        if (!f.visible) invisible.push(`${f.key}: ${f.detail}`);
      }
    }
    assert.deepEqual(wanted.filter((w) => !reached.has(w)), [], 'every field and button reached by Tab');
    assert.deepEqual(invisible, [], 'focus visible on each');
    // Space on the focused checkbox and Enter on the submit button work too.
    await page.focus('#prestatie-DBC-OOGLID');
    await page.keyboard.press('Space');
    assert.equal(await page.isChecked('#prestatie-DBC-OOGLID'), true);
    await page.focus('#bsn');
    await shot(page, 'medewerker-aanvraag-toetsenbord');
  });
});

test('a contact person grants an authorization that the next API call honours', async () => {
  const who = await api(pem.praktijksoftware, 'GET', '/api/v1/whoami');
  assert.equal(who.status, 200, who.text);
  const fingerprint = who.json.certificaat?.vingerafdruk ?? who.json.vingerafdruk;
  assert.ok(fingerprint, who.text);
  const before = await api(pem.praktijksoftware, 'GET', '/api/v1/machtigingsaanvragen');
  assert.equal(before.status, 403, 'no raadplegen yet');

  await as(p12.medewerker, async (page) => {
    await open(page, '/portaal/beheer');
    await shot(page, 'contactpersoon-beheer');
    const form = page.locator(`form[action="/portaal/beheer/certificaten/${fingerprint}/autorisaties"]`);
    await form.locator('input[value="machtigingen:raadplegen"]').check();
    await Promise.all([page.waitForURL(/gewijzigd=1/), form.getByRole('button').click()]);
    await page.getByText('De autorisaties zijn gewijzigd.').waitFor();
  });

  const after = await api(pem.praktijksoftware, 'GET', '/api/v1/machtigingsaanvragen');
  assert.equal(after.status, 200, `the next API call honours the grant: ${after.text}`);
});

test('a contact person sees the certificates and the callback registration, and staff change a Concept before submitting it', async () => {
  await as(p12.medewerker, async (page) => {
    await open(page, '/portaal/beheer/certificaten');
    await page.getByRole('heading', { name: 'Certificaten', level: 1 }).waitFor();
    await shot(page, 'contactpersoon-certificaten');
    await open(page, '/portaal/beheer/terugkoppeling');
    await page.getByRole('heading', { name: 'Terugkoppeling', level: 1 }).waitFor();
    await shot(page, 'contactpersoon-terugkoppeling');

    // Saved as a Concept, opened again, changed and submitted.
    const referentie = `BROWSER-C-${unique()}`;
    await fillAanvraag(page, referentie);
    await Promise.all([
      page.waitForURL(/\/portaal\/aanvragen\/[^/]+$/),
      page.getByRole('button', { name: 'Opslaan als concept' }).click(),
    ]);
    await page.locator('strong', { hasText: 'Concept' }).first().waitFor();
    await Promise.all([
      page.waitForURL(/\/wijzigen$/),
      page.getByRole('link', { name: /Concept wijzigen/ }).click(),
    ]);
    await stylesheetApplied(page);
    assert.equal(await page.inputValue('#referentie'), referentie);
    assert.equal(await page.inputValue('#achternaam'), 'Jansen', 'the form is filled in from the Concept');
    await page.fill('#toelichting', 'Dermatochalasis beiderzijds, foto volgt via het dossier');
    await page.evaluate(() => window.scrollTo(0, 0)); // the page's title, not the field just typed in
    await shot(page, 'medewerker-concept-wijzigen');
    await submit(page);
    await page.locator('strong', { hasText: 'Ingediend' }).waitFor();
  });
});

test('an assessor grants a request and the provider\'s callback receiver gets it', async () => {
  const referentie = `BROWSER-D-${unique()}`;
  let id;
  await as(p12.medewerker, async (page) => {
    await fillAanvraag(page, referentie);
    id = await submit(page);
  });

  await as(p12.beoordelaar3312, async (page) => {
    await open(page, '/portaal/gegevens');
    await shot(page, 'beoordelaar-gegevens');
    await open(page, '/portaal/beoordeling');
    await shot(page, 'beoordelaar-inbox');
    await Promise.all([page.waitForURL(`**/portaal/beoordeling/${id}`), page.locator(`a[href="/portaal/beoordeling/${id}"]`).first().click()]);
    await stylesheetApplied(page);
    assert.ok((await page.content()).includes(referentie));
    await shot(page, 'beoordelaar-aanvraag');
    await page.getByLabel('Toekennen', { exact: true }).check();
    await page.fill('#geldig_van', day(7));
    await page.fill('#geldig_tot', day(180));
    await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST' || r.url().endsWith(id)),
      page.locator('form[method="post"] button[type="submit"]').last().click(),
    ]);
    await page.locator('strong', { hasText: 'Toegekend' }).waitFor();
    assert.ok((await page.content()).includes('Machtigingsnummer'));
  });

  const line = await eventually('the receiver stores the Toegekend', () => {
    const lines = fs.readFileSync(RECEIVER_LOG, 'utf8').split('\n').filter(Boolean);
    return lines.find((l) => l.includes(referentie) && l.includes('Toegekend'));
  });
  assert.ok(JSON.parse(line).webhookId, line);
});

test('an opt-in handler marks a registration verwerkt and the portal channel sees it', async () => {
  const registratie = (ref) => `<Toestemmingsregistratie xmlns="urn:machtigingen:optin:v1"><Referentie>${ref}</Referentie><Patient><Bsn>999999990</Bsn><Geboortedatum>1980-01-02</Geboortedatum><Naam><Voorletters>A.</Voorletters><Achternaam>Jansen</Achternaam></Naam></Patient><AgbZorgaanbieder>03123456</AgbZorgaanbieder><Toestemming>Ja</Toestemming><GegevenOp>${new Date(Date.now() - 180000).toISOString().slice(0, 19)}Z</GegevenOp></Toestemmingsregistratie>`;
  const register = (ref) => api(pem.patientportaal, 'POST', '/api/v1/optin/registraties', registratie(ref), 'application/xml');

  const refused = await register(`BROWSER-E0-${unique()}`);
  assert.equal(refused.status, 422, refused.text);
  assert.match(refused.text, /OPT-001/, 'the practice has not subscribed yet');

  await as(p12.medewerker, async (page) => {
    await open(page, '/portaal/optin');
    await page.fill('#email', 'optin@praktijk.example');
    await Promise.all([page.waitForLoadState(), page.getByRole('button', { name: /Aanmelden/ }).click()]);
    await page.getByText('is aangemeld', { exact: false }).first().waitFor();
  });

  const r = await register(`BROWSER-E-${unique()}`);
  assert.ok([200, 201, 202].includes(r.status), r.text);
  const id = r.json.registratieId;
  assert.ok(id, r.text);

  await as(p12.medewerker, async (page) => {
    await open(page, '/portaal/optin');
    assert.equal((await page.locator(`#status-${id}`).innerText()).trim().startsWith('Verwerkt'), false);
    await shot(page, 'optin-inbox');
    const form = page.locator(`form[action="/portaal/optin/${id}/afhandelen"]`);
    await form.locator(`#v-${id}`).check();
    await Promise.all([page.waitForLoadState(), form.getByRole('button').click()]);
    await page.locator(`#status-${id}`, { hasText: 'Verwerkt' }).waitFor();
  });

  const seen = await api(pem.patientportaal, 'GET', `/api/v1/optin/registraties/${id}`);
  assert.equal(seen.status, 200, seen.text);
  assert.equal(seen.json.status, 'Verwerkt', seen.text);
});

/** A Machtigingsaanvraag for 3312 PLAST-OOGLID of the demo practice, over REST. */
function aanvraagXml({ referentie, bsn = '999999990', geboortedatum = '1970-03-14', bijlage }) {
  const b = bijlage
    ? `<Bijlagen><Bijlage><Soort>${bijlage.soort}</Soort><Naam>${bijlage.naam}</Naam><MediaType>${bijlage.mediaType}</MediaType><Inhoud>${bijlage.inhoud.toString('base64')}</Inhoud></Bijlage></Bijlagen>`
    : '';
  return `<?xml version="1.0" encoding="UTF-8"?>
<Machtigingsaanvraag xmlns="urn:machtigingen:machtigingen:v1"><Referentie>${referentie}</Referentie><Indiener><AgbPraktijk>03123456</AgbPraktijk><Software><Naam>BrowserPMS</Naam><Versie>1.0</Versie></Software></Indiener><Verzekerde><Bsn>${bsn}</Bsn><Geboortedatum>${geboortedatum}</Geboortedatum><Naam><Voorletters>J.</Voorletters><Achternaam>Jansen</Achternaam></Naam></Verzekerde><Uzovi>3312</Uzovi><Grondslag>Zvw</Grondslag><Verstrekking>PLAST-OOGLID</Verstrekking><Zorgsoort>0303</Zorgsoort><Prestaties><Prestatie><Code>DBC-OOGLID</Code><Aantal>1</Aantal></Prestatie></Prestaties><Begindatum>${day(7)}</Begindatum><GewensteEinddatum>${day(180)}</GewensteEinddatum><Antwoorden><Antwoord><VraagId>GEZICHTSVELD</VraagId><Waarde>ja</Waarde></Antwoord></Antwoorden>${b}</Machtigingsaanvraag>
`;
}

test('an assessor finds a request in the work list and downloads its attachment', async () => {
  const referentie = `BROWSER-W-${unique()}`;
  const inhoud = Buffer.from(`%PDF-1.4\n% verwijsbrief ${referentie}\n%%EOF\n`);
  const r = await api(pem.zorgaanbieder, 'POST', '/api/v1/machtigingsaanvragen', aanvraagXml({
    referentie, bsn: '111222333', geboortedatum: '1985-06-01',
    bijlage: { soort: 'verwijsbrief', naam: 'verwijsbrief.pdf', mediaType: 'application/pdf', inhoud },
  }), 'application/xml');
  assert.equal(r.status, 201, r.text);
  const id = r.json.machtigingsaanvraagId;

  await as(p12.beoordelaar3312, async (page) => {
    await open(page, '/portaal/werklijst');
    // The patient's BSN goes in the POST body: the URL stays the work list's.
    await page.fill('#bsn', '111222333');
    await page.fill('#geboortedatum', '1985-06-01');
    await Promise.all([page.waitForLoadState(), page.getByRole('button', { name: 'Zoeken' }).click()]);
    await page.locator('caption', { hasText: 'Gevonden: 1' }).waitFor();
    await stylesheetApplied(page);
    assert.equal(new URL(page.url()).pathname, '/portaal/werklijst');
    assert.ok(!page.url().includes('111222333'), 'no BSN in the URL');
    assert.ok((await page.content()).includes(referentie), 'the request is found');
    await shot(page, 'beoordelaar-werklijst');
    await Promise.all([
      page.waitForURL(`**/portaal/beoordeling/${id}`),
      page.locator(`a[href="/portaal/beoordeling/${id}"]`).click(),
    ]);
    await stylesheetApplied(page);
    const link = page.locator(`a[href="/portaal/beoordeling/${id}/bijlagen/1"]`);
    await link.scrollIntoViewIfNeeded();
    await shot(page, 'beoordelaar-bijlage');
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    assert.equal(download.suggestedFilename(), 'verwijsbrief.pdf');
    const saved = await download.path();
    assert.deepEqual(fs.readFileSync(saved), inhoud, 'the bytes submitted');
  });
});

test('a contact person adds a consent statement that the vendor\'s next API call honours', async () => {
  const submit = () => api(pem.leverancier, 'POST', '/api/v1/machtigingsaanvragen',
    aanvraagXml({ referentie: `BROWSER-V-${unique()}` }), 'application/xml');
  const refused = await submit();
  assert.equal(refused.status, 403, refused.text);
  assert.match(refused.text, /AUTZ-003/, 'no consent statement yet');

  await as(p12.medewerker, async (page) => {
    await open(page, '/portaal/beheer/verklaringen');
    await page.fill('#leverancier', 'PLATFORM:browser-pms');
    await page.fill('#geldig_tot', day(365));
    await Promise.all([page.waitForURL(/geregistreerd=1/), page.getByRole('button', { name: 'Verklaring registreren' }).click()]);
    await page.getByText('is geregistreerd', { exact: false }).waitFor();
    await stylesheetApplied(page);
    assert.ok((await page.content()).includes('PLATFORM:browser-pms'));
    await shot(page, 'contactpersoon-verklaringen');
  });

  const honoured = await submit();
  assert.equal(honoured.status, 201, `the vendor's next call is honoured: ${honoured.text}`);

  await as(p12.medewerker, async (page) => {
    await open(page, '/portaal/beheer/verklaringen');
    await Promise.all([
      page.waitForURL(/ingetrokken=1/),
      page.getByRole('button', { name: 'Verklaring voor PLATFORM:browser-pms intrekken' }).click(),
    ]);
    await page.getByText('is ingetrokken', { exact: false }).waitFor();
  });
  const again = await submit();
  assert.equal(again.status, 403, `withdrawn: refused again: ${again.text}`);
});

test('a systeem certificate is refused on the portal with AUTZ-004', async () => {
  await as(p12.systeem, async (page) => {
    await open(page, '/portaal/gegevens', 403);
    assert.match(await page.locator('main').innerText(), /AUTZ-004/);
    await shot(page, 'systeem-geweigerd');
  });
  // The same certificate keeps working on the API.
  const who = await api(path.join(DEMO, 'zorgaanbieder'), 'GET', '/api/v1/whoami');
  assert.equal(who.status, 200, who.text);
});

test('the CSP watcher sees what the policy blocks', async () => {
  // Proves the watcher of every other test can fail: an inline script and a
  // third-party stylesheet added to a portal page are blocked and reported.
  const problems = await as(p12.medewerker, async (page) => {
    await open(page, '/portaal/gegevens');
    await page.evaluate(() => {
      const s = document.createElement('script');
      s.textContent = 'document.title = "ingespoten"';
      document.body.append(s);
      const l = document.createElement('link');
      l.rel = 'stylesheet';
      l.href = 'https://example.invalid/x.css';
      document.head.append(l);
    });
    await page.waitForTimeout(300);
    assert.notEqual(await page.title(), 'ingespoten', 'the inline script did not run');
  }, { watcherCheck: true });
  assert.ok(problems.some((p) => /script/i.test(p)), JSON.stringify(problems));
  assert.ok(problems.some((p) => /style/i.test(p)), JSON.stringify(problems));
});

test('staff attach the required photo, the assessor asks a question and staff answer it in the portal', async () => {
  const referentie = `BROWSER-F-${unique()}`;
  const vraag = `Graag ook een foto van opzij (${referentie}).`;
  const photo = (name) => ({ name, mimeType: 'image/jpeg', buffer: Buffer.from('\xff\xd8\xff\xe0 foto', 'latin1') });
  let id;
  await as(p12.medewerker, async (page) => {
    // The demo insurer 3311 requires a photo for PLAST-OOGLID: without one,
    // JVC-V02 appears next to its upload field.
    await open(page, '/portaal/aanvragen/nieuw');
    await page.selectOption('#keuze', '3311|PLAST-OOGLID');
    await Promise.all([page.waitForURL(/keuze=/), page.getByRole('button', { name: 'Kiezen' }).click()]);
    await page.fill('#referentie', referentie);
    await page.fill('#bsn', '999999990');
    await page.fill('#geboortedatum', '1970-03-14');
    await page.fill('#achternaam', 'Jansen');
    await page.fill('#zorgsoort', '0303');
    await page.fill('#begindatum', day(7));
    await page.fill('#einddatum', day(180));
    await page.check('#prestatie-DBC-OOGLID');
    await page.selectOption('#vraag-GEZICHTSVELD', 'ja');
    await page.fill('#vraag-GRADEN', '25');
    await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST'),
      page.getByRole('button', { name: 'Indienen' }).click(),
    ]);
    await stylesheetApplied(page);
    const upload = page.locator('#bijlage-foto');
    assert.equal(await upload.getAttribute('aria-invalid'), 'true', await page.content());
    assert.equal(await upload.getAttribute('aria-describedby'), 'bijlage-foto-fout');
    assert.match(await page.locator('#bijlage-foto-fout').textContent(), /JVC-V02/);
    // The finding sits at the upload field, below the fold: show it there.
    await upload.scrollIntoViewIfNeeded();
    await shot(page, 'medewerker-aanvraag-bijlage-fout');

    // With the photo (chosen again, as after any refusal) it is submitted.
    await page.setInputFiles('#bijlage-foto', photo('vooraanzicht.jpg'));
    await Promise.all([
      page.waitForURL((u) => /\/portaal\/aanvragen\/[^/]+$/.test(u.pathname) && !u.pathname.endsWith('/nieuw')),
      page.getByRole('button', { name: 'Indienen' }).click(),
    ]);
    id = new URL(page.url()).pathname.split('/').pop();
    await stylesheetApplied(page);
    await page.locator('strong', { hasText: 'Ingediend' }).waitFor();
  });

  // The assessor of 3311 asks a question in the portal.
  await as(p12.beoordelaar3311, async (page) => {
    await open(page, `/portaal/beoordeling/${id}`);
    assert.ok((await page.content()).includes('vooraanzicht.jpg'), 'the assessor sees the attachment');
    await page.getByLabel('Aanvullende informatie vragen').check();
    await page.fill('#vraag', vraag);
    await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST'),
      page.locator('form[method="post"] button[type="submit"]').first().click(),
    ]);
    await page.locator('strong', { hasText: 'AanvullendeInformatieGevraagd' }).first().waitFor();
  });

  // Staff see the question on the request's page and answer it with a photo.
  await as(p12.medewerker, async (page) => {
    await open(page, `/portaal/aanvragen/${id}`);
    await page.locator('strong', { hasText: 'AanvullendeInformatieGevraagd' }).waitFor();
    const answer = page.getByLabel(vraag);
    await answer.fill('Foto van opzij bijgevoegd.');
    await page.fill('#bijlage-soort', 'foto');
    await page.setInputFiles('#aanvul-bijlage', photo('zijaanzicht.jpg'));
    await shot(page, 'medewerker-aanvullen');
    await Promise.all([
      page.waitForURL(/aangevuld=1/),
      page.getByRole('button', { name: 'Informatie versturen' }).click(),
    ]);
    await stylesheetApplied(page);
    await page.locator('#status strong', { hasText: 'InBehandeling' }).waitFor();
    assert.match(await page.locator('p.melding').textContent(), /verstuurd naar de verzekeraar/);
    await shot(page, 'medewerker-aangevuld');
  });

  // The assessor sees the supplement: the question, the answer and the
  // photo as attachment 2, after the request's own.
  await as(p12.beoordelaar3311, async (page) => {
    await open(page, `/portaal/beoordeling/${id}`);
    const section = page.getByRole('region', { name: 'Aanvullende informatie' });
    await section.getByText('Foto van opzij bijgevoegd.').waitFor();
    assert.equal(await section.getByText(vraag).count(), 1, 'the question as asked');
    const link = section.locator(`a[href="/portaal/beoordeling/${id}/bijlagen/2"]`);
    assert.match(await link.textContent(), /zijaanzicht\.jpg/);
    await section.scrollIntoViewIfNeeded();
    await shot(page, 'beoordelaar-aanvulling');
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    assert.equal(download.suggestedFilename(), 'zijaanzicht.jpg');
  });
});

test('the demo assessor of 3311 sees the inbox and the documentation shows every screenshot', async () => {
  await as(p12.beoordelaar3311, async (page) => {
    await open(page, '/portaal/beoordeling');
  });
  const missing = shots.filter((s) => !DOC.includes(`portaal/${s}.png`));
  assert.deepEqual(missing, [], 'docs/portaal.md shows each screenshot');
});
