// Browser test of bulwarkd's fleet page, driven by tests/integration/test_ui.py
// (which starts bulwarkd, makes the devices and checks the gateway).
// Debian's chromium through playwright-core; axe-core checks every view.
// Every failed check throws: the process exits non-zero.
'use strict';
const assert = require('node:assert/strict');
const path = require('node:path');
const { chromium } = require('playwright-core');
const { AxeBuilder } = require('@axe-core/playwright');

const env = (k) => {
	const v = process.env[k];
	if (!v) throw new Error('missing ' + k);
	return v;
};
const URL = env('BW_UI_URL');
const SHOTS = env('BW_UI_SHOTS');
const T = {
	admin: env('BW_ADMIN_TOKEN'),
	viewer: env('BW_VIEWER_TOKEN'),
	operator: env('BW_OPERATOR_TOKEN'),
};
const DEVICE = env('BW_DEVICE_UUID');
const DEVICE_NAME = env('BW_DEVICE_NAME');
const EXPIRING_TAG = env('BW_EXPIRING_TAG');
const HOSTILE_NAME = env('BW_HOSTILE_NAME');
const EXPIRING_DEVICE = env('BW_EXPIRING_DEVICE');
const LASTING_DEVICE = env('BW_LASTING_DEVICE');
const READY = env('BW_UI_READY');
const fs = require('node:fs');

function log(msg) { process.stdout.write('ui: ' + msg + '\n'); }

async function axe(page, view) {
	const r = await new AxeBuilder({ page })
		.withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'])
		.analyze();
	const v = r.violations.map((x) => x.id + ': ' + x.nodes.length);
	assert.deepEqual(v, [], 'axe violations on ' + view);
	log('axe: 0 violations on ' + view);
}

async function shot(page, name) {
	await page.screenshot({ path: path.join(SHOTS, name + '.png'), fullPage: true });
}

async function signIn(browser, token, viewport) {
	const ctx = await browser.newContext({ ignoreHTTPSErrors: true, viewport });
	const page = await ctx.newPage();
	const thirdParty = [];
	page.on('request', (r) => {
		if (!r.url().startsWith(URL)) thirdParty.push(r.url());
	});
	await page.goto(URL + '/ui/');
	assert.match(page.url(), /\/ui\/login$/, 'signed-out user sent to sign-in');
	await page.getByLabel('Admin or account token').fill(token);
	await page.getByRole('button', { name: 'Sign in' }).click();
	await page.waitForURL(/\/ui\/fleet/);
	page.thirdParty = thirdParty;
	return { ctx, page };
}

// A POST made by page's own session (its cookies), with or without the
// CSRF token the page's forms carry.
async function forgedPost(page, action, body) {
	return page.evaluate(async ({ action, body }) => {
		const r = await fetch(action, {
			method: 'POST',
			headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
			body: new URLSearchParams(body).toString(),
			redirect: 'manual',
		});
		return r.status;
	}, { action, body });
}

