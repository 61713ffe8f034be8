// The web console in a real browser: Debian's chromium driven by playwright-core against the
// real binary serving web/dist and a generated test model. It signs in, creates a tenant, a
// project and a key, chats in the playground, finds that call in Calls with its trace, shifts a
// canary's weight, exports usage as CSV, switches to Chinese, and signs in as a tenant admin; a
// screenshot of every page is saved under $LLMP_ARTIFACTS_DIR (CTest: build/<preset>/test-artifacts/console).
//
// Run: LLMP_BINARY=build/ci/llmplatform node test/web/console.test.mjs (run as a script, not with
// --test, so that its exit code 77 for a missing chromium reaches CTest)
// (CTest: "web: console in chromium"). Needs test/web/node_modules (npm ci --prefix test/web),
// web/dist (the console build) and /usr/bin/chromium. Without chromium it exits 77, which CTest
// reports as skipped; anything else missing is a failure.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch, stop } from '../support/llmplatform_process.mjs';

const CHROMIUM = process.env.LLMP_CHROMIUM ?? '/usr/bin/chromium';
if (!existsSync(CHROMIUM)) {
  console.log(`SKIP: ${CHROMIUM} is missing (scripts/install-deps.sh --test installs Debian's chromium)`);
  process.exit(77);
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BINARY = process.env.LLMP_BINARY;
if (!BINARY || !existsSync(BINARY)) throw new Error(`LLMP_BINARY must name the llmplatform binary (got ${JSON.stringify(BINARY)})`);
const WEB_ROOT = process.env.LLMP_WEB_ROOT ?? path.join(ROOT, 'web/dist');
if (!existsSync(path.join(WEB_ROOT, 'index.html'))) {
  throw new Error(`${WEB_ROOT}/index.html is missing: build the console (cmake --build builds it; or npm run build --prefix web)`);
}
const ARTIFACTS = process.env.LLMP_ARTIFACTS_DIR ?? path.join(ROOT, 'build/test-artifacts/console');
mkdirSync(ARTIFACTS, { recursive: true });

let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch (e) {
  throw new Error(`playwright-core is missing from test/web/node_modules (${e.message}): run \`npm ci --prefix test/web\` (scripts/install-deps.sh --test does)`);
}

const T = { timeout: 90_000 };
const MODEL = 'tiny';
const state = { dir: null, child: null, port: 0, log: [], exit: null, adminKey: '', browser: null, page: null, consoleErrors: [], allowErrors: false };

// ---------------------------------------------------------------------------------------------
// The server, started once and stopped by its PID.

function runBinary(args) {
  execFileSync(BINARY, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
}

async function startServer(modelFile) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('LLMP_')));
  Object.assign(env, {
    LLMP_ENGINE_DEMO_MODEL: 'false',
    LLMP_ENGINE_KV_CACHE_MB: '32',
    LLMP_SERVER_WEB_ROOT: WEB_ROOT,
    LLMP_SERVER_DRAIN_TIMEOUT_MS: '3000',
    LLMP_ALERTS_SLOS: `tiny-availability: availability 0.995 model=${MODEL}`,
    // A rule the alerts step makes fire (a 404), so the history has a row; evaluated every second.
    LLMP_ALERTS_RULES: 'console-not-found: llmp_http_requests_total{code="404"} > 0 severity=ticket',
    LLMP_ALERTS_EVALUATION_SECONDS: '1',
  });
  const data = path.join(state.dir, 'data');
  const args = ['--host', '127.0.0.1', '--port', '0', '--data-dir', data, '--log-level', 'info', '--model', `${MODEL}=${modelFile}`];
  const port = await launch(state, BINARY, args, env);
  state.adminKey = readFileSync(path.join(data, 'admin.key'), 'utf8').trim();
  return port;
}

async function stopServer() {
  await stop(state, 10_000);
}

const base = () => `http://127.0.0.1:${state.port}`;

