// A small W3C WebDriver client (plain HTTP, Node's fetch) for the engines
// Playwright cannot drive as they ship in Debian: Firefox ESR through
// geckodriver and WebKitGTK through WebKitWebDriver. Only what the engine
// tests use: a session, navigation, elements by test id, clicks, keys,
// scripts, and waiting for a condition (polled, never a fixed sleep).
import { spawn } from 'node:child_process';
import net from 'node:net';

/** A free loopback port. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts a WebDriver server (`program` with `args(port)`) and resolves once
 * it answers `/status`; `stop()` ends it.
 */
export async function startDriver(program, args, env = {}) {
  const port = await freePort();
  const child = spawn(program, args(port), { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (data) => (log += data));
  child.stderr.on('data', (data) => (log += data));
  const url = `http://127.0.0.1:${port}`;
  const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  for (let tries = 0; ; tries++) {
    const ready = await Promise.race([
      fetch(`${url}/status`).then((response) => response.ok, () => false),
      exited.then((code) => {
        throw new Error(`${program} exited (${code}) before answering:\n${log}`);
      }),
    ]);
    if (ready) break;
    if (tries > 200) throw new Error(`${program} did not answer on ${url}:\n${log}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    url,
    log: () => log,
    async stop() {
      child.kill();
      await exited;
      // A browser the driver started may still hold its output open.
      child.stdout.destroy();
      child.stderr.destroy();
    },
  };
}

/** Runs a WebDriver command; throws the driver's error with its message. */
async function command(base, method, path, body) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: body ? { 'Content-Type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const answer = await response.json();
  if (!response.ok || answer.value?.error) {
    throw new Error(`WebDriver ${method} ${path}: ${answer.value?.error}: ${answer.value?.message}`);
  }
  return answer.value;
}

const ELEMENT = 'element-6066-11e4-a52e-4f735466cecf';
/** An element's id, from `find` or from an element a script returned. */
const idOf = (element) => (typeof element === 'string' ? element : element[ELEMENT]);

/** A browser session on the driver at `driverUrl`. */
export async function newSession(driverUrl, capabilities) {
  const created = await command(driverUrl, 'POST', '/session', { capabilities: { alwaysMatch: capabilities } });
  const base = `${driverUrl}/session/${created.sessionId}`;
  const session = {
    capabilities: created.capabilities,
    go: (url) => command(base, 'POST', '/url', { url }),
    refresh: () => command(base, 'POST', '/refresh', {}),
    /** Runs `script` (a function's body, `arguments` as usual) in the page. */
    run: (script, ...args) => command(base, 'POST', '/execute/sync', { script, args }),
    /** Runs an async function's body; its result is what it returns. */
    runAsync: (script, ...args) =>
      command(base, 'POST', '/execute/async', {
        script: `const done = arguments[arguments.length - 1]; (async () => { ${script} })().then(done, (error) => done({ thrown: String(error) }));`,
        args,
      }),
    async find(testid) {
      const found = await command(base, 'POST', '/element', { using: 'css selector', value: `[data-testid="${testid}"]` });
      return found[ELEMENT];
    },
    async findCss(selector) {
      const found = await command(base, 'POST', '/element', { using: 'css selector', value: selector });
      return found[ELEMENT];
    },
    click: (element) => command(base, 'POST', `/element/${idOf(element)}/click`, {}),
    type: (element, text) => command(base, 'POST', `/element/${idOf(element)}/value`, { text }),
    text: (element) => command(base, 'GET', `/element/${idOf(element)}/text`),
    /** Presses keys as a person would: each down, then up (`\uE007` is Enter). */
    press: (...keys) =>
      command(base, 'POST', '/actions', {
        actions: [{ type: 'key', id: 'keyboard', actions: keys.flatMap((value) => [{ type: 'keyDown', value }, { type: 'keyUp', value }]) }],
      }),
    /**
     * Waits until `script` (a function body returning a value) returns
     * something truthy, polling; returns it. Fails after `timeout` ms
     * with what `describe` (another script) says of the page.
     */
    async until(script, { timeout = 30_000, args = [], what = script } = {}) {
      const deadline = Date.now() + timeout;
      for (;;) {
        const value = await command(base, 'POST', '/execute/sync', { script, args }).catch(() => null);
        if (value) return value;
        if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for: ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    end: () => command(base, 'DELETE', '', undefined),
  };
  return session;
}

/** Enter, as WebDriver names it. */
export const ENTER = '\uE007';
