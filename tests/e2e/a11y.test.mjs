// Accessibility, layout and colour schemes, checked by a real third-party
// checker: axe-core (WCAG 2.x A and AA rules, colour contrast included) on
// every place of the page, with data in it, in light and dark, on a phone
// and on a desktop; no place scrolls sideways; Tab walks the page in order
// with a visible focus ring.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { readFile } from 'node:fs/promises';
import { openBrowser, collectErrors, screenshot, place } from './browser.mjs';

const axePath = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
const PLACES = ['build', 'contribute', 'export', 'settings'];
const VIEWPORTS = { phone: { width: 375, height: 740 }, desktop: { width: 1280, height: 800 } };

let browser;
before(async () => {
  browser = await openBrowser();
  // Data on every place: prompts with completions from a file, one rated.
  const page = await browser.context.newPage();
  await page.goto(place('build'));
  const rows = ['Name a fruit.', 'Name a colour.'].flatMap((prompt) =>
    ['m1', 'm2'].map((model) => JSON.stringify({ prompt, completion: `${model} says: an answer to "${prompt}"`, model })),
  );
  await page.getByTestId('prompt-file').setInputFiles({ name: 'answers.jsonl', mimeType: 'application/json', buffer: Buffer.from(rows.join('\n')) });
  await page.getByTestId('use-file').click();
  await page.getByTestId('prompts-note').waitFor();
  await page.goto(place('contribute'));
  await page.getByTestId('task').waitFor();
  await page.keyboard.press('y');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelector('[data-testid="rating-progress"]').textContent === '1 of 4 rated');
  await page.close();
});
after(async () => {
  await browser?.close();
});

/** axe's violations of WCAG 2.0/2.1 A and AA on the page, one line each. */
async function violations(page) {
  // Evaluated, not added as a <script>: the page's Content-Security-Policy refuses inline scripts.
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(await readFile(axePath, 'utf8'));
  const found = await page.evaluate(async () => {
    const result = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
    return result.violations.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  });
  return found;
}

for (const [device, viewport] of Object.entries(VIEWPORTS)) {
  for (const scheme of ['light', 'dark']) {
    test(`every place passes axe's WCAG A/AA checks and fits the screen: ${device}, ${scheme}`, async () => {
      const page = await browser.context.newPage();
      const errors = collectErrors(page);
      await page.setViewportSize(viewport);
      await page.emulateMedia({ colorScheme: scheme });
      const problems = [];
      for (const name of PLACES) {
        await page.goto(place(name));
        await page.getByTestId(`page-${name}`).waitFor();
        // Wait for the place's own content, not just its heading.
        await page.waitForFunction(() => !document.querySelector('[data-testid="project-opening"]'));
        if (name === 'contribute') await page.getByTestId('task').waitFor();
        if (name === 'export') await page.getByTestId('answer-chart').waitFor();
        for (const line of await violations(page)) problems.push(`${name}: ${line}`);
        const { scroll, client } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
        if (scroll > client) problems.push(`${name}: ${scroll - client}px wider than the ${client}px screen`);
        if (device === 'phone' && (name === 'contribute' || name === 'build')) await screenshot(page, `${name}-phone-${scheme}`);
      }
      assert.deepEqual(problems, [], problems.join('\n'));
      assert.deepEqual(errors, []);
      await page.close();
    });
  }
}

test('Tab walks the header, then the place, each with a visible focus ring', async () => {
  const page = await browser.context.newPage();
  await page.goto(place('build'));
  await page.getByTestId('use-demo').waitFor();
  const focused = [];
  for (let i = 0; i < 7; i++) {
    await page.keyboard.press('Tab');
    focused.push(
      await page.evaluate(() => {
        const element = document.activeElement;
        const style = getComputedStyle(element);
        const ring = (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0) || style.boxShadow !== 'none';
        return { what: element.dataset.testid ?? element.textContent.trim(), ring };
      }),
    );
  }
  assert.deepEqual(
    focused.map((f) => f.what),
    ['Prefab', 'nav-contribute', 'nav-build', 'nav-export', 'nav-settings', 'use-demo', 'clear-prompts'],
  );
  for (const { what, ring } of focused) assert.ok(ring, `${what} shows where the focus is`);
  await page.close();
});