// The admin API, as a script would call it: the test's own setup and its checks of what the
// console did.
async function admin(method, route, body) {
  const res = await fetch(base() + route, {
    method,
    headers: { Authorization: `Bearer ${state.adminKey}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  assert.ok(res.ok, `${method} ${route} answered ${res.status}: ${text}`);
  return text ? JSON.parse(text) : null;
}

async function shot(name) {
  await state.page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

// Waits until no request is in flight and no spinner shows, so screenshots show data.
async function settled() {
  await state.page.waitForLoadState('networkidle').catch(() => {});
  await state.page.locator('.state-loading').first().waitFor({ state: 'detached', timeout: 15_000 }).catch(() => {});
}

async function go(hash) {
  await state.page.goto(`${base()}/#/${hash}`);
  await settled();
}

// Call records are written in batches by their own thread: shows the Calls page at `hash` until
// it lists `callId` (10 s at most). Going to the same #/ address again changes nothing (no
// hashchange, no new search), so later tries reload the page.
async function untilListed(hash, callId, why) {
  for (let i = 0; ; i++) {
    if (i === 0) {
      await go(hash);
    } else {
      await state.page.reload();
      await settled();
    }
    if (await state.page.locator(`a[href="#/calls/${callId}"]`).count()) return;
    assert.ok(i < 20, why);
    await state.page.waitForTimeout(500);
  }
}

// ---------------------------------------------------------------------------------------------

describe('web console', { concurrency: false }, () => {
  let tenantId = '';
  let callId = '';

  before(async () => {
    state.dir = mkdtempSync(path.join(tmpdir(), 'llmp-console-'));
    const create = ['model', 'create-test', '--arch', 'llama', '--format', 'gguf', '--vocab', '600', '--context', '256'];
    const v1 = path.join(state.dir, 'm.gguf');
    const v2 = path.join(state.dir, 'm2.gguf');
    runBinary([...create, '--seed', '7', '--out', v1]);
    runBinary([...create, '--seed', '8', '--out', v2]);
    state.port = await startServer(v1);

    // A release with a canary for the Models page: two registry versions, loaded.
    for (const [version, file] of [['1', v1], ['2', v2]]) {
      await admin('POST', '/admin/v1/models', { source: file, org: 'acme', model: 'tiny', version });
      await admin('POST', `/admin/v1/models/acme/tiny/${version}/load`);
    }
    await admin('PUT', '/admin/v1/releases/tiny-release', { stable: 'acme/tiny:1' });
    await admin('PUT', '/admin/v1/releases/tiny-release', { canary: 'acme/tiny:2', canary_weight: 10 });

    state.browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
             '--disable-component-update', '--disable-sync'],
    });
    const context = await state.browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US', acceptDownloads: true });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base() });
    state.page = await context.newPage();
    state.page.setDefaultTimeout(20_000);
    // "No console errors": every error the page logs or throws fails the suite at the end,
    // except while a step expects one (a refused sign-in logs its 401).
    state.page.on('console', (msg) => {
      if (msg.type() === 'error' && !state.allowErrors) state.consoleErrors.push(`${msg.text()} (${msg.location().url})`);
    });
    state.page.on('pageerror', (err) => state.consoleErrors.push(`uncaught: ${err.message}`));
  });

  after(async () => {
    await state.browser?.close().catch(() => {});
    await stopServer();
    if (state.dir) rmSync(state.dir, { recursive: true, force: true });
  });

  test('the console is served with caching headers: index revalidated, hashed assets immutable', T, async () => {
    const index = await fetch(base() + '/');
    assert.equal(index.status, 200);
    assert.equal(index.headers.get('cache-control'), 'no-cache');
    const html = await index.text();
    const asset = html.match(/\/assets\/[^"]+\.js/);
    assert.ok(asset, `no hashed script in index.html:\n${html}`);
    const js = await fetch(base() + asset[0]);
    assert.equal(js.status, 200);
    assert.match(js.headers.get('cache-control') ?? '', /immutable/);
  });

  test('sign-in refuses a wrong key and accepts the admin key', T, async () => {
    const page = state.page;
    await page.goto(base() + '/');
    await page.getByTestId('api-key').waitFor();
    await shot('01-sign-in');
    state.allowErrors = true;
    await page.getByTestId('api-key').fill('sk-llmp-nope-0000');
    await page.keyboard.press('Enter'); // the form is keyboard-usable
    await page.getByTestId('signin-error').waitFor();
    state.allowErrors = false;
    await page.getByTestId('api-key').fill(state.adminKey);
    await page.getByTestId('sign-in').click();
    await page.getByTestId('whoami').waitFor();
    assert.match(await page.getByTestId('whoami').innerText(), /Platform admin/);
    // The key lives in session storage, not local storage.
    const stored = await page.evaluate(() => [sessionStorage.getItem('llmp.console.session') ?? '', JSON.stringify(localStorage)]);
    assert.ok(stored[0].includes(state.adminKey));
    assert.ok(!stored[1].includes(state.adminKey));
  });

  test('overview shows live charts from /metrics', T, async () => {
    await go('overview');
    await state.page.getByTestId('stat-rps').waitFor({ timeout: 20_000 });
    await state.page.locator('.uplot').first().waitFor();
    // Some traffic while the charts fill (four scrapes), so the screenshot shows lines.
    let running = true;
    const load = async (stream) => {
      while (running) {
        const res = await fetch(base() + '/v1/chat/completions', {
          method: 'POST',
          headers: { Authorization: `Bearer ${state.adminKey}`, 'Content-Type': 'application/json' },
          body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Tell me a story' }], max_tokens: 24, stream }),
        });
        await res.text();
      }
    };
    const loaders = [load(false), load(true)];
    await state.page.waitForTimeout(12_500);
    running = false;
    await Promise.all(loaders);
    const rps = await state.page.getByTestId('stat-rps').locator('.stat-value').innerText();
    assert.match(rps, /[1-9]/, `requests/s stayed ${rps} under load`);
    await shot('02-overview');
  });

  test('create a tenant, a project and a key (shown once, with a copy button)', T, async () => {
    const page = state.page;
    await go('tenants');
    await shot('03-tenants-empty');
    await page.getByTestId('tenant-name').fill('acme');
    await page.getByTestId('tenant-create').click();
    await page.getByTestId('tenant-id').waitFor();
    tenantId = (await page.getByTestId('tenant-id').innerText()).trim();
    assert.match(tenantId, /^ten_/);
    await page.getByTestId('project-name').fill('web');
    await page.getByTestId('project-create').click();
    await page.getByTestId('projects-table').getByText('web').waitFor();
    await page.getByTestId('key-name').fill('web-app');
    await page.getByTestId('key-create').click();
    const value = (await page.getByTestId('new-key-value').innerText()).trim();
    assert.match(value, /^sk-llmp-/);
    await page.getByTestId('new-key').getByTestId('copy').click();
    await page.getByTestId('new-key').getByText('Copied').waitFor();
    const keys = await admin('GET', `/admin/v1/tenants/${tenantId}/keys`);
    assert.equal(keys.data.length, 1);
    assert.equal(keys.data[0].name, 'web-app');
    // The key works for inference, as created.
    const models = await fetch(base() + '/v1/models', { headers: { Authorization: `Bearer ${value}` } });
    assert.equal(models.status, 200);
    // A daily request limit, shown against the day's usage.
    await page.getByTestId('limit-kind').selectOption('requests_per_day');
    await page.getByTestId('limit-value').fill('1000');
    await page.getByTestId('limit-save').click();
    await page.getByTestId('limits-table').locator('.meter').waitFor();
    // A monthly budget alert: none set at first (the GET's 404), then set and shown.
    const budget = page.getByTestId('budget-alert');
    await budget.getByTestId('budget-alert-none').waitFor();
    await budget.getByTestId('budget-alert-input').fill('250');
    await budget.getByTestId('budget-alert-input').press('Enter'); // keyboard-usable
    await budget.getByTestId('budget-alert-value').getByText('250').waitFor();
    assert.equal((await admin('GET', `/admin/v1/tenants/${tenantId}/budget-alert`)).monthly_spend, 250);
    // Grant the tenant one model (the one its calls below use) and see it listed.
    const grants = page.getByTestId('model-grants');
    await grants.getByTestId('grants-all').waitFor();
    await grants.getByTestId('grant-model').fill(MODEL);
    await grants.getByTestId('grant-add').click();
    await grants.getByTestId('grants-table').getByText(MODEL, { exact: true }).waitFor();
    assert.deepEqual((await admin('GET', `/admin/v1/tenants/${tenantId}/models`)).models, [MODEL]);
    await settled();
    await shot('04-tenant-detail');
  });

  test('chat in the playground, streamed, with TTFT and tokens/s', T, async () => {
    const page = state.page;
    await go('playground');
    await page.getByTestId('pg-model').selectOption(MODEL);
    await page.getByTestId('pg-max-tokens').fill('16');
    // Seeded, so the run is the same on every machine: sampled freely, a random model can end
    // before its first token, and a run without tokens rightly shows no TTFT.
    await page.getByTestId('pg-seed').fill('1');
    await page.getByTestId('pg-input').fill('Hello there, model!');
    await page.getByTestId('pg-send').click();
    await page.getByTestId('pg-call-link').waitFor();
    await page.getByTestId('msg-assistant').waitFor();
    await page.waitForFunction(() => document.querySelector('[data-testid=pg-send]') !== null); // the run ended
    const ttft = await page.getByTestId('pg-ttft').locator('.stat-value').innerText();
    if (!/\d/.test(ttft)) {
      // Say what the page showed (an error, the finish reason, the reply) and what the server logged.
      const shown = await page.locator('.pg-chat').innerText();
      assert.fail(`TTFT not shown: ${ttft}\n--- the chat panel:\n${shown}\n--- the server's last log lines:\n${state.log.slice(-20).join('\n')}`);
    }
    const tps = await page.getByTestId('pg-tps').locator('.stat-value').innerText();
    assert.match(tps, /\d/, `tokens/s not shown: ${tps}`);
    callId = (await page.getByTestId('pg-call-link').innerText()).trim();
    assert.match(callId, /^chatcmpl-/);
    await shot('05-playground');
  });

  test('a GBNF grammar in the playground shapes the answer', T, async () => {
    const page = state.page;
    await page.getByTestId('pg-format').selectOption('gbnf');
    await page.getByTestId('pg-grammar').fill('root ::= ("yes" | "no") "!"');
    await page.getByTestId('pg-input').fill('Is it?');
    await page.getByTestId('pg-send').click();
    // The run ended: a second answer, and the send button back.
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=msg-assistant]').length >= 2 &&
                                     document.querySelector('[data-testid=pg-send]') !== null);
    const answers = await page.getByTestId('msg-assistant').allInnerTexts();
    assert.match(answers.at(-1), /(?:yes|no)!\s*$/, answers.at(-1));
    await page.getByTestId('pg-format').selectOption('text');
  });

  test('find that call in Calls with its span waterfall', T, async () => {
    const page = state.page;
    await untilListed(`calls?model=${MODEL}`, callId, `call ${callId} never appeared in the list`);
    await shot('06-calls');
    await page.locator(`a[href="#/calls/${callId}"]`).click();
    await page.getByTestId('call-id').waitFor();
    assert.equal((await page.getByTestId('call-id').innerText()).trim(), callId);
    assert.match(await page.getByTestId('call-params').innerText(), /"max_tokens": 16/);
    await page.getByTestId('waterfall').waitFor();
    const spans = await page.getByTestId('span').allInnerTexts();
    assert.ok(spans.some((s) => s.includes('POST /v1/chat/completions')), `spans: ${spans.join(' | ')}`);
    assert.ok(spans.some((s) => s.includes('engine.decode')), `spans: ${spans.join(' | ')}`);
    await page.getByTestId('span').first().click(); // attributes open under the span
    await page.locator('.wf-attrs').waitFor();
    await settled();
    await shot('07-call-detail');
    // Replay against the release's canary, side by side.
    await page.getByTestId('replay-model').selectOption('acme/tiny:2');
    await page.getByTestId('replay').click();
    await page.getByTestId('replay-result').waitFor();
    await shot('08-call-replay');
  });

  test('shift a canary weight on the Models page', T, async () => {
    const page = state.page;
    await go('models');
    const card = page.getByTestId('release-tiny-release');
    await card.waitFor();
    await shot('09-models');
    await card.getByTestId('weight-input').fill('50');
    await card.getByTestId('weight-shift').click();
    await card.locator('.split-canary', { hasText: '50%' }).waitFor();
    const release = await admin('GET', '/admin/v1/releases/tiny-release');
    assert.equal(release.canary_weight, 50);
    assert.equal(release.history.at(-1).action, 'weight');
    // Promote asks first; cancelling changes nothing.
    await card.getByTestId('promote').click();
    await page.locator('dialog[open]').waitFor();
    await shot('10-models-confirm');
    await page.keyboard.press('Escape');
    await page.locator('dialog[open]').waitFor({ state: 'detached' });
    assert.equal((await admin('GET', '/admin/v1/releases/tiny-release')).canary, 'acme/tiny:2');
  });

  test('usage and cost, with a CSV export', T, async () => {
    const page = state.page;
    await go('usage');
    await page.getByTestId('usage-group').selectOption('model');
    await page.getByTestId('usage-table').getByText(MODEL, { exact: true }).waitFor();
    await settled();
    await shot('11-usage');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('usage-csv').click()]);
    const file = path.join(state.dir, 'usage.csv');
    await download.saveAs(file);
    const csv = readFileSync(file, 'utf8');
    assert.match(csv.split('\n')[0], /hour/);
    assert.ok(csv.includes(MODEL), csv);
  });

  test('alerts and SLOs', T, async () => {
    await go('alerts');
    await state.page.getByTestId('slos-table').getByText('tiny-availability').first().waitFor();
    await shot('12-alerts');
  });

  test('alert history: a rule that fired is listed newest first and can be filtered', T, async () => {
    const page = state.page;
    // A 404 makes the console-not-found rule fire at its next evaluation (every second).
    assert.equal((await fetch(`${base()}/admin/v1/no-such-route`)).status, 404);
    const id = 'rule:console-not-found';
    for (let i = 0; i < 100; ++i) {
      const history = await admin('GET', `/admin/v1/alerts/history?alert_id=${encodeURIComponent(id)}`);
      if (history.data.length) {
        assert.equal(history.data[0].event, 'fired');
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    await go('alerts');
    const section = page.getByTestId('alert-history');
    await section.getByText('History').first().waitFor();
    await section.getByTestId('alert-history-table').getByText('console-not-found').first().waitFor();
    await section.getByTestId('alert-history-table').getByText('fired').first().waitFor();
    await section.scrollIntoViewIfNeeded();
    await shot('12b-alert-history');
    // Filtered to an SLO alert that never fired: the empty state.
    await section.getByTestId('alert-history-filter').selectOption('slo:tiny-availability:fast_burn');
    await section.getByText('This alert has not fired yet').waitFor();
    await section.getByTestId('alert-history-filter').selectOption('');
    await section.getByTestId('alert-history-table').waitFor();
  });

  test('switch the language to Simplified Chinese, and every page still renders', T, async () => {
    const page = state.page;
    await go('overview');
    await page.getByTestId('language').selectOption('zh-CN');
    await page.getByTestId('nav-overview').getByText('概览').waitFor();
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'zh-CN');
    await page.waitForTimeout(3500);
    await shot('13-overview-zh');
    for (const p of ['playground', 'calls', 'tenants', 'models', 'usage', 'alerts']) {
      await go(p);
      await shot(`14-${p}-zh`);
    }
    await go(`calls/${callId}`);
    await page.getByTestId('waterfall').waitFor();
    await shot('15-call-detail-zh');
    // The choice survives a reload; switch back for the rest.
    await page.reload();
    await page.getByTestId('nav-overview').getByText('概览').waitFor();
    await page.getByTestId('language').selectOption('en');
    await page.getByTestId('nav-overview').getByText('Overview').waitFor();
  });

  test('a tenant admin sees only its own tenant', T, async () => {
    const page = state.page;
    const other = await admin('POST', '/admin/v1/tenants', { name: 'other' });
    const key = await admin('POST', `/admin/v1/tenants/${tenantId}/keys`, { name: 'acme-admin', role: 'tenant_admin' });
    await page.getByTestId('sign-out').click();
    await page.getByTestId('api-key').fill(key.value);
    await page.getByTestId('sign-in').click();
    await page.getByTestId('whoami').waitFor();
    assert.match(await page.getByTestId('whoami').innerText(), new RegExp(`Tenant admin.*${tenantId}`, 's'));
    assert.equal(await page.getByTestId('nav-models').count(), 0, 'the models page is the platform admin’s');
    await go('tenants');
    assert.equal((await page.getByTestId('tenant-id').innerText()).trim(), tenantId);
    assert.equal(await page.getByText(other.id).count(), 0);
    // Its model grants, read-only; its budget alert, as the platform admin set it.
    await page.getByTestId('model-grants').getByTestId('grants-table').getByText(MODEL, { exact: true }).waitFor();
    assert.equal(await page.getByTestId('grant-model').count(), 0);
    await page.getByTestId('budget-alert-value').getByText('250').waitFor();
    // A few calls of its own, which its overview (built from its call records) then shows.
    let ownCall = '';
    for (let i = 0; i < 3; i++) {
      const res = await fetch(base() + '/v1/chat/completions', {
        method: 'POST',
        headers: { Authorization: `Bearer ${key.value}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Hi from acme' }], max_tokens: 8 }),
      });
      assert.equal(res.status, 200);
      ownCall = (await res.json()).id;
    }
    await go('overview');
    await page.getByTestId('stat-rps').waitFor({ timeout: 30_000 }); // refreshed every 5 s
    await shot('16-tenant-admin-overview');
    await untilListed('calls', ownCall, `the tenant's call ${ownCall} never appeared in its list`);
    await shot('17-tenant-admin-calls');
    // The admin's playground call belongs to no tenant: this tenant's list must not show it.
    assert.equal(await page.locator(`a[href="#/calls/${callId}"]`).count(), 0);
  });

  test('no console errors on any page', T, () => {
    assert.deepEqual(state.consoleErrors, []);
  });
});