async function main() {
	const browser = await chromium.launch({
		executablePath: process.env.BW_CHROMIUM || '/usr/bin/chromium',
		args: ['--no-sandbox'],
	});
	try {
		// sign-in refused with a wrong token
		{
			const ctx = await browser.newContext({ ignoreHTTPSErrors: true });
			const page = await ctx.newPage();
			await page.goto(URL + '/ui/login');
			await page.getByLabel('Admin or account token').fill('00'.repeat(32));
			const [resp] = await Promise.all([
				page.waitForResponse((r) => r.url().endsWith('/ui/login') &&
					r.request().method() === 'POST'),
				page.getByRole('button', { name: 'Sign in' }).click(),
			]);
			assert.equal(resp.status(), 401);
			await page.getByText('Sign-in refused.').waitFor();
			await axe(page, 'sign-in');
			await shot(page, 'signin');
			const st = await page.request.get(URL + '/ui/fleet', { maxRedirects: 0 });
			assert.equal(st.status(), 303, 'no session after a refused sign-in');
			log('sign-in refused with a wrong token');
			await ctx.close();
		}

		// the operator: every view, find the device, deny it
		const { ctx, page } = await signIn(browser, T.operator, { width: 1280, height: 900 });
		const dialogs = [];
		page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss(); });
		const resp = await page.goto(URL + '/ui/fleet');
		const csp = resp.headers()['content-security-policy'] || '';
		assert.match(csp, /default-src 'none'/);
		assert.match(csp, /frame-ancestors 'none'/);
		// a device's hostile name is shown as text, never run
		await page.getByRole('cell', { name: HOSTILE_NAME, exact: true }).waitFor();
		assert.equal(await page.locator('#fleet img').count(), 0, 'no markup from a device');
		log('a hostile device name is shown as text');
		await axe(page, 'fleet');
		await shot(page, 'fleet');
		await page.getByLabel('Search').fill(DEVICE_NAME);
		await page.getByRole('button', { name: 'Filter' }).click();
		await page.waitForURL(/q=/);
		const rows = page.locator('#fleet tbody tr');
		assert.equal(await rows.count(), 1, 'search finds one device');
		await page.getByRole('link', { name: DEVICE }).click();
		await page.waitForURL(new RegExp('/ui/devices/' + DEVICE));
		await axe(page, 'device');
		await page.getByLabel('Reason').fill('lost in transit');
		await shot(page, 'device');

		// a form without the CSRF token is refused, and nothing changed
		const forged = await forgedPost(page, '/ui/devices/' + DEVICE + '/deny',
			{ reason: 'forged' });
		assert.equal(forged, 403, 'POST without CSRF token refused');
		log('form without CSRF token refused (403)');
		await page.reload();
		assert.equal(await page.getByRole('button', { name: 'Deny this device' }).count(), 1,
			'device still allowed after the forged form');

		await page.getByRole('button', { name: 'Ask it to rotate its certificate' }).click();
		await page.waitForURL(/done=rotate/);
		await page.getByText('asked to rotate').waitFor();
		log('device asked to rotate its certificate through the page');

		await page.getByLabel('Reason').fill('lost in transit');
		await page.getByRole('button', { name: 'Deny this device' }).click();
		await page.waitForURL(/done=denied/);
		await page.getByText('deny-listed').first().waitFor();
		await page.getByRole('button', { name: 'Allow this device again' }).waitFor();
		log('device denied through the page');

		// waves: the operator pauses and resumes, then watches the wave
		// halt by itself, live, without reloading the page
		await page.goto(URL + '/ui/releases');
		const waves = () => page.locator('#waves');
		await waves().getByText('running').waitFor();
		await page.getByRole('button', { name: 'Pause wave' }).click();
		await waves().getByText('paused', { exact: true }).waitFor();
		await page.getByRole('button', { name: 'Resume wave' }).click();
		await waves().getByText('running', { exact: true }).waitFor();
		log('wave paused and resumed through the page');
		await page.evaluate(() => { window.bwNotReloaded = true; });
		fs.writeFileSync(READY, 'watching\n');
		await waves().getByText('halted', { exact: true })
			.waitFor({ timeout: 60000 });
		assert.equal(await page.evaluate(() => window.bwNotReloaded), true,
			'the halt arrived without a reload');
		await waves().getByText('decision: halt').waitFor();
		log('wave halt seen live');
		await axe(page, 'releases and waves');
		await shot(page, 'releases');

		for (const v of ['expiry', 'pki', 'log']) {
			await page.goto(URL + '/ui/' + v);
			await axe(page, v);
			await shot(page, v);
		}
		// the transparency log shows the deny and the wave's halt, under
		// a signed checkpoint
		await page.goto(URL + '/ui/log');
		await page.getByText('bulwark/ui-test').first().waitFor();
		await page.getByRole('cell', { name: 'device.deny', exact: true }).first().waitFor();
		await page.getByRole('cell', { name: /^wave\./ }).first().waitFor();
		log('log view: checkpoint, the deny and the wave steps');
		// the expiring production targets role is flagged
		await page.goto(URL + '/ui/expiry');
		const row = page.locator('#roles').locator('xpath=..')
			.locator('tr', { hasText: EXPIRING_TAG });
		await row.getByText('expires soon').waitFor();
		log('expiring role flagged');
		// so is the device whose certificate expires in 4 days; one
		// that lasts 400 days is not listed
		const devcerts = page.locator('#devcerts').locator('xpath=..');
		await devcerts.locator('tr', { hasText: EXPIRING_DEVICE })
			.getByText('expires soon').waitFor();
		assert.equal(await devcerts.locator('tr', {
			hasText: LASTING_DEVICE }).count(), 0,
			'a certificate valid for 400 days is not listed');
		log('expiring device certificate flagged');
		// on a phone
		await page.setViewportSize({ width: 390, height: 844 });
		await page.goto(URL + '/ui/fleet');
		await axe(page, 'fleet (phone)');
		await shot(page, 'fleet-phone');
		assert.deepEqual(page.thirdParty, [], 'no third-party requests');
		assert.deepEqual(dialogs, [], 'no script from a device ran');
		// sign out: the session is gone
		await page.getByRole('button', { name: 'Sign out' }).click();
		await page.waitForURL(/\/ui\/login$/);
		const after = await page.request.get(URL + '/ui/fleet', { maxRedirects: 0 });
		assert.equal(after.status(), 303, 'signed out');
		await ctx.close();

		// a read-only account sees no actions and can not act
		{
			const v = await signIn(browser, T.viewer);
			await v.page.goto(URL + '/ui/devices/' + DEVICE);
			assert.equal(await v.page.getByRole('button', { name: /Allow|Deny/ }).count(), 0,
				'viewer sees no action');
			const csrf = await v.page.locator('input[name=csrf]').first().inputValue();
			const st = await forgedPost(v.page, '/ui/devices/' + DEVICE + '/allow', { csrf });
			assert.equal(st, 403, 'viewer may not act even with a valid form');
			log('read-only account can not act (403)');
			await v.ctx.close();
		}
	} finally {
		await browser.close();
	}
}

main().then(() => log('ok'), (e) => {
	console.error(e);
	process.exit(1);
});
