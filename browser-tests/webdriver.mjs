// A small W3C WebDriver client over Node's fetch, for chromedriver (with its CDP passthrough).

const ELEMENT = 'element-6066-11e4-a52e-4f735466cecf';

/** An error answered by the WebDriver server. */
export class WebDriverError extends Error {
  constructor(method, path, status, value) {
    const detail = value && value.error ? `${value.error}: ${value.message}` : JSON.stringify(value);
    super(`WebDriver ${method} ${path} answered ${status}: ${detail}`);
    this.code = value && value.error;
  }
}

async function call(base, method, path, body) {
  const response = await fetch(base + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new WebDriverError(method, path, response.status, { error: 'bad answer', message: text.slice(0, 500) });
  }
  if (!response.ok) throw new WebDriverError(method, path, response.status, parsed.value);
  return parsed.value;
}

/** One browser session. */
export class Session {
  static async start(base, { chromeBinary, headless = true, noSandbox = false }) {
    const args = ['--window-size=1280,800', '--disable-dev-shm-usage', '--no-first-run',
      '--disable-extensions', '--disable-gpu', '--lang=en-US'];
    if (headless) args.push('--headless=new');
    if (noSandbox) args.push('--no-sandbox');
    const chromeOptions = { args };
    if (chromeBinary) chromeOptions.binary = chromeBinary;
    const value = await call(base, 'POST', '/session', {
      capabilities: { alwaysMatch: { browserName: 'chrome', 'goog:chromeOptions': chromeOptions } },
    });
    const session = new Session(base, value.sessionId);
    await session.cmd('POST', '/timeouts', { script: 60000, pageLoad: 30000, implicit: 0 });
    return session;
  }

  constructor(base, id) {
    this.base = base;
    this.id = id;
  }

  cmd(method, path, body) {
    return call(this.base, method, `/session/${this.id}${path}`, body);
  }

  async quit() {
    await call(this.base, 'DELETE', `/session/${this.id}`);
  }

  navigate(url) {
    return this.cmd('POST', '/url', { url });
  }

  url() {
    return this.cmd('GET', '/url');
  }

  execute(script, args = []) {
    return this.cmd('POST', '/execute/sync', { script, args });
  }

  executeAsync(script, args = []) {
    return this.cmd('POST', '/execute/async', { script, args });
  }

  /** Runs a Chrome DevTools Protocol command through chromedriver. */
  cdp(cmd, params = {}) {
    return this.cmd('POST', '/goog/cdp/execute', { cmd, params });
  }

  /** The element matching the CSS selector, or null. */
  async find(selector) {
    const found = await this.cmd('POST', '/elements', { using: 'css selector', value: selector });
    return found.length ? found[0][ELEMENT] : null;
  }

  click(element) {
    return this.cmd('POST', `/element/${element}/click`, {});
  }

  clear(element) {
    return this.cmd('POST', `/element/${element}/clear`, {});
  }

  /** Types the text as key presses into the element. */
  type(element, text) {
    return this.cmd('POST', `/element/${element}/value`, { text });
  }

  /** A web element reference returned by a script (or null). */
  static elementOf(value) {
    return value && typeof value === 'object' ? value[ELEMENT] || null : null;
  }
}
