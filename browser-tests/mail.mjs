// Reads the .eml files the quick-start app writes: MIME parts, transfer encodings, links.

import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

function splitHead(raw) {
  const at = raw.indexOf('\n\n');
  const head = at < 0 ? raw : raw.slice(0, at);
  const body = at < 0 ? '' : raw.slice(at + 2);
  const headers = {};
  for (const line of head.replace(/\n[ \t]+/g, ' ').split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { headers, body };
}

function param(header, name) {
  const match = new RegExp(`;\\s*${name}="?([^";]+)"?`, 'i').exec(header || '');
  return match ? match[1] : null;
}

/** Decodes quoted-printable text (soft line breaks and =XX bytes) as UTF-8. */
export function decodeQuotedPrintable(text) {
  const joined = text.replace(/=\r?\n/g, '');
  const bytes = [];
  for (let i = 0; i < joined.length; i++) {
    const hex = joined.slice(i + 1, i + 3);
    if (joined[i] === '=' && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(joined[i], 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

function decodeBody(headers, body) {
  const encoding = (headers['content-transfer-encoding'] || '7bit').toLowerCase();
  if (encoding === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (encoding === 'quoted-printable') return decodeQuotedPrintable(body);
  return body;
}

/** Decodes RFC 2047 encoded words (`=?utf-8?b?...?=`, `=?utf-8?q?...?=`) in a header. */
export function decodeHeader(value) {
  return (value || '').replace(/=\?([^?]+)\?([bBqQ])\?([^?]*)\?=\s*/g, (_, _charset, kind, text) =>
    kind.toLowerCase() === 'b'
      ? Buffer.from(text, 'base64').toString('utf8')
      : decodeQuotedPrintable(text.replace(/_/g, ' ')));
}

function leaves(raw, out) {
  const { headers, body } = splitHead(raw);
  const type = (headers['content-type'] || 'text/plain').toLowerCase();
  if (type.startsWith('multipart/')) {
    const boundary = param(headers['content-type'], 'boundary');
    if (!boundary) throw new Error(`a multipart part without a boundary: ${headers['content-type']}`);
    const chunks = body.split(`--${boundary}`);
    // chunks[0] is the preamble; the last one starts with "--" (the epilogue).
    for (const chunk of chunks.slice(1)) {
      if (chunk.startsWith('--')) break;
      leaves(chunk.replace(/^\n/, ''), out);
    }
  } else {
    out.push({ type: type.split(';')[0].trim(), text: decodeBody(headers, body) });
  }
  return out;
}

function unescapeHtml(text) {
  return text.replace(/&amp;/g, '&').replace(/&#x2F;/gi, '/').replace(/&#47;/g, '/')
    .replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>');
}

/** Parses one mail: its headers, the text and HTML parts, and the links of each. */
export function parseMail(raw) {
  const normalized = raw.replace(/\r\n/g, '\n');
  const { headers } = splitHead(normalized);
  const parts = leaves(normalized, []);
  const text = parts.filter((p) => p.type === 'text/plain').map((p) => p.text).join('\n');
  const html = parts.filter((p) => p.type === 'text/html').map((p) => p.text).join('\n');
  const textLinks = [...text.matchAll(/https?:\/\/[^\s<>"')\]]+/g)].map((m) => m[0]);
  const htmlLinks = [...html.matchAll(/href\s*=\s*"([^"]*)"/gi)].map((m) => unescapeHtml(m[1]));
  return {
    to: decodeHeader(headers.to),
    subject: decodeHeader(headers.subject),
    text,
    html,
    textLinks,
    htmlLinks,
  };
}

/** Watches a directory of .eml files and hands out the new ones. */
export class Mailbox {
  constructor(dir) {
    this.dir = dir;
    this.seen = new Set();
  }

  async newFiles() {
    const names = (await readdir(this.dir)).filter((n) => n.endsWith('.eml')).sort();
    const fresh = names.filter((n) => !this.seen.has(n));
    fresh.forEach((n) => this.seen.add(n));
    return Promise.all(fresh.map(async (n) => ({ file: n, ...parseMail(await readFile(path.join(this.dir, n), 'utf8')) })));
  }

  /**
   * Waits (the outbox sends in the background) for a new mail to `to` that holds a link whose
   * path starts with `linkPath` in both its text and its HTML part; returns the mail and link.
   */
  async waitForLink(to, linkPath, { timeoutMs = 20000 } = {}) {
    const deadline = Date.now() + timeoutMs;
    const looked = [];
    while (Date.now() < deadline) {
      for (const mail of await this.newFiles()) {
        looked.push(`${mail.file} to ${mail.to}: ${mail.subject}`);
        if (!mail.to.includes(to)) continue;
        const link = mail.textLinks.find((l) => new URL(l).pathname.startsWith(linkPath));
        if (!link) continue;
        if (!mail.htmlLinks.includes(link)) {
          throw new Error(`the mail "${mail.subject}" (${mail.file}) has the link ${link} in its text part but not in its HTML part; HTML links: ${mail.htmlLinks.join(', ') || 'none'}`);
        }
        return { mail, link };
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`no mail to ${to} with a link to ${linkPath}… arrived in ${this.dir} within ${timeoutMs} ms; new mails seen: ${looked.join('; ') || 'none'}`);
  }
}
